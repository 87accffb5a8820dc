// Internal to the config room: a compact, read-only YAML tree built from yaml-cpp's event
// parser. It replaces YAML::Load, whose node graph takes ~60 bytes of memory per byte of file
// and most of the parse time on large stacks; this tree takes about 5 (24 bytes a node).
//
// YamlDoc owns every node and string; YamlNode is a pointer-sized handle into it, valid while
// the doc lives. The tree mirrors what YAML::Load gives for the first document of the text:
// node kinds, 0-based marks, map pairs in file order (duplicates kept), aliases resolved to the
// anchored node itself (so identity is shared, as with YAML::Node). A default YamlNode is
// undefined, like a missing key in yaml-cpp.
// Thread safety: a doc is built by one thread; afterwards concurrent reads are safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace steward::config::internal {

enum class YamlKind : uint8_t { kUndefined, kNull, kScalar, kSequence, kMap };

struct YamlPair;
struct YamlRecord;

class YamlNode {
 public:
  YamlNode() = default;

  YamlKind Kind() const;
  bool IsDefined() const { return Kind() != YamlKind::kUndefined; }
  bool IsNull() const { return Kind() == YamlKind::kNull; }
  bool IsScalar() const { return Kind() == YamlKind::kScalar; }
  bool IsSequence() const { return Kind() == YamlKind::kSequence; }
  bool IsMap() const { return Kind() == YamlKind::kMap; }

  // The text of a scalar; empty for other kinds.
  std::string_view Scalar() const;
  // 0-based like YAML::Mark; -1 when the node has no place in the file (undefined, or a map
  // made by YamlDoc::NewMap).
  int line() const;
  int column() const;

  // Items of a sequence, pairs of a map in file order; empty for other kinds.
  std::span<const YamlNode> Items() const;
  std::span<const YamlPair> Pairs() const;

  // Same node, not equal content: an alias is the node it refers to.
  bool Is(YamlNode other) const { return rec_ == other.rec_; }

 private:
  friend class YamlDoc;
  explicit YamlNode(const YamlRecord* rec) : rec_(rec) {}
  const YamlRecord* rec_ = nullptr;
};

struct YamlPair {
  YamlNode key;
  YamlNode value;
};

// One node. `size` counts scalar bytes, sequence items or map pairs; `data` points at the
// scalar's text, a YamlNode array or a YamlPair array in the doc's arena.
struct YamlRecord {
  YamlKind kind = YamlKind::kUndefined;
  int32_t line = -1;
  int32_t column = -1;
  uint32_t size = 0;
  const void* data = nullptr;
};

class YamlDoc {
 public:
  YamlDoc();
  ~YamlDoc();
  YamlDoc(const YamlDoc&) = delete;
  YamlDoc& operator=(const YamlDoc&) = delete;

  // Parses the first document of `text` and returns its root: a null node (line -1) when the
  // text holds no document. Throws YAML::ParserException on syntax errors, as YAML::Load does.
  // Nodes of earlier Parse calls stay valid.
  YamlNode Parse(const std::string& text);

  // A new map node (line -1) holding `pairs`, for merging maps; the nodes are shared, not copied.
  YamlNode NewMap(std::span<const YamlPair> pairs);

 private:
  class Builder;

  YamlRecord* NewRecord(YamlKind kind, int line, int column);
  // Uninitialised, aligned for any of char, YamlNode and YamlPair, valid while the doc lives.
  void* Allocate(size_t bytes);
  std::string_view CopyText(std::string_view text);
  template <typename T>
  const T* CopyArray(std::span<const T> items);

  std::deque<YamlRecord> records_;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;
  std::byte* free_ = nullptr;  // unused rest of the last block
  size_t free_size_ = 0;
};

}  // namespace steward::config::internal
