// Bit-granular writing and reading, most significant bit first, as the XOR chunk encoding needs.
// BitWriter appends to a caller-owned byte vector and remembers how many bits of the last byte
// are still free; BitReader reads a byte range and latches an error when it runs out.
// Thread safety: none; each belongs to one thread (the head locks the series around writes).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace steward::tsdb {

class BitWriter {
 public:
  // `free_bits` is the number of unused low bits in buf->back() (0 when full or empty); the
  // caller keeps it between calls so that a writer can be re-created over the same buffer.
  BitWriter(std::vector<uint8_t>* buf, uint8_t* free_bits) : buf_(buf), free_(free_bits) {}

  void WriteBit(bool bit) {
    if (*free_ == 0) {
      buf_->push_back(0);
      *free_ = 8;
    }
    --*free_;
    if (bit) buf_->back() |= static_cast<uint8_t>(1u << *free_);
  }

  // Writes the low `n` bits of v (n <= 64), most significant first.
  void WriteBits(uint64_t v, int n) {
    while (n > 0) {
      if (*free_ == 0) {
        buf_->push_back(0);
        *free_ = 8;
      }
      int take = n < *free_ ? n : *free_;
      uint64_t bits = (v >> (n - take)) & ((uint64_t{1} << take) - 1);
      *free_ = static_cast<uint8_t>(*free_ - take);
      buf_->back() |= static_cast<uint8_t>(bits << *free_);
      n -= take;
    }
  }

  void WriteByte(uint8_t b) { WriteBits(b, 8); }

 private:
  std::vector<uint8_t>* buf_;
  uint8_t* free_;
};

class BitReader {
 public:
  BitReader(const uint8_t* data, size_t size) : data_(data), size_bits_(size * 8) {}

  bool ok() const { return ok_; }

  bool ReadBit() {
    if (pos_ >= size_bits_) return Fail();
    bool bit = (data_[pos_ >> 3] >> (7 - (pos_ & 7))) & 1;
    ++pos_;
    return bit;
  }

  // Reads n bits (n <= 64) as an unsigned number.
  uint64_t ReadBits(int n) {
    if (pos_ + static_cast<size_t>(n) > size_bits_) return Fail();
    if (n == 0) return 0;
    const size_t byte = pos_ >> 3;
    if (byte + 9 <= size_bits_ / 8) return ReadBitsFast(byte, n);
    uint64_t v = 0;
    while (n > 0) {
      int in_byte = 8 - static_cast<int>(pos_ & 7);
      int take = n < in_byte ? n : in_byte;
      uint64_t byte = data_[pos_ >> 3];
      v = (v << take) | ((byte >> (in_byte - take)) & ((1u << take) - 1));
      pos_ += static_cast<size_t>(take);
      n -= take;
    }
    return v;
  }

  uint8_t ReadByte() { return static_cast<uint8_t>(ReadBits(8)); }

 private:
  // Queries decode millions of values: one big-endian 64-bit load (and one more byte when the
  // bits straddle it) instead of a loop per byte. Needs 9 readable bytes from `byte`.
  uint64_t ReadBitsFast(size_t byte, int n) {
    const int off = static_cast<int>(pos_ & 7);
    uint64_t w;
    std::memcpy(&w, data_ + byte, sizeof w);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    w <<= off;  // the next 64 - off bits, at the top
    uint64_t v = w >> (64 - n);
    if (off + n > 64) v |= data_[byte + 8] >> (72 - off - n);
    pos_ += static_cast<size_t>(n);
    return v;
  }

  uint64_t Fail() {
    ok_ = false;
    return 0;
  }

  const uint8_t* data_;
  size_t size_bits_;
  size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace steward::tsdb
