// Ids and blob types shared by every part of the backup repository.
//
// An Id is the SHA-256 of some bytes: of a blob's plaintext (content ids, so equal content is
// stored once), or of a repository file's stored bytes (file names, so a flipped byte in a
// file is found by hashing it). Printed as 64 lowercase hex digits.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace steward::backup {

struct Id {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const;
  // The first 8 hex digits, as snapshot lists show them.
  std::string Short() const { return Hex().substr(0, 8); }
  bool IsZero() const;
  // Parses 64 hex digits; nullopt for anything else.
  static std::optional<Id> FromHex(std::string_view hex);

  friend bool operator==(const Id& a, const Id& b) { return a.bytes == b.bytes; }
  friend bool operator!=(const Id& a, const Id& b) { return a.bytes != b.bytes; }
  friend bool operator<(const Id& a, const Id& b) { return a.bytes < b.bytes; }
};

struct IdHash {
  size_t operator()(const Id& id) const {
    size_t h;
    static_assert(sizeof h <= sizeof id.bytes);
    __builtin_memcpy(&h, id.bytes.data(), sizeof h);
    return h;
  }
};

// What a blob holds: file content (a chunk) or a directory listing (a tree, JSON).
enum class BlobType : uint8_t { kData = 0, kTree = 1 };

}  // namespace steward::backup
