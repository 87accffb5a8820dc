// The stack's alerting sections: `rule_files:` (Prometheus rule files) and `alerting:` (the
// evaluation settings plus Alertmanager's configuration shape — route tree, receivers,
// inhibit_rules, time_intervals — so a team can paste its alertmanager.yml body under it).
//
// Plain data filled by alerting_parser.cc; durations in ms; paths absolute after parsing. Route
// values are as written (-1 / empty: inherit); alerting/route.h resolves the inheritance.
// Names referenced by routes (receivers, time intervals) are checked to exist when parsed.
// Thread safety: immutable after parsing; ParseLabelMatchers is stateless.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace steward::config {

// One label matcher: name="v", name!="v", name=~"re", name!~"re" (Alertmanager's matchers
// strings; the older match:/match_re: maps become kEqual/kRegex).
struct LabelMatcher {
  enum class Op { kEqual, kNotEqual, kRegex, kNotRegex };
  std::string name;
  Op op = Op::kEqual;
  std::string value;
  std::string ToString() const;  // name="value" with the operator, value escaped as Go's %q-ish
  bool operator==(const LabelMatcher&) const = default;
};

// Alertmanager's matcher syntax (pkg/labels ParseMatchers): one or more comma-separated
// matchers, optionally in braces: `severity=~"crit|page"`, `{a="b", c!=d}`. Values may be
// quoted (with \" \\ \n escapes) or bare. Regexes are checked to compile (anchored, Go's
// dialect). InvalidArgument says what is wrong.
StatusOr<std::vector<LabelMatcher>> ParseLabelMatchers(std::string_view text);

struct Route {
  std::string receiver;               // inherited from the parent when empty
  std::vector<std::string> group_by;  // "..." alone: group by all labels
  bool group_by_all = false;
  bool group_by_set = false;  // group_by written; an empty list still inherits, as in Alertmanager
  std::vector<LabelMatcher> matchers;
  bool continue_matching = false;                 // `continue:`
  std::chrono::milliseconds group_wait{-1};       // -1: inherit (root default 30s)
  std::chrono::milliseconds group_interval{-1};   // -1: inherit (root default 5m)
  std::chrono::milliseconds repeat_interval{-1};  // -1: inherit (root default 4h)
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
  std::vector<Route> routes;
  int line = 0;
};

struct HttpReceiverBase {
  std::string url;
  bool send_resolved = true;
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> headers;
};

struct WebhookConfig : HttpReceiverBase {
  int max_alerts = 0;  // 0: all
};

// Forwards to a real Alertmanager's POST /api/v2/alerts (url is its base URL).
struct AlertmanagerConfig : HttpReceiverBase {};

// Slack- or Mattermost-compatible incoming webhook (`api_url` or `url`). The parser sets
// send_resolved to false unless written, as Alertmanager's slack_configs default.
struct SlackConfig : HttpReceiverBase {
  std::string channel;
  std::string username;
  std::string title;  // template; default: Alertmanager's default title
  std::string text;   // template; default: Alertmanager's default text
};

// PagerDuty Events API v2 (url defaults to https://events.pagerduty.com/v2/enqueue).
struct PagerDutyConfig : HttpReceiverBase {
  std::string routing_key;         // may be ${secret:NAME}
  std::string severity = "error";  // template; critical|error|warning|info
  std::string description;         // template; default: Alertmanager's default
  std::string client = "Steward";
};

struct ReceiverConfig {
  std::string name;
  std::vector<WebhookConfig> webhook_configs;
  std::vector<AlertmanagerConfig> alertmanager_configs;
  std::vector<SlackConfig> slack_configs;
  std::vector<PagerDutyConfig> pagerduty_configs;
  int line = 0;
};

struct InhibitRule {
  std::vector<LabelMatcher> source_matchers;
  std::vector<LabelMatcher> target_matchers;
  std::vector<std::string> equal;
  int line = 0;
};

// Alertmanager's time_intervals entry: a named list of periods; a time matches when any period
// matches (all of a period's fields must match; an absent field matches everything).
struct TimePeriod {
  std::vector<std::pair<int, int>> times;          // minutes of the day [start, end)
  std::vector<std::pair<int, int>> weekdays;       // 0 = Sunday .. 6, inclusive ranges
  std::vector<std::pair<int, int>> days_of_month;  // 1..31 or negative from the end, inclusive
  std::vector<std::pair<int, int>> months;         // 1..12 inclusive
  std::vector<std::pair<int, int>> years;          // inclusive
  std::string location = "UTC";                    // IANA zone name
};

struct TimeInterval {
  std::string name;
  std::vector<TimePeriod> periods;
  int line = 0;
};

struct Alerting {
  std::chrono::milliseconds evaluation_interval{30000};
  std::map<std::string, std::string> external_labels;
  std::string external_url;  // default: the daemon's own URL
  // An alert received without an end (ends_at 0) counts as resolved this long after its last
  // update (Alertmanager's global.resolve_timeout).
  std::chrono::milliseconds resolve_timeout{300000};
  Route route;  // root; receiver required when receivers exist
  std::vector<ReceiverConfig> receivers;
  std::vector<InhibitRule> inhibit_rules;
  std::vector<TimeInterval> time_intervals;
  // Delivery: retries with exponential backoff from retry_initial up to retry_max, giving up
  // after give_up_after (the notification is then counted as failed and kept visible).
  std::chrono::milliseconds retry_initial{1000};
  std::chrono::milliseconds retry_max{60000};
  std::chrono::milliseconds give_up_after{3600000};
  // incidents: which firing alerts open or join an incident (severity label at or above
  // min_severity, in the order critical > error > warning > info; no label counts as warning),
  // and how long after resolving an incident the same alerts reopen it.
  std::string incident_min_severity = "critical";
  std::chrono::milliseconds incident_reopen_window{300000};
  bool declared = false;  // the stack has an alerting: section
};

}  // namespace steward::config
