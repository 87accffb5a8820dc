// GitHub Actions' expression language (pipeline/expr.h): parsing with columns, GitHub's loose
// equality and coercions, the functions, ${{ }} interpolation and `if:` conditions.
#include "pipeline/expr.h"

#include <gtest/gtest.h>

#include <cmath>

namespace steward::pipeline {
namespace {

using nlohmann::json;

EvalContext Ctx() {
  EvalContext ctx;
  ctx.contexts = json::parse(R"({
    "github": {"sha": "abc123", "ref": "refs/heads/main", "event_name": "push",
               "event": {"commits": [{"id": "c1", "message": "fix"},
                                     {"id": "c2", "message": "Docs"},
                                     {"message": "no id"}]}},
    "matrix": {"os": "linux", "python": 3.11, "node": 18, "experimental": false},
    "steps": {"build": {"outputs": {"version": "1.2.3"}, "outcome": "success"}},
    "needs": {"test": {"result": "success", "outputs": {"n": "7"}},
              "lint": {"result": "failure"}},
    "env": {"MODE": "release", "EMPTY": ""},
    "labels": null
  })");
  return ctx;
}

json Eval(std::string_view text, const EvalContext& ctx = Ctx()) {
  StatusOr<Expr> e = Expr::Parse(text);
  EXPECT_TRUE(e.ok()) << text << ": " << e.status().ToString();
  if (!e.ok()) return json("<parse error>");
  StatusOr<json> v = Evaluate(*e, ctx);
  EXPECT_TRUE(v.ok()) << text << ": " << v.status().ToString();
  return v.ok() ? *v : json("<eval error>");
}

std::string ParseError(std::string_view text) {
  StatusOr<Expr> e = Expr::Parse(text);
  return e.ok() ? "<parsed>" : e.status().message();
}

TEST(ExprLiterals, ParseAllKinds) {
  EXPECT_EQ(Eval("null"), json(nullptr));
  EXPECT_EQ(Eval("true"), json(true));
  EXPECT_EQ(Eval("false"), json(false));
  EXPECT_EQ(Eval("42"), json(42));
  EXPECT_EQ(Eval("-9.5"), json(-9.5));
  EXPECT_EQ(Eval("0xff"), json(255));
  EXPECT_DOUBLE_EQ(Eval("-2.99e-2").get<double>(), -0.0299);
  EXPECT_EQ(Eval("'it''s'"), json("it's"));
  EXPECT_EQ(Eval("''"), json(""));
}

TEST(ExprTruthy, FollowsGitHub) {
  EXPECT_FALSE(Truthy(json(nullptr)));
  EXPECT_FALSE(Truthy(json(false)));
  EXPECT_FALSE(Truthy(json(0)));
  EXPECT_FALSE(Truthy(json(-0.0)));
  EXPECT_FALSE(Truthy(json(std::nan(""))));
  EXPECT_FALSE(Truthy(json("")));
  EXPECT_TRUE(Truthy(json("false")));  // a non-empty string, even "false"
  EXPECT_TRUE(Truthy(json("0")));
  EXPECT_TRUE(Truthy(json::array()));
  EXPECT_TRUE(Truthy(json::object()));
  EXPECT_TRUE(Truthy(json(-1)));
}

TEST(ExprLogic, AndOrReturnOperandsAndShortCircuit) {
  // Truth table over values of each truthiness.
  struct Case {
    const char* text;
    json want;
  } cases[] = {
      {"true && true", true},
      {"true && false", false},
      {"false && true", false},
      {"false || true", true},
      {"false || false", false},
      {"true || false", true},
      {"'a' && 'b'", "b"},
      {"'' && 'b'", ""},
      {"0 || 'fallback'", "fallback"},
      {"'x' || 'y'", "x"},
      {"null || null", nullptr},
      {"!''", true},
      {"!'a'", false},
      {"!!github.sha", true},
      {"!null", true},
      {"false && fromJSON('not json')", false},
      {"true || fromJSON('not json')", true},
  };
  for (const Case& c : cases) EXPECT_EQ(Eval(c.text), c.want) << c.text;
}

TEST(ExprEquality, LooseWithNumberCoercionAndCaseInsensitiveStrings) {
  struct Case {
    const char* text;
    bool want;
  } cases[] = {
      {"'ABC' == 'abc'", true},
      {"'abc' != 'abd'", true},
      {"1 == '1'", true},
      {"1 == ' 1 '", true},
      {"0 == ''", true},
      {"null == 0", true},
      {"null == ''", true},
      {"null == null", true},
      {"true == 1", true},
      {"false == 0", true},
      {"true == 'true'", false},  // 'true' is NaN as a number
      {"'0x10' == 16", true},
      {"1.0 == 1", true},
      {"NaN == NaN", false},
      {"'a' == 'a '", false},
      {"matrix.node == 18", true},
      {"matrix.node == '18'", true},
      {"matrix.python == '3.11'", true},
      // Objects and arrays are equal only to themselves.
      {"github.event == github.event", true},
      {"fromJSON('{}') == fromJSON('{}')", false},
      {"fromJSON('[]') == 0", false},
  };
  for (const Case& c : cases) EXPECT_EQ(Eval(c.text), json(c.want)) << c.text;
}

TEST(ExprComparison, NumbersStringsAndUnorderedValues) {
  struct Case {
    const char* text;
    bool want;
  } cases[] = {
      {"1 < 2", true},
      {"2 <= 2", true},
      {"3 > 2", true},
      {"2 >= 3", false},
      {"'10' > 9", true},
      {"'b' > 'A'", true},
      {"'a' < 'B'", true},
      {"'abc' >= 'ABC'", true},
      {"null < 1", true},
      {"true > false", true},
      {"'x' < 1", false},
      {"'x' >= 1", false},
      {"fromJSON('[1]') > 0", false},
      // Comparison binds tighter than equality, equality tighter than &&.
      {"1 < 2 == true", true},
      {"1 == 1 && 2 > 1", true},
  };
  for (const Case& c : cases) EXPECT_EQ(Eval(c.text), json(c.want)) << c.text;
}

TEST(ExprAccess, PropertiesIndexesAndNull) {
  EXPECT_EQ(Eval("github.sha"), json("abc123"));
  EXPECT_EQ(Eval("GitHub.SHA"), json("abc123"));  // contexts are case-insensitive
  EXPECT_EQ(Eval("matrix['os']"), json("linux"));
  EXPECT_EQ(Eval("steps.build.outputs.version"), json("1.2.3"));
  EXPECT_EQ(Eval("needs.test.outputs.n"), json("7"));
  EXPECT_EQ(Eval("github.event.commits[1].message"), json("Docs"));
  EXPECT_EQ(Eval("github.event.commits[7]"), json(nullptr));
  EXPECT_EQ(Eval("github.missing.deeper.still"), json(nullptr));
  EXPECT_EQ(Eval("inputs.anything"), json(nullptr));
  EXPECT_EQ(Eval("matrix.os.length"), json(nullptr));
  EXPECT_EQ(Eval("env.MODE"), json("release"));
  EXPECT_EQ(Eval("steps.my-step.outputs.x"), json(nullptr));  // '-' is part of a name
}

TEST(ExprAccess, StarFilterMapsOverItems) {
  EXPECT_EQ(Eval("github.event.commits.*.id"), json({"c1", "c2"}));
  EXPECT_EQ(Eval("github.event.commits.*.message"), json({"fix", "Docs", "no id"}));
  EXPECT_EQ(Eval("contains(github.event.commits.*.message, 'docs')"), json(true));
  EXPECT_EQ(Eval("needs.*.result"), json({"failure", "success"}));  // objects iterate by key
  EXPECT_EQ(Eval("contains(needs.*.result, 'failure')"), json(true));
  EXPECT_EQ(Eval("matrix.os.*"), json::array());
}

TEST(ExprFunctions, StringsAndCollections) {
  EXPECT_EQ(Eval("contains('Hello world', 'WORLD')"), json(true));
  EXPECT_EQ(Eval("contains('Hello', 'bye')"), json(false));
  EXPECT_EQ(Eval("contains(fromJSON('[\"push\", \"pull_request\"]'), github.event_name)"),
            json(true));
  EXPECT_EQ(Eval("contains(fromJSON('[1, 2]'), '2')"), json(true));
  EXPECT_EQ(Eval("startsWith(github.ref, 'REFS/heads/')"), json(true));
  EXPECT_EQ(Eval("endsWith(github.ref, '/main')"), json(true));
  EXPECT_EQ(Eval("endsWith(github.ref, 'dev')"), json(false));
  EXPECT_EQ(Eval("format('{0}-{1}-{0}', 'a', 3)"), json("a-3-a"));
  EXPECT_EQ(Eval("format('{{literal}} {0}', true)"), json("{literal} true"));
  EXPECT_EQ(Eval("join(fromJSON('[\"a\", 1, true]'))"), json("a,1,true"));
  EXPECT_EQ(Eval("join(github.event.commits.*.id, ' | ')"), json("c1 | c2"));
  EXPECT_EQ(Eval("join('solo', '+')"), json("solo"));
  EXPECT_EQ(Eval("toJSON(matrix.node)"), json("18"));
  EXPECT_EQ(Eval("toJSON(fromJSON('{\"a\":[1]}'))"), json("{\n  \"a\": [\n    1\n  ]\n}"));
  EXPECT_EQ(Eval("fromJSON('{\"x\": {\"y\": 5}}').x.y"), json(5));
  EXPECT_EQ(Eval("fromJSON('true')"), json(true));
  EXPECT_EQ(Eval("STARTSWITH('abc', 'a')"), json(true));  // function names ignore case
}

TEST(ExprFunctions, HashFilesUsesTheCallback) {
  EvalContext ctx = Ctx();
  std::vector<std::string> seen;
  ctx.hash_files = [&](const std::vector<std::string>& patterns) -> StatusOr<std::string> {
    seen = patterns;
    return std::string("deadbeef");
  };
  EXPECT_EQ(Eval("format('deps-{0}', hashFiles('**/go.sum', 'go.mod'))", ctx),
            json("deps-deadbeef"));
  EXPECT_EQ(seen, (std::vector<std::string>{"**/go.sum", "go.mod"}));

  StatusOr<Expr> e = Expr::Parse("hashFiles('x')");
  ASSERT_TRUE(e.ok());
  StatusOr<json> v = Evaluate(*e, Ctx());  // no callback
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "column 1: hashFiles() is not available here");
}

TEST(ExprFunctions, RuntimeErrorsNameTheColumn) {
  StatusOr<Expr> e = Expr::Parse("true && fromJSON('{oops')");
  ASSERT_TRUE(e.ok());
  StatusOr<json> v = Evaluate(*e, Ctx());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(), "column 9: fromJSON: the argument is not valid JSON: '{oops'");

  e = Expr::Parse("format('{2}', 1)");
  ASSERT_TRUE(e.ok());
  v = Evaluate(*e, Ctx());
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().message(),
            "column 1: format: '{2}' needs 3 arguments after the format string, got 1");

  e = Expr::Parse("format('a } b')");
  ASSERT_TRUE(e.ok());
  EXPECT_FALSE(Evaluate(*e, Ctx()).ok());
}

TEST(ExprParse, ErrorsNameTheColumn) {
  EXPECT_EQ(ParseError(""), "column 1: the expression is empty");
  EXPECT_EQ(ParseError("github.sha =="),
            "column 14: expected a value, got the end of the expression");
  EXPECT_EQ(ParseError("foo.bar"),
            "column 1: unknown name 'foo'; expected a context (github, env, vars, job, jobs, "
            "steps, runner, secrets, strategy, matrix, needs, inputs), a literal or a function "
            "call");
  EXPECT_EQ(ParseError("github.sha == 'abc"),
            "column 15: the string starting here is not closed with '");
  EXPECT_EQ(ParseError("(1 == 1"), "column 8: expected ')' to close '(', got 'end of expression'");
  EXPECT_EQ(ParseError("matrix['os'"),
            "column 12: expected ']' to close '[', got 'end of expression'");
  EXPECT_EQ(ParseError("github."),
            "column 8: expected a property name or '*' after '.', got 'end of expression'");
  EXPECT_EQ(ParseError("1 = 1"),
            "column 3: unexpected '=' after a complete expression; expected "
            "an operator (==, !=, <, >, &&, ||) or the end");
  EXPECT_EQ(ParseError("env.A == \"x\""),
            "column 10: strings are written with single quotes: 'text' (use '' for a quote "
            "inside)");
  EXPECT_EQ(ParseError("contains('a')"), "column 1: contains() takes 2 arguments, got 1");
  EXPECT_EQ(ParseError("x == lower('A')").substr(0, 30), "column 1: unknown name 'x'; ex");
  EXPECT_EQ(ParseError("true && lower('A')").substr(0, 38),
            "column 9: unknown function 'lower'; ex");
  EXPECT_EQ(ParseError("success(1)"), "column 1: success() takes 0 arguments, got 1");
  EXPECT_EQ(ParseError("12abc"), "column 1: '12abc' is not a number");
  EXPECT_EQ(ParseError("join(1, 2, 3)"), "column 1: join() takes 1 to 2 arguments, got 3");
}

TEST(ExprParse, DeepNestingIsAnErrorNotACrash) {
  std::string deep(60, '(');
  deep += "1" + std::string(60, ')');
  EXPECT_NE(ParseError(deep).find("nested too deeply"), std::string::npos);
  std::string chain = "github";
  for (int i = 0; i < 500; ++i) chain += ".a";
  EXPECT_NE(ParseError(chain).find("too long a chain"), std::string::npos);
}

TEST(ExprParse, StatusFunctionsAreFound) {
  EXPECT_TRUE(Expr::Parse("always()")->UsesStatusFunction());
  EXPECT_TRUE(Expr::Parse("github.sha && (failure() || x == 1)").ok() == false);
  EXPECT_TRUE(Expr::Parse("github.sha && (failure() || env.x == 1)")->UsesStatusFunction());
  EXPECT_FALSE(Expr::Parse("github.sha == 'success()'")->UsesStatusFunction());
}

TEST(ExprValueToString, AsGitHubPrintsValues) {
  EXPECT_EQ(ValueToString(json(nullptr)), "");
  EXPECT_EQ(ValueToString(json(true)), "true");
  EXPECT_EQ(ValueToString(json(3.0)), "3");
  EXPECT_EQ(ValueToString(json(3.25)), "3.25");
  EXPECT_EQ(ValueToString(json(-7)), "-7");
  EXPECT_EQ(ValueToString(json("s")), "s");
  EXPECT_EQ(ValueToString(json::parse(R"({"a":1})")), R"({"a":1})");
}

TEST(ExprInterpolate, ReplacesEveryPlaceholder) {
  StatusOr<std::string> s =
      Interpolate("v=${{ steps.build.outputs.version }} on ${{matrix.os}}, n=${{ 1 == 1 }}", Ctx());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, "v=1.2.3 on linux, n=true");
  // '}}' inside a string literal does not end the placeholder.
  s = Interpolate("${{ format('{{x}}') }}!", Ctx());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(*s, "{x}!");
  s = Interpolate("no placeholders, $HOME and ${VAR}", Ctx());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "no placeholders, $HOME and ${VAR}");
  s = Interpolate("${{ github.missing }}", Ctx());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(*s, "");
}

TEST(ExprInterpolate, ErrorsHaveColumnsWithinTheText) {
  Status st = CheckInterpolation("echo ${{ github.sha }} ${{ github.sha == }}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "column 42: expected a value, got the end of the expression");
  st = CheckInterpolation("echo ${{ github.sha");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "column 6: '${{' is not closed with '}}'");
  EXPECT_TRUE(CheckInterpolation("plain ${not an expression}").ok());
  StatusOr<std::string> s = Interpolate("x ${{ fromJSON('{') }}", Ctx());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().substr(0, 19), "column 7: fromJSON:");
}

TEST(ExprCondition, ImplicitSuccessAndStatusFunctions) {
  EvalContext ok = Ctx();
  EvalContext failed = Ctx();
  failed.failed = true;
  EvalContext cancelled = Ctx();
  cancelled.cancelled = true;
  struct Case {
    const char* condition;
    bool on_ok, on_failed, on_cancelled;
  } cases[] = {
      {"", true, false, false},
      {"github.ref == 'refs/heads/main'", true, false, false},
      {"${{ github.ref == 'refs/heads/main' }}", true, false, false},
      {"  ${{ matrix.experimental }}  ", false, false, false},
      {"always()", true, true, true},
      {"failure()", false, true, false},
      {"success()", true, false, false},
      {"cancelled()", false, false, true},
      {"always() && matrix.os == 'linux'", true, true, true},
      {"failure() || github.sha == 'nope'", false, true, false},
      {"!cancelled()", true, true, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(*EvaluateCondition(c.condition, ok), c.on_ok) << c.condition;
    EXPECT_EQ(*EvaluateCondition(c.condition, failed), c.on_failed) << c.condition;
    EXPECT_EQ(*EvaluateCondition(c.condition, cancelled), c.on_cancelled) << c.condition;
  }
}

TEST(ExprCondition, ErrorsAndMixedText) {
  EXPECT_TRUE(CheckCondition("").ok());
  EXPECT_TRUE(CheckCondition("${{ always() }}").ok());
  Status st = CheckCondition("${{ github.sha }} == 'x'");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("column 1: the condition mixes ${{ }} with other text"),
            std::string::npos);
  st = CheckCondition("${{ github.sha == }}");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message(), "column 19: expected a value, got the end of the expression");
  st = CheckCondition("github.sha && nope");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().substr(0, 36), "column 15: unknown name 'nope'; expe");
  // A failed run does not evaluate a plain condition, so its errors cannot surface then.
  EvalContext failed = Ctx();
  failed.failed = true;
  EXPECT_FALSE(*EvaluateCondition("fromJSON('{')", failed));
  EXPECT_FALSE(EvaluateCondition("fromJSON('{')", Ctx()).ok());
}

}  // namespace
}  // namespace steward::pipeline
