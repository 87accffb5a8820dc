// ${VAR} interpolation of stack-file scalars.
//
// Grammar: "${NAME}" is replaced by the value of NAME; "${NAME:-default}" by the value, or by
// `default` when NAME is unset or empty (as in sh); "$$" is a literal "$"; any other "$" stays
// as written. NAME is [A-Za-z_][A-Za-z0-9_]*; the default is literal text up to the first '}'.
// Interpolation runs on the raw scalar before it is converted to a number or duration, so
// "replicas: ${N:-2}" works. Values are not re-interpolated.
// Thread safety: stateless; safe to call concurrently if `lookup` is.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"

namespace steward::config {

using LookupFn = std::function<std::optional<std::string>(const std::string&)>;

// InvalidArgument when a variable without default is unset (the message names it), when a
// "${" is not closed, or when a name is malformed.
StatusOr<std::string> Interpolate(std::string_view text, const LookupFn& lookup);

}  // namespace steward::config
