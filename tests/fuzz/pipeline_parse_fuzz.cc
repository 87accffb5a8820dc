// libFuzzer entry point for Steward's pipeline format (pipeline/parse.h): pipelines/*.yml and
// the stack's pipelines: come from the user's checkout, and a push trigger reads them from
// whatever was pushed. Any bytes must parse or fail with placed errors — never crash or hang.
// A pipeline that parses must also expand (the parser's checks cover everything Expand needs),
// and every instance key must be unique and come after the keys it needs.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>

#include "pipeline/parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward::pipeline;
  std::string text(reinterpret_cast<const char*>(data), size);
  ParseResult r = ParsePipelineText(text, "fuzz.yml");
  for (const auto& d : r.errors) {
    if (d.location.line < 1 || d.location.column < 1 || d.message.empty()) std::abort();
    if (d.ToString().rfind("fuzz.yml:", 0) != 0) std::abort();
  }
  if (!r.ok()) {
    if (!r.pipelines.empty()) std::abort();  // a bad file is rejected whole
    return 0;
  }
  if (r.pipelines.size() != 1) std::abort();
  const Pipeline& p = r.pipelines[0];
  if (!ValidatePipeline(p).empty()) std::abort();
  steward::StatusOr<std::vector<JobInstance>> instances = Expand(p);
  if (!instances.ok()) std::abort();
  std::set<std::string> placed;
  for (const JobInstance& i : *instances) {
    if (i.job == nullptr || !placed.insert(i.key).second) std::abort();
    for (const std::string& n : i.needs) {
      if (!placed.count(n)) std::abort();
    }
  }
  return 0;
}
