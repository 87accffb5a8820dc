#include "runtime/secret_env.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "config/secret_refs.h"

namespace steward::runtime {
namespace {

namespace fs = std::filesystem;

config::SecretValueFn ValueOf(secrets::SecretResolver& resolver) {
  return [&resolver](const std::string& name) -> StatusOr<std::string> {
    StatusOr<secrets::ResolvedSecret> s = resolver.Resolve(name);
    if (!s.ok()) return s.status();
    return std::move(s->value);
  };
}

bool Under(const std::string& path, const std::string& dir) {
  if (dir.empty()) return false;
  fs::path p = fs::weakly_canonical(path), d = fs::weakly_canonical(dir);
  auto [dend, pend] = std::mismatch(d.begin(), d.end(), p.begin(), p.end());
  return dend == d.end() && pend != p.end();
}

}  // namespace

Status ResolveSecretEnv(const config::Service& service, secrets::SecretResolver& resolver,
                        std::map<std::string, std::string>* env) {
  for (const auto& [key, tmpl] : service.env) {
    // Only a template holding "{secret:" differs from its text (config/secret_refs.h).
    if (tmpl.find("{secret:") == std::string::npos) continue;
    StatusOr<std::string> value = config::ExpandTemplate(tmpl, ValueOf(resolver));
    if (!value.ok()) return value.status().Annotate("env " + key);
    (*env)[key] = std::move(*value);
  }
  return Status::OK();
}

Status WriteSecretFiles(const config::Service& service, secrets::SecretResolver& resolver) {
  for (const config::SecretFile& f : service.secret_files) {
    StatusOr<secrets::ResolvedSecret> s = resolver.Resolve(f.secret);
    if (!s.ok()) return s.status().Annotate("secret file " + f.path);
    std::error_code ec;
    fs::path parent = fs::path(f.path).parent_path();
    if (!fs::exists(parent, ec)) {
      fs::create_directories(parent, ec);
      if (ec) return IOError("create " + parent.string() + " for a secret file: " + ec.message());
      fs::permissions(parent, fs::perms::owner_all, ec);
    }
    RETURN_IF_ERROR(WriteFileAtomically(f.path, s->value, f.mode));
  }
  return Status::OK();
}

Status WriteFileAtomically(const std::string& path, const std::string& data, int mode) {
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  // 0600 while written; the final mode (perhaps narrower, as 0400) is set before the rename.
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return ErrnoError("create " + tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      unlink(tmp.c_str());
      return ErrnoError("write " + tmp, e);
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd, static_cast<mode_t>(mode)) != 0 || fsync(fd) != 0) {
    int e = errno;
    close(fd);
    unlink(tmp.c_str());
    return ErrnoError("finish " + tmp, e);
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    unlink(tmp.c_str());
    return ErrnoError("rename " + tmp + " to " + path, e);
  }
  return Status::OK();
}

void RemoveSecretFiles(const config::Service& service, const std::string& state_dir) {
  for (const config::SecretFile& f : service.secret_files) {
    if (!Under(f.path, state_dir)) continue;
    std::error_code ec;
    fs::remove(f.path, ec);
  }
}

StateDirSecrets::StateDirSecrets(state::StateStore* store, std::string state_dir, Clock* clock,
                                 secrets::MasterKeyOptions key_options)
    : store_(store),
      state_dir_(std::move(state_dir)),
      clock_(clock),
      key_options_(std::move(key_options)),
      keyless_(store, clock, secrets::SecretsLockPath(state_dir_)) {}

StatusOr<secrets::SecretStore*> StateDirSecrets::Keyed() {
  std::lock_guard<std::mutex> l(mu_);
  if (keyed_) return keyed_.get();
  ASSIGN_OR_RETURN(secrets::MasterKey key,
                   secrets::LoadMasterKey(state_dir_, key_options_, /*create_if_missing=*/false));
  keyed_ = std::make_unique<secrets::SecretStore>(store_, std::move(key), clock_,
                                                  secrets::SecretsLockPath(state_dir_));
  return keyed_.get();
}

StatusOr<secrets::ResolvedSecret> StateDirSecrets::Resolve(const std::string& name) {
  // Unknown first: that needs no key, and its message says what to do.
  if (!keyless_.Exists(name)) return NotFound(config::MissingSecretMessage(name));
  ASSIGN_OR_RETURN(secrets::SecretStore * store, Keyed());
  StatusOr<secrets::ResolvedSecret> s = store->Resolve(name);
  if (!s.ok() && s.status().code() == StatusCode::kNotFound)
    return NotFound(config::MissingSecretMessage(name));
  return s;
}

StatusOr<int64_t> StateDirSecrets::CurrentVersion(const std::string& name) {
  StatusOr<int64_t> v = keyless_.CurrentVersion(name);
  if (!v.ok() && v.status().code() == StatusCode::kNotFound)
    return NotFound(config::MissingSecretMessage(name));
  return v;
}

std::vector<std::string> StateDirSecrets::MaskingValues() {
  StatusOr<secrets::SecretStore*> store = Keyed();
  if (!store.ok()) return {};
  StatusOr<std::vector<std::string>> values = (*store)->Values();
  if (!values.ok()) return {};
  return std::move(*values);
}

Status StateDirSecrets::CompleteRoll(const std::string& name) {
  return keyless_.CompleteRoll(name);
}

}  // namespace steward::runtime
