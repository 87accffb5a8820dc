// libFuzzer entry point for the JSON stack the daemon decodes from untrusted HTTP bodies
// (POST /api/v1/plan and /api/v1/apply carry {"stack": <StackToJson form>}). Any bytes must
// yield an error Status or a Stack, never a crash, hang or escaped exception; a decoded Stack
// must survive StackToJson -> StackFromJson unchanged, since the CLI sends stacks that way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "config/stack_json.h"

namespace {

void DecodeAndRoundTrip(const nlohmann::json& doc) {
  using namespace steward::config;
  steward::StatusOr<Stack> stack = StackFromJson(doc);
  if (!stack.ok()) {
    (void)stack.status().ToString();
    return;
  }
  nlohmann::json json = StackToJson(*stack);
  steward::StatusOr<Stack> back = StackFromJson(json);
  if (!back.ok() || StackToJson(*back) != json) std::abort();
  for (const Service& s : stack->services) (void)ReplaceHash(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* begin = reinterpret_cast<const char*>(data);
  // The daemon's parse_body: no exceptions, a discarded value on malformed input.
  nlohmann::json doc = nlohmann::json::parse(begin, begin + size, nullptr, false);
  // Both the bare stack and the request envelope, so seeds of either shape reach the decoder.
  DecodeAndRoundTrip(doc);
  if (doc.is_object()) {
    if (auto it = doc.find("stack"); it != doc.end()) DecodeAndRoundTrip(*it);
  }
  return 0;
}
