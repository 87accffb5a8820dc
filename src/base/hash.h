// Fnv1a64Hex: a stable, dependency-free content hash for identifiers (replace hashes of specs,
// instance ids of state directories). Not for security: use SHA-256 where tampering matters.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace steward {

// FNV-1a 64 of `data`; the same on every run and machine.
inline uint64_t Fnv1a64(std::string_view data) {
  uint64_t hash = 14695981039346656037ull;
  for (unsigned char c : data) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

// The same as 16 lowercase hex digits.
inline std::string Fnv1a64Hex(std::string_view data) {
  uint64_t hash = Fnv1a64(data);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return hex;
}

}  // namespace steward
