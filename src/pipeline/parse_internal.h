// Internal to the pipeline room: what the two pipeline parsers (parse_pipeline.cc for Steward's
// format, parse_workflow.cc for GitHub Actions) share — a reader of the config room's positioned
// YAML tree that reports every problem with file:line:col and carries on, the matrix reader,
// and the model checks of parse_validate.cc.
// Thread safety: one Reader per parse; not shared.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/yaml_tree.h"
#include "pipeline/parse.h"

namespace steward::pipeline::internal {

using config::Diagnostic;
using config::internal::YamlDoc;
using config::internal::YamlNode;
using config::internal::YamlPair;

class Reader {
 public:
  Reader(const std::string& text, std::string path);

  const std::string& path() const { return path_; }
  // The root of the text's first document; on a syntax error reports it and returns an
  // undefined node. `doc` owns the tree.
  YamlNode Parse(YamlDoc* doc);

  SourceLocation Loc(YamlNode node) const;
  // The value's place, or its key's when the value is empty (yaml-cpp points past it then).
  SourceLocation Loc(const YamlPair& p) const;
  void Error(SourceLocation at, std::string message);
  void Note(SourceLocation at, std::string message);
  bool HasErrors() const { return !errors_.empty(); }

  // The pairs of a map in file order, without keys that are not scalars, repeated, or (when
  // `allowed` is not empty) not in `allowed` — each reported, unknown ones with a did-you-mean.
  // `where` names the owner for messages ("job 'build'"); "" at the top level.
  std::vector<YamlPair> Keys(YamlNode map, std::span<const std::string_view> allowed,
                             std::string_view where);

  // Typed readers: report and return nullopt when the value has the wrong shape.
  // An empty value reads as "" / an empty list or map.
  std::optional<std::string> String(const YamlPair& p, std::string_view where);
  std::optional<bool> Bool(const YamlPair& p, std::string_view where);
  std::optional<int64_t> Int(const YamlPair& p, std::string_view where, int64_t min, int64_t max);
  // A list of strings; with `single`, one string is a list of one.
  std::optional<std::vector<std::string>> StringList(const YamlPair& p, std::string_view where,
                                                     bool single);
  // A map of names to scalars (env:, with:, outputs:); each value's ${{ }} is checked.
  std::optional<std::map<std::string, std::string>> StringMap(const YamlPair& p,
                                                              std::string_view where);
  // "10m", "500ms" (Steward's durations, config::ParseDuration); must be above zero.
  std::optional<Duration> Dur(const YamlPair& p, std::string_view where);
  bool ExpectMap(const YamlPair& p, std::string_view where);

  // A YAML value as JSON, with YAML 1.2's core types for plain scalars (quoted ones stay
  // strings): for matrix values, which expressions compare as numbers and booleans.
  nlohmann::json ToJson(YamlNode node) const;

  // Checks the ${{ }} of a scalar (CheckInterpolation) or an `if:` (CheckCondition) and reports
  // a failure at the exact place in the file when it can be found, else at the value.
  void CheckInterpolationAt(YamlNode value, std::string_view where, std::string_view key);
  void CheckConditionAt(YamlNode value, std::string_view where, std::string_view key);

  // "a list", "a map", "'text'", "nothing": what was written, for "got ..." in messages.
  static std::string Describe(YamlNode node);

  // Sorted by place; pipelines only when there are no errors.
  ParseResult Finish(std::vector<Pipeline> pipelines);
  // Moves this reader's diagnostics into `out` (for files read as part of a stack).
  void MoveInto(ParseResult* out);

 private:
  void ReportExpression(YamlNode value, const Status& st, std::string_view where,
                        std::string_view key);
  // The 1-based place of byte `offset` of a scalar's text in the file, when it can be mapped
  // (plain and quoted one-line scalars, literal blocks); nullopt otherwise.
  std::optional<SourceLocation> PlaceInScalar(YamlNode scalar, size_t offset) const;

  const std::string& text_;
  std::string path_;
  std::vector<std::string_view> lines_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> notes_;
};

// Reads a matrix map (Steward's `matrix:`, GitHub's `strategy.matrix`) into `m` (axes,
// include, exclude); fail_fast and max_parallel are the caller's.
void ReadMatrix(Reader& r, const YamlPair& p, std::string_view where, Matrix* m);

// Reads a step's `uses:` into `uses` and adds the note that the step is skipped: "job 'build'
// step 1: uses: actions/checkout@v4 is skipped (the working copy is already checked out)".
// `index` is 0-based. An expression in uses: is an error, as on GitHub: an action is fixed when
// the workflow is read (and the value also names the step when it has no name:).
void ReadUses(Reader& r, const YamlPair& f, std::string_view job, size_t index,
              std::string_view where, std::string* uses);

// "Run <first line of the script>", at most 60 characters of it, never cut inside a ${{ }}
// (a cut expression would not parse where the name is interpolated).
std::string DefaultRunName(std::string_view run);

inline Trigger ManualTrigger(SourceLocation at) {
  Trigger t;
  t.kind = TriggerKind::kManual;
  t.location = std::move(at);
  return t;
}

// "job 'build'" and "job 'build', step 2" in messages.
std::string JobWhere(std::string_view prefix, std::string_view job);

// The checks of the model that need no YAML: job and step ids, needs (unknown, cycles), job
// and step shapes, shells, deploy strategies, retries, cron lines, matrix sizes.
std::vector<Diagnostic> ValidateStructure(const Pipeline& p);
// Every if: and ${{ }} of the model, reported at the job or step (the parsers check them at
// the field instead).
std::vector<Diagnostic> ValidateExpressions(const Pipeline& p);

// The matrix combinations of a job, after exclude and include; an error when there are none
// or more than kMaxMatrixCombinations.
constexpr size_t kMaxMatrixCombinations = 1024;
StatusOr<std::vector<nlohmann::json>> MatrixCombinations(const Matrix& m);

}  // namespace steward::pipeline::internal
