// Reads the stack's `rule_files:` and `alerting:` sections (alerting.h) with Alertmanager 0.25's
// validation: the root route needs a receiver and takes no matchers or time intervals, every
// receiver and time interval a route names exists, names are unique, matchers parse and their
// regexes compile, group_by is either '...' alone or distinct label names. Time intervals are
// read here too, in Alertmanager's format (times, weekdays, days_of_month, months, years,
// location). Every error goes through the ParseContext with the file:line:col of its value.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <set>
#include <span>
#include <type_traits>

#include "config/alerting.h"
#include "config/monitoring_rules.h"
#include "config/parse_context.h"
#include "config/stack_parser.h"

namespace steward::config::internal {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

constexpr std::string_view kAlertingKeys[] = {
    "evaluation_interval", "external_labels", "external_url",
    "resolve_timeout",     "route",           "receivers",
    "inhibit_rules",       "time_intervals",  "mute_time_intervals",
    "retry_initial",       "retry_max",       "give_up_after",
    "incidents"};
constexpr std::string_view kRouteKeys[] = {"receiver",
                                           "group_by",
                                           "matchers",
                                           "match",
                                           "match_re",
                                           "continue",
                                           "group_wait",
                                           "group_interval",
                                           "repeat_interval",
                                           "routes",
                                           "mute_time_intervals",
                                           "active_time_intervals"};
// Alertmanager's integrations Steward does not deliver to: named in the error, never ignored.
constexpr std::string_view kUnsupportedIntegrations[] = {
    "email_configs",    "opsgenie_configs",  "pushover_configs", "sns_configs",
    "telegram_configs", "victorops_configs", "webex_configs",    "wechat_configs",
    "discord_configs",  "msteams_configs"};
constexpr std::string_view kReceiverKeys[] = {"name",
                                              "webhook_configs",
                                              "alertmanager_configs",
                                              "slack_configs",
                                              "pagerduty_configs",
                                              "email_configs",
                                              "opsgenie_configs",
                                              "pushover_configs",
                                              "sns_configs",
                                              "telegram_configs",
                                              "victorops_configs",
                                              "webex_configs",
                                              "wechat_configs",
                                              "discord_configs",
                                              "msteams_configs"};
constexpr std::string_view kWebhookKeys[] = {"url", "send_resolved", "max_alerts", "timeout",
                                             "headers"};
constexpr std::string_view kAlertmanagerKeys[] = {"url", "send_resolved", "timeout", "headers"};
constexpr std::string_view kSlackKeys[] = {"api_url",  "url",     "send_resolved",
                                           "timeout",  "headers", "channel",
                                           "username", "title",   "text"};
constexpr std::string_view kPagerDutyKeys[] = {"routing_key", "url",     "send_resolved",
                                               "timeout",     "headers", "severity",
                                               "description", "client"};
constexpr std::string_view kInhibitKeys[] = {
    "source_matchers", "target_matchers", "source_match", "source_match_re",
    "target_match",    "target_match_re", "equal"};
constexpr std::string_view kIntervalKeys[] = {"name", "time_intervals"};
constexpr std::string_view kPeriodKeys[] = {"times",  "weekdays", "days_of_month",
                                            "months", "years",    "location"};
constexpr std::string_view kTimeRangeKeys[] = {"start_time", "end_time"};
constexpr std::string_view kWeekdays[] = {"sunday",   "monday", "tuesday", "wednesday",
                                          "thursday", "friday", "saturday"};
constexpr std::string_view kMonths[] = {"january",   "february", "march",    "april",
                                        "may",       "june",     "july",     "august",
                                        "september", "october",  "november", "december"};

// A name someone wrote and where, checked once everything it may refer to is read.
struct Ref {
  std::string name;
  SourceLocation at;
};

// Prometheus' model.ParseDuration: integer amounts of y, w, d, h, m, s, ms in that order, or "0".
std::optional<Duration> ParsePromDuration(std::string_view s) {
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {{"y", 365LL * 86400000},
                                                                    {"w", 7LL * 86400000},
                                                                    {"d", 86400000},
                                                                    {"h", 3600000},
                                                                    {"ms", 1},
                                                                    {"m", 60000},
                                                                    {"s", 1000}};
  static constexpr int kOrder[] = {0, 1, 2, 3, 6, 4, 5};  // ms comes after m and s
  if (s == "0") return Duration(0);
  if (s.empty()) return std::nullopt;
  int64_t total = 0;
  int last_rank = -1;
  size_t i = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start || i - start > 12) return std::nullopt;
    int64_t n = std::stoll(std::string(s.substr(start, i - start)));
    int unit = -1;
    for (int u = 0; u < 7 && unit < 0; ++u) {
      std::string_view suffix = kUnits[u].first;
      bool is_m_of_ms = suffix == "m" && s.substr(i).starts_with("ms");
      if (s.substr(i).starts_with(suffix) && !is_m_of_ms) unit = u;
    }
    if (unit < 0 || kOrder[unit] <= last_rank) return std::nullopt;
    last_rank = kOrder[unit];
    i += kUnits[unit].first.size();
    total += n * kUnits[unit].second;
    if (total > 1000LL * 365 * 86400000) return std::nullopt;
  }
  return Duration(total);
}

const Entry* FindEntry(const std::vector<Entry>& entries, std::string_view key) {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

Entry Item(const Entry& list, YamlNode item, size_t i) {
  return Entry{list.key, fmt::format("{}[{}]", list.path, i), list.key_node, item};
}

bool IsHttpUrl(std::string_view url) {
  return (url.starts_with("http://") && url.size() > 7) ||
         (url.starts_with("https://") && url.size() > 8);
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class AlertingReader {
 public:
  AlertingReader(ParseContext& ctx, Alerting* a) : ctx_(ctx), a_(*a) {}

  void Read(const Entry& e);

 private:
  std::optional<Duration> Dur(const Entry& e, std::string_view who, bool positive);
  void Matchers(const Entry& e, std::string_view who, std::vector<LabelMatcher>* out);
  void MatchMap(const Entry& e, std::string_view who, bool regex, std::vector<LabelMatcher>* out);
  void GroupBy(const Entry& e, std::string_view who, Route* r);
  void NameList(const Entry& e, std::string_view who, std::vector<std::string>* out);
  void ReadRoute(const Entry& e, std::string_view who, bool root, Route* r);
  void ReadReceivers(const Entry& e);
  void ReadReceiver(const Entry& item, size_t index);
  bool HttpBase(const Entry& f, std::string_view who, HttpReceiverBase* base);
  void Url(const Entry& f, std::string_view who, std::string* out);
  template <typename T>
  void Integrations(const Entry& e, std::string_view who, std::span<const std::string_view> keys,
                    std::vector<T>* out);
  void Integration(const Entry& f, std::string_view who, WebhookConfig* c);
  void Integration(const Entry& f, std::string_view who, AlertmanagerConfig* c);
  void Integration(const Entry& f, std::string_view who, SlackConfig* c);
  void Integration(const Entry& f, std::string_view who, PagerDutyConfig* c);
  void ReadInhibitRules(const Entry& e);
  void ReadTimeIntervals(const Entry& e);
  void ReadIncidents(const Entry& e);
  void ReadPeriod(const Entry& item, std::string_view who, TimePeriod* p);
  void Ranges(const Entry& e, std::string_view who, std::string_view example,
              const std::function<std::optional<int>(std::string_view)>& value,
              std::vector<std::pair<int, int>>* out);
  void CheckRefs();

  ParseContext& ctx_;
  Alerting& a_;
  std::vector<Ref> receiver_refs_;
  std::vector<Ref> interval_refs_;
};

std::optional<Duration> AlertingReader::Dur(const Entry& e, std::string_view who, bool positive) {
  std::optional<std::string> text = ctx_.String(e, who);
  if (!text) return std::nullopt;
  std::optional<Duration> d = ParsePromDuration(*text);
  if (!d) {
    ctx_.Error(ctx_.Loc(e), fmt::format("{} must be a duration such as 30s, 5m, 4h or 1d, got "
                                        "'{}'",
                                        ParseContext::Subject(who, e.path), *text));
  } else if (positive && d->count() == 0) {
    ctx_.Error(ctx_.Loc(e), fmt::format("{} cannot be zero", ParseContext::Subject(who, e.path)));
    return std::nullopt;
  }
  return d;
}

void AlertingReader::Matchers(const Entry& e, std::string_view who,
                              std::vector<LabelMatcher>* out) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e),
               fmt::format("{} must be a list of matchers, e.g. "
                           "['severity=~\"critical|page\"'], got {}",
                           ParseContext::Subject(who, e.path), ParseContext::Describe(e.value)));
    return;
  }
  for (YamlNode item : e.value.Items()) {
    std::optional<std::string> text = ctx_.ItemString(item, e, who);
    if (!text) continue;
    StatusOr<std::vector<LabelMatcher>> ms = ParseLabelMatchers(*text);
    if (!ms.ok()) {
      ctx_.Error(ctx_.Loc(item),
                 fmt::format("{}: {}", ParseContext::Subject(who, e.path), ms.status().message()));
      continue;
    }
    out->insert(out->end(), ms->begin(), ms->end());
  }
}

void AlertingReader::MatchMap(const Entry& e, std::string_view who, bool regex,
                              std::vector<LabelMatcher>* out) {
  if (!ctx_.ExpectMap(e, who)) return;
  for (const Entry& l :
       ctx_.Entries(e.value, {}, fmt::format("in {} of {}", e.path, who), e.path + ".")) {
    if (std::string why = CheckLabelName(l.key, {}); !why.empty()) {
      ctx_.Error(ctx_.Loc(l.key_node), fmt::format("{}: label '{}' {}", who, l.key, why));
      continue;
    }
    std::optional<std::string> value = ctx_.String(l, who);
    if (!value) continue;
    LabelMatcher m{l.key, regex ? LabelMatcher::Op::kRegex : LabelMatcher::Op::kEqual, *value};
    if (regex) {
      // Through the matcher parser so the regex is checked the same way as in matchers:.
      StatusOr<std::vector<LabelMatcher>> checked = ParseLabelMatchers(m.ToString());
      if (!checked.ok()) {
        ctx_.Error(ctx_.Loc(l), fmt::format("{}: {}", ParseContext::Subject(who, l.path),
                                            checked.status().message()));
        continue;
      }
    }
    out->push_back(std::move(m));
  }
}

void AlertingReader::GroupBy(const Entry& e, std::string_view who, Route* r) {
  std::optional<std::vector<std::string>> names = ctx_.StringList(e, who);
  if (!names) return;
  r->group_by_set = true;
  std::set<std::string> seen;
  for (const std::string& n : *names) {
    if (n == "...") {
      r->group_by_all = true;
    } else if (std::string why = CheckLabelName(n, {}); !why.empty()) {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{}: label '{}' {}", ParseContext::Subject(who, e.path), n, why));
    } else if (!seen.insert(n).second) {
      ctx_.Error(ctx_.Loc(e),
                 fmt::format("{}: duplicated label '{}'", ParseContext::Subject(who, e.path), n));
    } else {
      r->group_by.push_back(n);
    }
  }
  if (r->group_by_all && names->size() > 1) {
    ctx_.Error(ctx_.Loc(e), fmt::format("{}: '...' (group by all labels) cannot be combined with "
                                        "other labels",
                                        ParseContext::Subject(who, e.path)));
  }
}

void AlertingReader::NameList(const Entry& e, std::string_view who, std::vector<std::string>* out) {
  std::optional<std::vector<std::string>> names = ctx_.StringList(e, who);
  if (!names) return;
  for (const std::string& n : *names) interval_refs_.push_back(Ref{n, ctx_.Loc(e)});
  *out = *std::move(names);
}

void AlertingReader::ReadRoute(const Entry& e, std::string_view who, bool root, Route* r) {
  if (!ctx_.ExpectMap(e, who)) return;
  r->line = ctx_.Loc(e).line;
  std::string where = fmt::format("in {}", e.path);
  for (const Entry& f : ctx_.Entries(e.value, kRouteKeys, where, e.path + ".")) {
    if (f.key == "receiver") {
      if (std::optional<std::string> name = ctx_.String(f, who)) {
        r->receiver = *name;
        receiver_refs_.push_back(Ref{*name, ctx_.Loc(f)});
      }
    } else if (f.key == "group_by") {
      GroupBy(f, who, r);
    } else if (f.key == "matchers") {
      Matchers(f, who, &r->matchers);
    } else if (f.key == "match" || f.key == "match_re") {
      MatchMap(f, who, f.key == "match_re", &r->matchers);
    } else if (f.key == "continue") {
      if (std::optional<bool> b = ctx_.Bool(f, who)) r->continue_matching = *b;
    } else if (f.key == "group_wait") {
      if (std::optional<Duration> d = Dur(f, who, false)) r->group_wait = *d;
    } else if (f.key == "group_interval") {
      if (std::optional<Duration> d = Dur(f, who, true)) r->group_interval = *d;
    } else if (f.key == "repeat_interval") {
      if (std::optional<Duration> d = Dur(f, who, true)) r->repeat_interval = *d;
    } else if (f.key == "mute_time_intervals") {
      NameList(f, who, &r->mute_time_intervals);
    } else if (f.key == "active_time_intervals") {
      NameList(f, who, &r->active_time_intervals);
    } else if (f.key == "routes") {
      if (!f.value.IsSequence()) {
        ctx_.Error(ctx_.Loc(f), fmt::format("{} must be a list of routes, got {}",
                                            ParseContext::Subject(who, f.path),
                                            ParseContext::Describe(f.value)));
        continue;
      }
      for (size_t i = 0; i < f.value.Items().size(); ++i) {
        Entry child = Item(f, f.value.Items()[i], i);
        r->routes.emplace_back();
        ReadRoute(child, "", false, &r->routes.back());
      }
    }
  }
  if (!root) return;
  SourceLocation at = ctx_.Loc(e);
  if (r->receiver.empty()) {
    ctx_.Error(at,
               "'alerting.route' must name a default 'receiver' (the root route catches "
               "every alert no child route takes)");
  }
  if (!r->matchers.empty()) {
    ctx_.Error(at,
               "'alerting.route' is the root route and must not have matchers (it matches "
               "every alert); put them on a child route under 'routes'");
  }
  if (r->continue_matching) {
    ctx_.Error(at,
               "'alerting.route' is the root route and cannot have 'continue' (it has no "
               "siblings)");
  }
  if (!r->mute_time_intervals.empty() || !r->active_time_intervals.empty()) {
    ctx_.Error(at,
               "'alerting.route' is the root route and must not have mute_time_intervals or "
               "active_time_intervals; put them on a child route");
  }
}

void AlertingReader::Url(const Entry& f, std::string_view who, std::string* out) {
  std::optional<std::string> url = ctx_.String(f, who);
  if (!url) return;
  if (!IsHttpUrl(*url)) {
    // The value may hold a secret: name the problem, not the value.
    ctx_.Error(ctx_.Loc(f), fmt::format("{} must be an http:// or https:// URL",
                                        ParseContext::Subject(who, f.path)));
    return;
  }
  *out = *url;
}

// The keys every integration shares; false when `f` is not one of them.
bool AlertingReader::HttpBase(const Entry& f, std::string_view who, HttpReceiverBase* base) {
  if (f.key == "url") {
    Url(f, who, &base->url);
  } else if (f.key == "send_resolved") {
    if (std::optional<bool> b = ctx_.Bool(f, who)) base->send_resolved = *b;
  } else if (f.key == "timeout") {
    if (std::optional<Duration> d = Dur(f, who, true)) base->timeout = *d;
  } else if (f.key == "headers") {
    if (!ctx_.ExpectMap(f, who)) return true;
    for (const Entry& h :
         ctx_.Entries(f.value, {}, "in headers of " + std::string(who), f.path + ".")) {
      if (std::optional<std::string> v = ctx_.String(h, who)) base->headers[h.key] = *v;
    }
  } else {
    return false;
  }
  return true;
}

void AlertingReader::Integration(const Entry& f, std::string_view who, WebhookConfig* c) {
  if (HttpBase(f, who, c)) return;
  if (f.key == "max_alerts") {
    if (std::optional<int64_t> n = ctx_.Int(f, who, 0, 1 << 30))
      c->max_alerts = static_cast<int>(*n);
  }
}

void AlertingReader::Integration(const Entry& f, std::string_view who, AlertmanagerConfig* c) {
  HttpBase(f, who, c);
}

void AlertingReader::Integration(const Entry& f, std::string_view who, SlackConfig* c) {
  if (f.key == "api_url") {
    Url(f, who, &c->url);
  } else if (!HttpBase(f, who, c)) {
    std::optional<std::string> v = ctx_.String(f, who);
    if (!v) return;
    if (f.key == "channel") c->channel = *v;
    if (f.key == "username") c->username = *v;
    if (f.key == "title") c->title = *v;
    if (f.key == "text") c->text = *v;
  }
}

void AlertingReader::Integration(const Entry& f, std::string_view who, PagerDutyConfig* c) {
  if (HttpBase(f, who, c)) return;
  std::optional<std::string> v = ctx_.String(f, who);
  if (!v) return;
  if (f.key == "routing_key") c->routing_key = *v;
  if (f.key == "severity") c->severity = *v;
  if (f.key == "description") c->description = *v;
  if (f.key == "client") c->client = *v;
}

template <typename T>
void AlertingReader::Integrations(const Entry& e, std::string_view who,
                                  std::span<const std::string_view> keys, std::vector<T>* out) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e),
               fmt::format("{} must be a list of settings, e.g. [{{url: "
                           "http://localhost:5001/}}], got {}",
                           ParseContext::Subject(who, e.path), ParseContext::Describe(e.value)));
    return;
  }
  for (size_t i = 0; i < e.value.Items().size(); ++i) {
    Entry item = Item(e, e.value.Items()[i], i);
    if (!ctx_.ExpectMap(item, who)) continue;
    T c;
    if constexpr (std::is_same_v<T, SlackConfig>) c.send_resolved = false;
    std::vector<Entry> fields = ctx_.Entries(item.value, keys, "in " + item.path, item.path + ".");
    if (std::is_same_v<T, SlackConfig> && FindEntry(fields, "api_url") &&
        FindEntry(fields, "url")) {
      ctx_.Error(ctx_.Loc(item),
                 fmt::format("{}: {} has both 'api_url' and 'url'; keep one", who, item.path));
    }
    for (const Entry& f : fields) Integration(f, who, &c);
    if constexpr (std::is_same_v<T, PagerDutyConfig>) {
      if (c.url.empty()) c.url = "https://events.pagerduty.com/v2/enqueue";
      if (c.routing_key.empty()) {
        ctx_.Error(ctx_.Loc(item), fmt::format("{}: {} needs a 'routing_key' (the Events API v2 "
                                               "integration key)",
                                               who, item.path));
      }
    } else if (c.url.empty()) {
      ctx_.Error(ctx_.Loc(item), fmt::format("{}: {} needs a '{}'", who, item.path,
                                             std::is_same_v<T, SlackConfig> ? "api_url" : "url"));
    }
    out->push_back(std::move(c));
  }
}

void AlertingReader::ReadReceivers(const Entry& e) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e), fmt::format("'alerting.receivers' must be a list, e.g. [{{name: ops, "
                                        "webhook_configs: [{{url: http://localhost:5001/}}]}}], "
                                        "got {}",
                                        ParseContext::Describe(e.value)));
    return;
  }
  for (size_t i = 0; i < e.value.Items().size(); ++i)
    ReadReceiver(Item(e, e.value.Items()[i], i), i);
}

void AlertingReader::ReadReceiver(const Entry& item, size_t index) {
  if (!ctx_.ExpectMap(item, "")) return;
  ReceiverConfig rc;
  rc.line = ctx_.Loc(item).line;
  std::vector<Entry> fields =
      ctx_.Entries(item.value, kReceiverKeys, "in " + item.path, item.path + ".");
  const Entry* name = FindEntry(fields, "name");
  std::optional<std::string> n = name ? ctx_.String(*name, "") : std::nullopt;
  if (!name) {
    ctx_.Error(ctx_.Loc(item), fmt::format("receiver {} has no 'name'", index + 1));
  } else if (n && n->empty()) {
    ctx_.Error(ctx_.Loc(*name), fmt::format("receiver {} has an empty 'name'", index + 1));
  }
  if (n) rc.name = *n;
  std::string who = fmt::format("receiver '{}'", rc.name);
  for (const ReceiverConfig& other : a_.receivers) {
    if (!rc.name.empty() && other.name == rc.name) {
      ctx_.Error(ctx_.Loc(*name), fmt::format("receiver name '{}' is used twice (first at line "
                                              "{}); receiver names must be unique",
                                              rc.name, other.line));
    }
  }
  for (const Entry& f : fields) {
    if (f.key == "webhook_configs") Integrations(f, who, kWebhookKeys, &rc.webhook_configs);
    if (f.key == "alertmanager_configs") {
      Integrations(f, who, kAlertmanagerKeys, &rc.alertmanager_configs);
    }
    if (f.key == "slack_configs") Integrations(f, who, kSlackKeys, &rc.slack_configs);
    if (f.key == "pagerduty_configs") Integrations(f, who, kPagerDutyKeys, &rc.pagerduty_configs);
    if (std::find(std::begin(kUnsupportedIntegrations), std::end(kUnsupportedIntegrations),
                  f.key) != std::end(kUnsupportedIntegrations)) {
      ctx_.Error(ctx_.Loc(f.key_node),
                 fmt::format("{}: '{}' is an Alertmanager integration Steward does not deliver "
                             "to; use webhook_configs, alertmanager_configs (forward to an "
                             "Alertmanager that has it), slack_configs or pagerduty_configs",
                             who, f.key));
    }
  }
  a_.receivers.push_back(std::move(rc));
}

void AlertingReader::ReadInhibitRules(const Entry& e) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e), fmt::format("'alerting.inhibit_rules' must be a list, got {}",
                                        ParseContext::Describe(e.value)));
    return;
  }
  for (size_t i = 0; i < e.value.Items().size(); ++i) {
    Entry item = Item(e, e.value.Items()[i], i);
    if (!ctx_.ExpectMap(item, "")) continue;
    InhibitRule rule;
    rule.line = ctx_.Loc(item).line;
    std::string who = fmt::format("inhibit rule {}", i + 1);
    for (const Entry& f : ctx_.Entries(item.value, kInhibitKeys, "in " + item.path, "")) {
      if (f.key == "source_matchers") Matchers(f, who, &rule.source_matchers);
      if (f.key == "target_matchers") Matchers(f, who, &rule.target_matchers);
      if (f.key == "source_match") MatchMap(f, who, false, &rule.source_matchers);
      if (f.key == "source_match_re") MatchMap(f, who, true, &rule.source_matchers);
      if (f.key == "target_match") MatchMap(f, who, false, &rule.target_matchers);
      if (f.key == "target_match_re") MatchMap(f, who, true, &rule.target_matchers);
      if (f.key != "equal") continue;
      std::optional<std::vector<std::string>> equal = ctx_.StringList(f, who);
      if (!equal) continue;
      for (const std::string& l : *equal) {
        if (std::string why = CheckLabelName(l, {}); !why.empty()) {
          ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'equal' label '{}' {}", who, l, why));
        }
      }
      rule.equal = *std::move(equal);
    }
    a_.inhibit_rules.push_back(std::move(rule));
  }
}

// "a:b" or "a" (then b = a), each end read by `value`; ranges must not run backwards.
void AlertingReader::Ranges(const Entry& e, std::string_view who, std::string_view example,
                            const std::function<std::optional<int>(std::string_view)>& value,
                            std::vector<std::pair<int, int>>* out) {
  std::optional<std::vector<std::string>> items = ctx_.StringList(e, who);
  if (!items) return;
  for (const std::string& text : *items) {
    size_t colon = text.find(':');
    std::string_view s = text;
    std::optional<int> begin = value(Trim(s.substr(0, colon)));
    std::optional<int> end = colon == std::string::npos ? begin : value(Trim(s.substr(colon + 1)));
    if (!begin || !end) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: '{}' is not a valid range, e.g. {}",
                                          ParseContext::Subject(who, e.path), text, example));
      continue;
    }
    // Negative days count from the month's end; compare as in a 28-day month, like Alertmanager.
    bool days = e.key == "days_of_month";
    if (days && *begin < 0 && *end > 0) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: '{}': the end day must be negative when the start "
                                          "day is",
                                          ParseContext::Subject(who, e.path), text));
      continue;
    }
    int check_begin = days && *begin < 0 ? 28 + *begin : *begin;
    int check_end = days && *end < 0 ? 28 + *end : *end;
    if (check_begin > check_end) {
      ctx_.Error(ctx_.Loc(e), fmt::format("{}: '{}': the range ends before it starts",
                                          ParseContext::Subject(who, e.path), text));
      continue;
    }
    out->emplace_back(*begin, *end);
  }
}

std::optional<int> ParseInt(std::string_view s, int min, int max) {
  bool negative = s.starts_with('-');
  std::string_view digits = negative ? s.substr(1) : s;
  if (digits.empty() || digits.size() > 6) return std::nullopt;
  for (char c : digits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  int v = std::stoi(std::string(digits)) * (negative ? -1 : 1);
  if (v < min || v > max) return std::nullopt;
  return v;
}

std::optional<int> NameIndex(std::string_view s, std::span<const std::string_view> names) {
  std::string lower = Lower(s);
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i] == lower) return static_cast<int>(i);
  }
  return std::nullopt;
}

// "HH:MM" from 00:00 to 24:00 as minutes of the day.
std::optional<int> ParseClock(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  std::optional<int> h = ParseInt(s.substr(0, 2), 0, 24);
  std::optional<int> m = ParseInt(s.substr(3, 2), 0, 59);
  if (!h || !m || (*h == 24 && *m != 0)) return std::nullopt;
  return *h * 60 + *m;
}

void AlertingReader::ReadPeriod(const Entry& item, std::string_view who, TimePeriod* p) {
  if (!ctx_.ExpectMap(item, who)) return;
  for (const Entry& f : ctx_.Entries(item.value, kPeriodKeys, "in " + item.path, "")) {
    if (f.key == "weekdays") {
      Ranges(
          f, who, "monday:friday or saturday",
          [](std::string_view s) { return NameIndex(s, kWeekdays); }, &p->weekdays);
    } else if (f.key == "days_of_month") {
      Ranges(
          f, who, "1:5 or -3:-1",
          [](std::string_view s) -> std::optional<int> {
            std::optional<int> d = ParseInt(s, -31, 31);
            return d == 0 ? std::nullopt : d;
          },
          &p->days_of_month);
    } else if (f.key == "months") {
      Ranges(
          f, who, "january:march or 1:3",
          [](std::string_view s) -> std::optional<int> {
            std::optional<int> m = NameIndex(s, kMonths);
            return m ? std::optional<int>(*m + 1) : ParseInt(s, 1, 12);
          },
          &p->months);
    } else if (f.key == "years") {
      Ranges(
          f, who, "2020:2022", [](std::string_view s) { return ParseInt(s, 0, 9999); }, &p->years);
    } else if (f.key == "location") {
      std::optional<std::string> loc = ctx_.String(f, who);
      if (!loc) continue;
      std::error_code ec;
      bool known = *loc == "UTC" || *loc == "Local" ||
                   (loc->find("..") == std::string::npos && !loc->starts_with('/') &&
                    std::filesystem::is_regular_file("/usr/share/zoneinfo/" + *loc, ec));
      if (!known) {
        ctx_.Error(ctx_.Loc(f), fmt::format("{}: unknown time zone '{}'; use an IANA name such "
                                            "as Europe/Berlin, or UTC",
                                            who, *loc));
      }
      p->location = *loc;
    } else if (f.key == "times") {
      if (!f.value.IsSequence()) {
        ctx_.Error(ctx_.Loc(f), fmt::format("{}: 'times' must be a list of {{start_time: "
                                            "\"09:00\", end_time: \"17:00\"}}, got {}",
                                            who, ParseContext::Describe(f.value)));
        continue;
      }
      for (size_t i = 0; i < f.value.Items().size(); ++i) {
        Entry range = Item(f, f.value.Items()[i], i);
        if (!ctx_.ExpectMap(range, who)) continue;
        std::optional<int> start, end;
        std::vector<Entry> ends = ctx_.Entries(range.value, kTimeRangeKeys, "in " + range.path, "");
        for (const Entry& t : ends) {
          std::optional<std::string> text = ctx_.String(t, who);
          std::optional<int> minute = text ? ParseClock(*text) : std::nullopt;
          if (text && !minute) {
            ctx_.Error(ctx_.Loc(t), fmt::format("{}: '{}' must be a time of day HH:MM from 00:00 "
                                                "to 24:00, got '{}'",
                                                who, t.key, *text));
          }
          (t.key == "start_time" ? start : end) = minute;
        }
        if (ends.size() < 2) {
          ctx_.Error(ctx_.Loc(range), fmt::format("{}: each of 'times' needs both start_time and "
                                                  "end_time",
                                                  who));
        } else if (start && end && *start >= *end) {
          ctx_.Error(ctx_.Loc(range), fmt::format("{}: start_time must be before end_time", who));
        } else if (start && end) {
          p->times.emplace_back(*start, *end);
        }
      }
    }
  }
}

void AlertingReader::ReadTimeIntervals(const Entry& e) {
  if (!e.value.IsSequence()) {
    ctx_.Error(ctx_.Loc(e), fmt::format("'alerting.{}' must be a list of {{name, "
                                        "time_intervals}}, got {}",
                                        e.key, ParseContext::Describe(e.value)));
    return;
  }
  for (size_t i = 0; i < e.value.Items().size(); ++i) {
    Entry item = Item(e, e.value.Items()[i], i);
    if (!ctx_.ExpectMap(item, "")) continue;
    TimeInterval ti;
    ti.line = ctx_.Loc(item).line;
    std::vector<Entry> fields = ctx_.Entries(item.value, kIntervalKeys, "in " + item.path, "");
    const Entry* name = FindEntry(fields, "name");
    if (std::optional<std::string> n = name ? ctx_.String(*name, "") : std::nullopt) ti.name = *n;
    if (ti.name.empty()) {
      ctx_.Error(ctx_.Loc(item), fmt::format("time interval {} needs a 'name'", i + 1));
    }
    for (const TimeInterval& other : a_.time_intervals) {
      if (!ti.name.empty() && other.name == ti.name) {
        ctx_.Error(ctx_.Loc(*name), fmt::format("time interval '{}' is defined twice (first at "
                                                "line {})",
                                                ti.name, other.line));
      }
    }
    std::string who = fmt::format("time interval '{}'", ti.name);
    if (const Entry* periods = FindEntry(fields, "time_intervals")) {
      if (!periods->value.IsSequence()) {
        ctx_.Error(ctx_.Loc(*periods), fmt::format("{}: 'time_intervals' must be a list, got {}",
                                                   who, ParseContext::Describe(periods->value)));
      } else {
        for (size_t k = 0; k < periods->value.Items().size(); ++k) {
          ti.periods.emplace_back();
          ReadPeriod(Item(*periods, periods->value.Items()[k], k), who, &ti.periods.back());
        }
      }
    }
    a_.time_intervals.push_back(std::move(ti));
  }
}

void AlertingReader::CheckRefs() {
  std::set<std::string> receivers, intervals;
  for (const ReceiverConfig& r : a_.receivers) receivers.insert(r.name);
  for (const TimeInterval& t : a_.time_intervals) intervals.insert(t.name);
  auto list = [](const std::set<std::string>& names) {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return out.empty() ? std::string("none") : out;
  };
  for (const Ref& r : receiver_refs_) {
    if (receivers.count(r.name) == 0) {
      ctx_.Error(r.at, fmt::format("undefined receiver '{}' used in route; defined receivers: {}",
                                   r.name, list(receivers)));
    }
  }
  for (const Ref& r : interval_refs_) {
    if (intervals.count(r.name) == 0) {
      ctx_.Error(r.at, fmt::format("undefined time interval '{}' used in route; defined time "
                                   "intervals: {}",
                                   r.name, list(intervals)));
    }
  }
}

// incidents: {min_severity: critical|error|warning|info, reopen_window: 5m}
void AlertingReader::ReadIncidents(const Entry& e) {
  static constexpr std::string_view kKeys[] = {"min_severity", "reopen_window"};
  static constexpr std::string_view kSeverities[] = {"critical", "error", "warning", "info"};
  if (!ctx_.ExpectMap(e, "alerting")) return;
  for (const Entry& f : ctx_.Entries(e.value, kKeys, "in alerting.incidents",
                                     "alerting.incidents.")) {
    if (f.key == "reopen_window") {
      if (std::optional<Duration> d = Dur(f, "", false)) a_.incident_reopen_window = *d;
      continue;
    }
    std::optional<std::string> sev = ctx_.String(f, "alerting");
    if (!sev) continue;
    if (std::find(std::begin(kSeverities), std::end(kSeverities), *sev) == std::end(kSeverities)) {
      ctx_.Error(ctx_.Loc(f), fmt::format("'alerting.incidents.min_severity' must be one of "
                                          "critical, error, warning, info; got '{}'",
                                          *sev));
      continue;
    }
    a_.incident_min_severity = *sev;
  }
}

void AlertingReader::Read(const Entry& e) {
  a_.declared = true;
  if (e.value.IsNull()) return;
  if (!ctx_.ExpectMap(e, "")) return;
  std::vector<Entry> fields = ctx_.Entries(e.value, kAlertingKeys, "in alerting", "alerting.");
  for (const Entry& f : fields) {
    if (f.key == "evaluation_interval") {
      if (std::optional<Duration> d = Dur(f, "", true)) a_.evaluation_interval = *d;
    } else if (f.key == "resolve_timeout") {
      if (std::optional<Duration> d = Dur(f, "", true)) a_.resolve_timeout = *d;
    } else if (f.key == "retry_initial") {
      if (std::optional<Duration> d = Dur(f, "", true)) a_.retry_initial = *d;
    } else if (f.key == "retry_max") {
      if (std::optional<Duration> d = Dur(f, "", true)) a_.retry_max = *d;
    } else if (f.key == "give_up_after") {
      if (std::optional<Duration> d = Dur(f, "", true)) a_.give_up_after = *d;
    } else if (f.key == "incidents") {
      ReadIncidents(f);
    } else if (f.key == "external_labels") {
      ReadLabels(ctx_, f, "alerting", {}, &a_.external_labels);
    } else if (f.key == "external_url") {
      std::optional<std::string> url = ctx_.String(f, "");
      if (url && !IsHttpUrl(*url)) {
        ctx_.Error(ctx_.Loc(f), fmt::format("'alerting.external_url' must be an http:// or "
                                            "https:// URL, got '{}'",
                                            *url));
      } else if (url) {
        a_.external_url = *url;
      }
    } else if (f.key == "route") {
      ReadRoute(f, "", true, &a_.route);
    } else if (f.key == "receivers") {
      ReadReceivers(f);
    } else if (f.key == "inhibit_rules") {
      ReadInhibitRules(f);
    } else if (f.key == "time_intervals" || f.key == "mute_time_intervals") {
      ReadTimeIntervals(f);
    }
  }
  if (a_.retry_max < a_.retry_initial) {
    ctx_.Error(ctx_.Loc(e),
               "'alerting.retry_max' must not be shorter than "
               "'alerting.retry_initial'");
  }
  const Entry* route = FindEntry(fields, "route");
  if (route == nullptr && !a_.receivers.empty()) {
    ctx_.Error(ctx_.Loc(e.key_node),
               "'alerting' has receivers but no 'route'; add route: "
               "{receiver: <name>}");
  }
  CheckRefs();
}

void ReadRuleFiles(ParseContext& ctx, const Entry& e, const std::string& dir,
                   std::vector<std::string>* out) {
  std::optional<std::vector<std::string>> files = ctx.StringList(e, "");
  if (!files) return;
  for (const std::string& f : *files) {
    if (f.empty()) {
      ctx.Error(ctx.Loc(e), "'rule_files' has an empty path");
      continue;
    }
    out->push_back((std::filesystem::path(dir) / f).lexically_normal().string());
  }
}

}  // namespace

void ParseAlertingSections(ParseContext& ctx, const std::vector<Entry>& top, Stack* stack) {
  if (const Entry* e = FindEntry(top, "rule_files")) {
    ReadRuleFiles(ctx, *e, stack->dir, &stack->rule_files);
  }
  if (const Entry* e = FindEntry(top, "alerting")) AlertingReader(ctx, &stack->alerting).Read(*e);
}

}  // namespace steward::config::internal
