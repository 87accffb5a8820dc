#include "config/yaml_tree.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <cstring>
#include <istream>
#include <new>
#include <streambuf>

namespace steward::config::internal {
namespace {

// A 10,000-service stack has ~500,000 nodes; keep each record small.
static_assert(sizeof(YamlRecord) <= 24);

// Small allocations share blocks of this size; larger ones get a block of their own.
constexpr size_t kBlockSize = 64 * 1024;

// Reads a string in place: YAML::Parser wants an istream, and a stringstream would copy the
// whole file once more.
class ViewBuf : public std::streambuf {
 public:
  explicit ViewBuf(const std::string& text) {
    char* begin = const_cast<char*>(text.data());  // only read: putback of the same char
    setg(begin, begin, begin + text.size());
  }
};

}  // namespace

YamlKind YamlNode::Kind() const { return rec_ == nullptr ? YamlKind::kUndefined : rec_->kind; }

std::string_view YamlNode::Scalar() const {
  if (!IsScalar()) return {};
  return {static_cast<const char*>(rec_->data), rec_->size};
}

int YamlNode::line() const { return rec_ == nullptr ? -1 : rec_->line; }
int YamlNode::column() const { return rec_ == nullptr ? -1 : rec_->column; }

std::span<const YamlNode> YamlNode::Items() const {
  if (!IsSequence()) return {};
  return {static_cast<const YamlNode*>(rec_->data), rec_->size};
}

std::span<const YamlPair> YamlNode::Pairs() const {
  if (!IsMap()) return {};
  return {static_cast<const YamlPair*>(rec_->data), rec_->size};
}

// Turns parser events into records. Children of open collections wait on one shared stack
// and move into the arena, contiguous, when their collection ends.
class YamlDoc::Builder : public YAML::EventHandler {
 public:
  explicit Builder(YamlDoc& doc) : doc_(doc) {}

  YamlNode root() const { return root_; }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    Add(Register(anchor, doc_.NewRecord(YamlKind::kNull, mark.line, mark.column)));
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= anchors_.size() || anchors_[anchor] == nullptr) {
      throw YAML::ParserException(mark, YAML::ErrorMsg::UNKNOWN_ANCHOR);
    }
    Add(anchors_[anchor]);
  }

  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlRecord* rec = doc_.NewRecord(YamlKind::kScalar, mark.line, mark.column);
    std::string_view text = doc_.CopyText(value);
    rec->data = text.data();
    rec->size = static_cast<uint32_t>(text.size());
    Add(Register(anchor, rec));
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Open(Register(anchor, doc_.NewRecord(YamlKind::kSequence, mark.line, mark.column)));
  }

  void OnSequenceEnd() override {
    auto [rec, start] = open_.back();
    open_.pop_back();
    std::span<const YamlNode> items(pending_.data() + start, pending_.size() - start);
    rec->data = doc_.CopyArray(items);
    rec->size = static_cast<uint32_t>(items.size());
    pending_.resize(start);
    Add(rec);
  }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Open(Register(anchor, doc_.NewRecord(YamlKind::kMap, mark.line, mark.column)));
  }

  void OnMapEnd() override {
    auto [rec, start] = open_.back();
    open_.pop_back();
    size_t count = (pending_.size() - start) / 2;  // the parser sends keys and values in turn
    auto* pairs = static_cast<YamlPair*>(doc_.Allocate(count * sizeof(YamlPair)));
    for (size_t i = 0; i < count; ++i) {
      new (&pairs[i]) YamlPair{pending_[start + 2 * i], pending_[start + 2 * i + 1]};
    }
    rec->data = pairs;
    rec->size = static_cast<uint32_t>(count);
    pending_.resize(start);
    Add(rec);
  }

 private:
  struct OpenCollection {
    YamlRecord* rec;
    size_t start;  // its first child in pending_
  };

  // Anchors are numbered 1, 2, ... in the order the parser meets them.
  YamlRecord* Register(YAML::anchor_t anchor, YamlRecord* rec) {
    if (anchor == YAML::NullAnchor) return rec;
    if (anchors_.size() <= anchor) anchors_.resize(anchor + 1, nullptr);
    anchors_[anchor] = rec;
    return rec;
  }

  void Open(YamlRecord* rec) { open_.push_back({rec, pending_.size()}); }

  void Add(const YamlRecord* rec) {
    if (open_.empty()) {
      if (root_.rec_ == nullptr) root_ = YamlNode(rec);
      return;
    }
    pending_.push_back(YamlNode(rec));
  }

  YamlDoc& doc_;
  YamlNode root_;
  std::vector<OpenCollection> open_;
  std::vector<YamlNode> pending_;
  std::vector<const YamlRecord*> anchors_;
};

YamlDoc::YamlDoc() = default;
YamlDoc::~YamlDoc() = default;

YamlNode YamlDoc::Parse(const std::string& text) {
  ViewBuf buf(text);
  std::istream in(&buf);
  YAML::Parser parser(in);
  Builder builder(*this);
  // Like YAML::Load: the first document only; none at all reads as null.
  if (!parser.HandleNextDocument(builder) || !builder.root().IsDefined()) {
    return YamlNode(NewRecord(YamlKind::kNull, -1, -1));
  }
  return builder.root();
}

YamlNode YamlDoc::NewMap(std::span<const YamlPair> pairs) {
  YamlRecord* rec = NewRecord(YamlKind::kMap, -1, -1);
  rec->data = CopyArray(pairs);
  rec->size = static_cast<uint32_t>(pairs.size());
  return YamlNode(rec);
}

YamlRecord* YamlDoc::NewRecord(YamlKind kind, int line, int column) {
  YamlRecord& rec = records_.emplace_back();
  rec.kind = kind;
  rec.line = line;
  rec.column = column;
  return &rec;
}

void* YamlDoc::Allocate(size_t bytes) {
  constexpr size_t kAlign = alignof(YamlPair);
  if (bytes == 0) return nullptr;
  if (bytes > kBlockSize / 4) {
    blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(bytes));
    return blocks_.back().get();
  }
  size_t pad = (kAlign - reinterpret_cast<uintptr_t>(free_) % kAlign) % kAlign;
  if (free_ == nullptr || pad + bytes > free_size_) {
    blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(kBlockSize));
    free_ = blocks_.back().get();
    free_size_ = kBlockSize;
    pad = 0;
  }
  std::byte* out = free_ + pad;
  free_ += pad + bytes;
  free_size_ -= pad + bytes;
  return out;
}

std::string_view YamlDoc::CopyText(std::string_view text) {
  if (text.empty()) return {};
  // Text needs no alignment: take it from the end of the block, arrays from the front.
  if (text.size() <= free_size_) {
    free_size_ -= text.size();
    char* out = reinterpret_cast<char*>(free_ + free_size_);
    std::memcpy(out, text.data(), text.size());
    return {out, text.size()};
  }
  char* out = static_cast<char*>(Allocate(text.size()));
  std::memcpy(out, text.data(), text.size());
  return {out, text.size()};
}

template <typename T>
const T* YamlDoc::CopyArray(std::span<const T> items) {
  auto* out = static_cast<T*>(Allocate(items.size_bytes()));
  std::uninitialized_copy(items.begin(), items.end(), out);
  return out;
}

}  // namespace steward::config::internal
