// The cryptography and compression of the backup repository, over libsodium, OpenSSL and zstd.
//
// Sealed format (every encrypted thing the repository stores): 24-byte random nonce ||
// XChaCha20-Poly1305-IETF ciphertext || 16-byte tag, no additional data. A wrong key or any
// flipped bit makes Open fail with kCorruption ("authentication failed"); callers turn that
// into "wrong password" or "damaged file" as fits. Keys derive from passwords with Argon2id
// (crypto_pwhash). All functions are thread-safe; InitCrypto() must have run once (it is
// called by Repository::Open/Init and is idempotent).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "backup/types.h"
#include "base/status.h"

namespace steward::backup {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 24;
constexpr size_t kTagSize = 16;
constexpr size_t kSealOverhead = kNonceSize + kTagSize;

using Key = std::array<uint8_t, kKeySize>;

// sodium_init(); fails only if libsodium cannot initialize (no entropy source).
Status InitCrypto();

// SHA-256 of `data` (OpenSSL).
Id Sha256(std::string_view data);

// Cryptographically random bytes (libsodium).
void RandomBytes(void* out, size_t n);
Key RandomKey();

// Encrypts `plaintext` under `key` with a fresh random nonce; appends the sealed bytes to *out.
void Seal(const Key& key, std::string_view plaintext, std::string* out);
// Authenticates and decrypts `sealed`; kCorruption when it is too short or does not verify.
Status Open(const Key& key, std::string_view sealed, std::string* plaintext);

// Argon2id parameters as stored in a key file. Defaults are libsodium's "interactive" limits
// (2 passes, 64 MiB), so unlocking takes ~0.1 s; tests may lower them.
struct KdfParams {
  uint64_t ops = 2;
  uint64_t mem = 64ull << 20;
  std::array<uint8_t, 16> salt{};
};
// Derives a key from `password`; kInvalidArgument for parameters libsodium refuses,
// kIOError when memory runs out.
Status DeriveKey(std::string_view password, const KdfParams& params, Key* key);

// zstd. Compress never fails (level 1..19; 3 is the default). Decompress fails with kCorruption
// when the frame is damaged or would exceed `max_size` bytes.
std::string Compress(std::string_view data, int level = 3);
Status Decompress(std::string_view frame, size_t max_size, std::string* out);

}  // namespace steward::backup
