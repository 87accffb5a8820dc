#include "secrets/transfer.h"

#include <sodium.h>

#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "base/clock.h"

namespace steward::secrets {
namespace {

constexpr const char* kFormat = "steward-secrets-export";
constexpr int kVersion = 1;
constexpr std::string_view kPayloadAd = "steward-secrets-export:v1";
constexpr uint64_t kDefaultOps = 3;
constexpr uint64_t kDefaultMem = uint64_t{128} << 20;
// Argon2id costs the importer this much memory: a bundle asking for more is refused rather than
// letting a file make us allocate gigabytes.
constexpr uint64_t kMaxImportMem = uint64_t{1} << 30;
constexpr uint64_t kMaxImportOps = 32;

// Wipes a string holding plaintext when it goes out of scope.
struct Wipe {
  std::string* s;
  ~Wipe() { sodium_memzero(s->data(), s->size()); }
};

std::string AsString(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

// o[key] when `o` is an object holding it; a null otherwise (const operator[] on a missing key
// is undefined in nlohmann::json, and a bundle is outside input).
const nlohmann::json& Field(const nlohmann::json& o, const char* key) {
  static const nlohmann::json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(key);
  return it == o.end() ? kNull : *it;
}

}  // namespace

StatusOr<ExportResult> ExportSecrets(SecretStore& store, std::string_view passphrase,
                                     const ExportOptions& options) {
  if (passphrase.empty()) return InvalidArgument("the export passphrase is empty");
  KdfParams kdf;
  kdf.ops = options.kdf_ops ? options.kdf_ops : kDefaultOps;
  kdf.mem = options.kdf_mem ? options.kdf_mem : kDefaultMem;
  RandomBytes(kdf.salt.data(), kdf.salt.size());
  ASSIGN_OR_RETURN(KeyBytes key, DeriveKey(passphrase, kdf));

  ExportResult result;
  ASSIGN_OR_RETURN(auto infos, store.List());
  nlohmann::json entries = nlohmann::json::array();
  for (const SecretInfo& info : infos) {
    if (info.version == 0) continue;  // no current version: nothing to move
    ASSIGN_OR_RETURN(ResolvedSecret s, store.Get(info.name));
    Wipe w{&s.value};
    entries.push_back({{"name", info.name},
                       {"version", s.version},
                       {"updated_at_ms", info.updated_at_ms},
                       {"value", Base64Encode(s.value)}});
    result.names.push_back(info.name);
  }
  std::string payload = nlohmann::json{{"secrets", std::move(entries)}}.dump();
  Wipe wp{&payload};
  std::string sealed = Seal(key, payload, kPayloadAd);
  sodium_memzero(key.data(), key.size());

  const int64_t now = options.now_ms ? options.now_ms : ToUnixMillis(RealClock::Get()->WallNow());
  nlohmann::json envelope = {
      {"format", kFormat},
      {"version", kVersion},
      {"created_at", FormatRfc3339(FromUnixMillis(now))},
      {"kdf",
       {{"algorithm", "argon2id13"},
        {"ops", kdf.ops},
        {"mem", kdf.mem},
        {"salt", Base64Encode(AsString(kdf.salt.data(), kdf.salt.size()))}}},
      {"cipher", "xchacha20poly1305-ietf"},
      {"payload", Base64Encode(sealed)}};
  result.bundle = envelope.dump(2) + "\n";
  return result;
}

namespace {

// The envelope's KDF parameters and sealed payload; kInvalidArgument naming what is wrong.
Status ParseEnvelope(std::string_view bundle, const std::string& origin, KdfParams* kdf,
                     std::string* sealed) {
  const std::string where = origin.empty() ? "secrets bundle" : origin;
  auto j = nlohmann::json::parse(bundle, nullptr, false);
  if (j.is_discarded() || !j.is_object() || j.value("format", "") != kFormat) {
    return InvalidArgument(where + " is not a Steward secrets export (made by `steward secret "
                           "export`)");
  }
  if (!Field(j, "version").is_number_integer() || Field(j, "version").get<int64_t>() != kVersion) {
    return InvalidArgument(where + ": export format version " + Field(j, "version").dump() +
                           " is not supported by this Steward (it reads version 1)");
  }
  const nlohmann::json& k = Field(j, "kdf");
  if (Field(k, "algorithm") != "argon2id13" || !Field(k, "ops").is_number_unsigned() ||
      !Field(k, "mem").is_number_unsigned() || !Field(k, "salt").is_string() ||
      !Field(j, "payload").is_string() || Field(j, "cipher") != "xchacha20poly1305-ietf") {
    return InvalidArgument(where + " is damaged: kdf (argon2id13 ops, mem, salt), cipher "
                           "(xchacha20poly1305-ietf) and payload are required");
  }
  kdf->ops = Field(k, "ops").get<uint64_t>();
  kdf->mem = Field(k, "mem").get<uint64_t>();
  if (kdf->mem > kMaxImportMem || kdf->ops > kMaxImportOps) {
    return InvalidArgument(where + " asks for Argon2id parameters beyond 1 GiB / 32 passes; "
                           "refused");
  }
  auto salt = Base64Decode(Field(k, "salt").get<std::string>());
  if (!salt.ok() || salt->size() != kSaltBytes)
    return InvalidArgument(where + " is damaged: the salt is not 16 bytes of base64");
  std::memcpy(kdf->salt.data(), salt->data(), kSaltBytes);
  auto payload = Base64Decode(Field(j, "payload").get<std::string>());
  if (!payload.ok()) return InvalidArgument(where + " is damaged: the payload is not base64");
  *sealed = std::move(*payload);
  return Status::OK();
}

}  // namespace

StatusOr<ImportResult> ImportSecrets(SecretStore& store, std::string_view bundle,
                                     std::string_view passphrase, bool overwrite,
                                     const std::string& origin) {
  const std::string where = origin.empty() ? "secrets bundle" : origin;
  if (passphrase.empty()) return InvalidArgument("the export passphrase is empty");
  KdfParams kdf;
  std::string sealed;
  RETURN_IF_ERROR(ParseEnvelope(bundle, origin, &kdf, &sealed));
  ASSIGN_OR_RETURN(KeyBytes key, DeriveKey(passphrase, kdf));
  auto opened = Open(key, sealed, kPayloadAd);
  sodium_memzero(key.data(), key.size());
  if (!opened.ok()) {
    return InvalidArgument("cannot open " + where + ": wrong passphrase, or the bundle is "
                           "damaged (check STEWARD_EXPORT_PASSPHRASE)");
  }
  Wipe wo{&*opened};
  auto j = nlohmann::json::parse(*opened, nullptr, false);
  if (j.is_discarded() || !Field(j, "secrets").is_array())
    return InvalidArgument(where + " is damaged: its payload is not a list of secrets");

  ImportResult result;
  std::vector<std::pair<std::string, std::string>> values;
  struct WipeAll {
    std::vector<std::pair<std::string, std::string>>* v;
    ~WipeAll() {
      for (auto& e : *v) sodium_memzero(e.second.data(), e.second.size());
    }
  } wipe_values{&values};
  std::set<std::string> names;
  for (const nlohmann::json& e : Field(j, "secrets")) {
    if (!Field(e, "name").is_string() || !Field(e, "value").is_string())
      return InvalidArgument(where + " is damaged: an entry lacks its name or value");
    std::string name = Field(e, "name").get<std::string>();
    RETURN_IF_ERROR(CheckSecretName(name).Annotate(where));
    if (!names.insert(name).second)
      return InvalidArgument(where + " is damaged: secret '" + name + "' appears twice");
    auto value = Base64Decode(Field(e, "value").get<std::string>());
    if (!value.ok())
      return InvalidArgument(where + " is damaged: the value of '" + name + "' is not base64");
    if (!overwrite && store.Exists(name)) {
      result.skipped.push_back(name);
      sodium_memzero(value->data(), value->size());
      continue;
    }
    values.emplace_back(name, std::move(*value));
  }
  if (values.empty()) return result;
  ASSIGN_OR_RETURN(std::vector<int64_t> versions, store.SetAll(values));
  for (size_t i = 0; i < values.size(); ++i)
    result.imported.push_back({values[i].first, versions[i]});
  return result;
}

}  // namespace steward::secrets
