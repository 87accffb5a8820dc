// Secrets at replica start: the one place a ${secret:NAME} reference becomes a value.
//
// ResolveSecretEnv turns a service's env templates (config/secret_refs.h) into plain values for
// the child's environment; WriteSecretFiles writes its secret_files (mode as declared,
// atomically: a temporary file in the same directory, fsync, rename) before the exec. Nothing
// here logs, and every error names the secret, never a value.
//
// StateDirSecrets is how the daemon and the CLI reach the secret store of a state directory:
// versions (plans) need no master key; values (starts, masking) load it on first need, so a
// daemon started before the first `steward secret set` finds the key that command made.
// Thread safety: the functions are stateless; StateDirSecrets is safe to share.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "config/stack.h"
#include "secrets/master_key.h"
#include "secrets/resolver.h"
#include "secrets/store.h"
#include "state/state_store.h"

namespace steward::runtime {

// Replaces each env template of `service` in `env` (the replica's whole environment) by its
// value; values without references are left as they are.
Status ResolveSecretEnv(const config::Service& service, secrets::SecretResolver& resolver,
                        std::map<std::string, std::string>* env);

// Writes each secret_files entry of `service`; creates missing parent directories (0700).
Status WriteSecretFiles(const config::Service& service, secrets::SecretResolver& resolver);

// Writes `data` to `path` with `mode` so that a reader sees the old file or the new one, never
// a part, and the data never exists under a wider mode.
Status WriteFileAtomically(const std::string& path, const std::string& data, int mode);

// Removes the secret files of `service` that lie under `state_dir` (the others belong to the
// operator, who chose where they go). Missing files are fine.
void RemoveSecretFiles(const config::Service& service, const std::string& state_dir);

class StateDirSecrets : public secrets::SecretResolver {
 public:
  // `store` and `clock` must outlive this.
  StateDirSecrets(state::StateStore* store, std::string state_dir, Clock* clock,
                  secrets::MasterKeyOptions key_options = {});

  // kNotFound says config::MissingSecretMessage; without a master key, the key loader's error.
  StatusOr<secrets::ResolvedSecret> Resolve(const std::string& name) override;
  StatusOr<int64_t> CurrentVersion(const std::string& name) override;
  // Every current and previous value, for masking; empty when there is no key (then there is
  // nothing to open either).
  std::vector<std::string> MaskingValues();
  // previous → retired once the services using `name` run its current version.
  Status CompleteRoll(const std::string& name);

 private:
  StatusOr<secrets::SecretStore*> Keyed();

  state::StateStore* store_;
  std::string state_dir_;
  Clock* clock_;
  secrets::MasterKeyOptions key_options_;
  secrets::SecretStore keyless_;
  std::mutex mu_;
  std::unique_ptr<secrets::SecretStore> keyed_;  // guarded by mu_; made once
};

}  // namespace steward::runtime
