// libFuzzer entry point for alert templates (src/alerting/template.h): the labels and annotations
// of every alerting rule in the stack's rule files are parsed and executed with Go's
// text/template semantics. Any bytes must parse or fail with Go's error, and a template that
// parses must expand or fail with Prometheus' error — never crash, hang, recurse without bound or
// produce unbounded output. The data includes a `query` result so range, index and the sample
// helpers run too.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "alerting/template.h"
#include "tsdb/labels.h"

namespace {

steward::alerting::TemplateData Data() {
  steward::alerting::TemplateData d;
  d.labels = {{"__name__", "up"}, {"instance", "host.example.com:9100"}, {"job", "node"}};
  d.external_labels = {{"cluster", "eu1"}};
  d.external_url = "http://prom.example.com:9090/prefix";
  d.value = 0.1234;
  d.query = [](const std::string& expr, int64_t) -> steward::StatusOr<steward::promql::Vector> {
    if (expr == "fail") return steward::InvalidArgument("query failed");
    steward::promql::Vector v;
    for (int i = 0; i < 3; ++i) {
      v.push_back(
          {steward::tsdb::Labels::FromSorted({{"instance", std::to_string(i)}}), 0, i * 1.5});
    }
    return v;
  };
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const steward::alerting::TemplateData kData = Data();
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string check = steward::alerting::CheckTemplate("__alert_F", text);
  if (!check.empty() && check.rfind("template: __alert_F", 0) != 0) std::abort();
  auto out = steward::alerting::ExpandTemplate("__alert_F", text, kData);
  if (out.ok()) {
    if (!check.empty()) std::abort();  // what fails to parse never expands
    if (out->size() > (256u << 10)) std::abort();
    return 0;
  }
  const std::string& m = out.status().message();
  const std::string_view prefix =
      check.empty() ? "error expanding template: error executing template __alert_F: "
                    : "error expanding template: error parsing template __alert_F: ";
  if (m.rfind(prefix, 0) != 0) std::abort();
  return 0;
}
