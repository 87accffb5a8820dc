#include "secrets/store.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "state/lock_file.h"

namespace steward::secrets {
namespace {

// A writer waits this long for another one (a set or an import) to finish.
constexpr Duration kLockTimeout{10000};

std::string AdFor(const std::string& name, int64_t version) {
  return "steward-secret:v1:" + name + ":" + std::to_string(version);
}

Status WrongKey(const std::string& name, const std::string& have, const std::string& sealed) {
  return FailedPrecondition(fmt::format(
      "secret '{}' cannot be opened with this master key (key id {}, sealed with {}): set "
      "STEWARD_MASTER_KEY_FILE or --master-key-file to the key that sealed it",
      name, have, sealed));
}

bool Live(const state::SecretRecord& r) { return r.state == "current" || r.state == "previous"; }

std::string CreatedBy() { return state::CurrentUser() + "@" + state::CurrentHost(); }

}  // namespace

std::string SecretsLockPath(const std::string& state_dir) { return state_dir + "/secrets.lock"; }

Status CheckSecretName(const std::string& name) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("secret name '" + name + "' " + why +
                           ": use letters, digits, '_', '.' and '-', starting with a letter or "
                           "'_', at most 128 characters (e.g. db_password)");
  };
  if (name.empty()) return InvalidArgument("a secret needs a name, e.g. db_password");
  if (name.size() > kMaxNameBytes) return bad("is too long");
  auto c0 = static_cast<unsigned char>(name[0]);
  if (!std::isalpha(c0) || c0 > 127) {
    if (name[0] != '_') return bad("must start with a letter or '_'");
  }
  for (char ch : name) {
    auto c = static_cast<unsigned char>(ch);
    if (c > 127 || !(std::isalnum(c) || c == '_' || c == '.' || c == '-'))
      return bad("has a character that is not allowed");
  }
  return Status::OK();
}

Status CheckSecretValue(const std::string& name, const std::string& value) {
  if (value.size() > kMaxValueBytes) {
    return InvalidArgument(fmt::format("secret '{}': the value is {} bytes; at most {} (1 MiB) "
                                       "are accepted — keep large files elsewhere and store "
                                       "their key here",
                                       name, value.size(), kMaxValueBytes));
  }
  return Status::OK();
}

SecretStore::SecretStore(state::StateStore* store, MasterKey key, Clock* clock,
                         std::string lock_path)
    : store_(store), key_(std::move(key)), clock_(clock), lock_path_(std::move(lock_path)) {}

SecretStore::SecretStore(state::StateStore* store, Clock* clock, std::string lock_path)
    : store_(store), clock_(clock), lock_path_(std::move(lock_path)) {}

Status SecretStore::NeedKey() const {
  if (key_) return Status::OK();
  return FailedPrecondition("no master key was loaded to seal or open secrets");
}

StatusOr<std::unique_ptr<state::Lock>> SecretStore::LockWriters() {
  if (lock_path_.empty()) return std::unique_ptr<state::Lock>();
  state::LockHolder me;
  me.pid = getpid();
  me.host = state::CurrentHost();
  me.command = "secret";
  me.since_ms = ToUnixMillis(clock_->WallNow());
  auto lock = state::AcquireFileLock(lock_path_, me, kLockTimeout, RealClock::Get());
  if (!lock.ok()) return lock.status().Annotate("another command is changing secrets");
  return lock;
}

StatusOr<std::vector<state::SecretRecord>> SecretStore::Versions(const std::string& name) {
  RETURN_IF_ERROR(CheckSecretName(name));
  ASSIGN_OR_RETURN(auto rows, store_->ListSecrets(name));
  if (rows.empty()) {
    return NotFound("secret '" + name + "' does not exist (see `steward secret list`; create it "
                    "with `steward secret set " + name + "`)");
  }
  return rows;
}

StatusOr<std::string> SecretStore::OpenRecord(const state::SecretRecord& r) {
  RETURN_IF_ERROR(NeedKey());
  if (r.key_id != key_->id()) return WrongKey(r.name, key_->id(), r.key_id);
  auto damaged = [&](const std::string& why) {
    return Corruption(fmt::format(
        "secret '{}' version {} cannot be opened: {} (damaged, or copied from another secret or "
        "version); set it again with `steward secret set {}`",
        r.name, r.version, why, r.name));
  };
  auto sealed = Base64Decode(r.sealed);
  if (!sealed.ok()) return damaged("the stored value is not base64");
  auto plain = Open(key_->bytes(), *sealed, AdFor(r.name, r.version));
  if (!plain.ok()) return damaged(plain.status().message());
  return plain;
}

Status SecretStore::CheckSameKey(const std::vector<state::SecretRecord>& all) {
  RETURN_IF_ERROR(NeedKey());
  for (const state::SecretRecord& r : all) {
    if (Live(r) && r.key_id != key_->id()) return WrongKey(r.name, key_->id(), r.key_id);
  }
  return Status::OK();
}

StatusOr<int64_t> SecretStore::Set(const std::string& name, const std::string& value) {
  ASSIGN_OR_RETURN(auto versions, SetAll({{name, value}}));
  return versions.front();
}

StatusOr<std::vector<int64_t>> SecretStore::SetAll(
    const std::vector<std::pair<std::string, std::string>>& values) {
  std::map<std::string, int> seen;
  for (const auto& [name, value] : values) {
    RETURN_IF_ERROR(CheckSecretName(name));
    RETURN_IF_ERROR(CheckSecretValue(name, value));
    if (seen[name]++) return InvalidArgument("secret '" + name + "' is given twice");
  }
  RETURN_IF_ERROR(NeedKey());
  ASSIGN_OR_RETURN(auto lock, LockWriters());
  ASSIGN_OR_RETURN(auto all, store_->ListSecrets(""));
  RETURN_IF_ERROR(CheckSameKey(all));

  const int64_t now = ToUnixMillis(clock_->WallNow());
  const std::string by = CreatedBy();
  std::vector<state::SecretRecord> writes;
  std::vector<int64_t> out;
  for (const auto& [name, value] : values) {
    int64_t next = 1;
    for (const state::SecretRecord& r : all) {
      if (r.name != name) continue;
      next = std::max(next, r.version + 1);
      if (r.state == "current" || r.state == "previous") {
        state::SecretRecord demoted = r;
        demoted.state = r.state == "current" ? "previous" : "retired";
        writes.push_back(std::move(demoted));
      }
    }
    state::SecretRecord fresh;
    fresh.name = name;
    fresh.version = next;
    fresh.sealed = Base64Encode(Seal(key_->bytes(), value, AdFor(name, next)));
    fresh.key_id = key_->id();
    fresh.state = "current";
    fresh.created_at_ms = now;
    fresh.created_by = by;
    writes.push_back(std::move(fresh));
    out.push_back(next);
  }
  Status st = store_->PutSecrets(writes);
  if (!st.ok()) return st.Annotate("storing secrets");
  return out;
}

StatusOr<Rotation> SecretStore::Rotate(const std::string& name, const std::string& value) {
  ASSIGN_OR_RETURN(auto rows, Versions(name));
  Rotation r;
  for (const auto& row : rows) {
    if (row.state == "current") r.old_version = row.version;
  }
  ASSIGN_OR_RETURN(r.new_version, Set(name, value));
  return r;
}

Status SecretStore::CompleteRoll(const std::string& name) {
  ASSIGN_OR_RETURN(auto lock, LockWriters());
  ASSIGN_OR_RETURN(auto rows, Versions(name));
  std::vector<state::SecretRecord> writes;
  for (auto& row : rows) {
    if (row.state != "previous") continue;
    row.state = "retired";
    writes.push_back(row);
  }
  return store_->PutSecrets(writes);
}

Status SecretStore::Remove(const std::string& name) {
  RETURN_IF_ERROR(CheckSecretName(name));
  ASSIGN_OR_RETURN(auto lock, LockWriters());
  Status st = store_->DeleteSecret(name);
  if (st.code() == StatusCode::kNotFound) {
    return NotFound("secret '" + name + "' does not exist (see `steward secret list`)");
  }
  return st;
}

StatusOr<ResolvedSecret> SecretStore::Get(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, Versions(name));
  for (const auto& row : rows) {
    if (row.state != "current") continue;
    ASSIGN_OR_RETURN(std::string value, OpenRecord(row));
    return ResolvedSecret{std::move(value), row.version};
  }
  return Corruption("secret '" + name + "' has no current version; set it again with "
                    "`steward secret set " + name + "`");
}

StatusOr<std::string> SecretStore::GetVersion(const std::string& name, int64_t version) {
  ASSIGN_OR_RETURN(auto rows, Versions(name));
  std::string kept;
  for (const auto& row : rows) {
    if (row.version == version) return OpenRecord(row);
    kept += (kept.empty() ? "" : ", ") + std::to_string(row.version);
  }
  return NotFound(fmt::format("secret '{}' has no version {}; versions kept: {}", name, version,
                              kept));
}

StatusOr<int64_t> SecretStore::CurrentVersion(const std::string& name) {
  ASSIGN_OR_RETURN(auto rows, Versions(name));
  for (const auto& row : rows) {
    if (row.state == "current") return row.version;
  }
  return Corruption("secret '" + name + "' has no current version");
}

bool SecretStore::Exists(const std::string& name) {
  auto rows = store_->ListSecrets(name);
  return rows.ok() && !rows->empty();
}

StatusOr<std::vector<SecretInfo>> SecretStore::List() {
  ASSIGN_OR_RETURN(auto all, store_->ListSecrets(""));
  std::vector<SecretInfo> out;
  for (const state::SecretRecord& r : all) {  // by name, newest version first
    if (out.empty() || out.back().name != r.name) {
      out.push_back({});
      out.back().name = r.name;
    }
    SecretInfo& info = out.back();
    ++info.versions;
    info.created_at_ms = r.created_at_ms;  // the last row seen is the oldest
    if (r.state == "current") {
      info.version = r.version;
      info.updated_at_ms = r.created_at_ms;
      info.key_id = r.key_id;
    } else if (r.state == "previous") {
      info.previous_version = r.version;
    }
  }
  return out;
}

StatusOr<std::vector<std::string>> SecretStore::Values() {
  ASSIGN_OR_RETURN(auto all, store_->ListSecrets(""));
  std::vector<std::string> out;
  for (const state::SecretRecord& r : all) {
    if (!Live(r)) continue;
    ASSIGN_OR_RETURN(std::string v, OpenRecord(r));
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace steward::secrets
