#include "backup/crypto.h"

#include <gtest/gtest.h>
#include <sodium.h>
#include <zstd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace steward::backup {
namespace {

class Crypto : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitCrypto().ok()); }
};

std::string RandomString(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(s.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return s;
}

// Text-like data that compresses: words from a small vocabulary in random order.
std::string CompressibleString(size_t n, uint64_t seed) {
  static const char* kWords[] = {"backup ", "steward ", "chunk ", "snapshot ", "tree ",
                                 "pack ",   "index ",   "blob ",  "\n",        "restic "};
  std::mt19937_64 rng(seed);
  std::string s;
  s.reserve(n + 16);
  while (s.size() < n) s += kWords[rng() % 10];
  s.resize(n);
  return s;
}

// CPU time of this thread: on a shared machine wall time mostly measures the neighbours.
double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

TEST_F(Crypto, InitIsIdempotent) {
  EXPECT_TRUE(InitCrypto().ok());
  EXPECT_TRUE(InitCrypto().ok());
}

TEST_F(Crypto, Sha256MatchesFipsVectors) {
  // FIPS 180-2 appendix B.1 and B.2, and the empty string.
  EXPECT_EQ(Sha256("abc").Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").Hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256("").Hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // One million 'a' (FIPS 180-2 B.3): exercises many blocks in one call.
  EXPECT_EQ(Sha256(std::string(1000000, 'a')).Hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_F(Crypto, RandomKeysDiffer) {
  Key a = RandomKey(), b = RandomKey();
  EXPECT_NE(a, b);
  EXPECT_NE(a, Key{});
}

TEST_F(Crypto, SealOpenRoundTrip) {
  Key key = RandomKey();
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{4096}, size_t{1 << 20}}) {
    std::string plain = RandomString(n, n);
    std::string sealed;
    Seal(key, plain, &sealed);
    ASSERT_EQ(sealed.size(), n + kSealOverhead);
    std::string back;
    Status st = Open(key, sealed, &back);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(back, plain) << "size " << n;
  }
}

TEST_F(Crypto, SealAppendsAfterExistingBytes) {
  Key key = RandomKey();
  std::string out = "header";
  Seal(key, "one", &out);
  size_t first_end = out.size();
  Seal(key, "two", &out);
  ASSERT_EQ(out.substr(0, 6), "header");
  ASSERT_EQ(first_end, 6 + 3 + kSealOverhead);
  std::string back;
  ASSERT_TRUE(Open(key, std::string_view(out).substr(6, first_end - 6), &back).ok());
  EXPECT_EQ(back, "one");
  ASSERT_TRUE(Open(key, std::string_view(out).substr(first_end), &back).ok());
  EXPECT_EQ(back, "two");
}

TEST_F(Crypto, SealUsesFreshNonces) {
  Key key = RandomKey();
  std::string a, b;
  Seal(key, "same", &a);
  Seal(key, "same", &b);
  EXPECT_NE(a.substr(0, kNonceSize), b.substr(0, kNonceSize));
  EXPECT_NE(a, b);
}

TEST_F(Crypto, SealedFormatIsNonceCiphertextTag) {
  // Decrypt with libsodium directly: a reader in another language must be able to.
  Key key = RandomKey();
  std::string sealed;
  Seal(key, "interoperable", &sealed);
  std::string plain(sealed.size() - kSealOverhead, '\0');
  unsigned long long mlen = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  ASSERT_EQ(crypto_aead_xchacha20poly1305_ietf_decrypt(
                reinterpret_cast<unsigned char*>(plain.data()), &mlen, nullptr, p + kNonceSize,
                sealed.size() - kNonceSize, nullptr, 0, p, key.data()),
            0);
  EXPECT_EQ(plain, "interoperable");
}

TEST_F(Crypto, OpensWhatLibsodiumSealed) {
  // The other direction of the interoperability check, over sizes around the 64-byte ChaCha20
  // block and the 16-byte Poly1305 block.
  Key key = RandomKey();
  for (size_t n : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{1000003}}) {
    std::string plain = RandomString(n, 100 + n);
    std::string sealed(n + kSealOverhead, '\0');
    auto* p = reinterpret_cast<unsigned char*>(sealed.data());
    randombytes_buf(p, kNonceSize);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(p + kNonceSize, &clen,
                                               reinterpret_cast<const unsigned char*>(plain.data()),
                                               n, nullptr, 0, nullptr, p, key.data());
    std::string back;
    Status st = Open(key, sealed, &back);
    ASSERT_TRUE(st.ok()) << n << ": " << st.ToString();
    EXPECT_EQ(back, plain) << n;
  }
}

TEST_F(Crypto, EveryBitFlipIsRejected) {
  Key key = RandomKey();
  std::string sealed;
  Seal(key, "a small secret message", &sealed);
  std::string out;
  for (size_t bit = 0; bit < sealed.size() * 8; ++bit) {
    std::string bad = sealed;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    Status st = Open(key, bad, &out);
    ASSERT_EQ(st.code(), StatusCode::kCorruption) << "bit " << bit;
    EXPECT_EQ(st.message(), "authentication failed");
    EXPECT_TRUE(out.empty());
  }
}

TEST_F(Crypto, WrongKeyAndShortInputAreRejected) {
  Key key = RandomKey(), other = RandomKey();
  std::string sealed;
  Seal(key, "secret", &sealed);
  std::string out;
  EXPECT_EQ(Open(other, sealed, &out).code(), StatusCode::kCorruption);
  for (size_t n = 0; n < kSealOverhead; ++n) {
    Status st = Open(key, std::string_view(sealed).substr(0, n), &out);
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << n;
    EXPECT_EQ(st.message(), "authentication failed");
  }
  // Truncating or extending a valid message is tampering too.
  EXPECT_EQ(Open(key, std::string_view(sealed).substr(0, sealed.size() - 1), &out).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Open(key, sealed + "x", &out).code(), StatusCode::kCorruption);
}

KdfParams CheapKdf(uint8_t salt_byte) {
  KdfParams p;
  p.ops = crypto_pwhash_argon2id_OPSLIMIT_MIN;
  p.mem = crypto_pwhash_argon2id_MEMLIMIT_MIN;
  p.salt.fill(salt_byte);
  return p;
}

TEST_F(Crypto, DeriveKeyIsDeterministicAndDependsOnSaltAndPassword) {
  Key a, b, c, d;
  ASSERT_TRUE(DeriveKey("hunter2", CheapKdf(1), &a).ok());
  ASSERT_TRUE(DeriveKey("hunter2", CheapKdf(1), &b).ok());
  ASSERT_TRUE(DeriveKey("hunter2", CheapKdf(2), &c).ok());
  ASSERT_TRUE(DeriveKey("hunter3", CheapKdf(1), &d).ok());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_NE(a, d);
  EXPECT_NE(a, Key{});
  KdfParams more_ops = CheapKdf(1);
  more_ops.ops += 1;
  Key e;
  ASSERT_TRUE(DeriveKey("hunter2", more_ops, &e).ok());
  EXPECT_NE(a, e);
}

TEST_F(Crypto, DeriveKeyMatchesLibsodiumArgon2id) {
  KdfParams p = CheapKdf(7);
  Key ours, theirs;
  ASSERT_TRUE(DeriveKey("pw", p, &ours).ok());
  ASSERT_EQ(crypto_pwhash(theirs.data(), theirs.size(), "pw", 2, p.salt.data(), p.ops, p.mem,
                          crypto_pwhash_ALG_ARGON2ID13),
            0);
  EXPECT_EQ(ours, theirs);
}

TEST_F(Crypto, DeriveKeyRejectsOutOfRangeParams) {
  Key k;
  KdfParams p = CheapKdf(1);
  p.ops = 0;
  Status st = DeriveKey("pw", p, &k);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("ops 0"), std::string::npos) << st.message();
  p = CheapKdf(1);
  p.mem = 1024;
  st = DeriveKey("pw", p, &k);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("mem 1024"), std::string::npos) << st.message();
  p.mem = ~uint64_t{0};
  EXPECT_EQ(DeriveKey("pw", p, &k).code(), StatusCode::kInvalidArgument);
}

TEST_F(Crypto, DeriveKeyReportsOutOfMemoryAsIOError) {
  // 1 TiB is within libsodium's limits but far beyond this machine; the kernel refuses the
  // mapping only where it checks commitments (overcommit mode 0 or 2), so elsewhere the test
  // would try to fill the memory instead.
  std::FILE* f = std::fopen("/proc/sys/vm/overcommit_memory", "r");
  int mode = -1;
  if (f) {
    if (std::fscanf(f, "%d", &mode) != 1) mode = -1;
    std::fclose(f);
  }
  if (mode != 0 && mode != 2) GTEST_SKIP() << "overcommit_memory is " << mode;
  KdfParams p = CheapKdf(1);
  p.mem = uint64_t{1} << 40;
  Key k;
  k.fill(0xaa);
  Status st = DeriveKey("pw", p, &k);
  EXPECT_EQ(st.code(), StatusCode::kIOError) << st.ToString();
  EXPECT_EQ(k, Key{}) << "a failed derivation must not leave a usable-looking key";
}

TEST_F(Crypto, ErrorsNeverContainThePassword) {
  KdfParams p = CheapKdf(1);
  p.ops = 0;
  Key k;
  Status st = DeriveKey("correct horse battery staple", p, &k);
  EXPECT_EQ(st.ToString().find("horse"), std::string::npos);
}

TEST_F(Crypto, IsThreadSafe) {
  // Every function keeps per-thread contexts (digest, cipher, zstd); hammer them together,
  // with InitCrypto racing too.
  Key key = RandomKey();
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      if (!InitCrypto().ok()) ++failures;
      for (int i = 0; i < 200; ++i) {
        std::string plain = CompressibleString(1000 + 37 * i, t * 1000 + i);
        std::string sealed, opened, back;
        Seal(key, plain, &sealed);
        if (!Open(key, sealed, &opened).ok() || opened != plain) ++failures;
        if (!Decompress(Compress(plain), plain.size(), &back).ok() || back != plain) ++failures;
        if (Sha256(plain) != Sha256(opened)) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(Crypto, CompressClampsLevels) {
  std::string plain = CompressibleString(10000, 14);
  for (int level : {-5, 0, 1, 19, 22, 1000}) {
    std::string out;
    ASSERT_TRUE(Decompress(Compress(plain, level), plain.size(), &out).ok()) << level;
    EXPECT_EQ(out, plain) << level;
  }
}

TEST_F(Crypto, CompressRoundTrip) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{1000}, size_t{3 << 20}}) {
    std::string plain = CompressibleString(n, n);
    std::string frame = Compress(plain);
    if (n >= 1000) {
      EXPECT_LT(frame.size(), n / 2) << "text should compress";
    }
    std::string back;
    Status st = Decompress(frame, n, &back);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(back, plain);
  }
  std::string random = RandomString(100000, 3);
  std::string back;
  ASSERT_TRUE(Decompress(Compress(random, 19), random.size(), &back).ok());
  EXPECT_EQ(back, random);
}

TEST_F(Crypto, DecompressEnforcesMaxSize) {
  std::string plain = CompressibleString(100000, 1);
  std::string frame = Compress(plain);
  std::string out = "stale";
  Status st = Decompress(frame, plain.size() - 1, &out);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(Decompress(frame, plain.size(), &out).ok());
  EXPECT_EQ(out, plain);
}

// A frame written by a streaming compressor has no content size in its header, so only the
// decoder can notice that it grows past the limit.
// It is fed in pieces, so zstd does not know the total either and uses the level's full
// window.
std::string StreamedFrame(std::string_view data, int level = 3) {
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level);
  std::string out(ZSTD_compressBound(data.size()) + 1024, '\0');
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  for (size_t off = 0; off < data.size(); off += 10000) {
    std::string_view piece = data.substr(off, 10000);
    ZSTD_inBuffer ib{piece.data(), piece.size(), 0};
    while (ib.pos < ib.size) ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
  }
  ZSTD_inBuffer empty{nullptr, 0, 0};
  while (ZSTD_compressStream2(c, &ob, &empty, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(c);
  out.resize(ob.pos);
  EXPECT_EQ(ZSTD_getFrameContentSize(out.data(), out.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  return out;
}

TEST_F(Crypto, DecompressAcceptsStreamedFramesOfEveryLevel) {
  std::string plain = CompressibleString(100000, 12);
  for (int level : {1, 3, 9, 19}) {
    std::string out;
    Status st = Decompress(StreamedFrame(plain, level), plain.size(), &out);
    ASSERT_TRUE(st.ok()) << "level " << level << ": " << st.ToString();
    EXPECT_EQ(out, plain);
  }
}

TEST_F(Crypto, DecompressRefusesHugeWindows) {
  // A frame that asks for a 1 GiB window must not make the decoder allocate it.
  std::string plain = CompressibleString(100000, 13);
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, 30);
  std::string frame(ZSTD_compressBound(plain.size()) + 1024, '\0');
  ZSTD_outBuffer ob{frame.data(), frame.size(), 0};
  ZSTD_inBuffer ib{plain.data(), 1000, 0};
  while (ib.pos < ib.size) ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_continue);
  ZSTD_inBuffer rest{plain.data() + 1000, plain.size() - 1000, 0};
  while (ZSTD_compressStream2(c, &ob, &rest, ZSTD_e_end) != 0) {
  }
  ZSTD_freeCCtx(c);
  frame.resize(ob.pos);
  std::string out;
  Status st = Decompress(frame, plain.size(), &out);
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
}

TEST_F(Crypto, DecompressBoundsFramesWithoutContentSize) {
  std::string plain = CompressibleString(1 << 20, 2);
  std::string frame = StreamedFrame(plain);
  std::string out;
  ASSERT_TRUE(Decompress(frame, plain.size(), &out).ok());
  EXPECT_EQ(out, plain);
  ASSERT_TRUE(Decompress(frame, plain.size() + 12345, &out).ok());
  EXPECT_EQ(out, plain);
  Status st = Decompress(frame, plain.size() - 1, &out);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.message();
  EXPECT_EQ(Decompress(frame, 1000, &out).code(), StatusCode::kCorruption);
  // A frame that decodes to nothing fits any limit.
  ASSERT_TRUE(Decompress(StreamedFrame(""), 0, &out).ok());
  EXPECT_TRUE(out.empty());
}

TEST_F(Crypto, DecompressRejectsDamagedFrames) {
  std::string plain = CompressibleString(50000, 4);
  std::string frame = Compress(plain);
  std::string out;
  EXPECT_EQ(Decompress("", 100, &out).code(), StatusCode::kCorruption);
  EXPECT_EQ(Decompress("not zstd at all", 100, &out).code(), StatusCode::kCorruption);
  EXPECT_EQ(Decompress(frame.substr(0, frame.size() / 2), plain.size(), &out).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(Decompress(frame + frame, 2 * plain.size(), &out).code(), StatusCode::kCorruption);
  std::string streamed = StreamedFrame(plain);
  EXPECT_EQ(Decompress(streamed.substr(0, streamed.size() - 3), plain.size(), &out).code(),
            StatusCode::kCorruption);
}

TEST_F(Crypto, DecompressNeverReturnsWrongBytesForCorruptedFrames) {
  // Without a checksum zstd cannot catch every flipped literal, but it must either fail with
  // kCorruption or return at most max_size bytes; it must never crash or overrun.
  std::string plain = CompressibleString(20000, 5);
  std::string frame = Compress(plain);
  std::mt19937_64 rng(9);
  int rejected = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = frame;
    size_t pos = rng() % bad.size();
    bad[pos] = static_cast<char>(bad[pos] ^ (1 << (rng() % 8)));
    std::string out;
    Status st = Decompress(bad, plain.size(), &out);
    if (!st.ok()) {
      EXPECT_EQ(st.code(), StatusCode::kCorruption);
      ++rejected;
    } else {
      EXPECT_LE(out.size(), plain.size());
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST_F(Crypto, DecompressRejectsLyingContentSize) {
  // Patch the frame header's content size (single-segment frames store it in the last header
  // bytes) to claim fewer bytes than the frame really holds.
  std::string plain = CompressibleString(200, 6);
  std::string frame = Compress(plain);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), plain.size());
  // Frame_Header_Descriptor is byte 4; with FCS_Field_Size 1 and Single_Segment set the size
  // is byte 5. For 200 bytes zstd picks exactly that layout.
  uint8_t fhd = static_cast<uint8_t>(frame[4]);
  ASSERT_EQ(fhd >> 6, 0) << "expected a 1-byte content size field";
  ASSERT_TRUE(fhd & 0x20) << "expected a single-segment frame";
  std::string lying = frame;
  lying[5] = static_cast<char>(100);
  ASSERT_EQ(ZSTD_getFrameContentSize(lying.data(), lying.size()), 100u);
  std::string out;
  EXPECT_EQ(Decompress(lying, 150, &out).code(), StatusCode::kCorruption);
  EXPECT_TRUE(out.empty());
}

// Best-of-`reps` rate of `op` over `bytes` per CPU-second of one core.
template <typename Op>
double BestMiBPerSecond(size_t bytes, int reps, Op op) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    double t0 = ThreadCpuSeconds();
    op();
    best = std::max(best, bytes / double(1 << 20) / (ThreadCpuSeconds() - t0));
  }
  return best;
}

TEST_F(Crypto, Throughput) {
  // Printed for the record, never asserted. 1 MiB pieces into reused buffers, as the
  // repository seals and compresses chunks.
  const size_t piece = 1 << 20, n = 32 << 20;
  std::string data = CompressibleString(n, 8);
  Key key = RandomKey();
  std::string sealed, opened, back;
  std::vector<std::string> frames(n / piece);
  auto pieces = [&](auto fn) {
    for (size_t off = 0, i = 0; off < n; off += piece, ++i)
      fn(std::string_view(data).substr(off, piece), i);
  };
  double seal = BestMiBPerSecond(n, 3, [&] {
    pieces([&](std::string_view p, size_t) {
      sealed.clear();
      Seal(key, p, &sealed);
    });
  });
  double open = BestMiBPerSecond(n, 3, [&] {
    pieces([&](std::string_view, size_t) { ASSERT_TRUE(Open(key, sealed, &opened).ok()); });
  });
  size_t compressed = 0;
  double compress = BestMiBPerSecond(n, 3, [&] {
    compressed = 0;
    pieces([&](std::string_view p, size_t i) {
      frames[i] = Compress(p);
      compressed += frames[i].size();
    });
  });
  double decompress = BestMiBPerSecond(n, 3, [&] {
    for (const std::string& f : frames) ASSERT_TRUE(Decompress(f, piece, &back).ok());
  });
  double sha = BestMiBPerSecond(
      n, 3, [&] { pieces([&](std::string_view p, size_t) { EXPECT_FALSE(Sha256(p).IsZero()); }); });
  std::printf(
      "[ throughput ] per core: Seal %.0f MiB/s, Open %.0f MiB/s, Compress(3) %.0f MiB/s "
      "(ratio %.2f), Decompress %.0f MiB/s, SHA-256 %.0f MiB/s\n",
      seal, open, compress, double(n) / compressed, decompress, sha);
}

}  // namespace
}  // namespace steward::backup
