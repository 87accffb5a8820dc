// ${VAR} interpolation of stack-file scalars.
//
// Grammar: "${NAME}" is replaced by the value of NAME; "${NAME:-default}" by the value, or by
// `default` when NAME is unset or empty (as in sh); "$$" is a literal "$"; any other "$" stays
// as written. NAME is [A-Za-z_][A-Za-z0-9_]*; the default is literal text up to the first '}'.
// Interpolation runs on the raw scalar before it is converted to a number or duration, so
// "replicas: ${N:-2}" works. Values are not re-interpolated.
// "${secret:NAME}" is not a variable but a reference to a secret (NAME is
// [A-Za-z_][A-Za-z0-9_.-]*): Interpolate leaves it as written, InterpolateParts returns it as a
// part of its own; where a reference is allowed, and what it becomes, is the parser's business
// (config/secret_refs.h). "$${secret:x}" is literal text, by the "$$" rule.
// Thread safety: stateless; safe to call concurrently if `lookup` is.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace steward::config {

using LookupFn = std::function<std::optional<std::string>(const std::string&)>;

// InvalidArgument when a variable without default is unset (the message names it), when a
// "${" is not closed, or when a name is malformed.
StatusOr<std::string> Interpolate(std::string_view text, const LookupFn& lookup);

// One piece of an interpolated scalar: literal text, or a ${secret:NAME} reference (`text` is
// then NAME).
struct InterpolatedPart {
  bool secret = false;
  std::string text;
  bool operator==(const InterpolatedPart&) const = default;
};

// The same grammar, keeping references apart from text: adjacent literal text is one part.
// Interpolate() is these parts joined, each reference written back as ${secret:NAME}.
StatusOr<std::vector<InterpolatedPart>> InterpolateParts(std::string_view text,
                                                         const LookupFn& lookup);

}  // namespace steward::config
