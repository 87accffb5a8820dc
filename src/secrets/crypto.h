// The libsodium primitives the secrets room is built on: base64, XChaCha20-Poly1305 with
// additional data, and Argon2id. Internal to src/secrets/ (the store, the master key and
// export/import share them); the rest of Steward goes through SecretStore.
//
// Sealed format: 24-byte random nonce || ciphertext || 16-byte tag
// (crypto_aead_xchacha20poly1305_ietf). The additional data is not stored: whoever opens a
// sealed value must know what it is bound to (a secret's name and version, an export's format
// tag), so bytes moved from one binding to another fail to open. These functions are
// thread-safe and initialize libsodium themselves.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace steward::secrets {

constexpr size_t kKeyBytes = 32;
constexpr size_t kSaltBytes = 16;
using KeyBytes = std::array<uint8_t, kKeyBytes>;

// sodium_init(); fails only when libsodium has no entropy source.
Status InitSodium();

void RandomBytes(void* out, size_t n);

// Standard base64 with padding (RFC 4648 §4). Decode ignores surrounding whitespace; anything
// else that is not base64 is kInvalidArgument ("not base64", never echoing the input).
std::string Base64Encode(std::string_view bytes);
StatusOr<std::string> Base64Decode(std::string_view text);

// Encrypts `plaintext` bound to `ad` under a fresh random nonce.
std::string Seal(const KeyBytes& key, std::string_view plaintext, std::string_view ad);
// Authenticates and decrypts; kCorruption when `sealed` is too short or does not verify
// (wrong key, wrong `ad`, or flipped bits: AEAD cannot tell them apart).
StatusOr<std::string> Open(const KeyBytes& key, std::string_view sealed, std::string_view ad);

// Argon2id (crypto_pwhash_ALG_ARGON2ID13). ops/mem of 0 are not accepted: callers store the
// parameters they used next to the salt, so a key can be derived again after defaults change.
struct KdfParams {
  uint64_t ops = 0;
  uint64_t mem = 0;  // bytes
  std::array<uint8_t, kSaltBytes> salt{};
};
// kInvalidArgument for parameters libsodium refuses or an empty passphrase; kIOError when
// memory runs out.
StatusOr<KeyBytes> DeriveKey(std::string_view passphrase, const KdfParams& params);

// The first 16 hex digits of BLAKE2b-256("steward-master-key-id:v1" || key): enough to tell
// keys apart in records and messages, useless for recovering the key.
std::string KeyFingerprint(const KeyBytes& key);

}  // namespace steward::secrets
