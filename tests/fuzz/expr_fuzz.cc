// libFuzzer entry point for GitHub Actions expressions (pipeline/expr.h): if: conditions and
// ${{ }} in every pipeline and workflow, evaluated against contexts that hold pushed data
// (commit messages, branch names). Any text must parse or fail with a column inside the text,
// and evaluation must finish without crashing, whatever the expression does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "pipeline/expr.h"

namespace {

// "column N: ..." with 1 <= N <= limit.
void CheckColumn(const steward::Status& st, size_t limit) {
  const std::string& m = st.message();
  if (m.rfind("column ", 0) != 0) std::abort();
  long column = std::strtol(m.c_str() + 7, nullptr, 10);
  if (column < 1 || static_cast<size_t>(column) > limit + 1) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward::pipeline;
  std::string text(reinterpret_cast<const char*>(data), size);
  static const EvalContext* ctx = [] {
    auto* c = new EvalContext;
    c->contexts = nlohmann::json::parse(R"({
      "github": {"sha": "abc", "ref": "refs/heads/main", "event": {"commits": [
        {"id": "1", "message": "fix"}, {"id": "2", "message": "docs", "tags": ["a", "b"]}]}},
      "matrix": {"os": "linux", "n": 3, "flag": false, "obj": {"k": [1, 2.5, null]}},
      "steps": {"s": {"outputs": {"json": "{\"a\": [1, {\"b\": 2}]}"}}},
      "needs": {"a": {"result": "success"}, "b": {"result": "failure"}},
      "env": {"E": "1"}
    })");
    c->hash_files = [](const std::vector<std::string>& p) -> steward::StatusOr<std::string> {
      return std::to_string(p.size());
    };
    return c;
  }();
  steward::StatusOr<Expr> e = Expr::Parse(text);
  if (!e.ok()) {
    CheckColumn(e.status(), text.size());
  } else {
    steward::StatusOr<nlohmann::json> v = Evaluate(*e, *ctx);
    if (v.ok()) {
      (void)ValueToString(*v);
      (void)Truthy(*v);
    }
  }
  steward::StatusOr<std::string> s = Interpolate(text, *ctx);
  if (!s.ok()) CheckColumn(s.status(), text.size());
  steward::Status st = CheckInterpolation(text);
  if (!st.ok()) CheckColumn(st, text.size());
  if (!st.ok() && s.ok()) std::abort();  // what parses may still fail to run, not the reverse
  st = CheckCondition(text);
  if (!st.ok()) CheckColumn(st, text.size());
  steward::StatusOr<bool> c = EvaluateCondition(text, *ctx);
  if (!c.ok()) CheckColumn(c.status(), text.size());
  if (!st.ok() && c.ok()) std::abort();  // a condition that does not parse cannot be decided
  return 0;
}
