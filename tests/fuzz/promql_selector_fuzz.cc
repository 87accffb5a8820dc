// libFuzzer entry point for PromQL's lexer and series selectors (src/promql/): match[] and
// query parameters of the API and `steward series` are untrusted. Any bytes must lex to tokens
// ending in EOF or an error, and a selector must parse or fail with InvalidArgument naming a
// column — never crash, hang or read out of bounds. A parsed selector's matchers, printed
// back, must parse to the same matchers when their values are plain ASCII (pins the escapes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "promql/lexer.h"
#include "promql/selector.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto tokens = steward::promql::Lex(in);
  if (tokens.empty()) std::abort();
  auto last = tokens.back().kind;
  if (last != steward::promql::TokenKind::kEof && last != steward::promql::TokenKind::kError)
    std::abort();
  for (const auto& t : tokens)
    if (t.pos > in.size()) std::abort();
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
