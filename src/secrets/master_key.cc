#include "secrets/master_key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/fd.h"

namespace steward::secrets {
namespace {
namespace fs = std::filesystem;

constexpr const char* kKeyFileName = "master.key";
constexpr const char* kSaltFileName = "master.salt";
constexpr size_t kMaxKeyFileBytes = 4096;  // a key file is 45 bytes; anything big is a mistake

std::optional<std::string> Env(const MasterKeyOptions& o, const std::string& name) {
  if (o.getenv) {
    auto v = o.getenv(name);
    if (v && v->empty()) return std::nullopt;
    return v;
  }
  const char* v = std::getenv(name.c_str());
  if (v == nullptr || *v == '\0') return std::nullopt;
  return std::string(v);
}

// The key from the text of a key file or variable: base64 of 32 bytes, or (files only) the 32
// raw bytes. Messages never quote the text.
StatusOr<KeyBytes> ParseKey(const std::string& text, bool allow_raw, const std::string& label) {
  KeyBytes key{};
  auto decoded = Base64Decode(text);
  if (decoded.ok() && decoded->size() == kKeyBytes) {
    std::memcpy(key.data(), decoded->data(), kKeyBytes);
    sodium_memzero(decoded->data(), decoded->size());
    return key;
  }
  if (allow_raw && text.size() == kKeyBytes) {
    std::memcpy(key.data(), text.data(), kKeyBytes);
    return key;
  }
  return InvalidArgument(label + " must hold the base64 of 32 random bytes (make one with "
                         "`head -c 32 /dev/urandom | base64 > FILE; chmod 600 FILE`)");
}

StatusOr<std::string> ReadSmallFile(const std::string& path, const std::string& label) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError(label + " " + path, errno);
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return ErrnoError(label + " " + path, errno);
  if (!S_ISREG(st.st_mode)) return InvalidArgument(label + " " + path + " is not a regular file");
  if (st.st_size > static_cast<off_t>(kMaxKeyFileBytes))
    return InvalidArgument(label + " " + path + " is too large to be a key file");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError(label + " " + path, errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

// Creates `path` with `content`, mode 0600, all or nothing: the bytes go to a temporary file
// (O_CREAT|O_EXCL by mkstemp) that is then hard-linked into place. link() fails with EEXIST
// when another process got there first, and that process's file is the one to use: returns
// false then, true when ours was linked.
StatusOr<bool> CreateFileOnce(const std::string& path, const std::string& content,
                              const std::string& label) {
  std::string tmp = path + ".tmp-XXXXXX";
  int raw = mkstemp(tmp.data());  // O_CREAT|O_EXCL, mode 0600
  if (raw < 0) return ErrnoError("creating " + label + " " + path, errno);
  Fd fd(raw);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } cleanup{tmp};
  if (fchmod(fd.get(), 0600) != 0) return ErrnoError("creating " + label + " " + path, errno);
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("writing " + label + " " + path, errno);
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return ErrnoError("writing " + label + " " + path, errno);
  if (link(tmp.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST) return false;
    return ErrnoError("creating " + label + " " + path, errno);
  }
  Fd dir(open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() >= 0) fsync(dir.get());  // best effort: the key is already in place
  return true;
}

Status EnsureStateDir(const std::string& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return Status::OK();
  fs::create_directories(dir, ec);
  if (ec) return IOError("creating state directory " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  return Status::OK();
}

std::string NoKeyMessage(const std::string& state_dir) {
  return "no master key: --master-key-file, STEWARD_MASTER_KEY, STEWARD_MASTER_KEY_FILE and "
         "STEWARD_MASTER_PASSPHRASE are unset and " + state_dir + "/" + kKeyFileName +
         " does not exist (it is created by the first `steward secret set`)";
}

StatusOr<MasterKey> DefaultKeyFile(const std::string& state_dir, bool create) {
  const std::string path = state_dir + "/" + kKeyFileName;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!create) return NotFound(NoKeyMessage(state_dir));
    RETURN_IF_ERROR(EnsureStateDir(state_dir));
    KeyBytes fresh{};
    RandomBytes(fresh.data(), fresh.size());
    std::string text =
        Base64Encode(std::string_view(reinterpret_cast<const char*>(fresh.data()), fresh.size())) +
        "\n";
    sodium_memzero(fresh.data(), fresh.size());
    auto made = CreateFileOnce(path, text, "master key file");
    sodium_memzero(text.data(), text.size());
    if (!made.ok()) return made.status();
  }
  ASSIGN_OR_RETURN(KeyBytes key, ReadKeyFile(path, "master key file"));
  MasterKey out(key, path);
  sodium_memzero(key.data(), key.size());
  return out;
}

StatusOr<KdfParams> ReadSaltFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, "master key salt file"));
  auto j = nlohmann::json::parse(text, nullptr, false);
  const std::string bad = "master key salt file " + path + " is damaged: ";
  if (j.is_discarded() || !j.is_object()) return Corruption(bad + "not JSON");
  if (j.value("kdf", "") != "argon2id13") return Corruption(bad + "kdf is not \"argon2id13\"");
  KdfParams p;
  if (!j.contains("ops") || !j["ops"].is_number_unsigned() || !j.contains("mem") ||
      !j["mem"].is_number_unsigned() || !j.contains("salt") || !j["salt"].is_string()) {
    return Corruption(bad + "ops, mem and salt are required");
  }
  p.ops = j["ops"].get<uint64_t>();
  p.mem = j["mem"].get<uint64_t>();
  auto salt = Base64Decode(j["salt"].get<std::string>());
  if (!salt.ok() || salt->size() != kSaltBytes) return Corruption(bad + "salt is not 16 bytes");
  std::memcpy(p.salt.data(), salt->data(), kSaltBytes);
  return p;
}

StatusOr<MasterKey> FromPassphrase(const std::string& passphrase, const std::string& state_dir,
                                   const MasterKeyOptions& o, bool create) {
  const std::string path = state_dir + "/" + kSaltFileName;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!create) {
      return NotFound("STEWARD_MASTER_PASSPHRASE is set but " + path +
                      " (its salt) does not exist; it is created by the first `steward secret "
                      "set`, or copy it from the machine the secrets came from");
    }
    RETURN_IF_ERROR(EnsureStateDir(state_dir));
    std::array<uint8_t, kSaltBytes> salt{};
    RandomBytes(salt.data(), salt.size());
    nlohmann::json j = {
        {"kdf", "argon2id13"},
        {"ops", o.kdf_ops ? o.kdf_ops : uint64_t{crypto_pwhash_OPSLIMIT_INTERACTIVE}},
        {"mem", o.kdf_mem ? o.kdf_mem : uint64_t{crypto_pwhash_MEMLIMIT_INTERACTIVE}},
        {"salt", Base64Encode(std::string_view(reinterpret_cast<const char*>(salt.data()),
                                               salt.size()))}};
    ASSIGN_OR_RETURN(bool made, CreateFileOnce(path, j.dump(2) + "\n", "master key salt file"));
    (void)made;  // another process's salt is as good as ours: both are read back below
  }
  ASSIGN_OR_RETURN(KdfParams params, ReadSaltFile(path));
  auto key = DeriveKey(passphrase, params);
  if (!key.ok()) return key.status().Annotate("STEWARD_MASTER_PASSPHRASE");
  MasterKey out(*key, "STEWARD_MASTER_PASSPHRASE");
  sodium_memzero(key->data(), key->size());
  return out;
}

}  // namespace

MasterKey::MasterKey(const KeyBytes& key, std::string source)
    : key_(key), id_(KeyFingerprint(key)), source_(std::move(source)) {}

MasterKey::MasterKey(const MasterKey& other) = default;
MasterKey& MasterKey::operator=(const MasterKey& other) = default;

MasterKey::~MasterKey() { sodium_memzero(key_.data(), key_.size()); }

StatusOr<KeyBytes> ReadKeyFile(const std::string& path, const std::string& label) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return ErrnoError(label + " " + path, errno);
  if ((st.st_mode & 077) != 0) {
    return FailedPrecondition(fmt::format(
        "{} {} has mode {:04o}: group or others may access it, so it is refused; run `chmod 600 "
        "{}`",
        label, path, st.st_mode & 07777, path));
  }
  ASSIGN_OR_RETURN(std::string text, ReadSmallFile(path, label));
  auto key = ParseKey(text, /*allow_raw=*/true, label + " " + path);
  sodium_memzero(text.data(), text.size());
  return key;
}

StatusOr<MasterKey> LoadMasterKey(const std::string& state_dir, const MasterKeyOptions& options,
                                  bool create_if_missing) {
  RETURN_IF_ERROR(InitSodium());
  if (!options.key_file.empty()) {
    ASSIGN_OR_RETURN(KeyBytes key, ReadKeyFile(options.key_file, "--master-key-file"));
    return MasterKey(key, "--master-key-file " + options.key_file);
  }
  if (auto text = Env(options, "STEWARD_MASTER_KEY")) {
    auto key = ParseKey(*text, /*allow_raw=*/false, "STEWARD_MASTER_KEY");
    sodium_memzero(text->data(), text->size());
    if (!key.ok()) return key.status();
    return MasterKey(*key, "STEWARD_MASTER_KEY");
  }
  if (auto file = Env(options, "STEWARD_MASTER_KEY_FILE")) {
    ASSIGN_OR_RETURN(KeyBytes key, ReadKeyFile(*file, "STEWARD_MASTER_KEY_FILE"));
    return MasterKey(key, "STEWARD_MASTER_KEY_FILE " + *file);
  }
  if (auto pass = Env(options, "STEWARD_MASTER_PASSPHRASE")) {
    auto key = FromPassphrase(*pass, state_dir, options, create_if_missing);
    sodium_memzero(pass->data(), pass->size());
    return key;
  }
  return DefaultKeyFile(state_dir, create_if_missing);
}

}  // namespace steward::secrets
