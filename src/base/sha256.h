// SHA-256 through OpenSSL, as lowercase hex: one call for a whole string, and a hasher for
// data fed in pieces. For content ids, token digests, fingerprints and cache checksums —
// anywhere a hash must resist tampering (Fnv1a64 in hash.h is for plain identifiers).
// Thread safety: Sha256Hex is safe to call concurrently; a Sha256Hasher is one thread's.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX

namespace steward {

// SHA-256 of `data`, 64 lowercase hex digits.
std::string Sha256Hex(std::string_view data);

// `n` bytes as 2n lowercase hex digits.
std::string HexEncode(const unsigned char* data, size_t n);

class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;

  void Update(std::string_view data);
  // The digest of everything fed so far, as Sha256Hex gives it; the hasher is spent after.
  std::string HexDigest();

 private:
  ::evp_md_ctx_st* ctx_;
};

}  // namespace steward
