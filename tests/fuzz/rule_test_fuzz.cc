// libFuzzer entry point for promtool-format rule unit-test files (src/alerting/rule_test_file.h)
// and the series notation of their input_series and exp_samples (series_notation.h): what
// `steward test rules` reads. Any bytes must decode or fail with placed errors, and every series
// line and label selector of a decoded file must parse or fail with Prometheus' "LINE:COL: parse
// error: ..." — never crash, hang or read out of bounds. The rules themselves are not run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "alerting/rule_test_file.h"
#include "alerting/series_notation.h"

namespace {

void CheckParseError(const steward::Status& st) {
  if (st.message().find(": parse error: ") == std::string::npos) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward::alerting;
  std::string text(reinterpret_cast<const char*>(data), size);
  auto file = ParseRuleTestText(text, "fuzz.yml");
  if (!file.ok()) {
    if (file.status().message().rfind("fuzz.yml:", 0) != 0) std::abort();
    return 0;
  }
  if (file->evaluation_interval_ms <= 0) std::abort();
  for (const RuleTestGroup& g : file->tests) {
    for (const TestInputSeries& s : g.input_series) {
      auto desc = ParseSeriesDesc(s.series + " " + s.values);
      if (!desc.ok()) {
        CheckParseError(desc.status());
      } else if (desc->values.size() > kMaxSeriesValues) {
        std::abort();
      }
    }
    for (const PromqlTestCase& t : g.promql_expr_test) {
      for (const TestExpSample& s : t.exp_samples) {
        auto labels = ParseMetric(s.labels);
        if (!labels.ok()) CheckParseError(labels.status());
      }
    }
  }
  return 0;
}
