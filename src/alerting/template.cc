// CheckTemplate and ExpandTemplate (template.h): Prometheus' alert template expansion
// (rules/alerting.go) on top of the Go text/template port in template_*.cc.
#include "alerting/template.h"

#include "alerting/template_internal.h"

namespace steward::alerting {
namespace {

// The variables Prometheus defines in front of every alert label and annotation template.
constexpr std::string_view kDefs =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}";

}  // namespace

namespace internal {

TemplateCheck CheckTemplateAt(std::string_view name, std::string_view text) {
  std::string full = std::string(kDefs) + std::string(text);
  size_t pos = 0;
  auto set = tmpl::Parse(name, full, &pos);
  if (set.ok()) return {};
  return {set.status().message(), pos >= kDefs.size() ? pos - kDefs.size() : 0};
}

}  // namespace internal

std::string CheckTemplate(std::string_view name, std::string_view text) {
  return internal::CheckTemplateAt(name, text).error;
}

StatusOr<std::string> ExpandTemplate(std::string_view name, std::string_view text,
                                     const TemplateData& data) {
  std::string full = std::string(kDefs) + std::string(text);
  auto set = tmpl::Parse(name, full);
  if (!set.ok()) {
    return InvalidArgument("error expanding template: error parsing template " + std::string(name) +
                           ": " + set.status().message());
  }
  tmpl::Value dot;
  dot.type = tmpl::Value::Type::kData;
  dot.data = &data;
  auto out = tmpl::Execute(**set, dot, data);
  if (!out.ok()) {
    return InvalidArgument("error expanding template: error executing template " +
                           std::string(name) + ": " + out.status().message());
  }
  return out;
}

std::string ExpandTemplateOrError(std::string_view name, std::string_view text,
                                  const TemplateData& data) {
  auto out = ExpandTemplate(name, text, data);
  return out.ok() ? std::move(*out) : "<" + out.status().message() + ">";
}

}  // namespace steward::alerting
