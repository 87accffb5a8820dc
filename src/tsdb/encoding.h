// Byte-level helpers shared by every tsdb file format: varints (LEB128, zig-zag for signed),
// fixed-width integers, CRC32C, and Decoder, a bounds-checked reader that latches the first
// error instead of reading past the end. docs/formats/tsdb.md names these encodings.
// Thread safety: free functions are pure; a Decoder belongs to one thread.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace steward::tsdb {

// CRC32C (Castagnoli), as used by ext4, iSCSI and Prometheus' TSDB. Hardware-accelerated on
// x86-64 with SSE 4.2; `crc` continues a previous value (start with 0).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
inline uint32_t Crc32c(std::string_view s, uint32_t crc = 0) {
  return Crc32c(s.data(), s.size(), crc);
}

inline uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
inline int64_t UnZigZag(uint64_t u) {
  return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
}

inline void PutUvarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
inline void PutVarint(std::string* out, int64_t v) { PutUvarint(out, ZigZag(v)); }
inline void PutFixed32(std::string* out, uint32_t v) {  // little-endian
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutFixed64(std::string* out, uint64_t v) {  // little-endian
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}
inline void PutString(std::string* out, std::string_view s) {  // uvarint length, bytes
  PutUvarint(out, s.size());
  out->append(s);
}
inline uint32_t LoadFixed32(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return uint32_t{b[0]} | uint32_t{b[1]} << 8 | uint32_t{b[2]} << 16 | uint32_t{b[3]} << 24;
}
inline uint64_t LoadFixed64(const void* p) {
  return LoadFixed32(p) | uint64_t{LoadFixed32(static_cast<const uint8_t*>(p) + 4)} << 32;
}
inline void StoreFixed32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// Reads encoded values from [data, data+size). After the first short read or malformed varint
// every getter returns 0 and ok() is false, so callers check once at the end.
class Decoder {
 public:
  Decoder(const void* data, size_t size) : p_(static_cast<const uint8_t*>(data)), end_(p_ + size) {}
  explicit Decoder(std::string_view s) : Decoder(s.data(), s.size()) {}

  bool ok() const { return ok_; }
  bool done() const { return p_ == end_; }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  const uint8_t* position() const { return p_; }

  uint64_t Uvarint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) return Fail();
      uint8_t b = *p_++;
      v |= uint64_t{b & 0x7fu} << shift;
      if (b < 0x80) return v;
    }
    return Fail();
  }
  int64_t Varint() { return UnZigZag(Uvarint()); }
  uint8_t Byte() {
    if (p_ == end_) return static_cast<uint8_t>(Fail());
    return *p_++;
  }
  uint32_t Fixed32() {
    if (remaining() < 4) return static_cast<uint32_t>(Fail());
    uint32_t v = LoadFixed32(p_);
    p_ += 4;
    return v;
  }
  uint64_t Fixed64() {
    if (remaining() < 8) return Fail();
    uint64_t v = LoadFixed64(p_);
    p_ += 8;
    return v;
  }
  std::string_view Bytes(size_t n) {
    if (remaining() < n) {
      Fail();
      return {};
    }
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string_view String() { return Bytes(Uvarint()); }
  // Marks the input malformed (e.g. a value out of its allowed range).
  uint64_t Fail() {
    ok_ = false;
    p_ = end_;
    return 0;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  bool ok_ = true;
};

}  // namespace steward::tsdb
