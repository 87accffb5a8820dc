#include "tsdb/chunk_xor.h"

#include <bit>

#include "tsdb/encoding.h"

namespace steward::tsdb {
namespace {

constexpr size_t kHeaderBytes = 2;  // big-endian sample count

// Is x representable in the n-bit bucket? Buckets are asymmetric, as in Prometheus.
bool FitsBits(int64_t x, int n) {
  return x >= -((int64_t{1} << (n - 1)) - 1) && x <= (int64_t{1} << (n - 1));
}

void WriteUvarintBits(BitWriter& w, uint64_t v) {
  while (v >= 0x80) {
    w.WriteByte(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  w.WriteByte(static_cast<uint8_t>(v));
}

bool ReadUvarintBits(BitReader& r, uint64_t* out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = r.ReadByte();
    if (!r.ok()) return false;
    v |= uint64_t{b & 0x7fu} << shift;
    if (b < 0x80) {
      *out = v;
      return true;
    }
  }
  return false;
}

// The delta-of-delta in the low n bits of v. The writer stores -(2^(n-1) - 1) .. 2^(n-1) in n
// bits (FitsBits, Prometheus' bitRange), so, as Prometheus' decoder does, only values above
// 2^(n-1) are negative: plain sign extension would turn +2^(n-1) into -2^(n-1).
int64_t SignExtend(uint64_t v, int n) {
  if (n < 64 && v > (uint64_t{1} << (n - 1))) v -= uint64_t{1} << n;  // wraps to the negative
  return static_cast<int64_t>(v);
}

}  // namespace

XorChunkBuilder::XorChunkBuilder() { Reset(); }

void XorChunkBuilder::Reset() {
  buf_.assign(kHeaderBytes, 0);
  mint_ = t_ = tdelta_ = 0;
  v_ = 0;
  count_ = 0;
  free_bits_ = 0;
  leading_ = 0xff;
  trailing_ = 0;
}

bool XorChunkBuilder::Append(int64_t t, double v) {
  uint64_t bits = std::bit_cast<uint64_t>(v);
  BitWriter w(&buf_, &free_bits_);
  if (count_ == 0) {
    WriteUvarintBits(w, ZigZag(t));
    w.WriteBits(bits, 64);
    mint_ = t;
  } else if (t <= t_ || count_ == UINT16_MAX) {
    return false;
  } else if (count_ == 1) {
    int64_t delta = static_cast<int64_t>(static_cast<uint64_t>(t) - static_cast<uint64_t>(t_));
    WriteUvarintBits(w, static_cast<uint64_t>(delta));
    AppendValue(bits);
    tdelta_ = delta;
  } else {
    int64_t delta = static_cast<int64_t>(static_cast<uint64_t>(t) - static_cast<uint64_t>(t_));
    int64_t dod =
        static_cast<int64_t>(static_cast<uint64_t>(delta) - static_cast<uint64_t>(tdelta_));
    if (dod == 0) {
      w.WriteBit(false);
    } else if (FitsBits(dod, 14)) {
      w.WriteBits(0b10, 2);
      w.WriteBits(static_cast<uint64_t>(dod), 14);
    } else if (FitsBits(dod, 17)) {
      w.WriteBits(0b110, 3);
      w.WriteBits(static_cast<uint64_t>(dod), 17);
    } else if (FitsBits(dod, 20)) {
      w.WriteBits(0b1110, 4);
      w.WriteBits(static_cast<uint64_t>(dod), 20);
    } else {
      w.WriteBits(0b1111, 4);
      w.WriteBits(static_cast<uint64_t>(dod), 64);
    }
    AppendValue(bits);
    tdelta_ = delta;
  }
  t_ = t;
  v_ = bits;
  ++count_;
  buf_[0] = static_cast<uint8_t>(count_ >> 8);
  buf_[1] = static_cast<uint8_t>(count_);
  return true;
}

void XorChunkBuilder::AppendValue(uint64_t bits) {
  BitWriter w(&buf_, &free_bits_);
  uint64_t x = bits ^ v_;
  if (x == 0) {
    w.WriteBit(false);
    return;
  }
  w.WriteBit(true);
  uint8_t leading = static_cast<uint8_t>(std::countl_zero(x));
  uint8_t trailing = static_cast<uint8_t>(std::countr_zero(x));
  if (leading >= 32) leading = 31;  // the field is 5 bits wide
  if (leading_ != 0xff && leading >= leading_ && trailing >= trailing_) {
    w.WriteBit(false);  // reuse the previous window
    w.WriteBits(x >> trailing_, 64 - leading_ - trailing_);
    return;
  }
  leading_ = leading;
  trailing_ = trailing;
  int sig = 64 - leading - trailing;
  w.WriteBit(true);
  w.WriteBits(leading, 5);
  w.WriteBits(static_cast<uint64_t>(sig & 63), 6);  // 64 is written as 0
  w.WriteBits(x >> trailing, sig);
}

XorIterator::XorIterator(const void* data, size_t size)
    : reader_(static_cast<const uint8_t*>(data) + (size >= kHeaderBytes ? kHeaderBytes : size),
              size >= kHeaderBytes ? size - kHeaderBytes : 0) {
  if (size < kHeaderBytes) {
    error_ = true;
    return;
  }
  const auto* b = static_cast<const uint8_t*>(data);
  total_ = (b[0] << 8) | b[1];
}

bool XorIterator::Fail() {
  error_ = true;
  read_ = total_;
  return false;
}

bool XorIterator::Next() {
  if (error_ || read_ >= total_) return false;
  uint64_t u = 0;
  if (read_ == 0) {
    if (!ReadUvarintBits(reader_, &u)) return Fail();
    t_ = UnZigZag(u);
    v_ = reader_.ReadBits(64);
    if (!reader_.ok()) return Fail();
    ++read_;
    return true;
  }
  if (read_ == 1) {
    if (!ReadUvarintBits(reader_, &u)) return Fail();
    tdelta_ = static_cast<int64_t>(u);
  } else {
    int prefix = 0;
    while (prefix < 4 && reader_.ReadBit()) ++prefix;
    static constexpr int kBits[] = {0, 14, 17, 20, 64};
    int64_t dod = prefix == 0 ? 0 : SignExtend(reader_.ReadBits(kBits[prefix]), kBits[prefix]);
    tdelta_ = static_cast<int64_t>(static_cast<uint64_t>(tdelta_) + static_cast<uint64_t>(dod));
  }
  t_ = static_cast<int64_t>(static_cast<uint64_t>(t_) + static_cast<uint64_t>(tdelta_));
  if (!ReadValue() || !reader_.ok()) return Fail();
  ++read_;
  return true;
}

bool XorIterator::ReadValue() {
  if (!reader_.ReadBit()) return true;  // same value
  if (reader_.ReadBit()) {
    leading_ = static_cast<uint8_t>(reader_.ReadBits(5));
    int sig = static_cast<int>(reader_.ReadBits(6));
    if (sig == 0) sig = 64;
    if (leading_ + sig > 64) return false;
    trailing_ = static_cast<uint8_t>(64 - leading_ - sig);
  }
  int sig = 64 - leading_ - trailing_;
  uint64_t x = reader_.ReadBits(sig);
  v_ ^= x << trailing_;
  return true;
}

bool XorIterator::Seek(int64_t target) {
  if (error_) return false;
  if (read_ > 0 && t_ >= target) return true;
  while (Next()) {
    if (t_ >= target) return true;
  }
  return false;
}

double XorIterator::v() const { return std::bit_cast<double>(v_); }

int ChunkSampleCount(std::string_view chunk) {
  if (chunk.size() < kHeaderBytes) return 0;
  return (static_cast<uint8_t>(chunk[0]) << 8) | static_cast<uint8_t>(chunk[1]);
}

}  // namespace steward::tsdb
