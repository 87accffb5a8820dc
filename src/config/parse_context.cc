#include "config/parse_context.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>

#include "config/secret_refs.h"

namespace steward::config::internal {
namespace {

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("replcias").
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

bool ParseInt64(const std::string& text, int64_t* out) {
  if (text.empty() || text.size() > 19) return false;
  size_t i = (text[0] == '-' || text[0] == '+') ? 1 : 0;
  if (i == text.size()) return false;
  for (size_t j = i; j < text.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(text[j]))) return false;
  }
  *out = std::strtoll(text.c_str(), nullptr, 10);
  return true;
}

// Finds an earlier entry by key: a scan while the map is small, a hash index once it is large
// (the services map of a big stack), so Entries stays linear.
class EntryIndex {
 public:
  const Entry* Find(const std::vector<Entry>& entries, std::string_view key) const {
    if (entries.size() <= kScanLimit) {
      for (const Entry& e : entries) {
        if (e.key == key) return &e;
      }
      return nullptr;
    }
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &entries[it->second];
  }

  // Call after each push_back. Keys view into the entries, whose strings never move once
  // reserved (the vector holds every pair's room).
  void Add(const std::vector<Entry>& entries) {
    if (entries.size() <= kScanLimit) return;
    if (index_.empty()) {
      for (size_t i = 0; i < entries.size(); ++i) index_.emplace(entries[i].key, i);
    } else {
      index_.emplace(entries.back().key, entries.size() - 1);
    }
  }

 private:
  static constexpr size_t kScanLimit = 16;
  std::unordered_map<std::string_view, size_t> index_;
};

}  // namespace

std::string Suggest(std::string_view word, std::span<const std::string_view> candidates) {
  // Short words are close to everything: "db" is two edits from "web".
  size_t max_distance = std::max<size_t>(1, std::min<size_t>(2, word.size() / 3));
  std::string best;
  size_t best_distance = max_distance + 1;
  for (std::string_view c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = std::string(c);
    }
  }
  if (!best.empty() || word.size() < 3) return best;
  for (std::string_view c : candidates) {
    if (c.starts_with(word) || word.starts_with(c)) return std::string(c);
  }
  return "";
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name[0] == '-') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

std::string NameRule(std::string_view example) {
  return fmt::format(
      "use lowercase letters, digits and '-', starting with a letter or digit, "
      "e.g. {}",
      example);
}

ParseContext::ParseContext(std::string file, LookupFn lookup)
    : file_(std::move(file)), lookup_(std::move(lookup)) {}

SourceLocation ParseContext::Loc(YamlNode node) const {
  SourceLocation loc{file_, 0, 0};
  if (!node.IsDefined()) return loc;
  if (node.line() >= 0) {
    loc.line = node.line() + 1;
    loc.column = node.column() + 1;
  }
  return loc;
}

SourceLocation ParseContext::Loc(const Entry& e) const {
  return e.value.IsNull() ? Loc(e.key_node) : Loc(e.value);
}

void ParseContext::Error(SourceLocation loc, std::string message) {
  diagnostics_.push_back(Diagnostic{std::move(loc), std::move(message)});
}

std::vector<Diagnostic> ParseContext::TakeDiagnostics() {
  auto key = [](const Diagnostic& d) {
    return std::tie(d.location.line, d.location.column, d.message);
  };
  std::stable_sort(diagnostics_.begin(), diagnostics_.end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
  diagnostics_.erase(
      std::unique(diagnostics_.begin(), diagnostics_.end(),
                  [&](const Diagnostic& a, const Diagnostic& b) { return key(a) == key(b); }),
      diagnostics_.end());
  return std::move(diagnostics_);
}

std::vector<Entry> ParseContext::Entries(YamlNode map, std::span<const std::string_view> allowed,
                                         std::string_view where, std::string_view prefix) {
  std::vector<Entry> entries;
  entries.reserve(map.Pairs().size());
  EntryIndex index;
  for (const YamlPair& kv : map.Pairs()) {
    YamlNode k = kv.key;
    if (!k.IsScalar()) {
      Error(Loc(k), fmt::format("keys must be plain names, got {} {}", Describe(k), where));
      continue;
    }
    std::string_view name = k.Scalar();
    if (const Entry* first = index.Find(entries, name)) {
      SourceLocation at = Loc(first->key_node);
      Error(Loc(k), fmt::format("duplicate key '{}' {} (first at line {}); remove one of them",
                                name, where, at.line));
      continue;
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string hint = Suggest(name, allowed);
      Error(Loc(k), fmt::format("unknown key '{}' {}{}", name, where,
                                hint.empty() ? "" : fmt::format("; did you mean '{}'?", hint)));
      continue;
    }
    std::string path;
    path.reserve(prefix.size() + name.size());
    path.append(prefix).append(name);
    entries.push_back(Entry{std::string(name), std::move(path), k, kv.value});
    index.Add(entries);
  }
  return entries;
}

std::string ParseContext::Describe(YamlNode node) {
  switch (node.Kind()) {
    case YamlKind::kMap:
      return "a map";
    case YamlKind::kSequence:
      return "a list";
    case YamlKind::kScalar:
      return fmt::format("'{}'", node.Scalar());
    default:
      return "nothing";
  }
}

std::string ParseContext::Subject(std::string_view ctx, std::string_view path) {
  if (ctx.empty()) return fmt::format("'{}'", path);
  return fmt::format("{}: '{}'", ctx, path);
}

bool ParseContext::ExpectMap(const Entry& e, std::string_view ctx) {
  if (e.value.IsMap()) return true;
  Error(Loc(e), fmt::format("{} must be a map, got {}", Subject(ctx, e.path), Describe(e.value)));
  return false;
}

std::optional<std::string> ParseContext::Scalar(YamlNode node, const SourceLocation& loc,
                                                std::string_view ctx, std::string_view path,
                                                std::string_view expected,
                                                bool secrets_allowed) {
  if (!node.IsScalar()) {
    Error(loc, fmt::format("{} must be {}, got {}", Subject(ctx, path), expected, Describe(node)));
    return std::nullopt;
  }
  StatusOr<std::vector<InterpolatedPart>> parts = InterpolateParts(node.Scalar(), lookup_);
  if (!parts.ok()) {
    Error(loc, fmt::format("{}: {}", Subject(ctx, path), parts.status().message()));
    return std::nullopt;
  }
  if (secrets_allowed) return SecretTemplate(*parts);
  std::string out;
  for (const InterpolatedPart& p : *parts) {
    if (!p.secret) {
      out += p.text;
      continue;
    }
    // Here the value would be shown, recorded or sent where a secret must not go.
    Error(loc, fmt::format("{}: '${{secret:{}}}' is not allowed here; secret references go only "
                           "in a service's env values or its secret_files (write "
                           "'$${{secret:{}}}' for the literal text)",
                           Subject(ctx, path), p.text, p.text));
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> ParseContext::SecretTemplateString(const Entry& e,
                                                              std::string_view ctx) {
  return Scalar(e.value, Loc(e), ctx, e.path, "a string", /*secrets_allowed=*/true);
}

std::optional<std::string> ParseContext::String(const Entry& e, std::string_view ctx) {
  return Scalar(e.value, Loc(e), ctx, e.path, "a string");
}

std::optional<std::string> ParseContext::ItemString(YamlNode item, const Entry& list,
                                                    std::string_view ctx) {
  return Scalar(item, Loc(item), ctx, list.path + " item", "a string");
}

std::optional<std::vector<std::string>> ParseContext::StringList(const Entry& e,
                                                                 std::string_view ctx) {
  if (!e.value.IsSequence()) {
    Error(Loc(e), fmt::format("{} must be a list, e.g. [a, b], got {}", Subject(ctx, e.path),
                              Describe(e.value)));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (YamlNode item : e.value.Items()) {
    std::optional<std::string> s = ItemString(item, e, ctx);
    if (s) out.push_back(std::move(*s));
    ok = ok && s.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<int64_t> ParseContext::Int(const Entry& e, std::string_view ctx, int64_t min,
                                         int64_t max) {
  std::optional<std::string> text = Scalar(e.value, Loc(e), ctx, e.path, "an integer");
  if (!text) return std::nullopt;
  int64_t v = 0;
  if (!ParseInt64(*text, &v)) {
    Error(Loc(e), fmt::format("{} must be an integer, got '{}'", Subject(ctx, e.path), *text));
    return std::nullopt;
  }
  if (v < min || v > max) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? fmt::format("at least {}", min)
                            : fmt::format("between {} and {}", min, max);
    Error(Loc(e), fmt::format("{} must be {}, got {}", Subject(ctx, e.path), range, v));
    return std::nullopt;
  }
  return v;
}

std::optional<double> ParseContext::Number(const Entry& e, std::string_view ctx) {
  auto text = String(e, ctx);
  if (!text) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text->c_str(), &end);
  if (text->empty() || end != text->c_str() + text->size() || !std::isfinite(v)) {
    Error(Loc(e), fmt::format("{} must be a number, got '{}'", Subject(ctx, e.path), *text));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ParseContext::Bool(const Entry& e, std::string_view ctx) {
  std::optional<std::string> text = Scalar(e.value, Loc(e), ctx, e.path, "true or false");
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "True" || *text == "TRUE") return true;
  if (*text == "false" || *text == "False" || *text == "FALSE") return false;
  Error(Loc(e), fmt::format("{} must be true or false, got '{}'", Subject(ctx, e.path), *text));
  return std::nullopt;
}

std::optional<Duration> ParseContext::Dur(const Entry& e, std::string_view ctx) {
  std::optional<std::string> text = Scalar(e.value, Loc(e), ctx, e.path, "a duration");
  if (!text) return std::nullopt;
  if (std::optional<Duration> d = ParseDuration(*text)) return d;
  int64_t bare = 0;
  std::string fix = ParseInt64(*text, &bare) && bare >= 0
                        ? fmt::format("add a unit, e.g. {}s", bare)
                        : "use a number with a unit (ms, s, m, h), e.g. 500ms, 2s, 1m30s or 1h";
  std::string owner = ctx.empty() ? "" : fmt::format("{}: ", ctx);
  Error(Loc(e), fmt::format("{}bad duration '{}' for '{}': {}", owner, *text, e.path, fix));
  return std::nullopt;
}

std::optional<int64_t> ParseContext::Size(const Entry& e, std::string_view ctx) {
  std::optional<std::string> text = Scalar(e.value, Loc(e), ctx, e.path, "a size");
  if (!text) return std::nullopt;
  if (std::optional<int64_t> s = ParseSize(*text)) return s;
  std::string owner = ctx.empty() ? "" : fmt::format("{}: ", ctx);
  Error(Loc(e), fmt::format("{}bad size '{}' for '{}': use bytes or a number with a unit "
                            "(K, M, G, T = 1000^n; Ki, Mi, Gi, Ti = 1024^n), e.g. 256Mi or 1G",
                            owner, *text, e.path));
  return std::nullopt;
}

}  // namespace steward::config::internal
