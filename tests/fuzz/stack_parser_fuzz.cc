// libFuzzer entry point for the stack-file parser: any bytes must yield diagnostics or a stack,
// never a crash, hang or escaped exception. When a stack comes back, its JSON form must
// round-trip, since the daemon receives stacks that way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/stack_json.h"
#include "config/stack_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward::config;
  std::string text(reinterpret_cast<const char*>(data), size);
  ParseOptions options;
  options.lookup_env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "SET") return std::string("1");
    return std::nullopt;  // deterministic: never the fuzzer's own environment
  };
  // Without an environment, and with one so that overrides are merged when the input has them.
  for (const std::string& env : {std::string(), std::string("prod")}) {
    options.environment = env;
    ParseResult result = ParseStack(text, "fuzz/steward.yaml", options);
    if (result.ok() != result.stack.has_value()) std::abort();
    for (const Diagnostic& d : result.diagnostics) (void)d.ToString();
    if (!result.stack) continue;
    nlohmann::json json = StackToJson(*result.stack);
    steward::StatusOr<Stack> back = StackFromJson(json);
    if (!back.ok() || StackToJson(*back) != json) std::abort();
    for (const Service& s : result.stack->services) (void)ReplaceHash(s);
  }
  return 0;
}
