// Compiling a user's regex as Prometheus 2.42 does: Go's regexp.Compile on "^(?:<re>)$".
//
// RE2 and Go's regexp/syntax share a dialect, but not every default: in Go "." does not match
// "\n" unless the pattern turns on (?s), and Go rejects `\C` (RE2's "any byte"). Every place
// that compiles a regex from a query (label matchers, label_replace) goes through here, so the
// same pattern matches the same strings and fails with the same reason everywhere.
// Stateless; safe from any thread.
#pragma once

#include <re2/re2.h>

#include <memory>
#include <string_view>

#include "base/status.h"

namespace steward::tsdb {

// RE2 options matching Go's regexp.Compile: Perl classes and flags, "." not matching "\n".
RE2::Options GoRegexpOptions();

// The RE2 for "^(?:pattern)$", or InvalidArgument with the reason in Go's words where RE2
// would accept what Go rejects (`invalid escape sequence: \C`), else RE2's reason.
StatusOr<std::unique_ptr<RE2>> CompileGoRegexp(std::string_view pattern);

}  // namespace steward::tsdb
