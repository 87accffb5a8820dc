// The master key: the one 32-byte key every secret in a state directory is sealed under.
//
// Where it comes from, first match wins:
//   1. MasterKeyOptions::key_file (`--master-key-file F`)
//   2. STEWARD_MASTER_KEY: the base64 of 32 bytes
//   3. STEWARD_MASTER_KEY_FILE: a key file
//   4. STEWARD_MASTER_PASSPHRASE: Argon2id of the passphrase with the salt and parameters kept in
//      <state_dir>/master.salt (created once, on first use; losing it loses the secrets)
//   5. <state_dir>/master.key, created on first use when `create_if_missing`
// A key file holds the base64 of 32 bytes (a trailing newline is fine) or exactly 32 raw bytes,
// and must not be readable or writable by group or others: such a file is refused (chmod 600),
// because a key anyone on the machine can read protects nothing. Files are created mode 0600
// and atomically (a temporary file linked into place), so two first uses at once end with one
// key, never two.
//
// Formats: docs/formats/secrets.md. The key's bytes never appear in a Status or a record; its
// id() (a fingerprint) does, so "sealed with another key" can name both keys.
// Thread safety: LoadMasterKey is safe to call concurrently; a MasterKey is immutable.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "base/status.h"
#include "secrets/crypto.h"

namespace steward::secrets {

class MasterKey {
 public:
  MasterKey(const KeyBytes& key, std::string source);
  MasterKey(const MasterKey& other);
  MasterKey& operator=(const MasterKey& other);
  ~MasterKey();  // wipes the key bytes

  // First 16 hex digits of a BLAKE2b fingerprint (SecretRecord::key_id); never the key.
  const std::string& id() const { return id_; }
  // Where the key came from, for messages: "--master-key-file /k", "STEWARD_MASTER_KEY",
  // "STEWARD_MASTER_PASSPHRASE", "/srv/app/.steward/master.key".
  const std::string& source() const { return source_; }
  const KeyBytes& bytes() const { return key_; }

 private:
  KeyBytes key_;
  std::string id_;
  std::string source_;
};

struct MasterKeyOptions {
  std::string key_file;  // --master-key-file; empty: look further
  // The environment; unset: getenv. Tests pass a map lookup instead of touching the process's.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // Argon2id parameters written to a new master.salt; 0: libsodium's "interactive" limits
  // (2 passes, 64 MiB), paid on every command that opens a secret.
  uint64_t kdf_ops = 0;
  uint64_t kdf_mem = 0;
};

// Loads the master key for `state_dir`. Without a configured source and without
// <state_dir>/master.key: kNotFound naming every source, unless `create_if_missing` (then the
// state directory is created mode 0700 if needed and a random key is written). A refused or
// malformed key file or variable is kInvalidArgument / kFailedPrecondition naming the file or
// variable and what it must hold.
StatusOr<MasterKey> LoadMasterKey(const std::string& state_dir, const MasterKeyOptions& options,
                                  bool create_if_missing);

// Reads a key file as described above (mode checked). `label` names it in errors.
StatusOr<KeyBytes> ReadKeyFile(const std::string& path, const std::string& label);

}  // namespace steward::secrets
