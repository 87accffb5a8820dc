// The XOR chunk: up to kMaxChunkSamples samples of one series compressed like Prometheus' XOR
// chunk (Gorilla, VLDB 2015): delta-of-delta timestamps in bit buckets, values XORed with the
// previous value and stored as their meaningful bits. docs/formats/tsdb.md gives the bit layout.
//
// XorChunkBuilder appends to an in-memory chunk (the head's open chunk); its bytes() are at
// every moment a complete, readable chunk. XorIterator decodes a byte range and never reads
// past it: malformed input ends iteration with error() set.
// Thread safety: none; the head serialises access per series.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "tsdb/bit_stream.h"

namespace steward::tsdb {

inline constexpr int kMaxChunkSamples = 120;
inline constexpr uint8_t kEncodingXor = 1;

class XorChunkBuilder {
 public:
  XorChunkBuilder();

  // Appends a sample with t greater than the last one; false (and nothing written) otherwise.
  bool Append(int64_t t, double v);

  int count() const { return count_; }
  bool empty() const { return count_ == 0; }
  int64_t min_time() const { return mint_; }
  int64_t max_time() const { return t_; }
  const std::vector<uint8_t>& bytes() const { return buf_; }
  std::string_view view() const {
    return {reinterpret_cast<const char*>(buf_.data()), buf_.size()};
  }
  // Empties the chunk but keeps the buffer's capacity for the next one.
  void Reset();
  // Heap bytes held (capacity of the buffer).
  size_t HeapBytes() const { return buf_.capacity(); }

 private:
  void AppendValue(uint64_t bits);

  std::vector<uint8_t> buf_;
  int64_t mint_ = 0;
  int64_t t_ = 0;
  int64_t tdelta_ = 0;
  uint64_t v_ = 0;
  uint16_t count_ = 0;
  uint8_t free_bits_ = 0;
  uint8_t leading_ = 0xff;  // 0xff: no XOR window yet
  uint8_t trailing_ = 0;
};

class XorIterator {
 public:
  XorIterator(const void* data, size_t size);
  explicit XorIterator(std::string_view chunk) : XorIterator(chunk.data(), chunk.size()) {}

  // Advances to the next sample; false at the end or on malformed data (see error()).
  bool Next();
  // Advances to the first sample with t >= target (staying put if already there); false if none.
  bool Seek(int64_t target);
  int64_t t() const { return t_; }
  double v() const;
  bool error() const { return error_; }
  int total() const { return total_; }

 private:
  bool ReadValue();
  bool Fail();

  BitReader reader_;
  int total_ = 0;
  int read_ = 0;
  int64_t t_ = 0;
  int64_t tdelta_ = 0;
  uint64_t v_ = 0;
  uint8_t leading_ = 0;
  uint8_t trailing_ = 0;
  bool error_ = false;
};

// Number of samples a chunk says it holds (0 for a chunk shorter than its header).
int ChunkSampleCount(std::string_view chunk);

}  // namespace steward::tsdb
