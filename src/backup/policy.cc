// Retention as restic's `forget` does it: walk a group's snapshots newest first; each rule
// with an allowance left keeps a snapshot whose bucket (hour, day, ISO week, month, year in
// local time) differs from the bucket it kept last. Walking newest first makes that "the
// newest snapshot of each of the N most recent buckets that have one". A negative count
// means unlimited, as restic's -1.
#include "backup/policy.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <string_view>

namespace steward::backup {

namespace {

struct Civil {
  int year;
  unsigned month, day, hour;
  int iso_year;
  unsigned iso_week;
};

Civil ToCivil(int64_t time_ns, int64_t utc_offset_seconds) {
  using namespace std::chrono;
  // Floor division: a time before 1970 still lands in the right day.
  int64_t secs = time_ns / 1000000000;
  if (time_ns % 1000000000 < 0) --secs;
  secs += utc_offset_seconds;
  int64_t days = secs / 86400;
  if (secs % 86400 < 0) --days;
  const sys_days day{std::chrono::days{days}};
  const year_month_day ymd{day};
  Civil c;
  c.year = static_cast<int>(ymd.year());
  c.month = static_cast<unsigned>(ymd.month());
  c.day = static_cast<unsigned>(ymd.day());
  c.hour = static_cast<unsigned>((secs - days * 86400) / 3600);
  // ISO 8601: weeks start on Monday; week 1 is the one holding the year's first Thursday, so
  // a week belongs to the year of its Thursday.
  const unsigned monday_based = weekday{day}.iso_encoding() - 1;  // Monday = 0
  const sys_days thursday = day - std::chrono::days{monday_based} + std::chrono::days{3};
  const year iso_year = year_month_day{thursday}.year();
  c.iso_year = static_cast<int>(iso_year);
  c.iso_week = static_cast<unsigned>((thursday - sys_days{iso_year / January / 1}).count() / 7 + 1);
  return c;
}

std::string Format(const char* fmt, int a, unsigned b = 0, unsigned c = 0, unsigned d = 0) {
  char buf[32];
  std::snprintf(buf, sizeof buf, fmt, a, b, c, d);
  return buf;
}

// One bucket rule: how many more it may keep and the bucket it kept last.
struct BucketRule {
  const char* name;
  int remaining;
  std::string (*bucket)(const Civil&);
  std::string last;
};

std::string HourBucket(const Civil& c) {
  return Format("%04d-%02u-%02u %02u:00", c.year, c.month, c.day, c.hour);
}
std::string DayBucket(const Civil& c) { return Format("%04d-%02u-%02u", c.year, c.month, c.day); }
std::string WeekBucket(const Civil& c) { return Format("%04d-W%02u", c.iso_year, c.iso_week); }
std::string MonthBucket(const Civil& c) { return Format("%04d-%02u", c.year, c.month); }
std::string YearBucket(const Civil& c) { return Format("%04d", c.year); }

// restic's --keep-tag a,b: a snapshot must carry every tag of the comma-separated list.
bool HasAllTags(const Snapshot& snap, std::string_view list) {
  bool any = false;
  while (!list.empty()) {
    const size_t comma = list.find(',');
    const std::string_view tag = list.substr(0, comma);
    list.remove_prefix(comma == std::string_view::npos ? list.size() : comma + 1);
    if (tag.empty()) continue;
    if (std::find(snap.tags.begin(), snap.tags.end(), tag) == snap.tags.end()) return false;
    any = true;
  }
  return any;
}

struct Group {
  std::string label;
  std::vector<size_t> members;  // indexes into the input
};

// The grouping key keeps fields apart with '\0' (a path may hold ", "); the label is for people.
std::pair<std::string, std::string> GroupOf(const Snapshot& s, GroupBy by) {
  std::vector<std::string> paths = s.paths;
  std::sort(paths.begin(), paths.end());
  std::string key, label;
  if (by == GroupBy::kHostPaths || by == GroupBy::kHost) {
    key += s.host;
    key += '\0';
    label = "host " + s.host;
  }
  if (by == GroupBy::kHostPaths || by == GroupBy::kPaths) {
    if (!label.empty()) label += ", ";
    label += "paths ";
    for (size_t i = 0; i < paths.size(); ++i) {
      key += paths[i];
      key += '\0';
      label += (i ? ", " : "") + paths[i];
    }
  }
  return {key, label};
}

void Decide(const std::vector<std::pair<Id, Snapshot>>& snapshots, const Group& group,
            const KeepPolicy& policy, int64_t utc_offset_seconds,
            std::vector<PolicyDecision>* out) {
  std::vector<size_t> order = group.members;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (snapshots[a].second.time_ns != snapshots[b].second.time_ns)
      return snapshots[a].second.time_ns > snapshots[b].second.time_ns;
    return snapshots[b].first < snapshots[a].first;
  });
  const bool keep_all = policy.Empty();
  int last = policy.last;
  BucketRule rules[] = {{"hourly", policy.hourly, HourBucket, {}},
                        {"daily", policy.daily, DayBucket, {}},
                        {"weekly", policy.weekly, WeekBucket, {}},
                        {"monthly", policy.monthly, MonthBucket, {}},
                        {"yearly", policy.yearly, YearBucket, {}}};
  const int64_t newest = order.empty() ? 0 : snapshots[order.front()].second.time_ns;
  const int64_t within_from = newest - policy.within_seconds * 1000000000;
  for (size_t index : order) {
    const auto& [id, snap] = snapshots[index];
    PolicyDecision d;
    d.id = id;
    d.group = group.label;
    if (last != 0) {
      d.reasons.push_back("last");
      if (last > 0) --last;
    }
    const Civil civil = ToCivil(snap.time_ns, utc_offset_seconds);
    for (BucketRule& rule : rules) {
      if (rule.remaining == 0) continue;
      std::string bucket = rule.bucket(civil);
      if (bucket == rule.last) continue;
      d.reasons.push_back(std::string(rule.name) + " " + bucket);
      rule.last = std::move(bucket);
      if (rule.remaining > 0) --rule.remaining;
    }
    if (policy.within_seconds > 0 && snap.time_ns > within_from) d.reasons.push_back("within");
    for (const std::string& tags : policy.keep_tags)
      if (HasAllTags(snap, tags)) d.reasons.push_back("tag " + tags);
    d.keep = keep_all || !d.reasons.empty();
    out->push_back(std::move(d));
  }
}

}  // namespace

bool KeepPolicy::Empty() const {
  return last == 0 && hourly == 0 && daily == 0 && weekly == 0 && monthly == 0 && yearly == 0 &&
         within_seconds == 0 && keep_tags.empty();
}

std::vector<PolicyDecision> ApplyPolicy(const std::vector<std::pair<Id, Snapshot>>& snapshots,
                                        const KeepPolicy& policy, GroupBy group_by,
                                        int64_t utc_offset_seconds) {
  std::map<std::string, Group> groups;  // ordered by key: the same output on every run
  for (size_t i = 0; i < snapshots.size(); ++i) {
    auto [key, label] = GroupOf(snapshots[i].second, group_by);
    Group& g = groups[key];
    g.label = std::move(label);
    g.members.push_back(i);
  }
  std::vector<PolicyDecision> decisions;
  decisions.reserve(snapshots.size());
  for (const auto& [key, group] : groups)
    Decide(snapshots, group, policy, utc_offset_seconds, &decisions);
  return decisions;
}

}  // namespace steward::backup
