// TOML lockfiles: poetry.lock and Cargo.lock. Both list packages as [[package]] tables, and
// only a few string keys of each matter, so this reads just enough TOML to find them: tables,
// keys, and values skipped whole (multi-line strings and arrays included). Unlike a full TOML
// library it recovers: a line it cannot read is a problem, and the next line is read again.
#include <cctype>
#include <optional>
#include <vector>

#include "scan/lockfiles_formats.h"

namespace steward::scan::lockfiles {
namespace {

struct TomlItem {
  bool header = false;  // a [table] or [[array-table]] line
  bool array_table = false;
  std::string table;  // header: its name; key: the table it is in
  std::string key;
  std::optional<std::string> value;  // string values only
  int line = 0;
};

class TomlScanner {
 public:
  TomlScanner(const std::string& path, std::string_view text, LockfileParse* out)
      : path_(path), t_(text), out_(out) {}

  std::vector<TomlItem> Scan() {
    while (SkipBlank()) {
      size_t line_start = pos_;
      int line = line_;
      if (!Statement()) {
        // Recover on the next line of the statement's first line.
        pos_ = line_start;
        line_ = line;
        SkipToLineEnd();
      }
    }
    return std::move(items_);
  }

 private:
  char Peek(size_t k = 0) const { return pos_ + k < t_.size() ? t_[pos_ + k] : '\0'; }
  bool AtEnd() const { return pos_ >= t_.size(); }

  void SkipToLineEnd() {
    while (!AtEnd() && t_[pos_] != '\n') ++pos_;
  }
  void SkipSpaces() {
    while (!AtEnd() && (t_[pos_] == ' ' || t_[pos_] == '\t')) ++pos_;
  }
  // Skips spaces, newlines and comments; false at the end of the text.
  bool SkipBlank() {
    for (;;) {
      SkipSpaces();
      if (AtEnd()) return false;
      char c = t_[pos_];
      if (c == '#') {
        SkipToLineEnd();
      } else if (c == '\n') {
        ++pos_;
        ++line_;
      } else if (c == '\r') {
        ++pos_;
      } else {
        return true;
      }
    }
  }
  bool Fail(int line, std::string message) {
    AddProblem(out_, path_, line, std::move(message));
    return false;
  }
  // After a statement only a comment may follow on its line.
  bool EndOfLine(int line) {
    SkipSpaces();
    if (Peek() == '\r') ++pos_;
    if (AtEnd() || Peek() == '\n' || Peek() == '#') return true;
    return Fail(line, "unexpected text after the value; expected the end of the line");
  }

  bool Statement() {
    int line = line_;
    if (Peek() == '[') {
      bool array = Peek(1) == '[';
      pos_ += array ? 2 : 1;
      size_t start = pos_;
      while (!AtEnd() && t_[pos_] != ']' && t_[pos_] != '\n') ++pos_;
      if (Peek() != ']' || (array && Peek(1) != ']'))
        return Fail(line, array ? "unclosed table header; expected ']]'"
                                : "unclosed table header; expected ']'");
      std::string name(Trim(t_.substr(start, pos_ - start)));
      pos_ += array ? 2 : 1;
      table_ = name;
      items_.push_back(TomlItem{true, array, name, "", std::nullopt, line});
      return EndOfLine(line);
    }
    std::string key;
    if (!Key(&key)) return Fail(line, "expected a key such as name = \"value\"");
    SkipSpaces();
    if (Peek() != '=') return Fail(line, "expected '=' after the key \"" + key + "\"");
    ++pos_;
    SkipSpaces();
    std::optional<std::string> value;
    if (!Value(&value, 0)) return false;
    items_.push_back(TomlItem{false, false, table_, key, std::move(value), line});
    return EndOfLine(line);
  }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  // Bare, quoted and dotted keys; the text of the key as written, quotes removed.
  bool Key(std::string* key) {
    for (;;) {
      char c = Peek();
      if (c == '"' || c == '\'') {
        std::optional<std::string> part;
        if (!String(&part)) return false;
        *key += *part;
      } else {
        size_t start = pos_;
        while (!AtEnd() && (std::isalnum(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '_' ||
                            t_[pos_] == '-'))
          ++pos_;
        if (pos_ == start) return false;
        *key += t_.substr(start, pos_ - start);
      }
      SkipSpaces();
      if (Peek() != '.') return true;
      ++pos_;
      *key += '.';
      SkipSpaces();
    }
  }

  // A string at pos_: basic, literal, or their multi-line forms.
  bool String(std::optional<std::string>* value) {
    int line = line_;
    char q = Peek();
    bool multi = Peek(1) == q && Peek(2) == q;
    pos_ += multi ? 3 : 1;
    std::string s;
    while (!AtEnd()) {
      char c = t_[pos_];
      if (c == q && (!multi || (Peek(1) == q && Peek(2) == q))) {
        pos_ += multi ? 3 : 1;
        *value = std::move(s);
        return true;
      }
      if (c == '\n') {
        if (!multi) break;
        ++line_;
      }
      if (c == '\\' && q == '"' && pos_ + 1 < t_.size()) {
        char e = t_[pos_ + 1];
        pos_ += 2;
        switch (e) {
          case 'n':
            s += '\n';
            break;
          case 't':
            s += '\t';
            break;
          case '\n':
            ++line_;
            break;  // a line-ending backslash joins lines
          default:
            s += e;
            break;  // \" \\ and, unconverted, \u escapes
        }
        continue;
      }
      s += c;
      ++pos_;
    }
    return Fail(line, "unterminated string; expected a closing " + std::string(multi ? 3 : 1, q));
  }

  // Any value; *value is set for strings. Arrays and inline tables are skipped whole.
  bool Value(std::optional<std::string>* value, int depth) {
    int line = line_;
    if (depth > 64) return Fail(line, "arrays or tables nested deeper than 64 levels");
    char c = Peek();
    if (c == '"' || c == '\'') return String(value);
    if (c == '[' || c == '{') {
      char close = c == '[' ? ']' : '}';
      ++pos_;
      for (;;) {
        if (!SkipBlank())
          return Fail(line, std::string("unclosed '") + c + "'; expected '" + close + "'");
        if (Peek() == close) {
          ++pos_;
          return true;
        }
        if (Peek() == ',') {
          ++pos_;
          continue;
        }
        if (c == '{') {  // key = value
          std::string key;
          if (!Key(&key)) return Fail(line_, "expected a key in the inline table");
          SkipSpaces();
          if (Peek() != '=') return Fail(line_, "expected '=' in the inline table");
          ++pos_;
          SkipSpaces();
        }
        std::optional<std::string> ignored;
        if (!Value(&ignored, depth + 1)) return false;
      }
    }
    // Numbers, booleans, dates: up to a delimiter.
    size_t start = pos_;
    while (!AtEnd() && t_[pos_] != '\n' && t_[pos_] != '#' && t_[pos_] != ',' && t_[pos_] != ']' &&
           t_[pos_] != '}' && t_[pos_] != '\r')
      ++pos_;
    if (Trim(t_.substr(start, pos_ - start)).empty()) return Fail(line, "expected a value");
    return true;
  }

  const std::string& path_;
  std::string_view t_;
  LockfileParse* out_;
  size_t pos_ = 0;
  int line_ = 1;
  std::string table_;
  std::vector<TomlItem> items_;
};

struct TomlPackage {
  bool open = false;
  int line = 0;
  int name_line = 0;
  std::string name, version, source, source_type;
};

// Calls add(package) for each complete [[package]] table; reports incomplete ones.
template <typename Add>
void ForEachTomlPackage(const std::string& path, std::string_view text, LockfileParse* out,
                        Add add) {
  std::vector<TomlItem> items = TomlScanner(path, text, out).Scan();
  TomlPackage p;
  auto flush = [&] {
    if (!p.open) return;
    if (p.name.empty() || p.version.empty()) {
      AddProblem(out, path, p.line, "[[package]] without a name and a version string");
    } else {
      add(p);
    }
    p = TomlPackage();
  };
  for (TomlItem& item : items) {
    if (item.header) {
      if (item.table == "package" || !item.table.starts_with("package.")) flush();
      if (item.array_table && item.table == "package") {
        p.open = true;
        p.line = item.line;
      }
      continue;
    }
    if (!p.open || !item.value) continue;
    if (item.table == "package") {
      if (item.key == "name") {
        p.name = *item.value;
        p.name_line = item.line;
      } else if (item.key == "version") {
        p.version = *item.value;
      } else if (item.key == "source") {
        p.source = *item.value;
      }
    } else if (item.table == "package.source" && item.key == "type") {
      p.source_type = *item.value;
    }
  }
  flush();
}

}  // namespace

void ParsePoetryLock(const std::string& path, std::string_view text, LockfileParse* out) {
  ForEachTomlPackage(path, text, out, [&](const TomlPackage& p) {
    // git, directory, file and url sources are not releases on an index.
    if (!p.source_type.empty() && p.source_type != "legacy") return;
    AddPackage(out, "PyPI", p.name, p.version, path, p.name_line);
  });
}

void ParseCargoLock(const std::string& path, std::string_view text, LockfileParse* out) {
  ForEachTomlPackage(path, text, out, [&](const TomlPackage& p) {
    // No source: a crate of this workspace; git+ or another registry: not crates.io.
    if (p.source != "registry+https://github.com/rust-lang/crates.io-index" &&
        p.source != "sparse+https://index.crates.io/")
      return;
    AddPackage(out, "crates.io", p.name, p.version, path, p.name_line);
  });
}

}  // namespace steward::scan::lockfiles
