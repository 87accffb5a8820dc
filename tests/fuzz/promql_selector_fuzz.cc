// libFuzzer entry point for PromQL's lexer and series selectors (src/promql/): match[] and
// query parameters of the API and `steward series` are untrusted. Any bytes must lex to at most
// kMaxItems + 1 items ending in EOF or an error (with a message), and a selector must parse or
// fail with InvalidArgument — never crash, hang or read out of bounds. A parsed selector's
// matchers, printed back, must parse to the same matchers when their values are plain ASCII (pins
// the escapes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/parser_internal.h"
#include "promql/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  using steward::promql::internal::Tok;
  auto lexed = steward::promql::internal::LexExpr(in);
  const auto& items = lexed.items;
  if (items.empty() || items.size() > steward::promql::internal::kMaxItems + 1) std::abort();
  auto last = items.back().kind;
  if (last != Tok::kEof && last != Tok::kError) std::abort();
  if ((last == Tok::kError) == lexed.error.empty()) std::abort();
  for (const auto& t : items)
    if (t.pos > in.size() || t.text.data() < in.data() ||
        t.text.data() + t.text.size() > in.data() + in.size())
      std::abort();
  auto ms = steward::promql::ParseSeriesSelector(in);
  if (!ms.ok()) {
    if (ms.status().code() != steward::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  // Printed back with the exposition escapes (\\, \", \n): only plain ASCII values survive
  // that unchanged, so only those are compared.
  for (const auto& m : *ms)
    for (unsigned char c : m.value())
      if ((c < 0x20 && c != '\n') || c >= 0x7f) return 0;
  std::string again = "{";
  for (const auto& m : *ms) again += m.ToString() + ",";
  again += "}";
  auto back = steward::promql::ParseSeriesSelector(again);
  if (!back.ok() || back->size() != ms->size()) std::abort();
  for (size_t i = 0; i < ms->size(); ++i)
    if ((*back)[i].name() != (*ms)[i].name() || (*back)[i].value() != (*ms)[i].value() ||
        (*back)[i].type() != (*ms)[i].type())
      std::abort();
  return 0;
}
