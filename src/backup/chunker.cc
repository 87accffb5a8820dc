#include "backup/chunker.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "backup/crypto.h"

namespace steward::backup {
namespace {

// Everything in this namespace is part of the repository format: chunk boundaries must be
// the same in every Steward version, or unchanged files stop deduplicating against old
// snapshots. Never change the gear derivation, the mask layout or the cut rule below; a new
// scheme needs a new repository version.

// Gear table: entry 4*b+j (b = 0..63, j = 0..3) is the j-th little-endian 64-bit word of
//   SHA-256("steward-fastcdc-gear-v1" || le64(seed) || le32(b)).
// SHA-256 rather than a plain PRNG such as splitmix64 because the seed is the repository's
// secret that keeps boundaries from revealing content: with an invertible PRNG one table
// entry would give the seed away, with SHA-256 it gives nothing.
constexpr char kGearDomain[] = "steward-fastcdc-gear-v1";

void PutLe(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

std::array<uint64_t, 256> GearTable(uint64_t seed) {
  std::array<uint64_t, 256> gear;
  std::string input(kGearDomain);
  PutLe(seed, 8, &input);
  size_t prefix = input.size();
  for (uint32_t block = 0; block < 64; ++block) {
    input.resize(prefix);
    PutLe(block, 4, &input);
    Id h = Sha256(input);
    for (int j = 0; j < 4; ++j) {
      uint64_t w = 0;
      for (int k = 7; k >= 0; --k) w = w << 8 | h.bytes[8 * j + k];
      gear[4 * block + j] = w;
    }
  }
  return gear;
}

// A mask of `ones` one-bits spread evenly over the top 48 bits of the hash, highest bit
// first: bit i of the gear hash depends on the last i+1 bytes, so high bits carry the most
// history, and spreading (as FastCDC does) rather than packing them keeps the cut decision
// dependent on the whole 64-byte window. Bit positions: 63 - floor(i*48/ones), i < ones.
uint64_t SpreadMask(int ones) {
  ones = std::clamp(ones, 1, 48);
  uint64_t mask = 0;
  for (int i = 0; i < ones; ++i) mask |= uint64_t{1} << (63 - i * 48 / ones);
  return mask;
}

int Log2Floor(uint32_t v) { return v == 0 ? 0 : 31 - __builtin_clz(v); }

// Rolls the gear hash *h over data[i, end) and returns the length of the chunk that ends at
// the first position where (hash & mask) == 0, or 0 if there is none. Two bytes per step:
// h2 = 4h + (2*g[a] + g[b]) puts one shift-add per two bytes on the loop-carried dependency
// instead of two (h1 is computed off that chain just for its check). The values are exactly
// those of the byte-at-a-time rule h = 2h + g[byte], so cut points do not depend on this
// optimisation; it measured ~1.5x faster than the simple loop here.
inline size_t Scan(const uint64_t* gear, const uint8_t* data, size_t i, size_t end, uint64_t mask,
                   uint64_t* hash) {
  uint64_t h = *hash;
  for (; i + 2 <= end; i += 2) {
    uint64_t ga = gear[data[i]], gb = gear[data[i + 1]];
    uint64_t pair = (ga << 1) + gb;
    // Keeps the compiler from re-associating h2 back into 2*h1 + gb, the slow serial form.
    asm("" : "+r"(pair));
    uint64_t h1 = (h << 1) + ga;
    uint64_t h2 = (h << 2) + pair;
    if ((h1 & mask) == 0) return i + 1;
    if ((h2 & mask) == 0) return i + 2;
    h = h2;
  }
  for (; i < end; ++i) {
    h = (h << 1) + gear[data[i]];
    if ((h & mask) == 0) return i + 1;
  }
  *hash = h;
  return 0;
}

constexpr uint32_t kMinMinSize = 64;
constexpr uint32_t kMaxMaxSize = 64u << 20;
constexpr int kMaxNormalization = 4;

}  // namespace

Status ChunkerParams::Validate() const {
  if (min_size < kMinMinSize) {
    return InvalidArgument(fmt::format("chunker min_size {} is too small; must be at least {}",
                                       min_size, kMinMinSize));
  }
  if (avg_size <= min_size) {
    return InvalidArgument(
        fmt::format("chunker avg_size {} must be greater than min_size {}", avg_size, min_size));
  }
  if ((avg_size & (avg_size - 1)) != 0) {
    return InvalidArgument(fmt::format("chunker avg_size {} is not a power of two (e.g. {})",
                                       avg_size, uint32_t{1} << Log2Floor(avg_size)));
  }
  if (max_size <= avg_size) {
    return InvalidArgument(
        fmt::format("chunker max_size {} must be greater than avg_size {}", max_size, avg_size));
  }
  if (max_size > kMaxMaxSize) {
    return InvalidArgument(
        fmt::format("chunker max_size {} is too large; must be at most {}", max_size, kMaxMaxSize));
  }
  // The masks have log2(avg) +/- normalization bits; beyond 4 levels sizes pile up at
  // min_size and max_size and deduplication suffers (FastCDC evaluates 1..3).
  if (normalization < 0 || normalization > kMaxNormalization) {
    return InvalidArgument(
        fmt::format("chunker normalization {} is out of range; must be in [0, {}]", normalization,
                    kMaxNormalization));
  }
  return Status::OK();
}

Chunker::Chunker(const ChunkerParams& params) : params_(params), gear_(GearTable(params.seed)) {
  int bits = Log2Floor(params.avg_size);
  mask_small_ = SpreadMask(bits + params.normalization);
  mask_large_ = SpreadMask(bits - params.normalization);
}

size_t Chunker::NextCut(const uint8_t* data, size_t n, bool eof) const {
  // A cut is the first position at or after min_size whose hash (over the bytes since
  // min_size, effectively the last 64) has all mask bits clear; the chunk ends with the byte
  // that completed that hash. The search never looks past min(n, max_size), so a cut found
  // in a partial buffer is the cut the whole buffer would give: the streaming contract.
  const size_t limit = std::min<size_t>(n, params_.max_size);
  if (limit <= params_.min_size) {
    if (n >= params_.max_size) return limit;  // only when max_size <= min_size (invalid)
    return eof ? n : 0;
  }
  const uint64_t* gear = gear_.data();
  const size_t normal = std::min<size_t>(params_.avg_size, limit);
  uint64_t h = 0;
  if (size_t cut = Scan(gear, data, params_.min_size, normal, mask_small_, &h)) return cut;
  if (size_t cut = Scan(gear, data, normal, limit, mask_large_, &h)) return cut;
  if (limit == params_.max_size) return limit;
  return eof ? n : 0;
}

}  // namespace steward::backup
