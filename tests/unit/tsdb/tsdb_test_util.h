// Helpers for the tsdb tests: the shared temporary directory, label and matcher shorthands, and a Db
// opened with background work off so each test drives compaction itself.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tsdb/tsdb.h"
#include "unit/state/temp_dir.h"

namespace steward::tsdb::testing {

using TempDir = state::testing::TempDir;  // one temp-dir helper for every room's tests

// Timing and allocator measurements mean nothing under a sanitizer; those tests skip.
inline bool UnderSanitizer() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
  return true;
#endif
#endif
  return false;
}

inline Labels L(std::vector<Label> v) { return Labels::FromUnsorted(std::move(v)).value(); }

inline Matcher Eq(std::string name, std::string value) {
  return Matcher::Make(Matcher::Type::kEqual, std::move(name), std::move(value)).value();
}
inline Matcher Re(std::string name, std::string value) {
  return Matcher::Make(Matcher::Type::kRegexMatch, std::move(name), std::move(value)).value();
}
inline Matcher Ne(std::string name, std::string value) {
  return Matcher::Make(Matcher::Type::kNotEqual, std::move(name), std::move(value)).value();
}
inline Matcher Nre(std::string name, std::string value) {
  return Matcher::Make(Matcher::Type::kRegexNoMatch, std::move(name), std::move(value)).value();
}

inline Options TestOptions(const std::string& dir) {
  Options o;
  o.dir = dir;
  o.background = false;
  o.retention_time = Duration(0);
  return o;
}

inline std::unique_ptr<Db> OpenDb(const Options& o) {
  auto db = Db::Open(o);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

inline constexpr int64_t kMinT = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxT = std::numeric_limits<int64_t>::max();

// All samples of the series selected by matchers over all time.
inline std::vector<Series> SelectAll(Db& db, const std::vector<Matcher>& matchers) {
  auto r = db.NewQuerier()->Select(matchers, kMinT, kMaxT);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : std::vector<Series>{};
}

}  // namespace steward::tsdb::testing
