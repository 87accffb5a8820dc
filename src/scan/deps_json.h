// A small JSON reader for the dependency scanner: package-lock.json, composer.lock and OSV
// advisories. It exists beside nlohmann::json because findings and problems must name the line
// of a lockfile entry (nlohmann 3.11 keeps no positions) and because loading 100,000 advisories
// must stay well under a second: the document is one flat array of nodes pointing into the
// text, with no allocation per value.
//
// Contract: Parse() never throws and never reads past `text`. On a syntax error it returns the
// document read so far — containers left open are closed where the error is and marked
// incomplete — together with the error's line and column, so a caller can keep the entries
// before a damaged spot. Nesting deeper than kMaxDepth is an error, not a stack overflow.
// The document refers into `text`, which must outlive it. Thread safety: immutable after Parse.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace steward::scan {

class JsonDoc {
 public:
  enum class Type : uint8_t { kNull, kBool, kNumber, kString, kArray, kObject };
  static constexpr int kMaxDepth = 256;

  struct Node {
    Type type = Type::kNull;
    bool escaped = false;   // a string holding backslash escapes (decode with String())
    bool complete = true;   // false for a container a syntax error cut short
    int line = 0;           // 1-based line where the value starts
    std::string_view text;  // string: between the quotes, raw; number/bool: the literal
    uint32_t end = 0;       // index one past this node's subtree (pre-order)
  };

  // A lightweight handle to one value; cheap to copy. A default handle is "missing".
  class Value {
   public:
    Value() = default;
    Value(const JsonDoc* doc, uint32_t index) : doc_(doc), index_(index) {}
    bool exists() const { return doc_ != nullptr; }
    Type type() const { return node().type; }
    bool is_object() const { return exists() && type() == Type::kObject; }
    bool is_array() const { return exists() && type() == Type::kArray; }
    bool is_string() const { return exists() && type() == Type::kString; }
    bool is_true() const { return exists() && type() == Type::kBool && node().text == "true"; }
    bool complete() const { return !exists() || node().complete; }
    int line() const { return exists() ? node().line : 0; }
    // The decoded string (escapes resolved, \u to UTF-8); empty for non-strings.
    std::string String() const;
    // Member of an object by key (the first one with that key); missing if none.
    Value Get(std::string_view key) const;
    // Visits members of an object: f(key, value); elements of an array: f("", value).
    template <typename F>
    void ForEach(F&& f) const {
      if (!exists()) return;
      const Node& n = node();
      uint32_t i = index_ + 1;
      if (n.type == Type::kObject) {
        while (i + 1 < n.end) {
          Value key(doc_, i);
          Value val(doc_, i + 1);
          f(key, val);
          i = doc_->nodes_[i + 1].end;
        }
      } else if (n.type == Type::kArray) {
        while (i < n.end) {
          f(Value(), Value(doc_, i));
          i = doc_->nodes_[i].end;
        }
      }
    }

   private:
    const Node& node() const { return doc_->nodes_[index_]; }
    const JsonDoc* doc_ = nullptr;
    uint32_t index_ = 0;
  };

  // Reads `text`. ok() is false after a syntax error; error() then says what and where.
  static JsonDoc Parse(std::string_view text);
  // The same into an existing document, reusing its memory (a loop over many files).
  void Reparse(std::string_view text);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }  // "expected ',' or '}'"
  int error_line() const { return error_line_; }
  int error_column() const { return error_column_; }
  Value root() const { return nodes_.empty() ? Value() : Value(this, 0); }

 private:
  friend class JsonParser;
  std::vector<Node> nodes_;
  std::string error_;
  int error_line_ = 0;
  int error_column_ = 0;
};

// Decodes the raw text of a JSON string (between the quotes) into UTF-8.
std::string DecodeJsonString(std::string_view raw);

}  // namespace steward::scan
