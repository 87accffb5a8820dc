// Shared by the template tests: the data promtool gives an alert template and the check that a
// template parses and expands exactly as promtool printed it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "alerting/template.h"
#include "tsdb/labels.h"

namespace steward::alerting {
namespace {

// The data promtool gives the alert `A: m > -1e308` over m{instance="host:9100",job="node"} = 5,
// with series q{instance="b"} = 2 and q{instance="a"} = 1 for `query "q"`: the cases' expected
// outputs were produced by `promtool test rules` (Prometheus 2.42) on the same templates. Only
// the order of `query` results differs: Prometheus returns them in no fixed order (it varies from
// run to run), here they come as the engine gives them, b before a.
TemplateData PromtoolData(double value = 5) {
  TemplateData d;
  d.labels = {{"__name__", "m"}, {"instance", "host:9100"}, {"job", "node"}};
  d.value = value;
  d.query = [](const std::string& expr, int64_t) -> StatusOr<promql::Vector> {
    promql::Vector v;
    if (expr != "q") return v;
    v.push_back(
        {tsdb::Labels::FromSorted({{"__name__", "q"}, {"instance", "b"}, {"job", "node"}}), 0, 2});
    v.push_back(
        {tsdb::Labels::FromSorted({{"__name__", "q"}, {"instance", "a"}, {"job", "node"}}), 0, 1});
    return v;
  };
  return d;
}

struct Case {
  const char* text;
  const char* want;  // the expansion, "<error expanding template: ...>", or "PARSE: <error>"
};

void ExpectLikePromtool(const Case& c) {
  std::string want = c.want;
  std::string check = CheckTemplate("__alert_A", c.text);
  if (want.rfind("PARSE: ", 0) == 0) {
    EXPECT_EQ(check, want.substr(7)) << c.text;
    return;
  }
  EXPECT_EQ(check, "") << c.text;
  EXPECT_EQ(ExpandTemplateOrError("__alert_A", c.text, PromtoolData()), want) << c.text;
}

}  // namespace
}  // namespace steward::alerting
