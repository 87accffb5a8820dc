// libFuzzer entry point for Prometheus rule files (src/alerting/rule_file.h): what `steward
// rules check` and the daemon read from the stack's rule_files. Any bytes must parse or fail with
// errors — never crash, hang or read out of bounds. Every error has a 1-based place and a
// message; a file that parses has only rules with a name, an expression and its parsed tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "alerting/rule_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  steward::alerting::RuleFileResult r = steward::alerting::ParseRuleText(text, "fuzz.yml");
  for (const auto& e : r.errors) {
    if (e.line < 1 || e.column < 1 || e.message.empty()) std::abort();
    if (e.ToString().rfind("fuzz.yml:", 0) != 0) std::abort();
  }
  if (!r.ok()) {
    if (!r.file.groups.empty()) std::abort();  // a bad file is rejected whole
    return 0;
  }
  for (const auto& g : r.file.groups) {
    if (g.name.empty()) std::abort();
    for (const auto& rule : g.rules) {
      if (rule.name.empty() || rule.expr.empty() || rule.parsed == nullptr) std::abort();
    }
  }
  return 0;
}
