#include "tsdb/go_regexp.h"

#include <string>

namespace steward::tsdb {
namespace {

// Go's parser has no `\C`; RE2's does. Text between \Q and \E (or the end) is literal in both.
bool HasAnyByteEscape(std::string_view p) {
  for (size_t i = 0; i + 1 < p.size(); ++i) {
    if (p[i] != '\\') continue;
    char next = p[i + 1];
    if (next == 'C') return true;
    if (next == 'Q') {
      size_t end = p.find("\\E", i + 2);
      if (end == std::string_view::npos) return false;
      i = end;  // the loop's ++i then skips the E
    }
    ++i;  // skip the escaped character, so `\\C` is a backslash then a C
  }
  return false;
}

}  // namespace

RE2::Options GoRegexpOptions() {
  RE2::Options opts;
  opts.set_log_errors(false);
  opts.set_dot_nl(false);  // Go without (?s); a pattern's own (?s) still turns it on
  return opts;
}

StatusOr<std::unique_ptr<RE2>> CompileGoRegexp(std::string_view pattern) {
  if (HasAnyByteEscape(pattern)) return InvalidArgument("invalid escape sequence: \\C");
  auto re = std::make_unique<RE2>("^(?:" + std::string(pattern) + ")$", GoRegexpOptions());
  if (!re->ok()) return InvalidArgument(re->error());
  return re;
}

}  // namespace steward::tsdb
