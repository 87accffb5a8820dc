// FastCDC content-defined chunking with normalized chunking (Xia et al., 2016/2020).
//
// Cut points depend only on content (a gear rolling hash over the bytes), so inserting bytes
// into a file changes only the chunks around the insertion and the rest deduplicate. The gear
// table is derived from a per-repository seed, so chunk boundaries do not reveal content to
// someone who knows only the stored sizes. Normalized chunking: before the average size a
// stricter mask (more bits) applies, after it a looser one, so sizes cluster around the
// average. Stateless after construction and thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace steward::backup {

struct ChunkerParams {
  uint32_t min_size = 256u << 10;  // no cut before this many bytes
  uint32_t avg_size = 1u << 20;    // a power of two; the target mean
  uint32_t max_size = 4u << 20;    // always cut here
  uint64_t seed = 0;               // from the repository config; selects the gear table
  int normalization = 2;           // mask bits added before / removed after avg_size

  // kInvalidArgument unless 64 <= min < avg < max <= 64 MiB and avg is a power of two.
  Status Validate() const;
};

class Chunker {
 public:
  explicit Chunker(const ChunkerParams& params);

  // Length of the chunk that starts at data[0]. `n` bytes are available; when fewer than
  // max_size are, `eof` says whether more will come. Returns 0 when no cut point is found
  // in n bytes and !eof and n < max_size (the caller reads more and asks again with the same
  // start); otherwise a length in [1, n] (min_size..max_size except for the last chunk).
  size_t NextCut(const uint8_t* data, size_t n, bool eof) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  uint64_t mask_small_;  // applied before avg_size (more bits: cuts are rarer)
  uint64_t mask_large_;  // applied after avg_size (fewer bits: cuts are likelier)
  std::array<uint64_t, 256> gear_;
};

}  // namespace steward::backup
