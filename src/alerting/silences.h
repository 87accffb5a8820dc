// Silences: Alertmanager's silences (silence/silence.go) — matchers that mute the alerts they
// match while active — kept in memory and saved to one JSON file (docs/formats/silences.md).
//
// A silence is pending before starts_at, active in [starts_at, ends_at), expired from ends_at.
// Set validates as Alertmanager: at least one matcher, at least one that does not match "",
// regexes that compile, ends_at after starts_at and not in the past; a new silence starting in
// the past starts now. Setting an existing id updates it in place when Alertmanager would
// (same matchers; an active one keeps its start and does not end in the past; a pending one does
// not move its start into the past); otherwise the old silence is expired and a new id is made.
// Expire ends an active silence now, and a pending one before it starts. Expired silences stay
// listed for `retention` after they end, then GarbageCollect drops them.
//
// Durability: every change is written before it returns — the whole file to a temporary in the
// same directory, fsync, rename over the old file, fsync of the directory — so a kill -9 leaves
// either the old or the new file, never a torn one. A change whose write fails is undone and
// returns the IOError.
// Thread safety: all methods are thread-safe (one internal mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/matchers.h"
#include "base/status.h"
#include "config/alerting.h"
#include "tsdb/labels.h"

namespace steward::alerting {

struct Silence {
  std::string id;  // UUID; empty in Set: a new silence
  std::vector<config::LabelMatcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
};

enum class SilenceState { kPending, kActive, kExpired };
SilenceState StateOf(const Silence& s, int64_t now_ms);
std::string_view SilenceStateName(SilenceState state);  // "pending", "active", "expired"

// A random (version 4) UUID: "1b4e28ba-2fa1-4d3b-883f-0016d3cca427".
std::string NewUuid();

class Silences {
 public:
  struct Options {
    std::string path;  // the JSON file; empty: memory only (tests, dry runs)
    int64_t retention_ms = 5LL * 24 * 3600 * 1000;
    std::function<std::string()> new_id = NewUuid;
  };

  explicit Silences(Options options);

  // Reads the file; a missing file is an empty set. Corruption when it cannot be parsed.
  Status Load();

  // Creates or updates (see above); returns the silence's id, new when one was made.
  StatusOr<std::string> Set(Silence s, int64_t now_ms);
  // NotFound for an unknown id, FailedPrecondition when already expired.
  Status Expire(const std::string& id, int64_t now_ms);

  std::optional<Silence> Get(const std::string& id) const;
  std::vector<Silence> List() const;  // by id
  // Ids of the active silences matching the labels, sorted; empty when nothing mutes them.
  std::vector<std::string> Mutes(const tsdb::Labels& labels, int64_t now_ms) const;
  // Drops silences expired for longer than the retention; returns how many went.
  StatusOr<size_t> GarbageCollect(int64_t now_ms);

 private:
  struct Entry {
    Silence silence;
    Matchers matchers;
  };
  static StatusOr<Entry> Validate(const Silence& s);
  Status SaveLocked() const;
  // Runs `change` on the map and saves; restores the map if saving fails.
  Status Change(const std::function<void(std::map<std::string, Entry>&)>& change);

  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> by_id_;
};

}  // namespace steward::alerting
