// GitHub Actions' expression language, used by both pipeline formats: `if:` conditions and
// `${{ ... }}` in run scripts, env values, job outputs and deploy versions.
//
// Supported: literals (null, true, false, numbers incl. hex and exponent, 'strings' with ''
// escapes), context access (github.sha, matrix['os'], steps.build.outputs.version,
// needs.test.result, env.NAME, job.status, runner.os, secrets.NAME), the `*` object filter,
// operators ( ) [ ] . ! < <= > >= == != && || with GitHub's loose equality and coercions
// (strings compare case-insensitively; && and || return an operand), and the functions
// contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles, and the status
// functions success(), failure(), always(), cancelled().
// Values are JSON values; a missing property is null (not an error), as in GitHub.
//
// Errors name the column (1-based, within the expression text) and what was expected.
// Thread safety: a parsed Expr is immutable; Evaluate may run on many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"

namespace steward::pipeline {

struct ExprNode;  // expr.cc

class Expr {
 public:
  // Parses an expression without the ${{ }} wrapper. Error: "column N: <what is wrong>".
  static StatusOr<Expr> Parse(std::string_view text);
  // True when the expression calls success(), failure(), always() or cancelled() anywhere.
  bool UsesStatusFunction() const;
  const std::string& text() const { return text_; }

 private:
  friend StatusOr<nlohmann::json> Evaluate(const Expr&, const struct EvalContext&);
  std::string text_;
  std::shared_ptr<const ExprNode> root_;
};

struct EvalContext {
  // The contexts by name: {"github": {...}, "env": {...}, "matrix": {...}, "steps": {...},
  // "needs": {...}, "job": {...}, "runner": {...}, "secrets": {...}, "inputs": {...}}.
  nlohmann::json contexts = nlohmann::json::object();
  // What the status functions answer for the job or step being decided.
  bool failed = false;     // failure(): an earlier step (or a needed job) failed
  bool cancelled = false;  // cancelled(): the run was cancelled
  // hashFiles(patterns...): hex SHA-256 over the matching files; null: hashFiles is an error.
  std::function<StatusOr<std::string>(const std::vector<std::string>&)> hash_files;
};

StatusOr<nlohmann::json> Evaluate(const Expr& expr, const EvalContext& ctx);

// GitHub's truthiness: false, 0, -0, NaN, "", null are false; everything else true.
bool Truthy(const nlohmann::json& value);
// A value as text the way GitHub puts it into a string: null -> "", true -> "true", numbers
// without a trailing ".0", objects and arrays as JSON.
std::string ValueToString(const nlohmann::json& value);

// Replaces every ${{ expr }} in text with its value as text. Error: "column N: ..." where N is
// the column within `text`.
StatusOr<std::string> Interpolate(std::string_view text, const EvalContext& ctx);
// Checks every ${{ }} in text parses, without evaluating. Same error form.
Status CheckInterpolation(std::string_view text);

// An `if:` condition, written with or without ${{ }}. Without a status function it means
// success() && (condition), as in GitHub; empty means success().
StatusOr<bool> EvaluateCondition(std::string_view condition, const EvalContext& ctx);
Status CheckCondition(std::string_view condition);

}  // namespace steward::pipeline
