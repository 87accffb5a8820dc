// The narrow face of the secret store that the rest of Steward uses: resolving a `${secret:NAME}`
// reference to its current value, and masking known values out of text.
//
// The stack keeps references, never values: `env: {DB_PASSWORD: "${secret:db_password}"}` is
// parsed, planned, recorded and shown as the reference. Only the code that starts a replica
// resolves it (into the process's environment or a file), so the plaintext lives in the
// replica's memory and nowhere Steward writes. A reference's version is part of what the planner
// compares, so rotating a secret shows as a change of every service that uses it, and applying
// rolls them.
//
// Thread safety: implementations are safe to call from several threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::secrets {

struct ResolvedSecret {
  std::string value;    // the plaintext; never log, record or return it over the API
  int64_t version = 0;  // the current version
};

class SecretResolver {
 public:
  virtual ~SecretResolver() = default;
  // The current value of `name`; kNotFound (naming the secret, never a value) when unknown,
  // kPermissionDenied/kDataLoss-like errors when the master key cannot open it.
  virtual StatusOr<ResolvedSecret> Resolve(const std::string& name) = 0;
  // The current version only, without decrypting (for plans); kNotFound when unknown.
  virtual StatusOr<int64_t> CurrentVersion(const std::string& name) = 0;
};

// The names referenced as ${secret:NAME} in `text`, in order of appearance, without repeats.
// NAME is [A-Za-z_][A-Za-z0-9_.-]*.
std::vector<std::string> SecretReferences(std::string_view text);

// Replaces every ${secret:NAME} in `text` by the current value from `resolver`; fails on the
// first unknown name, naming it.
StatusOr<std::string> ResolveReferences(std::string_view text, SecretResolver& resolver);

// Replaces every occurrence of any of `values` in `text` by "***" (longest value first, empty
// values and values shorter than 4 bytes ignored — masking "a" would shred every log line).
std::string MaskValues(std::string_view text, const std::vector<std::string>& values);

}  // namespace steward::secrets
