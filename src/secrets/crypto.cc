#include "secrets/crypto.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace steward::secrets {
namespace {

constexpr size_t kNonceBytes = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr size_t kTagBytes = crypto_aead_xchacha20poly1305_ietf_ABYTES;
static_assert(kKeyBytes == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kSaltBytes == crypto_pwhash_SALTBYTES);

int SodiumInitResult() {
  static const int rc = sodium_init();
  return rc;
}

void EnsureSodium() {
  // Without an entropy source every nonce and key would be predictable: refuse to go on.
  if (SodiumInitResult() < 0) {
    std::fprintf(stderr, "steward: secrets: libsodium cannot initialize\n");
    std::abort();
  }
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

Status InitSodium() {
  if (SodiumInitResult() < 0) return Internal("libsodium cannot initialize (no entropy source?)");
  return Status::OK();
}

void RandomBytes(void* out, size_t n) {
  EnsureSodium();
  randombytes_buf(out, n);
}

std::string Base64Encode(std::string_view bytes) {
  EnsureSodium();
  const int variant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), U(bytes), bytes.size(), variant);
  out.resize(out.size() - 1);  // the encoded length counts the terminating NUL
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  EnsureSodium();
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  std::string out(text.size() / 4 * 3 + 3, '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                        text.size(), nullptr, &len, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return InvalidArgument("not base64");
  }
  out.resize(len);
  return out;
}

std::string Seal(const KeyBytes& key, std::string_view plaintext, std::string_view ad) {
  EnsureSodium();
  std::string out(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(nonce, kNonceBytes);
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(nonce + kNonceBytes, &clen, U(plaintext),
                                             plaintext.size(), U(ad), ad.size(), nullptr, nonce,
                                             key.data());
  out.resize(kNonceBytes + clen);
  return out;
}

StatusOr<std::string> Open(const KeyBytes& key, std::string_view sealed, std::string_view ad) {
  EnsureSodium();
  if (sealed.size() < kNonceBytes + kTagBytes) return Corruption("sealed value is truncated");
  std::string out(sealed.size() - kNonceBytes - kTagBytes, '\0');
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(out.data()), &len, nullptr, U(sealed) + kNonceBytes,
          sealed.size() - kNonceBytes, U(ad), ad.size(), U(sealed), key.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    return Corruption("sealed value does not authenticate");
  }
  out.resize(len);
  return out;
}

StatusOr<KeyBytes> DeriveKey(std::string_view passphrase, const KdfParams& params) {
  EnsureSodium();
  if (passphrase.empty()) return InvalidArgument("the passphrase is empty");
  if (params.ops < crypto_pwhash_OPSLIMIT_MIN || params.ops > crypto_pwhash_OPSLIMIT_MAX ||
      params.mem < crypto_pwhash_MEMLIMIT_MIN || params.mem > crypto_pwhash_MEMLIMIT_MAX) {
    return InvalidArgument("Argon2id parameters out of range (ops " + std::to_string(params.ops) +
                           ", mem " + std::to_string(params.mem) + " bytes)");
  }
  KeyBytes key{};
  if (crypto_pwhash(key.data(), key.size(), passphrase.data(), passphrase.size(),
                    params.salt.data(), params.ops, static_cast<size_t>(params.mem),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return IOError("Argon2id ran out of memory (needs " + std::to_string(params.mem >> 20) +
                   " MiB)");
  }
  return key;
}

std::string KeyFingerprint(const KeyBytes& key) {
  EnsureSodium();
  static constexpr std::string_view kDomain = "steward-master-key-id:v1";
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, 32);
  crypto_generichash_update(&st, U(kDomain), kDomain.size());
  crypto_generichash_update(&st, key.data(), key.size());
  unsigned char digest[32];
  crypto_generichash_final(&st, digest, sizeof digest);
  char hex[17];
  sodium_bin2hex(hex, sizeof hex, digest, 8);
  return hex;
}

}  // namespace steward::secrets
