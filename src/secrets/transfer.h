// Export and import of secrets between machines (`steward secret export|import`).
//
// A bundle is a JSON envelope (docs/formats/secrets.md) holding the Argon2id parameters and
// salt in the clear and one sealed payload: the current value of every secret, sealed with
// XChaCha20-Poly1305 under a key derived from a passphrase, with the additional data
// "steward-secrets-export:v1". Names are inside the payload, so a bundle tells nothing but its
// size and date without the passphrase, and no entry can be dropped or swapped unnoticed.
// The master key never leaves the machine: the receiving store seals each value again under its
// own key.
//
// Thread safety: the functions hold no state; the SecretStore does the locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "secrets/store.h"

namespace steward::secrets {

struct ExportOptions {
  // Argon2id parameters for the bundle's key; 0: 3 passes, 128 MiB (a bundle travels, so it
  // is worth more work than the master passphrase paid on every command).
  uint64_t kdf_ops = 0;
  uint64_t kdf_mem = 0;
  int64_t now_ms = 0;  // created_at; 0: the real clock
};

struct ExportResult {
  std::string bundle;   // the file's bytes (JSON; only ciphertext besides the KDF parameters)
  std::vector<std::string> names;
};

// Every current value of `store`, sealed under `passphrase` (must not be empty).
StatusOr<ExportResult> ExportSecrets(SecretStore& store, std::string_view passphrase,
                                     const ExportOptions& options);

struct ImportResult {
  struct Entry {
    std::string name;
    int64_t version = 0;  // the new version in the receiving store
  };
  std::vector<Entry> imported;
  std::vector<std::string> skipped;  // existed already, and overwrite was false
};

// Opens `bundle` with `passphrase` and stores each secret as a new version (one transaction).
// Existing names are skipped unless `overwrite`. A wrong passphrase or a damaged bundle is an
// error that changes nothing ("wrong passphrase, or the bundle is damaged"); `origin` (a path)
// names the bundle in errors.
StatusOr<ImportResult> ImportSecrets(SecretStore& store, std::string_view bundle,
                                     std::string_view passphrase, bool overwrite,
                                     const std::string& origin);

}  // namespace steward::secrets
