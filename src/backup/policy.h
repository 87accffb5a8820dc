// Retention: which snapshots `forget` keeps. Pure logic over snapshot times, like restic's
// --keep-* flags: keep the newest `last`; for each of hourly/daily/weekly/monthly/yearly keep
// the newest snapshot of each of the most recent N buckets (local time, ISO weeks) that have
// one; `within` keeps everything newer than that many seconds before the newest snapshot;
// tags in keep_tags always keep. Snapshots are grouped (by host and paths by default) and the
// policy applies per group. A policy with nothing set keeps everything (forget refuses it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/snapshot.h"
#include "backup/types.h"

namespace steward::backup {

struct KeepPolicy {
  int last = 0, hourly = 0, daily = 0, weekly = 0, monthly = 0, yearly = 0;
  int64_t within_seconds = 0;
  std::vector<std::string> keep_tags;
  bool Empty() const;
};

struct PolicyDecision {
  Id id;
  bool keep = false;
  std::vector<std::string> reasons;  // "last", "daily 2026-11-27", "within", "tag prod"…
  std::string group;                 // "host h, paths /srv/db"
};

enum class GroupBy { kHostPaths, kHost, kPaths, kNone };

// Decisions for every snapshot, newest first within each group. `utc_offset_seconds` is the
// local offset used for bucket boundaries (tests pass 0).
std::vector<PolicyDecision> ApplyPolicy(const std::vector<std::pair<Id, Snapshot>>& snapshots,
                                        const KeepPolicy& policy, GroupBy group_by,
                                        int64_t utc_offset_seconds);

}  // namespace steward::backup
