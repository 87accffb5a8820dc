// SecretStore: versioned secrets sealed under the master key, kept in the state store's
// `secrets` table (docs/formats/secrets.md, docs/formats/state.md).
//
// Each Set writes a new version: it becomes `current`, the old current becomes `previous` (the
// value replicas still running may hold, kept until their roll completes) and an older previous
// becomes `retired` — all in one state-store transaction, so a crash leaves either the old or
// the new arrangement. CompleteRoll retires the previous version once the services using the
// secret run the new one.
//
// Sealing: XChaCha20-Poly1305 with a random nonce, additional data
// "steward-secret:v1:<name>:<version>", so a sealed value copied to another name or version
// does not open. A record sealed under another master key is refused before decrypting, naming
// both key ids; a damaged one is kCorruption naming the secret and version. Nothing stored is
// changed by a failed call: a write under the wrong key is refused, not added beside the
// existing versions.
//
// Values appear only in what Get/GetVersion/Resolve/Values return — never in a Status.
// Thread safety: safe to share between threads (the state store is). Writers in several
// processes are serialized by the flock on `lock_path` (SecretsLockPath), held for each write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "secrets/master_key.h"
#include "secrets/resolver.h"
#include "state/state_store.h"

namespace steward::secrets {

constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxValueBytes = 1 << 20;

// What `steward secret list` shows: never a value.
struct SecretInfo {
  std::string name;
  int64_t version = 0;           // the current version
  int64_t versions = 0;          // versions kept (current, previous and retired)
  int64_t previous_version = 0;  // awaiting a roll; 0: none
  int64_t created_at_ms = 0;     // of the oldest version kept
  int64_t updated_at_ms = 0;     // of the current version (the last set or rotation)
  std::string key_id;            // the master key the current version is sealed with
};

struct Rotation {
  int64_t old_version = 0;
  int64_t new_version = 0;
};

// "<state_dir>/secrets.lock": the lock every writer of the secrets of that state dir takes.
std::string SecretsLockPath(const std::string& state_dir);

// [A-Za-z_][A-Za-z0-9_.-]*, at most 128 bytes (the names ${secret:NAME} accepts).
Status CheckSecretName(const std::string& name);
// At most 1 MiB; may be empty or binary.
Status CheckSecretValue(const std::string& name, const std::string& value);

class SecretStore : public SecretResolver {
 public:
  // `store` and `clock` must outlive this. `lock_path` empty: no cross-process lock (tests, or
  // a caller that serializes writers itself).
  SecretStore(state::StateStore* store, MasterKey key, Clock* clock, std::string lock_path = "");
  // Without a master key: List, Exists, CurrentVersion, Remove and CompleteRoll work (they need
  // no plaintext); the rest fail with kFailedPrecondition.
  SecretStore(state::StateStore* store, Clock* clock, std::string lock_path = "");

  bool has_key() const { return key_.has_value(); }
  const MasterKey& key() const { return *key_; }  // only when has_key()

  // A new version of `name` (1 for a new secret); returns it.
  StatusOr<int64_t> Set(const std::string& name, const std::string& value);
  // Several secrets in one transaction (import); returns each new version, in order.
  StatusOr<std::vector<int64_t>> SetAll(
      const std::vector<std::pair<std::string, std::string>>& values);
  // Set for a secret that must exist already (kNotFound otherwise).
  StatusOr<Rotation> Rotate(const std::string& name, const std::string& value);
  // previous → retired; kNotFound for an unknown secret, OK when nothing awaits a roll.
  Status CompleteRoll(const std::string& name);
  // Every version; kNotFound when unknown.
  Status Remove(const std::string& name);

  StatusOr<ResolvedSecret> Get(const std::string& name);
  StatusOr<std::string> GetVersion(const std::string& name, int64_t version);
  StatusOr<std::vector<SecretInfo>> List();
  bool Exists(const std::string& name);
  // Every current and previous plaintext, for masking output.
  StatusOr<std::vector<std::string>> Values();

  // SecretResolver.
  StatusOr<ResolvedSecret> Resolve(const std::string& name) override { return Get(name); }
  StatusOr<int64_t> CurrentVersion(const std::string& name) override;

 private:
  Status NeedKey() const;
  StatusOr<std::unique_ptr<state::Lock>> LockWriters();
  StatusOr<std::vector<state::SecretRecord>> Versions(const std::string& name);
  StatusOr<std::string> OpenRecord(const state::SecretRecord& record);
  // Refuses to write under a key other than the one the store's live versions are sealed with.
  Status CheckSameKey(const std::vector<state::SecretRecord>& all);

  state::StateStore* store_;
  std::optional<MasterKey> key_;
  Clock* clock_;
  std::string lock_path_;
};

}  // namespace steward::secrets
