#include "backup/policy.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

namespace steward::backup {
namespace {

using namespace std::chrono;

constexpr int64_t kNsPerSec = 1000000000;

// Nanoseconds since the epoch of a UTC civil time.
int64_t At(int y, unsigned m, unsigned d, int hour = 0, int minute = 0) {
  const sys_days date = year{y} / month{m} / std::chrono::day{d};
  return (static_cast<int64_t>(date.time_since_epoch().count()) * 86400 + hour * 3600 +
          minute * 60) *
         kNsPerSec;
}

Id IdOf(int n) {
  Id id;
  id.bytes[0] = static_cast<uint8_t>(n >> 8);
  id.bytes[1] = static_cast<uint8_t>(n);
  return id;
}

struct Snaps {
  std::vector<std::pair<Id, Snapshot>> list;
  std::map<Id, int64_t> time_of;

  Id Add(int64_t time_ns, std::string host = "h", std::vector<std::string> paths = {"/srv"},
         std::vector<std::string> tags = {}) {
    Snapshot s;
    s.time_ns = time_ns;
    s.host = std::move(host);
    s.paths = std::move(paths);
    s.tags = std::move(tags);
    Id id = IdOf(static_cast<int>(list.size()) + 1);
    list.emplace_back(id, s);
    time_of[id] = time_ns;
    return id;
  }
};

std::set<Id> Kept(const std::vector<PolicyDecision>& decisions) {
  std::set<Id> kept;
  for (const auto& d : decisions)
    if (d.keep) kept.insert(d.id);
  return kept;
}

const PolicyDecision& DecisionOf(const std::vector<PolicyDecision>& decisions, const Id& id) {
  for (const auto& d : decisions)
    if (d.id == id) return d;
  ADD_FAILURE() << "no decision for " << id.Hex();
  static PolicyDecision none;
  return none;
}

// 30 days (Nov 1..30 2026) of four snapshots a day at 03:00, 09:00, 15:00 and 21:00, added
// oldest first (the order ListSnapshots gives).
Snaps Month() {
  Snaps s;
  for (unsigned d = 1; d <= 30; ++d)
    for (int h : {3, 9, 15, 21}) s.Add(At(2026, 11, d, h));
  return s;
}

TEST(Policy, EmptyPolicy) {
  KeepPolicy p;
  EXPECT_TRUE(p.Empty());
  for (auto set : std::vector<void (*)(KeepPolicy&)>{
           [](KeepPolicy& k) { k.last = 1; }, [](KeepPolicy& k) { k.hourly = 1; },
           [](KeepPolicy& k) { k.daily = 1; }, [](KeepPolicy& k) { k.weekly = 1; },
           [](KeepPolicy& k) { k.monthly = 1; }, [](KeepPolicy& k) { k.yearly = 1; },
           [](KeepPolicy& k) { k.within_seconds = 60; }, [](KeepPolicy& k) { k.keep_tags = {"x"}; },
           [](KeepPolicy& k) { k.daily = -1; }}) {
    KeepPolicy q;
    set(q);
    EXPECT_FALSE(q.Empty());
  }
  Snaps s = Month();
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(decisions.size(), s.list.size());
  EXPECT_EQ(Kept(decisions).size(), s.list.size());  // nothing set keeps everything
}

TEST(Policy, KeepDailyKeepsTheNewestOfEachOfTheLastDays) {
  Snaps s = Month();
  KeepPolicy p;
  p.daily = 7;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  ASSERT_EQ(decisions.size(), 120u);
  std::set<Id> want;
  for (const auto& [id, snap] : s.list)
    for (unsigned d = 24; d <= 30; ++d)
      if (snap.time_ns == At(2026, 11, d, 21)) want.insert(id);
  ASSERT_EQ(want.size(), 7u);
  EXPECT_EQ(Kept(decisions), want);
  // Newest first, and the reason names the day.
  EXPECT_EQ(s.time_of[decisions.front().id], At(2026, 11, 30, 21));
  for (size_t i = 1; i < decisions.size(); ++i)
    EXPECT_GE(s.time_of[decisions[i - 1].id], s.time_of[decisions[i].id]);
  EXPECT_EQ(decisions.front().reasons, std::vector<std::string>{"daily 2026-11-30"});
  EXPECT_EQ(decisions.front().group, "host h, paths /srv");
}

TEST(Policy, KeepDailyCountsOnlyDaysWithASnapshot) {
  Snaps s;
  Id a = s.Add(At(2026, 11, 1, 12));
  Id b = s.Add(At(2026, 11, 10, 12));
  s.Add(At(2026, 11, 20, 8));  // the same day's older one is not the day's pick
  Id c2 = s.Add(At(2026, 11, 20, 9));
  KeepPolicy p;
  p.daily = 3;
  auto kept = Kept(ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0));
  EXPECT_EQ(kept, (std::set<Id>{a, b, c2}));
}

TEST(Policy, KeepLastAndUnlimited) {
  Snaps s = Month();
  KeepPolicy p;
  p.last = 3;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  auto kept = Kept(decisions);
  ASSERT_EQ(kept.size(), 3u);
  for (const Id& id : kept) EXPECT_GE(s.time_of[id], At(2026, 11, 30, 9));
  EXPECT_EQ(decisions[0].reasons, std::vector<std::string>{"last"});
  EXPECT_TRUE(decisions[3].reasons.empty());
  EXPECT_FALSE(decisions[3].keep);

  KeepPolicy unlimited;
  unlimited.daily = -1;
  EXPECT_EQ(Kept(ApplyPolicy(s.list, unlimited, GroupBy::kHostPaths, 0)).size(), 30u);
}

TEST(Policy, HourlyUsesTheLocalOffset) {
  Snaps s;
  Id early = s.Add(At(2026, 11, 27, 22, 10));
  Id late = s.Add(At(2026, 11, 27, 23, 50));
  KeepPolicy p;
  p.daily = 2;
  // UTC: both on the 27th; one day kept.
  EXPECT_EQ(Kept(ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0)), std::set<Id>{late});
  // UTC+01:30: 23:40 on the 27th and 01:20 on the 28th, two days.
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 5400);
  EXPECT_EQ(Kept(decisions), (std::set<Id>{early, late}));
  EXPECT_EQ(DecisionOf(decisions, late).reasons, std::vector<std::string>{"daily 2026-11-28"});
  KeepPolicy h;
  h.hourly = 5;
  auto hourly = ApplyPolicy(s.list, h, GroupBy::kHostPaths, -3600);
  EXPECT_EQ(DecisionOf(hourly, late).reasons, std::vector<std::string>{"hourly 2026-11-27 22:00"});
}

TEST(Policy, WeeklyUsesIsoWeeksAcrossTheYearBoundary) {
  // 2026 starts on a Thursday, so it has 53 ISO weeks: 2026-W53 runs Mon Dec 28 2026 to Sun
  // Jan 3 2027, and 2027-W01 starts Mon Jan 4.
  Snaps s;
  Id w52 = s.Add(At(2026, 12, 27, 12));      // Sunday, 2026-W52
  Id w53_dec = s.Add(At(2026, 12, 29, 12));  // Tuesday, 2026-W53
  Id w53_jan = s.Add(At(2027, 1, 2, 12));    // Saturday, still 2026-W53
  Id w01 = s.Add(At(2027, 1, 5, 12));        // Tuesday, 2027-W01
  KeepPolicy p;
  p.weekly = 3;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(Kept(decisions), (std::set<Id>{w52, w53_jan, w01}));
  EXPECT_EQ(DecisionOf(decisions, w01).reasons, std::vector<std::string>{"weekly 2027-W01"});
  EXPECT_EQ(DecisionOf(decisions, w53_jan).reasons, std::vector<std::string>{"weekly 2026-W53"});
  EXPECT_EQ(DecisionOf(decisions, w52).reasons, std::vector<std::string>{"weekly 2026-W52"});
  EXPECT_FALSE(DecisionOf(decisions, w53_dec).keep);

  // 2027 starts on a Friday: Jan 1-3 2027 are in 2026's last week, and 2027 has only 52
  // weeks, so Dec 31 2027 (a Friday) is 2027-W52 and Jan 3 2028 (Monday) is 2028-W01.
  Snaps t;
  Id end = t.Add(At(2027, 12, 31, 12));
  Id next = t.Add(At(2028, 1, 3, 12));
  auto second = ApplyPolicy(t.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(DecisionOf(second, end).reasons, std::vector<std::string>{"weekly 2027-W52"});
  EXPECT_EQ(DecisionOf(second, next).reasons, std::vector<std::string>{"weekly 2028-W01"});

  // Monthly and yearly split the same week.
  KeepPolicy m;
  m.monthly = 2;
  m.yearly = 5;
  auto monthly = ApplyPolicy(s.list, m, GroupBy::kHostPaths, 0);
  EXPECT_EQ(DecisionOf(monthly, w01).reasons,
            (std::vector<std::string>{"monthly 2027-01", "yearly 2027"}));
  EXPECT_EQ(DecisionOf(monthly, w53_dec).reasons,
            (std::vector<std::string>{"monthly 2026-12", "yearly 2026"}));
  EXPECT_FALSE(DecisionOf(monthly, w53_jan).keep);
  EXPECT_FALSE(DecisionOf(monthly, w52).keep);
}

TEST(Policy, SeveralRulesListEveryReason) {
  Snaps s = Month();
  KeepPolicy p;
  p.last = 1;
  p.daily = 2;
  p.weekly = 1;
  p.monthly = 1;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(decisions[0].reasons, (std::vector<std::string>{"last", "daily 2026-11-30",
                                                            "weekly 2026-W49", "monthly 2026-11"}));
  EXPECT_EQ(Kept(decisions).size(), 2u);  // Nov 30 21:00 and Nov 29 21:00
}

TEST(Policy, KeepWithinIsRelativeToTheNewestSnapshot) {
  Snaps s = Month();
  KeepPolicy p;
  p.within_seconds = 2 * 86400;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  auto kept = Kept(decisions);
  // Newer than Nov 28 21:00: the 29th and 30th (8), the exact boundary is not kept.
  EXPECT_EQ(kept.size(), 8u);
  for (const Id& id : kept) EXPECT_GT(s.time_of[id], At(2026, 11, 28, 21));
  EXPECT_EQ(decisions[0].reasons, std::vector<std::string>{"within"});
}

TEST(Policy, KeepTags) {
  Snaps s = Month();
  Id tagged = s.Add(At(2026, 10, 1), "h", {"/srv"}, {"release", "prod"});
  s.Add(At(2026, 10, 2), "h", {"/srv"}, {"other"});
  KeepPolicy p;
  p.keep_tags = {"prod", "release"};
  p.last = 1;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(Kept(decisions).size(), 2u);
  EXPECT_EQ(DecisionOf(decisions, tagged).reasons,
            (std::vector<std::string>{"tag prod", "tag release"}));

  // A comma-separated entry needs every tag, as restic's --keep-tag a,b.
  Id both = s.Add(At(2026, 9, 1), "h", {"/srv"}, {"db", "weekly"});
  Id one = s.Add(At(2026, 9, 2), "h", {"/srv"}, {"db"});
  KeepPolicy all;
  all.keep_tags = {"db,weekly"};
  auto list = ApplyPolicy(s.list, all, GroupBy::kHostPaths, 0);
  EXPECT_EQ(Kept(list), std::set<Id>{both});
  EXPECT_EQ(DecisionOf(list, both).reasons, std::vector<std::string>{"tag db,weekly"});
  EXPECT_FALSE(DecisionOf(list, one).keep);
}

TEST(Policy, GroupsAreKeptApart) {
  Snaps s;
  Id a1 = s.Add(At(2026, 11, 1), "a", {"/srv", "/etc"});
  Id a2 = s.Add(At(2026, 11, 2), "a", {"/etc", "/srv"});  // same paths, other order
  Id b1 = s.Add(At(2026, 11, 3), "b", {"/srv", "/etc"});
  Id a3 = s.Add(At(2026, 11, 4), "a", {"/home"});
  KeepPolicy p;
  p.last = 1;
  auto decisions = ApplyPolicy(s.list, p, GroupBy::kHostPaths, 0);
  EXPECT_EQ(Kept(decisions), (std::set<Id>{a2, b1, a3}));
  EXPECT_EQ(DecisionOf(decisions, a1).group, "host a, paths /etc, /srv");
  EXPECT_EQ(DecisionOf(decisions, a3).group, "host a, paths /home");
  // Each group's decisions are together, newest first.
  std::vector<std::string> groups;
  for (const auto& d : decisions)
    if (groups.empty() || groups.back() != d.group) groups.push_back(d.group);
  EXPECT_EQ(groups.size(), 3u);

  EXPECT_EQ(Kept(ApplyPolicy(s.list, p, GroupBy::kHost, 0)), (std::set<Id>{a3, b1}));
  EXPECT_EQ(DecisionOf(ApplyPolicy(s.list, p, GroupBy::kHost, 0), b1).group, "host b");
  EXPECT_EQ(Kept(ApplyPolicy(s.list, p, GroupBy::kPaths, 0)), (std::set<Id>{b1, a3}));
  EXPECT_EQ(Kept(ApplyPolicy(s.list, p, GroupBy::kNone, 0)), std::set<Id>{a3});
}

}  // namespace
}  // namespace steward::backup
