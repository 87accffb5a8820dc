#include "backup/types.h"

#include "base/sha256.h"

namespace steward::backup {

std::string Id::Hex() const { return HexEncode(bytes.data(), bytes.size()); }

bool Id::IsZero() const {
  for (uint8_t b : bytes)
    if (b != 0) return false;
  return true;
}

std::optional<Id> Id::FromHex(std::string_view hex) {
  if (hex.size() != 64) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Id id;
  for (size_t i = 0; i < 32; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.bytes[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return id;
}

}  // namespace steward::backup
