// The YAML reader both pipeline parsers share (parse_internal.h): typed readers that report
// and carry on, expression checks placed at the exact byte of the file, and the matrix reader.
#include <fmt/format.h>
#include <yaml-cpp/exceptions.h>

#include <algorithm>
#include <charconv>
#include <cmath>

#include "config/parse_context.h"  // Suggest
#include "config/stack_parser.h"   // ParseDuration
#include "pipeline/expr.h"
#include "pipeline/expr_node.h"  // ParseNumberText
#include "pipeline/parse_internal.h"

namespace steward::pipeline::internal {
namespace {

using nlohmann::json;

bool IsBlockIndicator(char c) { return c == '|' || c == '>'; }

// "column N: rest" -> {N, rest}; {0, message} when the message has no column.
std::pair<size_t, std::string> SplitColumn(const std::string& message) {
  size_t colon = message.find(": ");
  if (!message.starts_with("column ") || colon == std::string::npos) return {0, message};
  size_t column = 0;
  auto [ptr, ec] = std::from_chars(message.data() + 7, message.data() + colon, column);
  if (ec != std::errc() || ptr != message.data() + colon || column == 0) return {0, message};
  return {column, message.substr(colon + 2)};
}

void SortDiagnostics(std::vector<Diagnostic>* ds) {
  auto key = [](const Diagnostic& d) {
    return std::tie(d.location.file, d.location.line, d.location.column, d.message);
  };
  std::stable_sort(ds->begin(), ds->end(),
                   [&](const Diagnostic& a, const Diagnostic& b) { return key(a) < key(b); });
  ds->erase(std::unique(ds->begin(), ds->end(),
                        [&](const Diagnostic& a, const Diagnostic& b) { return key(a) == key(b); }),
            ds->end());
}

}  // namespace

Reader::Reader(const std::string& text, std::string path) : text_(text), path_(std::move(path)) {
  std::string_view rest = text_;
  for (size_t nl; (nl = rest.find('\n')) != std::string_view::npos; rest.remove_prefix(nl + 1)) {
    lines_.push_back(rest.substr(0, nl));
  }
  lines_.push_back(rest);
}

YamlNode Reader::Parse(YamlDoc* doc) {
  try {
    return doc->Parse(text_);
  } catch (const YAML::Exception& e) {
    Error(SourceLocation{path_, e.mark.line < 0 ? 1 : e.mark.line + 1,
                         e.mark.column < 0 ? 1 : e.mark.column + 1},
          "YAML syntax error: " + e.msg);
    return YamlNode();
  }
}

SourceLocation Reader::Loc(YamlNode node) const {
  SourceLocation loc{path_, 1, 1};
  if (node.IsDefined() && node.line() >= 0) {
    loc.line = node.line() + 1;
    loc.column = node.column() + 1;
  }
  return loc;
}

SourceLocation Reader::Loc(const YamlPair& p) const {
  return p.value.IsNull() || p.value.line() < 0 ? Loc(p.key) : Loc(p.value);
}

void Reader::Error(SourceLocation at, std::string message) {
  errors_.push_back(Diagnostic{std::move(at), std::move(message)});
}

void Reader::Note(SourceLocation at, std::string message) {
  notes_.push_back(Diagnostic{std::move(at), std::move(message)});
}

std::string Reader::Describe(YamlNode node) {
  return config::internal::ParseContext::Describe(node);
}

std::vector<YamlPair> Reader::Keys(YamlNode map, std::span<const std::string_view> allowed,
                                   std::string_view where) {
  std::vector<YamlPair> kept;
  std::string in = where.empty() ? "at the top level" : fmt::format("in {}", where);
  for (const YamlPair& p : map.Pairs()) {
    if (!p.key.IsScalar()) {
      Error(Loc(p.key), fmt::format("keys must be plain names, got {} {}", Describe(p.key), in));
      continue;
    }
    std::string_view key = p.key.Scalar();
    auto first = std::find_if(kept.begin(), kept.end(),
                              [&](const YamlPair& k) { return k.key.Scalar() == key; });
    if (first != kept.end()) {
      Error(Loc(p.key), fmt::format("duplicate key '{}' {} (first at line {}); remove one of them",
                                    key, in, first->key.line() + 1));
      continue;
    }
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::string hint = config::internal::Suggest(key, allowed);
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      Error(Loc(p.key), fmt::format("unknown key '{}' {}; {}", key, in,
                                    hint.empty() ? fmt::format("allowed keys are: {}", list)
                                                 : fmt::format("did you mean '{}'?", hint)));
      continue;
    }
    kept.push_back(p);
  }
  return kept;
}

bool Reader::ExpectMap(const YamlPair& p, std::string_view where) {
  if (p.value.IsMap() || p.value.IsNull()) return true;
  Error(Loc(p), fmt::format("{}{}'{}' must be a map, got {}", where, where.empty() ? "" : ": ",
                            p.key.Scalar(), Describe(p.value)));
  return false;
}

std::optional<std::string> Reader::String(const YamlPair& p, std::string_view where) {
  if (p.value.IsNull()) return std::string();
  if (!p.value.IsScalar()) {
    Error(Loc(p), fmt::format("{}{}'{}' must be a string, got {}", where, where.empty() ? "" : ": ",
                              p.key.Scalar(), Describe(p.value)));
    return std::nullopt;
  }
  return std::string(p.value.Scalar());
}

std::optional<bool> Reader::Bool(const YamlPair& p, std::string_view where) {
  std::string_view s = p.value.IsScalar() ? p.value.Scalar() : std::string_view();
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  Error(Loc(p), fmt::format("{}{}'{}' must be true or false, got {}", where,
                            where.empty() ? "" : ": ", p.key.Scalar(), Describe(p.value)));
  return std::nullopt;
}

std::optional<int64_t> Reader::Int(const YamlPair& p, std::string_view where, int64_t min,
                                   int64_t max) {
  std::string_view s = p.value.IsScalar() ? p.value.Scalar() : std::string_view();
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || v < min || v > max) {
    Error(Loc(p),
          fmt::format("{}{}'{}' must be a whole number from {} to {}, got {}", where,
                      where.empty() ? "" : ": ", p.key.Scalar(), min, max, Describe(p.value)));
    return std::nullopt;
  }
  return v;
}

std::optional<std::vector<std::string>> Reader::StringList(const YamlPair& p,
                                                           std::string_view where, bool single) {
  std::vector<std::string> out;
  if (p.value.IsNull()) return out;
  if (single && p.value.IsScalar()) return std::vector<std::string>{std::string(p.value.Scalar())};
  std::string sep = where.empty() ? "" : ": ";
  if (!p.value.IsSequence()) {
    Error(Loc(p), fmt::format("{}{}'{}' must be a list of strings{}, got {}", where, sep,
                              p.key.Scalar(), single ? " (or one string)" : "", Describe(p.value)));
    return std::nullopt;
  }
  bool ok = true;
  for (YamlNode item : p.value.Items()) {
    if (!item.IsScalar()) {
      Error(Loc(item), fmt::format("{}{}each item of '{}' must be a string, got {}", where, sep,
                                   p.key.Scalar(), Describe(item)));
      ok = false;
      continue;
    }
    out.emplace_back(item.Scalar());
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> Reader::StringMap(const YamlPair& p,
                                                                    std::string_view where) {
  std::map<std::string, std::string> out;
  if (!ExpectMap(p, where)) return std::nullopt;
  std::string owner = fmt::format("{}{}'{}'", where, where.empty() ? "" : ", ", p.key.Scalar());
  for (const YamlPair& kv : Keys(p.value, {}, owner)) {
    if (kv.value.IsNull()) {
      out[std::string(kv.key.Scalar())] = "";
    } else if (!kv.value.IsScalar()) {
      Error(Loc(kv), fmt::format("{}: '{}' must be a string, number or boolean, got {}", owner,
                                 kv.key.Scalar(), Describe(kv.value)));
    } else {
      CheckInterpolationAt(kv.value, owner, kv.key.Scalar());
      out[std::string(kv.key.Scalar())] = std::string(kv.value.Scalar());
    }
  }
  return out;
}

std::optional<Duration> Reader::Dur(const YamlPair& p, std::string_view where) {
  std::string s(p.value.IsScalar() ? p.value.Scalar() : "");
  std::optional<Duration> d = config::ParseDuration(s);
  if (!d || d->count() <= 0) {
    Error(Loc(p), fmt::format("{}{}'{}' must be a duration above zero such as 500ms, 30s, 10m or "
                              "1h, got {}",
                              where, where.empty() ? "" : ": ", p.key.Scalar(), Describe(p.value)));
    return std::nullopt;
  }
  return d;
}

json Reader::ToJson(YamlNode node) const {
  if (node.IsMap()) {
    json out = json::object();
    for (const YamlPair& p : node.Pairs()) out[std::string(p.key.Scalar())] = ToJson(p.value);
    return out;
  }
  if (node.IsSequence()) {
    json out = json::array();
    for (YamlNode item : node.Items()) out.push_back(ToJson(item));
    return out;
  }
  if (!node.IsScalar()) return nullptr;
  std::string s(node.Scalar());
  if (node.line() >= 0 && static_cast<size_t>(node.line()) < lines_.size()) {
    std::string_view line = lines_[node.line()];
    size_t col = static_cast<size_t>(node.column());
    if (col < line.size() &&
        (line[col] == '\'' || line[col] == '"' || IsBlockIndicator(line[col]))) {
      return s;  // quoted or block: a string whatever it looks like
    }
  }
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  // YAML 1.2's core schema: decimal and hex integers, decimal floats.
  std::string_view digits = std::string_view(s).substr(s[0] == '-' || s[0] == '+' ? 1 : 0);
  if (!digits.empty() &&
      std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) return s[0] == '-' ? -v : v;
  }
  if (!digits.empty() && digits.find_first_of("IN") == std::string_view::npos) {
    if (std::optional<double> v = ParseNumberText(s)) {
      if (*v == std::trunc(*v) && std::fabs(*v) < 9.0e15 && digits.starts_with("0x")) {
        return static_cast<int64_t>(*v);
      }
      return *v;
    }
  }
  return s;
}

std::optional<SourceLocation> Reader::PlaceInScalar(YamlNode scalar, size_t offset) const {
  if (!scalar.IsScalar() || scalar.line() < 0) return std::nullopt;
  std::string_view value = scalar.Scalar();
  size_t line = static_cast<size_t>(scalar.line()), col = static_cast<size_t>(scalar.column());
  if (line >= lines_.size() || col >= lines_[line].size() || offset > value.size()) {
    return std::nullopt;
  }
  std::string_view src = lines_[line];
  char first = src[col];
  if (first == '>') return std::nullopt;  // folded lines do not map back one to one
  if (first == '|') {
    size_t nl_count = static_cast<size_t>(std::count(value.begin(), value.begin() + offset, '\n'));
    size_t line_start = value.rfind('\n', offset == 0 ? 0 : offset - 1);
    line_start = (line_start == std::string_view::npos || offset == 0) ? 0 : line_start + 1;
    // Every content line is indented as much as the first non-blank one.
    size_t indent = std::string_view::npos;
    for (size_t l = line + 1; l < lines_.size() && indent == std::string_view::npos; ++l) {
      size_t nb = lines_[l].find_first_not_of(' ');
      if (nb != std::string_view::npos) indent = nb;
    }
    size_t target = line + 1 + nl_count;
    if (indent == std::string_view::npos || target >= lines_.size()) return std::nullopt;
    std::string_view want = value.substr(line_start, offset - line_start);
    if (lines_[target].substr(std::min(indent, lines_[target].size()), want.size()) != want) {
      return std::nullopt;
    }
    return SourceLocation{path_, static_cast<int>(target) + 1,
                          static_cast<int>(indent + offset - line_start) + 1};
  }
  if (value.find('\n') != std::string_view::npos) return std::nullopt;
  size_t start = (first == '\'' || first == '"') ? col + 1 : col;
  // Only when the text up to the offset is as written (no escapes before it).
  if (src.substr(start, offset) != value.substr(0, offset)) return std::nullopt;
  return SourceLocation{path_, static_cast<int>(line) + 1, static_cast<int>(start + offset) + 1};
}

void Reader::ReportExpression(YamlNode value, const Status& st, std::string_view where,
                              std::string_view key) {
  auto [column, what] = SplitColumn(st.message());
  std::string subject = fmt::format("{}{}'{}'", where, where.empty() ? "" : ": ", key);
  if (column > 0) {
    if (std::optional<SourceLocation> at = PlaceInScalar(value, column - 1)) {
      Error(*at, fmt::format("{}: {}", subject, what));
      return;
    }
  }
  Error(Loc(value), fmt::format("{}: {}", subject, st.message()));
}

void Reader::CheckInterpolationAt(YamlNode value, std::string_view where, std::string_view key) {
  if (!value.IsScalar()) return;
  Status st = CheckInterpolation(value.Scalar());
  if (!st.ok()) ReportExpression(value, st, where, key);
}

void Reader::CheckConditionAt(YamlNode value, std::string_view where, std::string_view key) {
  if (!value.IsScalar()) return;
  Status st = CheckCondition(value.Scalar());
  if (!st.ok()) ReportExpression(value, st, where, key);
}

ParseResult Reader::Finish(std::vector<Pipeline> pipelines) {
  ParseResult out;
  MoveInto(&out);
  if (out.errors.empty()) out.pipelines = std::move(pipelines);
  return out;
}

void Reader::MoveInto(ParseResult* out) {
  SortDiagnostics(&errors_);
  SortDiagnostics(&notes_);
  out->errors.insert(out->errors.end(), errors_.begin(), errors_.end());
  out->notes.insert(out->notes.end(), notes_.begin(), notes_.end());
  errors_.clear();
  notes_.clear();
}

namespace {

std::string UsesNote(std::string_view job, size_t index, std::string_view uses) {
  std::string_view action = uses.substr(0, uses.find('@'));
  std::string why;
  if (action == "actions/checkout") {
    why = "the working copy is already checked out";
  } else if (action.starts_with("actions/setup-")) {
    why = "the tools installed on this machine are used instead";
  } else if (action == "actions/cache") {
    why = "use the job's cache: instead";
  } else if (action == "actions/upload-artifact" || action == "actions/download-artifact") {
    why = "use the job's artifacts: instead";
  } else {
    why = "actions do not run here; write what it does as a run: step";
  }
  return fmt::format("job '{}' step {}: uses: {} is skipped ({})", job, index + 1, uses, why);
}

}  // namespace

void ReadUses(Reader& r, const YamlPair& f, std::string_view job, size_t index,
              std::string_view where, std::string* uses) {
  std::optional<std::string> v = r.String(f, where);
  if (!v) return;
  *uses = std::move(*v);  // kept even when refused, so the step is not also "without run or uses"
  if (uses->find("${{") != std::string::npos) {
    r.Error(r.Loc(f), fmt::format("{}: uses: cannot contain an expression (${{{{ }}}}); name the "
                                  "action and its version literally, e.g. actions/setup-python@v5",
                                  where));
    return;
  }
  r.Note(r.Loc(f), UsesNote(job, index, *uses));
}

std::string JobWhere(std::string_view prefix, std::string_view job) {
  return fmt::format("{}job '{}'", prefix, job);
}

void ReadMatrix(Reader& r, const YamlPair& p, std::string_view where, Matrix* m) {
  if (p.value.IsScalar() && p.value.Scalar().find("${{") != std::string_view::npos) {
    r.Error(r.Loc(p), fmt::format("{}: a matrix computed by ${{{{ }}}} is not supported; write "
                                  "the axes as lists",
                                  where));
    return;
  }
  if (!r.ExpectMap(p, where)) return;
  std::string owner = fmt::format("{}, matrix", where);
  auto read_entries = [&](const YamlPair& kv, std::vector<json>* out) {
    if (!kv.value.IsSequence()) {
      r.Error(r.Loc(kv), fmt::format("{}: '{}' must be a list of maps, got {}{}", owner,
                                     kv.key.Scalar(), Reader::Describe(kv.value),
                                     kv.value.IsScalar() &&
                                             kv.value.Scalar().find("${{") != std::string_view::npos
                                         ? " (${{ }} is not supported here)"
                                         : ""));
      return;
    }
    for (YamlNode item : kv.value.Items()) {
      if (!item.IsMap() || item.Pairs().empty()) {
        r.Error(r.Loc(item), fmt::format("{}: each item of '{}' must be a map of values, e.g. "
                                         "{{os: linux}}, got {}",
                                         owner, kv.key.Scalar(), Reader::Describe(item)));
        continue;
      }
      for (const YamlPair& v : r.Keys(item, {}, owner)) {
        if (v.value.IsScalar() && v.value.Scalar().find("${{") != std::string_view::npos) {
          r.Error(r.Loc(v), fmt::format("{}: ${{{{ }}}} in matrix values is not supported; "
                                        "write the value itself",
                                        owner));
        }
      }
      out->push_back(r.ToJson(item));
    }
  };
  std::vector<YamlPair> excludes;
  for (const YamlPair& kv : r.Keys(p.value, {}, owner)) {
    std::string_view key = kv.key.Scalar();
    if (key == "include") {
      read_entries(kv, &m->include);
    } else if (key == "exclude") {
      excludes.push_back(kv);
      read_entries(kv, &m->exclude);
    } else if (!kv.value.IsSequence() || kv.value.Items().empty()) {
      bool expr = kv.value.IsScalar() && kv.value.Scalar().find("${{") != std::string_view::npos;
      r.Error(r.Loc(kv), fmt::format("{}: axis '{}' must be a non-empty list of values, got {}{}",
                                     owner, key, Reader::Describe(kv.value),
                                     expr ? " (${{ }} is not supported here)" : ""));
    } else {
      std::vector<json> values;
      for (YamlNode item : kv.value.Items()) {
        if (item.IsScalar() && item.Scalar().find("${{") != std::string_view::npos) {
          r.Error(r.Loc(item), fmt::format("{}: ${{{{ }}}} in matrix values is not supported; "
                                           "write the value itself",
                                           owner));
        }
        values.push_back(r.ToJson(item));
      }
      m->axes.emplace_back(std::string(key), std::move(values));
    }
  }
  // GitHub rejects an exclude naming a key the matrix does not have: it would never match.
  for (const YamlPair& kv : excludes) {
    if (!kv.value.IsSequence()) continue;
    for (YamlNode item : kv.value.Items()) {
      for (const YamlPair& v : item.Pairs()) {
        std::string_view k = v.key.Scalar();
        bool axis = std::any_of(m->axes.begin(), m->axes.end(),
                                [&](const auto& a) { return a.first == k; });
        bool included = std::any_of(m->include.begin(), m->include.end(),
                                    [&](const json& inc) { return inc.contains(std::string(k)); });
        if (!axis && !included) {
          r.Error(r.Loc(v.key), fmt::format("{}: exclude names '{}', which is not a key of the "
                                            "matrix",
                                            owner, k));
        }
      }
    }
  }
}

std::string DefaultRunName(std::string_view run) {
  std::string_view first = run.substr(0, run.find('\n'));
  bool cut = first.size() > 60;
  if (cut) first = first.substr(0, 57);
  // Drop an expression left open by the cut (or by a script whose expression spans lines).
  size_t open = first.rfind("${{");
  if (open != std::string_view::npos && first.find("}}", open) == std::string_view::npos) {
    first = first.substr(0, open);
    cut = true;
  }
  return cut ? fmt::format("Run {}...", first) : fmt::format("Run {}", first);
}

}  // namespace steward::pipeline::internal
