// label_replace and label_join: rewrite one label of every sample, keeping the value and
// __name__. label_replace's regex is compiled as Go's regexp that Prometheus uses (anchored at
// both ends, see tsdb/go_regexp.h), and the replacement is expanded like Go's
// Regexp.ExpandString.
#include <re2/re2.h>

#include <map>
#include <memory>
#include <string>

#include "promql/functions_internal.h"
#include "tsdb/go_regexp.h"

namespace steward::promql::internal {
namespace {

// The length of the UTF-8 sequence a lead byte starts (1 for a stray byte, as Go's decoder
// consumes one byte of invalid input).
size_t RuneLength(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF4) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC2) return 2;
  return 1;
}

// How many bytes at the start of s form one character of a group name: Go accepts letters,
// digits and '_' (unicode.IsLetter/IsDigit, so "é" counts), 0 when s starts with anything else.
size_t NameCharLength(std::string_view s) {
  unsigned char c = static_cast<unsigned char>(s[0]);
  if (c < 0x80) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_';
    return ok ? 1 : 0;
  }
  static const RE2* const kLetterOrDigit = new RE2(R"([\p{L}\p{Nd}])");
  size_t n = RuneLength(c);
  if (n == 1 || n > s.size()) return 0;
  return RE2::FullMatch(s.substr(0, n), *kLetterOrDigit) ? n : 0;
}

// Go's regexp extract(): parses "name" or "{name}" after a '$'. Returns false when malformed.
// num is the group number, or -1 when the name is not a plain number (leading zeros included).
bool ExtractName(std::string_view s, std::string_view& name, int& num, size_t& consumed) {
  if (s.empty()) return false;
  bool brace = s[0] == '{';
  size_t start = brace ? 1 : 0;
  size_t i = start;
  while (i < s.size()) {
    size_t n = NameCharLength(s.substr(i));
    if (n == 0) break;
    i += n;
  }
  if (i == start) return false;
  name = s.substr(start, i - start);
  if (brace) {
    if (i >= s.size() || s[i] != '}') return false;
    ++i;
  }
  num = 0;
  for (char c : name) {
    if (c < '0' || c > '9' || num >= 100000000) {
      num = -1;
      break;
    }
    num = num * 10 + (c - '0');
  }
  if (name[0] == '0' && name.size() > 1) num = -1;
  consumed = i;
  return true;
}

// Regexp.ExpandString: $n, ${n}, $name, ${name} become the submatch (empty when it did not
// take part or does not exist); $$ is a '$'; a malformed '$' stays as it is.
std::string Expand(const RE2& re, std::string_view tmpl,
                   const std::vector<re2::StringPiece>& groups) {
  std::string out;
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out.append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out.push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view name;
    int num = -1;
    size_t consumed = 0;
    if (!ExtractName(tmpl, name, num, consumed)) {
      out.push_back('$');
      continue;
    }
    tmpl.remove_prefix(consumed);
    if (num < 0) {
      auto it = re.NamedCapturingGroups().find(std::string(name));
      if (it == re.NamedCapturingGroups().end()) continue;
      num = it->second;
    }
    if (static_cast<size_t>(num) < groups.size() && groups[num].data() != nullptr) {
      out.append(groups[num].data(), groups[num].size());
    }
  }
  out.append(tmpl);
  return out;
}

// The anchored regex (null when Go would not compile it), compiled once per thread for as long
// as the same pattern comes back: a range query calls label_replace at every step with the
// same arguments.
const RE2* AnchoredRegex(const std::string& regex) {
  thread_local std::string pattern;
  thread_local std::unique_ptr<RE2> re;
  thread_local bool compiled = false;
  if (!compiled || pattern != regex) {
    StatusOr<std::unique_ptr<RE2>> made = tsdb::CompileGoRegexp(regex);
    re = made.ok() ? std::move(made).value() : nullptr;
    pattern = regex;
    compiled = true;
  }
  return re.get();
}

StatusOr<Vector> LabelReplace(const FunctionContext& ctx, const std::vector<Value>& args) {
  const std::string& dst = StringArg(args, 1);
  const std::string& repl = StringArg(args, 2);
  const std::string& src = StringArg(args, 3);
  const std::string& regex = StringArg(args, 4);
  const RE2* compiled = AnchoredRegex(regex);
  if (compiled == nullptr) {
    return ExecutionError("invalid regular expression in label_replace(): " + regex);
  }
  const RE2& re = *compiled;
  if (!tsdb::IsValidLabelName(dst)) {
    return ExecutionError("invalid destination label name in label_replace(): " + dst);
  }
  std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    std::string_view value = s.metric.Get(src);
    if (!re.Match(value, 0, value.size(), RE2::UNANCHORED, groups.data(),
                  static_cast<int>(groups.size()))) {
      out.push_back({s.metric, ctx.t, s.v});  // no match: unchanged
      continue;
    }
    // With() drops the label when the expansion is empty, as Prometheus does.
    out.push_back({s.metric.With(dst, Expand(re, repl, groups)), ctx.t, s.v});
  }
  return out;
}

StatusOr<Vector> LabelJoin(const FunctionContext& ctx, const std::vector<Value>& args) {
  const std::string& dst = StringArg(args, 1);
  const std::string& sep = StringArg(args, 2);
  std::vector<std::string> srcs;
  for (size_t i = 3; i < args.size(); ++i) {
    const std::string& src = StringArg(args, i);
    if (!tsdb::IsValidLabelName(src)) {
      return ExecutionError("invalid source label name in label_join(): " + src);
    }
    srcs.push_back(src);
  }
  if (!tsdb::IsValidLabelName(dst)) {
    return ExecutionError("invalid destination label name in label_join(): " + dst);
  }
  Vector out;
  for (const Sample& s : VectorArg(args, 0)) {
    std::string joined;
    for (size_t i = 0; i < srcs.size(); ++i) {
      if (i > 0) joined += sep;
      joined += s.metric.Get(srcs[i]);
    }
    out.push_back({s.metric.With(dst, joined), ctx.t, s.v});
  }
  return out;
}

}  // namespace

void AddLabelFunctions(FunctionRegistry& r) {
  r["label_replace"] = Entry(LabelReplace, "vSSSS");
  r["label_join"] = Entry(LabelJoin, "vSS", "S", true);
}

}  // namespace steward::promql::internal
