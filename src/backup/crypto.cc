#include "backup/crypto.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace steward::backup {
namespace {

// sodium_init() is itself thread-safe and idempotent, but a function-local static makes every
// later call a single load, so the hot paths below can ensure initialization on their own
// instead of trusting every caller to have run InitCrypto() (sodium_init selects the SIMD
// code of Argon2id and HChaCha20 and readies the random source).
int SodiumInitResult() {
  static const int rc = sodium_init();
  return rc;
}

[[noreturn]] void Die(const char* what) {
  // Only reachable on broken invariants (a library refusing a call we validated, or malloc
  // failing inside it); crashing loudly beats returning wrong bytes from a "never fails" API.
  std::fprintf(stderr, "steward: backup crypto: %s\n", what);
  std::abort();
}

// OpenSSL 3 looks the algorithm up on every one-shot call; fetching it once and keeping one
// digest context per thread makes hashing small blobs (tree JSON, pack headers) cheap.
// OpenSSL picks SHA-NI / AVX2 code itself where the CPU has it.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? fetched : EVP_sha256();
  }();
  return md;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

EVP_MD_CTX* ThreadMdCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) Die("EVP_MD_CTX_new failed");
  return ctx.get();
}

// zstd contexts own sizeable workspaces; reusing one per thread avoids allocating and
// zeroing them for every chunk.
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  if (!ctx) Die("ZSTD_createCCtx failed");
  return ctx.get();
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  if (!ctx) Die("ZSTD_createDCtx failed");
  return ctx.get();
}

Status AuthFailed() { return Corruption("authentication failed"); }

// XChaCha20-Poly1305-IETF is the RFC 8439 ChaCha20-Poly1305 AEAD under the subkey
// HChaCha20(key, nonce[0..16)) with the nonce 0^4 || nonce[16..24); libsodium builds it the
// same way. The AEAD itself runs in OpenSSL, whose AVX2/AVX-512 ChaCha20 and Poly1305 are
// 2-4x faster than libsodium's on this kind of machine; the bytes are identical (the tests
// decrypt with libsodium directly), and libsodium stays the fallback.
const EVP_CIPHER* ChachaPoly() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};

EVP_CIPHER_CTX* ThreadCipherCtx() {
  thread_local std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  if (!ctx) Die("EVP_CIPHER_CTX_new failed");
  return ctx.get();
}

// The IETF subkey and nonce for one XChaCha20 nonce; wipes the subkey when done.
class IetfKey {
 public:
  IetfKey(const Key& key, const unsigned char* xnonce) {
    crypto_core_hchacha20(subkey_, xnonce, key.data(), nullptr);
    std::memset(nonce_, 0, 4);
    std::memcpy(nonce_ + 4, xnonce + 16, 8);
  }
  ~IetfKey() { sodium_memzero(subkey_, sizeof subkey_); }
  IetfKey(const IetfKey&) = delete;
  IetfKey& operator=(const IetfKey&) = delete;

  const unsigned char* subkey() const { return subkey_; }
  const unsigned char* nonce() const { return nonce_; }

 private:
  unsigned char subkey_[32];
  unsigned char nonce_[12];
};

// EVP takes int lengths; larger inputs go through in 1 GiB pieces.
bool CipherUpdate(EVP_CIPHER_CTX* ctx, const unsigned char* in, size_t n, unsigned char* out,
                  size_t* written) {
  *written = 0;
  while (n > 0) {
    int piece = static_cast<int>(std::min<size_t>(n, size_t{1} << 30));
    int len = 0;
    if (EVP_CipherUpdate(ctx, out + *written, &len, in, piece) != 1) return false;
    *written += static_cast<size_t>(len);
    in += piece;
    n -= static_cast<size_t>(piece);
  }
  return true;
}

bool IetfEncrypt(const Key& key, const unsigned char* xnonce, const unsigned char* m, size_t n,
                 unsigned char* c, unsigned char* tag) {
  IetfKey k(key, xnonce);
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  size_t written = 0;
  int len = 0;
  return EVP_EncryptInit_ex2(ctx, ChachaPoly(), k.subkey(), k.nonce(), nullptr) == 1 &&
         CipherUpdate(ctx, m, n, c, &written) && EVP_EncryptFinal_ex(ctx, c + written, &len) == 1 &&
         written + len == n && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagSize, tag) == 1;
}

bool IetfDecrypt(const Key& key, const unsigned char* xnonce, const unsigned char* c, size_t n,
                 const unsigned char* tag, unsigned char* m) {
  IetfKey k(key, xnonce);
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  unsigned char tag_copy[kTagSize];
  std::memcpy(tag_copy, tag, kTagSize);
  size_t written = 0;
  int len = 0;
  return EVP_DecryptInit_ex2(ctx, ChachaPoly(), k.subkey(), k.nonce(), nullptr) == 1 &&
         CipherUpdate(ctx, c, n, m, &written) &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagSize, tag_copy) == 1 &&
         EVP_DecryptFinal_ex(ctx, m + written, &len) == 1 && written + len == n;
}

// The window limit for frames without a content size: enough for max_size and for what any
// level we compress at (1..19, windows up to 8 MiB) uses when streaming, so a hostile frame
// cannot make the decoder allocate zstd's default 128 MiB (or up to 2 GiB) window.
int WindowLogFor(size_t max_size) {
  constexpr int kStreamingWindowLog = 23;
  ZSTD_bounds b = ZSTD_dParam_getBounds(ZSTD_d_windowLogMax);
  int log = std::max(static_cast<int>(b.lowerBound), kStreamingWindowLog);
  while (log < b.upperBound && (size_t{1} << log) < max_size) ++log;
  return log;
}

// Decodes a frame whose header declares no content size, growing *out geometrically but never
// past max_size; once *out is full, one spare byte of output tells "ends exactly at max_size"
// apart from "would exceed it".
Status DecompressStreaming(ZSTD_DCtx* dctx, std::string_view frame, size_t max_size,
                           std::string* out) {
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, WindowLogFor(max_size));
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  size_t pos = 0;
  size_t cap = std::min(max_size, std::max<size_t>(frame.size() * 4, 64 << 10));
  out->resize(cap);
  char spare;
  for (;;) {
    bool full = pos == out->size();
    if (full && out->size() < max_size) {
      out->resize(std::min(max_size, out->size() * 2));
      full = false;
    }
    ZSTD_outBuffer ob =
        full ? ZSTD_outBuffer{&spare, 1, 0} : ZSTD_outBuffer{out->data(), out->size(), pos};
    size_t in_before = in.pos;
    size_t ret = ZSTD_decompressStream(dctx, &ob, &in);
    if (ZSTD_isError(ret)) {
      out->clear();
      return Corruption(fmt::format("damaged zstd frame: {}", ZSTD_getErrorName(ret)));
    }
    if (full) {
      if (ob.pos > 0) {
        out->clear();
        return Corruption(fmt::format("zstd frame exceeds the limit of {} bytes", max_size));
      }
    } else {
      pos = ob.pos;
    }
    if (ret == 0) break;  // frame complete and flushed
    // Room left for output yet the frame is unfinished: zstd wants input it cannot have.
    if (ob.pos < ob.size && (in.pos == in.size || in.pos == in_before)) {
      out->clear();
      return Corruption("truncated zstd frame");
    }
  }
  if (in.pos != in.size) {
    out->clear();
    return Corruption("trailing bytes after zstd frame");
  }
  out->resize(pos);
  return Status::OK();
}

}  // namespace

Status InitCrypto() {
  if (SodiumInitResult() < 0)
    return Internal("libsodium failed to initialize (no entropy source?)");
  return Status::OK();
}

Id Sha256(std::string_view data) {
  Id id;
  EVP_MD_CTX* ctx = ThreadMdCtx();
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx, id.bytes.data(), &len) != 1 || len != id.bytes.size()) {
    Die("SHA-256 failed");
  }
  return id;
}

void RandomBytes(void* out, size_t n) {
  SodiumInitResult();
  randombytes_buf(out, n);
}

Key RandomKey() {
  Key key;
  RandomBytes(key.data(), key.size());
  return key;
}

void Seal(const Key& key, std::string_view plaintext, std::string* out) {
  static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
  static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
  SodiumInitResult();
  size_t start = out->size();
  out->resize(start + kNonceSize + plaintext.size() + kTagSize);
  auto* nonce = reinterpret_cast<unsigned char*>(out->data() + start);
  randombytes_buf(nonce, kNonceSize);
  const auto* m = reinterpret_cast<const unsigned char*>(plaintext.data());
  unsigned char* c = nonce + kNonceSize;
  if (ChachaPoly() != nullptr) {
    if (!IetfEncrypt(key, nonce, m, plaintext.size(), c, c + plaintext.size())) {
      Die("ChaCha20-Poly1305 encryption failed");
    }
    return;
  }
  unsigned long long clen = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, m, plaintext.size(), nullptr, 0, nullptr,
                                             nonce, key.data());
  if (clen != plaintext.size() + kTagSize) Die("XChaCha20-Poly1305 produced a wrong length");
}

Status Open(const Key& key, std::string_view sealed, std::string* plaintext) {
  SodiumInitResult();
  if (sealed.size() < kSealOverhead) {
    plaintext->clear();
    return AuthFailed();
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data());
  const unsigned char* c = nonce + kNonceSize;
  size_t mlen = sealed.size() - kSealOverhead;
  plaintext->resize(mlen);
  auto* m = reinterpret_cast<unsigned char*>(plaintext->data());
  bool ok;
  if (ChachaPoly() != nullptr) {
    ok = IetfDecrypt(key, nonce, c, mlen, c + mlen, m);
  } else {
    unsigned long long n = 0;
    ok = crypto_aead_xchacha20poly1305_ietf_decrypt(m, &n, nullptr, c, mlen + kTagSize, nullptr, 0,
                                                    nonce, key.data()) == 0;
  }
  if (!ok) {
    // Never hand out unauthenticated plaintext, not even partially.
    sodium_memzero(m, mlen);
    plaintext->clear();
    return AuthFailed();
  }
  return Status::OK();
}

Status DeriveKey(std::string_view password, const KdfParams& params, Key* key) {
  static_assert(sizeof(KdfParams{}.salt) == crypto_pwhash_SALTBYTES);
  SodiumInitResult();
  const uint64_t ops_min = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  const uint64_t ops_max = crypto_pwhash_argon2id_OPSLIMIT_MAX;
  const uint64_t mem_min = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  const uint64_t mem_max = crypto_pwhash_argon2id_MEMLIMIT_MAX;
  if (params.ops < ops_min || params.ops > ops_max) {
    return InvalidArgument(fmt::format("argon2id ops {} is out of range; must be in [{}, {}]",
                                       params.ops, ops_min, ops_max));
  }
  if (params.mem < mem_min || params.mem > mem_max) {
    return InvalidArgument(fmt::format("argon2id mem {} bytes is out of range; must be in [{}, {}]",
                                       params.mem, mem_min, mem_max));
  }
  if (password.size() > crypto_pwhash_argon2id_PASSWD_MAX) {
    return InvalidArgument(fmt::format("password of {} bytes is longer than the maximum of {}",
                                       password.size(), crypto_pwhash_argon2id_PASSWD_MAX));
  }
  errno = 0;
  if (crypto_pwhash(key->data(), key->size(), password.data(), password.size(), params.salt.data(),
                    params.ops, static_cast<size_t>(params.mem),
                    crypto_pwhash_ALG_ARGON2ID13) != 0) {
    int err = errno;
    sodium_memzero(key->data(), key->size());
    if (err == ENOMEM) {
      return IOError(fmt::format("argon2id: out of memory allocating {} bytes", params.mem));
    }
    return InvalidArgument(fmt::format("argon2id refused ops {} mem {}", params.ops, params.mem));
  }
  return Status::OK();
}

std::string Compress(std::string_view data, int level) {
  level = std::clamp(level, 1, 19);
  std::string out;
  out.resize(ZSTD_compressBound(data.size()));
  size_t n =
      ZSTD_compressCCtx(ThreadCCtx(), out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) Die(ZSTD_getErrorName(n));
  out.resize(n);
  return out;
}

Status Decompress(std::string_view frame, size_t max_size, std::string* out) {
  out->clear();
  // One frame, nothing after it: concatenated or trailing bytes mean the blob is not what
  // Compress wrote.
  size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size)) {
    return Corruption(fmt::format("damaged zstd frame: {}", ZSTD_getErrorName(frame_size)));
  }
  if (frame_size != frame.size()) return Corruption("trailing bytes after zstd frame");
  unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return Corruption("damaged zstd frame header");
  ZSTD_DCtx* dctx = ThreadDCtx();
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    return DecompressStreaming(dctx, frame, max_size, out);
  }
  if (declared > max_size) {
    return Corruption(
        fmt::format("zstd frame declares {} bytes, over the limit of {}", declared, max_size));
  }
  // The header names the size: decode in one shot into a buffer of exactly that size. zstd
  // refuses to write past the buffer and checks that the decoded size matches the header, so
  // a lying header ends in an error, not in more than max_size bytes.
  out->resize(declared);
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_and_parameters);
  size_t n = ZSTD_decompressDCtx(dctx, out->data(), out->size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != declared) {
    out->clear();
    return Corruption(fmt::format("damaged zstd frame: {}",
                                  ZSTD_isError(n) ? ZSTD_getErrorName(n) : "size mismatch"));
  }
  return Status::OK();
}

}  // namespace steward::backup
