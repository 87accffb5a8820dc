#include "alerting/silences.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "tsdb/file_util.h"

namespace steward::alerting {
namespace {

using nlohmann::json;
using Op = config::LabelMatcher::Op;

constexpr int kFormatVersion = 1;

json MatcherToJson(const config::LabelMatcher& m) {
  return json{{"name", m.name},
              {"value", m.value},
              {"isRegex", m.op == Op::kRegex || m.op == Op::kNotRegex},
              {"isEqual", m.op == Op::kEqual || m.op == Op::kRegex}};
}

config::LabelMatcher MatcherFromJson(const json& j) {
  bool regex = j.at("isRegex").get<bool>();
  bool equal = j.value("isEqual", true);
  Op op = regex ? (equal ? Op::kRegex : Op::kNotRegex) : (equal ? Op::kEqual : Op::kNotEqual);
  return config::LabelMatcher{j.at("name").get<std::string>(), op,
                              j.at("value").get<std::string>()};
}

json SilenceToJson(const Silence& s) {
  json matchers = json::array();
  for (const config::LabelMatcher& m : s.matchers) matchers.push_back(MatcherToJson(m));
  return json{{"id", s.id},
              {"matchers", std::move(matchers)},
              {"starts_at_ms", s.starts_at_ms},
              {"ends_at_ms", s.ends_at_ms},
              {"updated_at_ms", s.updated_at_ms},
              {"created_by", s.created_by},
              {"comment", s.comment}};
}

Silence SilenceFromJson(const json& j) {
  Silence s;
  s.id = j.at("id").get<std::string>();
  for (const json& m : j.at("matchers")) s.matchers.push_back(MatcherFromJson(m));
  s.starts_at_ms = j.at("starts_at_ms").get<int64_t>();
  s.ends_at_ms = j.at("ends_at_ms").get<int64_t>();
  s.updated_at_ms = j.value("updated_at_ms", int64_t{0});
  s.created_by = j.value("created_by", "");
  s.comment = j.value("comment", "");
  return s;
}

// Alertmanager's canUpdate: may `next` replace `prev` under the same id?
bool CanUpdate(const Silence& prev, const Silence& next, int64_t now) {
  if (prev.matchers != next.matchers) return false;
  switch (StateOf(prev, now)) {
    case SilenceState::kActive:
      return next.starts_at_ms == prev.starts_at_ms && next.ends_at_ms >= now;
    case SilenceState::kPending:
      return next.starts_at_ms >= now;
    case SilenceState::kExpired:
      return false;
  }
  return false;
}

}  // namespace

SilenceState StateOf(const Silence& s, int64_t now_ms) {
  if (now_ms < s.starts_at_ms) return SilenceState::kPending;
  if (now_ms < s.ends_at_ms) return SilenceState::kActive;
  return SilenceState::kExpired;
}

std::string_view SilenceStateName(SilenceState state) {
  switch (state) {
    case SilenceState::kPending:
      return "pending";
    case SilenceState::kActive:
      return "active";
    case SilenceState::kExpired:
      return "expired";
  }
  return "expired";
}

std::string NewUuid() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~0xF000ull) | 0x4000ull;        // version 4
  lo = (lo & ~(3ull << 62)) | (2ull << 62);  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
}

Silences::Silences(Options options) : options_(std::move(options)) {}

StatusOr<Silences::Entry> Silences::Validate(const Silence& s) {
  if (s.matchers.empty()) return InvalidArgument("a silence needs at least one matcher");
  StatusOr<Matchers> ms = Matchers::Compile(s.matchers);
  if (!ms.ok()) return ms.status();
  bool selective = std::any_of(ms->items().begin(), ms->items().end(),
                               [](const tsdb::Matcher& m) { return !m.Matches(""); });
  if (!selective) {
    return InvalidArgument(
        "at least one matcher of a silence must not match the empty string, "
        "else it would silence every alert");
  }
  if (s.ends_at_ms <= s.starts_at_ms) {
    return InvalidArgument("a silence must end after it starts");
  }
  return Entry{s, *std::move(ms)};
}

Status Silences::Load() {
  if (options_.path.empty()) return Status::OK();
  std::error_code ec;
  if (!std::filesystem::exists(options_.path, ec)) return Status::OK();
  StatusOr<std::string> text = ReadWholeFile(options_.path);
  if (!text.ok()) return text.status();
  std::map<std::string, Entry> loaded;
  try {
    json doc = json::parse(*text);
    int version = doc.at("version").get<int>();
    if (version != kFormatVersion) {
      return Corruption(
          fmt::format("{}: silences format version {} is not supported (this "
                      "Steward reads version {})",
                      options_.path, version, kFormatVersion));
    }
    for (const json& j : doc.at("silences")) {
      Silence s = SilenceFromJson(j);
      StatusOr<Matchers> ms = Matchers::Compile(s.matchers);
      if (!ms.ok()) {
        return Corruption(
            fmt::format("{}: silence {}: {}", options_.path, s.id, ms.status().message()));
      }
      std::string id = s.id;
      loaded.emplace(std::move(id), Entry{std::move(s), *std::move(ms)});
    }
  } catch (const json::exception& e) {
    return Corruption(fmt::format("{}: not a valid silences file: {}", options_.path, e.what()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  by_id_ = std::move(loaded);
  return Status::OK();
}

Status Silences::SaveLocked() const {
  if (options_.path.empty()) return Status::OK();
  json silences = json::array();
  for (const auto& [id, e] : by_id_) silences.push_back(SilenceToJson(e.silence));
  std::string content =
      json{{"version", kFormatVersion}, {"silences", std::move(silences)}}.dump(1) + "\n";
  std::filesystem::path path(options_.path);
  std::string dir = path.parent_path().empty() ? "." : path.parent_path().string();
  std::string tmp = options_.path + ".tmp";
  Status st = tsdb::WriteFileDurably(tmp, content);
  if (!st.ok()) return st;
  return tsdb::RenameDurably(tmp, options_.path, dir);
}

Status Silences::Change(const std::function<void(std::map<std::string, Entry>&)>& change) {
  std::map<std::string, Entry> before = by_id_;
  change(by_id_);
  Status st = SaveLocked();
  if (!st.ok()) by_id_ = std::move(before);
  return st;
}

StatusOr<std::string> Silences::Set(Silence s, int64_t now_ms) {
  StatusOr<Entry> entry = Validate(s);
  if (!entry.ok()) return entry.status();
  std::lock_guard<std::mutex> lock(mu_);
  auto prev = s.id.empty() ? by_id_.end() : by_id_.find(s.id);
  if (!s.id.empty() && prev == by_id_.end()) {
    return NotFound(fmt::format("no silence with id {}", s.id));
  }
  entry->silence.updated_at_ms = now_ms;
  if (prev != by_id_.end() && CanUpdate(prev->second.silence, s, now_ms)) {
    Status st = Change([&](auto& m) { m.at(s.id) = *std::move(entry); });
    if (!st.ok()) return st;
    return s.id;
  }
  if (s.ends_at_ms <= now_ms) return InvalidArgument("a silence's end must not be in the past");
  Silence& fresh = entry->silence;
  fresh.id = options_.new_id();
  fresh.starts_at_ms = std::max(fresh.starts_at_ms, now_ms);
  std::string id = fresh.id;
  Status st = Change([&](auto& m) {
    if (prev != m.end() && StateOf(prev->second.silence, now_ms) != SilenceState::kExpired) {
      Silence& old = prev->second.silence;
      old.starts_at_ms = std::min(old.starts_at_ms, now_ms);
      old.ends_at_ms = now_ms;
      old.updated_at_ms = now_ms;
    }
    m.emplace(id, *std::move(entry));
  });
  if (!st.ok()) return st;
  return id;
}

Status Silences::Expire(const std::string& id, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return NotFound(fmt::format("no silence with id {}", id));
  if (StateOf(it->second.silence, now_ms) == SilenceState::kExpired) {
    return FailedPrecondition(fmt::format("silence {} is already expired", id));
  }
  return Change([&](auto& m) {
    Silence& s = m.at(id).silence;
    s.starts_at_ms = std::min(s.starts_at_ms, now_ms);  // a pending one never starts
    s.ends_at_ms = now_ms;
    s.updated_at_ms = now_ms;
  });
}

std::optional<Silence> Silences::Get(const std::string& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second.silence;
}

std::vector<Silence> Silences::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<Silence> out;
  out.reserve(by_id_.size());
  for (const auto& [id, e] : by_id_) out.push_back(e.silence);
  return out;
}

std::vector<std::string> Silences::Mutes(const tsdb::Labels& labels, int64_t now_ms) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> ids;
  for (const auto& [id, e] : by_id_) {
    if (StateOf(e.silence, now_ms) == SilenceState::kActive && e.matchers.Matches(labels)) {
      ids.push_back(id);
    }
  }
  return ids;
}

StatusOr<size_t> Silences::GarbageCollect(int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  size_t gone = 0;
  auto old = [&](const Entry& e) { return e.silence.ends_at_ms + options_.retention_ms <= now_ms; };
  for (const auto& [id, e] : by_id_) gone += old(e) ? 1 : 0;
  if (gone == 0) return size_t{0};
  Status st =
      Change([&](auto& m) { std::erase_if(m, [&](const auto& kv) { return old(kv.second); }); });
  if (!st.ok()) return st;
  return gone;
}

}  // namespace steward::alerting
