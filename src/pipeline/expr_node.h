// Internal to the pipeline room: the syntax tree of a parsed expression (pipeline/expr.h),
// shared by the parser (expr.cc) and the evaluator (expr_eval.cc).
// Thread safety: immutable after parsing.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/expr.h"

namespace steward::pipeline {

enum class ExprOp {
  kLiteral,   // value
  kContext,   // name: a top-level named value (github, env, matrix, ...), lowercase
  kIndex,     // args[0][args[1]]; `a.b` is an index with a literal string key
  kWildcard,  // args[0].* or args[0][*]
  kNot,
  kAnd,
  kOr,
  kEqual,
  kNotEqual,
  kLess,
  kLessEqual,
  kGreater,
  kGreaterEqual,
  kCall,  // name (lowercase) applied to args
};

struct ExprNode {
  ExprOp op = ExprOp::kLiteral;
  nlohmann::json value;  // kLiteral
  std::string name;      // kContext, kCall
  int column = 0;        // 1-based, where the node starts in the expression text
  int depth = 1;         // of the subtree; bounded so evaluation cannot exhaust the stack
  std::vector<std::shared_ptr<const ExprNode>> args;
};

// A number as GitHub reads one, from a literal or from a string being coerced: optional sign,
// decimal with optional fraction and exponent, 0x hex, Infinity, NaN. Surrounding whitespace
// is the caller's business. nullopt when the text is not a number.
std::optional<double> ParseNumberText(std::string_view text);

}  // namespace steward::pipeline
