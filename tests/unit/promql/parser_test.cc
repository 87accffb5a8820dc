#include "promql/parser.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace steward::promql {
namespace {

std::string Printed(std::string_view q) {
  auto e = ParseExpr(q);
  if (!e.ok()) return "ERROR: " + e.status().message();
  return (*e)->ToString();
}

std::string ErrorOf(std::string_view q) {
  auto e = ParseExpr(q);
  if (e.ok()) return "OK: " + (*e)->ToString();
  EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << q;
  return e.status().message();
}

// ToString is Prometheus' String(): canonical spacing, sorted matchers, Go number formats.
struct PrintCase {
  const char* query;
  const char* printed;
};

class Printing : public testing::TestWithParam<PrintCase> {};

TEST_P(Printing, PrintsLikePrometheus) {
  EXPECT_EQ(Printed(GetParam().query), GetParam().printed) << GetParam().query;
}

INSTANTIATE_TEST_SUITE_P(
    Grammar, Printing,
    testing::Values(
        // Literals.
        PrintCase{"1", "1"}, PrintCase{"0x1F", "31"}, PrintCase{"0X1f", "31"},
        PrintCase{"1e3", "1000"}, PrintCase{"1E-3", "0.001"}, PrintCase{"1.5", "1.5"},
        PrintCase{".5", "0.5"}, PrintCase{"5.", "5"}, PrintCase{"017", "15"},
        PrintCase{"1e6", "1e+06"}, PrintCase{"123456", "123456"}, PrintCase{"0.00001", "1e-05"},
        PrintCase{"Inf", "+Inf"}, PrintCase{"-inf", "-Inf"}, PrintCase{"NaN", "NaN"},
        PrintCase{"nAn", "NaN"}, PrintCase{"-1", "-1"}, PrintCase{"+1", "1"},
        PrintCase{"- - 1", "1"}, PrintCase{"-(1)", "-(1)"}, PrintCase{R"("a\nb")", R"("a\nb")"},
        PrintCase{"'it\\'s'", R"("it's")"}, PrintCase{"`raw\\n`", R"("raw\\n")"},
        PrintCase{R"("\x01")", R"("\x01")"}, PrintCase{R"("é")", R"("é")"},
        // Selectors.
        PrintCase{"foo", "foo"}, PrintCase{"foo:bar", "foo:bar"},
        PrintCase{R"(foo{b="2", a=~"1"})", R"(foo{a=~"1",b="2"})"},
        PrintCase{R"({__name__="foo"})", R"({__name__="foo"})"},
        PrintCase{R"(foo{a!="x",b!~"y",})", R"(foo{a!="x",b!~"y"})"}, PrintCase{"foo{}", "foo"},
        PrintCase{"sum", "sum"}, PrintCase{"by", "by"}, PrintCase{"offset", "offset"},
        PrintCase{"start", "start"}, PrintCase{"SUM", "SUM"},
        PrintCase{R"({on="a", inf="b"})", R"({inf="b",on="a"})"}, PrintCase{"foo[5m]", "foo[5m]"},
        PrintCase{"foo[90s]", "foo[1m30s]"}, PrintCase{"foo[1h30m]", "foo[1h30m]"},
        PrintCase{"foo[2w]", "foo[2w]"}, PrintCase{"foo[14d]", "foo[2w]"},
        PrintCase{"foo[1500ms]", "foo[1s500ms]"},
        // Modifiers.
        PrintCase{"foo offset 5m", "foo offset 5m"}, PrintCase{"foo offset -5m", "foo offset -5m"},
        PrintCase{"foo OFFSET 1h30m", "foo offset 1h30m"},
        PrintCase{"foo[5m] offset 1m", "foo[5m] offset 1m"},
        PrintCase{"foo @ 1609746000", "foo @ 1609746000.000"},
        PrintCase{"foo @ 1.5", "foo @ 1.500"}, PrintCase{"foo @ -10", "foo @ -10.000"},
        PrintCase{"foo @ start()", "foo @ start()"}, PrintCase{"foo @ end()", "foo @ end()"},
        PrintCase{"foo offset 5m @ 10", "foo @ 10.000 offset 5m"},
        PrintCase{"foo @ 10 offset 5m", "foo @ 10.000 offset 5m"},
        PrintCase{"foo[5m] @ 10 offset 1m", "foo[5m] @ 10.000 offset 1m"},
        PrintCase{"foo[5m:1m]", "foo[5m:1m]"}, PrintCase{"foo[5m:]", "foo[5m:]"},
        PrintCase{"rate(foo[5m])[30m:1m] offset 1m @ end()",
                  "rate(foo[5m])[30m:1m] @ end() offset 1m"},
        PrintCase{"(a + b)[5m:]", "(a + b)[5m:]"},
        PrintCase{"foo offset 5m [10m:1m]", "foo offset 5m[10m:1m]"},
        // Operators and precedence.
        PrintCase{"a+b*c", "a + b * c"}, PrintCase{"a*b+c", "a * b + c"},
        PrintCase{"a or b and c", "a or b and c"}, PrintCase{"a - b - c", "a - b - c"},
        PrintCase{"2 ^ 3 ^ 2", "2 ^ 3 ^ 2"}, PrintCase{"a atan2 b", "a atan2 b"},
        PrintCase{"a > bool b", "a > bool b"}, PrintCase{"1 == bool 1", "1 == bool 1"},
        PrintCase{"a + on(b) c", "a + on (b) c"},
        PrintCase{"a + ignoring(b, c) d", "a + ignoring (b, c) d"},
        PrintCase{"a * on (b) group_left (c) d", "a * on (b) group_left (c) d"},
        PrintCase{"a * on (b) group_right d", "a * on (b) group_right () d"},
        PrintCase{"a * ignoring () group_left () d", "a * d"},
        PrintCase{"a and on () b", "a and on () b"}, PrintCase{"1 + on () 2", "1 + 2"},
        PrintCase{"a unless ignoring (x) b", "a unless ignoring (x) b"}, PrintCase{"-a", "-a"},
        PrintCase{"+a", "+a"}, PrintCase{"-a offset 5m", "-a offset 5m"},
        // Aggregations and calls.
        PrintCase{"sum(x)", "sum(x)"}, PrintCase{"sum by (job) (x)", "sum by (job) (x)"},
        PrintCase{"sum(x) by (job, le)", "sum by (job, le) (x)"},
        PrintCase{"SUM BY (job) (x)", "sum by (job) (x)"}, PrintCase{"sum by () (x)", "sum(x)"},
        PrintCase{"sum without () (x)", "sum without () (x)"},
        PrintCase{"avg without (a) (x)", "avg without (a) (x)"},
        PrintCase{"sum by (by, on, sum, start) (x)", "sum by (by, on, sum, start) (x)"},
        PrintCase{"topk(5, x)", "topk(5, x)"}, PrintCase{"quantile(0.9, x)", "quantile(0.9, x)"},
        PrintCase{R"(count_values("v", x))", R"(count_values("v", x))"},
        PrintCase{"sum(rate(x[5m])) by (job)", "sum by (job) (rate(x[5m]))"},
        PrintCase{"time()", "time()"}, PrintCase{"round(x, 5)", "round(x, 5)"},
        PrintCase{R"(label_join(x, "d", ",", "a", "b", "c"))",
                  R"(label_join(x, "d", ",", "a", "b", "c"))"},
        PrintCase{"# comment\nfoo # more", "foo"}, PrintCase{"sum(\n  x\n)", "sum(x)"}));

// Errors: Prometheus' message and column (its parse_test.go and parse.go), first error only.
struct ErrorCase {
  const char* query;
  const char* error;
};

class Errors : public testing::TestWithParam<ErrorCase> {};

TEST_P(Errors, ReportLikePrometheus) {
  EXPECT_EQ(ErrorOf(GetParam().query), GetParam().error) << GetParam().query;
}

INSTANTIATE_TEST_SUITE_P(
    Lexer, Errors,
    testing::Values(
        ErrorCase{"", "1:1: parse error: no expression found in input"},
        ErrorCase{"  # only a comment", "1:1: parse error: no expression found in input"},
        ErrorCase{".", "1:1: parse error: unexpected character: '.'"},
        ErrorCase{"2.5.", "1:4: parse error: unexpected character: '.'"},
        ErrorCase{"100..4", "1:5: parse error: unexpected number \".4\""},
        ErrorCase{"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
        ErrorCase{"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
        ErrorCase{"((1)", "1:5: parse error: unclosed left parenthesis"},
        ErrorCase{"(", "1:2: parse error: unclosed left parenthesis"},
        ErrorCase{"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
        ErrorCase{"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
        ErrorCase{"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
        ErrorCase{"foo{1=\"b\"}", "1:5: parse error: unexpected character inside braces: '1'"},
        ErrorCase{"foo{{", "1:5: parse error: unexpected left brace '{'"},
        ErrorCase{"foo{a!b}",
                  "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
        ErrorCase{"foo]", "1:4: parse error: unexpected right bracket ']'"},
        ErrorCase{"foo[5m", "1:7: parse error: unclosed left bracket"},
        ErrorCase{"foo[5]", "1:5: parse error: missing unit character in duration"},
        ErrorCase{"foo[]", "1:5: parse error: missing unit character in duration"},
        ErrorCase{"foo[5mx]", "1:5: parse error: bad duration syntax: \"5mx\""},
        ErrorCase{"foo[5m:1m:1m]", "1:10: parse error: unexpected colon ':'"},
        ErrorCase{"\"abc", "1:1: parse error: unterminated quoted string"},
        ErrorCase{"`abc", "1:1: parse error: unterminated raw string"},
        ErrorCase{R"("\q")", "1:1: parse error: unknown escape sequence U+0071 'q'"},
        ErrorCase{"$", "1:1: parse error: unexpected character: '$'"},
        ErrorCase{"foo\n  + $", "2:5: parse error: unexpected character: '$'"}));

INSTANTIATE_TEST_SUITE_P(
    Syntax, Errors,
    testing::Values(
        ErrorCase{"1+", "1:3: parse error: unexpected end of input"},
        ErrorCase{"1 /", "1:4: parse error: unexpected end of input"},
        ErrorCase{"*1", "1:1: parse error: unexpected <op:*>"},
        ErrorCase{"*test", "1:1: parse error: unexpected <op:*>"},
        ErrorCase{"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
        ErrorCase{"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
        ErrorCase{"a + group_left b", "1:5: parse error: unexpected <group_left>"},
        ErrorCase{"a + on b",
                  "1:8: parse error: unexpected identifier \"b\" in grouping opts, expected \"(\""},
        ErrorCase{
            "sum by foo (x)",
            "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\""},
        ErrorCase{"sum by (a b) (x)",
                  "1:11: parse error: unexpected identifier \"b\" in grouping opts, expected \",\" "
                  "or \")\""},
        ErrorCase{"sum by (1) (x)",
                  "1:9: parse error: unexpected number \"1\" in grouping opts, expected label"},
        ErrorCase{"sum by (foo:bar) (x)",
                  "1:9: parse error: unexpected metric identifier \"foo:bar\" in grouping opts, "
                  "expected label"},
        ErrorCase{"sum by (a)", "1:11: parse error: unexpected end of input in aggregation"},
        ErrorCase{"sum(x y)", "1:7: parse error: unexpected identifier \"y\" in aggregation"},
        ErrorCase{"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
        ErrorCase{"sum(1, 2)",
                  "1:1: parse error: wrong number of arguments for aggregate expression provided, "
                  "expected 1, got 2"},
        ErrorCase{"topk(x)",
                  "1:1: parse error: wrong number of arguments for aggregate expression provided, "
                  "expected 2, got 1"},
        ErrorCase{"rate(x,)",
                  "1:7: parse error: trailing commas not allowed in function call args"},
        ErrorCase{"foo{a=}",
                  "1:7: parse error: unexpected \"}\" in label matching, expected string"},
        ErrorCase{"foo{a}",
                  "1:6: parse error: unexpected \"}\" in label matching, expected label matching "
                  "operator"},
        ErrorCase{"foo{a=\"b\" c=\"d\"}",
                  "1:11: parse error: unexpected identifier \"c\" in label matching, expected "
                  "\",\" or \"}\""},
        ErrorCase{
            "foo{,}",
            "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
        ErrorCase{"foo offset",
                  "1:11: parse error: unexpected end of input in offset, expected duration"},
        ErrorCase{"foo offset 5",
                  "1:12: parse error: unexpected number \"5\" in offset, expected duration"},
        ErrorCase{"foo @ bar",
                  "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
        ErrorCase{"foo @ start",
                  "1:12: parse error: unexpected end of input in @, expected timestamp"},
        ErrorCase{"foo[5m 1m]",
                  "1:8: parse error: unexpected duration \"1m\" in subquery or range, expected "
                  "\":\" or \"]\""},
        ErrorCase{"foo[5m:1]",
                  "1:8: parse error: unexpected number \"1\" in subquery selector, expected "
                  "duration or \"]\""},
        ErrorCase{
            "foo[5m:1m 1m]",
            "1:11: parse error: unexpected duration \"1m\" in subquery selector, expected \"]\""},
        ErrorCase{"bool", "1:1: parse error: unexpected <bool>"},
        ErrorCase{"@ 1", "1:1: parse error: unexpected \"<Item 57385>\" <op:@>"},
        ErrorCase{"rate(x, @)",
                  "1:7: parse error: trailing commas not allowed in function call args"},
        ErrorCase{"sum(x, 5m)",
                  "1:6: parse error: trailing commas not allowed in function call args"},
        ErrorCase{"foo 12345678901.5", "1:5: parse error: unexpected number \"1234567890\"..."},
        ErrorCase{"sum(x) sum", "1:8: parse error: unexpected <aggr:sum>"},
        ErrorCase{"foo @", "1:6: parse error: unexpected end of input in @, expected timestamp"},
        ErrorCase{"foo start", "1:5: parse error: unexpected \"start\""},
        ErrorCase{"foo[5m] 1", "1:9: parse error: unexpected number \"1\""},
        ErrorCase{"start()", "1:6: parse error: unexpected \"(\""},
        ErrorCase{"foo == \"a long string\"",
                  "1:8: parse error: binary expression must contain only scalar and instant vector "
                  "types"},
        ErrorCase{"foo + \"a long string\" 1", "1:23: parse error: unexpected number \"1\""},
        ErrorCase{"foo \"a long string\"",
                  "1:5: parse error: unexpected string \"\\\"a long st\"..."}));

INSTANTIATE_TEST_SUITE_P(
    Semantic, Errors,
    testing::Values(
        ErrorCase{"foo(1)", "1:1: parse error: unknown function with name \"foo\""},
        ErrorCase{"RATE(x[5m])", "1:1: parse error: unknown function with name \"RATE\""},
        ErrorCase{"1 offset 1d",
                  "1:1: parse error: offset modifier must be preceded by an instant vector "
                  "selector or range vector selector or a subquery"},
        ErrorCase{"foo offset 1s offset 2s",
                  "1:1: parse error: offset may not be set multiple times"},
        ErrorCase{"sum(x) @ 5",
                  "1:1: parse error: @ modifier must be preceded by an instant vector selector or "
                  "range vector selector or a subquery"},
        ErrorCase{"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
        ErrorCase{"foo @ start() @ end()",
                  "1:1: parse error: @ <timestamp> may not be set multiple times"},
        ErrorCase{"foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
        ErrorCase{"foo @ 1e19",
                  "1:1: parse error: timestamp out of bounds for @ modifier: "
                  "10000000000000000000.000000"},
        ErrorCase{"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
        ErrorCase{"foo offset 5m[5m]",
                  "1:14: parse error: no offset modifiers allowed before range"},
        ErrorCase{"foo @ 10 [5m]", "1:10: parse error: no @ modifiers allowed before range"},
        ErrorCase{"foo[0s]", "1:5: parse error: duration must be greater than 0"},
        ErrorCase{"foo offset 0m", "1:12: parse error: duration must be greater than 0"},
        ErrorCase{"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
        ErrorCase{"foo[5h5h]", "1:5: parse error: not a valid duration string: \"5h5h\""},
        ErrorCase{"foo[300y]", "1:5: parse error: duration out of range"},
        ErrorCase{"foo[0001h]", "OK: foo[1h]"},
        ErrorCase{R"(foo{a=~"x\xCCy"})",
                  "1:5: parse error: error parsing regexp: invalid UTF-8: `\xCCy)$`"},
        ErrorCase{
            "foo{a=~\"*\"}",
            "1:5: parse error: error parsing regexp: missing argument to repetition operator: `*`"},
        ErrorCase{"0x",
                  "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": "
                  "invalid syntax"},
        ErrorCase{"1e400",
                  "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": "
                  "value out of range"},
        ErrorCase{"foo{a=~\"(\"}",
                  "1:5: parse error: error parsing regexp: missing closing ): `^(?:()$`"}));

INSTANTIATE_TEST_SUITE_P(
    Types, Errors,
    testing::Values(
        ErrorCase{"1 and 1",
                  "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
        ErrorCase{"1 or foo",
                  "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
        ErrorCase{"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
        ErrorCase{"foo + bool bar",
                  "1:5: parse error: bool modifier can only be used on comparison operators"},
        ErrorCase{"1 + on(foo) 2",
                  "1:1: parse error: vector matching only allowed between instant vectors"},
        ErrorCase{"foo and on(a) group_left(b) bar",
                  "1:1: parse error: no grouping allowed for \"and\" operation"},
        ErrorCase{"foo * on(a) group_left(a) bar",
                  "1:5: parse error: label \"a\" must not occur in ON and GROUP clause at once"},
        ErrorCase{"foo[5m] + 1",
                  "1:1: parse error: binary expression must contain only scalar and instant vector "
                  "types"},
        ErrorCase{"1 + \"a\"",
                  "1:5: parse error: binary expression must contain only scalar and instant vector "
                  "types"},
        ErrorCase{"-\"string\"",
                  "1:1: parse error: unary expression only allowed on expressions of type scalar "
                  "or instant vector, got \"string\""},
        ErrorCase{"-test[5m]",
                  "1:1: parse error: unary expression only allowed on expressions of type scalar "
                  "or instant vector, got \"range vector\""},
        ErrorCase{"rate(foo)",
                  "1:6: parse error: expected type range vector in call to function \"rate\", got "
                  "instant vector"},
        ErrorCase{"abs(1, 2)",
                  "1:1: parse error: expected 1 argument(s) in call to \"abs\", got 2"},
        ErrorCase{"round()",
                  "1:1: parse error: expected at least 1 argument(s) in call to \"round\", got 0"},
        ErrorCase{"round(x, 1, 2)",
                  "1:1: parse error: expected at most 2 argument(s) in call to \"round\", got 3"},
        ErrorCase{
            "label_join(x)",
            "1:1: parse error: expected at least 3 argument(s) in call to \"label_join\", got 1"},
        ErrorCase{"label_join(x, \"a\", \",\", 1)",
                  "1:25: parse error: expected type string in call to function \"label_join\", got "
                  "scalar"},
        ErrorCase{"sum(x[5m])",
                  "1:5: parse error: expected type instant vector in aggregation expression, got "
                  "range vector"},
        ErrorCase{"topk(\"a\", x)",
                  "1:6: parse error: expected type scalar in aggregation parameter, got string"},
        ErrorCase{"count_values(1, x)",
                  "1:14: parse error: expected type string in aggregation parameter, got scalar"},
        ErrorCase{
            "foo[5m][5m:1m]",
            "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
        ErrorCase{
            "0[5m:]",
            "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"},
        ErrorCase{"{}",
                  "1:1: parse error: vector selector must contain at least one non-empty matcher"},
        ErrorCase{"{a=~\".*\"}",
                  "1:1: parse error: vector selector must contain at least one non-empty matcher"},
        ErrorCase{"foo{__name__=\"bar\"}",
                  "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
        ErrorCase{"rate(foo) +", "1:12: parse error: unexpected end of input"}));

// Printing then parsing gives the same tree (compared by its printed form and types).
TEST(ParseExpr, PrintedFormParsesToTheSameTree) {
  const char* queries[] = {
      "sum by (job) (rate(http_requests_total{code=~\"5..\",job!=\"x\"}[5m] offset 1m))",
      "a + on (b) group_left (c) d * 2 ^ -x",
      "-(a or b) unless ignoring (x) c",
      "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
      "max_over_time(deriv(x[5m])[1h:1m] @ 1609746000 offset -5m)",
      "topk(3, x) > bool 2",
      "count_values(\"v\\n\\u00e9\\x01\", x)",
      "label_replace(up, \"a\", \"$1\", \"b\", \"(.*)\")",
      "1e+06 * -Inf / NaN % 0.00001",
      "foo @ start() offset 1h30m",
      "{__name__=~\"a.*\"}[1y2w3d4h5m6s7ms]",
      "absent_over_time(x[5m:])",
      "(((x)))",
      "vector(time()) atan2 sum without () (y)",
      "offset offset 5m + by + start{end=\"1\"}",
  };
  for (const char* q : queries) {
    auto first = ParseExpr(q);
    ASSERT_TRUE(first.ok()) << q << ": " << first.status().ToString();
    std::string printed = (*first)->ToString();
    auto second = ParseExpr(printed);
    ASSERT_TRUE(second.ok()) << printed << ": " << second.status().ToString();
    EXPECT_EQ((*second)->ToString(), printed) << q;
    EXPECT_EQ((*second)->Type(), (*first)->Type()) << q;
  }
}

// Every function of Prometheus 2.42 with its signature: argument types (s scalar, v instant
// vector, m range vector, S string; a trailing '?' marks the optional last argument, '*'
// repeats it), then the return type.
struct Signature {
  const char* name;
  const char* args;
  char returns;
};
constexpr Signature kSignatures[] = {
    {"abs", "v", 'v'},
    {"absent", "v", 'v'},
    {"absent_over_time", "m", 'v'},
    {"acos", "v", 'v'},
    {"acosh", "v", 'v'},
    {"asin", "v", 'v'},
    {"asinh", "v", 'v'},
    {"atan", "v", 'v'},
    {"atanh", "v", 'v'},
    {"avg_over_time", "m", 'v'},
    {"ceil", "v", 'v'},
    {"changes", "m", 'v'},
    {"clamp", "vss", 'v'},
    {"clamp_max", "vs", 'v'},
    {"clamp_min", "vs", 'v'},
    {"cos", "v", 'v'},
    {"cosh", "v", 'v'},
    {"count_over_time", "m", 'v'},
    {"days_in_month", "v?", 'v'},
    {"day_of_month", "v?", 'v'},
    {"day_of_week", "v?", 'v'},
    {"day_of_year", "v?", 'v'},
    {"deg", "v", 'v'},
    {"delta", "m", 'v'},
    {"deriv", "m", 'v'},
    {"exp", "v", 'v'},
    {"floor", "v", 'v'},
    {"histogram_count", "v", 'v'},
    {"histogram_sum", "v", 'v'},
    {"histogram_fraction", "ssv", 'v'},
    {"histogram_quantile", "sv", 'v'},
    {"holt_winters", "mss", 'v'},
    {"hour", "v?", 'v'},
    {"idelta", "m", 'v'},
    {"increase", "m", 'v'},
    {"irate", "m", 'v'},
    {"label_replace", "vSSSS", 'v'},
    {"label_join", "vSSS*", 'v'},
    {"last_over_time", "m", 'v'},
    {"ln", "v", 'v'},
    {"log10", "v", 'v'},
    {"log2", "v", 'v'},
    {"max_over_time", "m", 'v'},
    {"min_over_time", "m", 'v'},
    {"minute", "v?", 'v'},
    {"month", "v?", 'v'},
    {"pi", "", 's'},
    {"predict_linear", "ms", 'v'},
    {"present_over_time", "m", 'v'},
    {"quantile_over_time", "sm", 'v'},
    {"rad", "v", 'v'},
    {"rate", "m", 'v'},
    {"resets", "m", 'v'},
    {"round", "vs?", 'v'},
    {"scalar", "v", 's'},
    {"sgn", "v", 'v'},
    {"sin", "v", 'v'},
    {"sinh", "v", 'v'},
    {"sort", "v", 'v'},
    {"sort_desc", "v", 'v'},
    {"sqrt", "v", 'v'},
    {"stddev_over_time", "m", 'v'},
    {"stdvar_over_time", "m", 'v'},
    {"sum_over_time", "m", 'v'},
    {"tan", "v", 'v'},
    {"tanh", "v", 'v'},
    {"time", "", 's'},
    {"timestamp", "v", 'v'},
    {"vector", "s", 'v'},
    {"year", "v?", 'v'},
};

ValueType TypeOf(char c) {
  switch (c) {
    case 's':
      return ValueType::kScalar;
    case 'v':
      return ValueType::kVector;
    case 'm':
      return ValueType::kMatrix;
    default:
      return ValueType::kString;
  }
}

std::string ArgOf(char c) {
  switch (c) {
    case 's':
      return "1";
    case 'v':
      return "x";
    case 'm':
      return "x[5m]";
    default:
      return "\"a\"";
  }
}

// An argument of a type the signature does not accept at that place.
std::string WrongArgOf(char c) { return c == 'm' ? "x" : "x[5m]"; }

TEST(Functions, TableMatchesPrometheus) {
  for (const Signature& sig : kSignatures) {
    const FunctionInfo* f = FindFunction(sig.name);
    ASSERT_NE(f, nullptr) << sig.name;
    std::string args = sig.args;
    int variadic = 0;
    if (!args.empty() && args.back() == '?') variadic = 1, args.pop_back();
    if (!args.empty() && args.back() == '*') variadic = -1, args.pop_back();
    ASSERT_EQ(f->arg_types.size(), args.size()) << sig.name;
    for (size_t i = 0; i < args.size(); ++i)
      EXPECT_EQ(f->arg_types[i], TypeOf(args[i])) << sig.name << " arg " << i;
    EXPECT_EQ(f->variadic, variadic) << sig.name;
    EXPECT_EQ(f->return_type, TypeOf(sig.returns)) << sig.name;
  }
  EXPECT_EQ(FindFunction("histogram_stddev"), nullptr);  // 2.44+
  EXPECT_EQ(FindFunction("info"), nullptr);
}

TEST(Functions, CallsAreCheckedForArityAndTypes) {
  for (const Signature& sig : kSignatures) {
    std::string args = sig.args;
    bool optional = !args.empty() && args.back() == '?';
    bool repeated = !args.empty() && args.back() == '*';
    if (optional || repeated) args.pop_back();
    std::string name = sig.name;
    std::string list;
    for (char c : args) list += (list.empty() ? "" : ", ") + ArgOf(c);
    auto ok = ParseExpr(name + "(" + list + ")");
    ASSERT_TRUE(ok.ok()) << name << ": " << ok.status().ToString();
    EXPECT_EQ((*ok)->Type(), TypeOf(sig.returns)) << name;
    std::string more = list + (list.empty() ? "" : ", ") + ArgOf(args.empty() ? 'v' : args.back());
    auto extra = ParseExpr(name + "(" + more + ")");
    if (repeated) {
      EXPECT_TRUE(extra.ok()) << name;
    } else if (optional) {
      ASSERT_FALSE(extra.ok()) << name;
      EXPECT_NE(extra.status().message().find("expected at most " + std::to_string(args.size()) +
                                              " argument(s) in call to \"" + name + "\""),
                std::string::npos)
          << extra.status().message();
    } else {
      ASSERT_FALSE(extra.ok()) << name;
      EXPECT_EQ(extra.status().message(), "1:1: parse error: expected " +
                                              std::to_string(args.size()) +
                                              " argument(s) in call to \"" + name + "\", got " +
                                              std::to_string(args.size() + 1));
    }
    if (args.empty()) continue;
    std::string wrong = WrongArgOf(args[0]);
    for (size_t i = 1; i < args.size(); ++i) wrong += ", " + ArgOf(args[i]);
    auto bad = ParseExpr(name + "(" + wrong + ")");
    ASSERT_FALSE(bad.ok()) << name;
    EXPECT_EQ(
        bad.status().message(),
        "1:" + std::to_string(name.size() + 2) + ": parse error: expected type " +
            std::string(ValueTypeName(TypeOf(args[0]))) + " in call to function \"" + name +
            "\", got " +
            std::string(ValueTypeName(args[0] == 'm' ? ValueType::kVector : ValueType::kMatrix)));
  }
}

TEST(ParseExpr, QuirksOfPrometheus242AreKept) {
  // Durations are not numbers in 2.42.
  EXPECT_EQ(ErrorOf("foo + 5m"), "1:7: parse error: unexpected duration \"5m\"");
  // Any letter inside brackets lexes as the subquery colon.
  EXPECT_EQ(Printed("foo[5m x]"), "foo[5m:]");
  // Keywords are case-insensitive, function names are not.
  EXPECT_EQ(Printed("Sum(x) BY (a)"), "sum by (a) (x)");
  EXPECT_EQ(Printed("Rate(x[5m])"), "ERROR: 1:1: parse error: unknown function with name \"Rate\"");
  EXPECT_EQ(Printed("foo OFFSET 5m AND bar"), "foo offset 5m and bar");
  // A sign folds into a number literal, not into a parenthesised one.
  EXPECT_EQ(Printed("-0"), "-0");
  EXPECT_EQ(Printed("1 + - 2"), "1 + -2");
  EXPECT_EQ(Printed("- - foo"), "--foo");
  // An @ timestamp is rounded to the millisecond.
  EXPECT_EQ(Printed("foo @ 1.0005"), "foo @ 1.001");
}

TEST(ParseExpr, ErrorsCountLinesAndColumnsInBytes) {
  EXPECT_EQ(ErrorOf("sum(\n  rate(x)\n)"),
            "2:8: parse error: expected type range vector in call to function \"rate\", got "
            "instant vector");
  EXPECT_EQ(ErrorOf("{a=\"\u00e9\"} + $"), "1:12: parse error: unexpected character: '$'");
}

TEST(ParseExpr, HostileNestingIsRejectedNotCrashing) {
  std::string deep(100000, '(');
  auto e = ParseExpr(deep + "1" + std::string(100000, ')'));
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.status().message().find("nesting"), std::string::npos);
  std::string chain = "x";
  for (int i = 0; i < 50000; ++i) chain += " + x";
  EXPECT_FALSE(ParseExpr(chain).ok());
  std::string unary(50000, '-');
  EXPECT_FALSE(ParseExpr(unary + "x").ok());
  std::string subqueries = "x";
  for (int i = 0; i < 50000; ++i) subqueries += "[5m:]";
  EXPECT_FALSE(ParseExpr(subqueries).ok());
  // Loops cannot stack up height either: each parenthesised level holds a long chain.
  std::string tall = "x";
  for (int level = 0; level < 60; ++level) {
    tall = "(" + tall + ")";
    for (int i = 0; i < 60; ++i) tall += " + x";
  }
  EXPECT_FALSE(ParseExpr(tall).ok());
  // Within the limit, deep queries parse.
  EXPECT_TRUE(ParseExpr(std::string(900, '(') + "1" + std::string(900, ')')).ok());
  EXPECT_TRUE(ParseExpr(std::string(5000, '-') + "1").ok());  // signs fold into the literal
}

// A 16 MiB query (what the API accepts) fails as soon as the parser gives up, without lexing or
// keeping the rest of it: `1+1+...` at the height limit, flat lists at the token limit.
TEST(ParseExpr, HugeQueriesFailWithAClearError) {
  constexpr size_t kSize = size_t{16} << 20;
  std::string chain = "1";
  chain.reserve(kSize);
  while (chain.size() < kSize) chain += "+1";
  EXPECT_EQ(ErrorOf(chain), "1:1: parse error: expression nesting exceeds 1000 levels");
  std::string matchers = "{";
  matchers.reserve(kSize);
  while (matchers.size() < kSize) matchers += "a=\"1\",";
  matchers += "}";
  // Item 100,001 is the comma after the 25,000th matcher, at byte 25,000 * 6.
  EXPECT_EQ(ErrorOf(matchers),
            "1:150001: parse error: query has more than 100000 tokens, the most this parser "
            "reads");
  std::string args = "max(vector(1)";
  while (args.size() < kSize) args += ", 1";
  EXPECT_NE(ErrorOf(args + ")").find("more than 100000 tokens"), std::string::npos);
}

// The tree's shape, for what printing cannot show.
TEST(ParseExpr, UnaryMinusBindsLooserThanPower) {
  auto e = ParseExpr("-2 ^ 2");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto* u = As<UnaryExpr>(e->get());
  ASSERT_NE(u, nullptr);
  EXPECT_TRUE(u->negate);
  auto* pow = As<BinaryExpr>(u->expr.get());
  ASSERT_NE(pow, nullptr);
  EXPECT_EQ(pow->op, BinaryOp::kPow);
  // -2 * 3 is (-2) * 3 with the sign folded into the literal.
  auto m = ParseExpr("-2 * 3");
  ASSERT_TRUE(m.ok());
  auto* mul = As<BinaryExpr>(m->get());
  ASSERT_NE(mul, nullptr);
  EXPECT_EQ(As<NumberLiteral>(mul->lhs.get())->value, -2);
}

TEST(ParseExpr, PowerIsRightAssociativeOthersLeft) {
  auto e = ParseExpr("2 ^ 3 ^ 2");
  ASSERT_TRUE(e.ok());
  auto* top = As<BinaryExpr>(e->get());
  EXPECT_EQ(top->lhs->kind, NodeKind::kNumberLiteral);
  EXPECT_EQ(top->rhs->kind, NodeKind::kBinary);
  auto s = ParseExpr("a - b - c");
  ASSERT_TRUE(s.ok());
  auto* sub = As<BinaryExpr>(s->get());
  EXPECT_EQ(sub->lhs->kind, NodeKind::kBinary);
  EXPECT_EQ(sub->rhs->kind, NodeKind::kVectorSelector);
}

TEST(ParseExpr, PrecedenceLevelsFromOrToPower) {
  // or < and/unless < comparisons < +,- < *,/,%,atan2 < ^: the root is always the loosest.
  const char* cases[][2] = {
      {"a or b and c", "or"},     {"a and b == c", "and"},    {"a unless b > c", "unless"},
      {"a == b + c", "=="},       {"a + b * c", "+"},         {"a - b % c", "-"},
      {"a * b ^ c", "*"},         {"a atan2 b ^ c", "atan2"}, {"a ^ b * c", "*"},
      {"a / b atan2 c", "atan2"},
  };
  for (auto& c : cases) {
    auto e = ParseExpr(c[0]);
    ASSERT_TRUE(e.ok()) << c[0] << ": " << e.status().ToString();
    auto* b = As<BinaryExpr>(e->get());
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(BinaryOpName(b->op), c[1]) << c[0];
  }
}

TEST(ParseExpr, SelectorCarriesMatchersOffsetAndAt) {
  auto e = ParseExpr(R"(http_requests_total{code=~"5.."} offset -5m @ 1609746000.5)");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto* vs = As<VectorSelector>(e->get());
  ASSERT_NE(vs, nullptr);
  EXPECT_EQ(vs->name, "http_requests_total");
  ASSERT_EQ(vs->matchers.size(), 2u);
  EXPECT_EQ(vs->matchers[0].name(), "__name__");
  EXPECT_TRUE(vs->matchers[1].Matches("503"));
  EXPECT_FALSE(vs->matchers[1].Matches("1503"));
  EXPECT_EQ(vs->offset_ms, -300000);
  EXPECT_EQ(vs->at, AtModifier::kTimestamp);
  EXPECT_EQ(vs->at_ms, 1609746000500);
  EXPECT_EQ(vs->pos, 0u);
}

TEST(ParseExpr, MatrixAndSubqueryFields) {
  auto e = ParseExpr("foo[5m] offset 1m");
  ASSERT_TRUE(e.ok());
  auto* m = As<MatrixSelector>(e->get());
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->range_ms, 300000);
  EXPECT_EQ(m->vector->offset_ms, 60000);
  auto s = ParseExpr("max_over_time(rate(x[1m])[1h:30s] @ start())");
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto* call = As<Call>(s->get());
  ASSERT_NE(call, nullptr);
  auto* sq = As<SubqueryExpr>(call->args[0].get());
  ASSERT_NE(sq, nullptr);
  EXPECT_EQ(sq->range_ms, 3600000);
  EXPECT_EQ(sq->step_ms, 30000);
  EXPECT_EQ(sq->at, AtModifier::kStart);
  auto d = ParseExpr("foo[5m:]");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(As<SubqueryExpr>(d->get())->step_ms, 0);
}

TEST(ParseExpr, VectorMatchingIsKeptOnlyBetweenVectors) {
  auto e = ParseExpr("a * on (b) group_left (c) d");
  ASSERT_TRUE(e.ok());
  auto* b = As<BinaryExpr>(e->get());
  ASSERT_TRUE(b->matching.has_value());
  EXPECT_TRUE(b->matching->on);
  EXPECT_EQ(b->matching->card, VectorMatching::Card::kManyToOne);
  EXPECT_EQ(b->matching->labels, std::vector<std::string>{"b"});
  EXPECT_EQ(b->matching->include, std::vector<std::string>{"c"});
  auto s = ParseExpr("a and b");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(As<BinaryExpr>(s->get())->matching->card, VectorMatching::Card::kManyToMany);
  auto scalar = ParseExpr("a * 2");
  ASSERT_TRUE(scalar.ok());
  EXPECT_FALSE(As<BinaryExpr>(scalar->get())->matching.has_value());
}

TEST(ParseExpr, AggregationsTakeParameterAndGrouping) {
  auto e = ParseExpr("topk without (instance) (3, rate(x[5m]))");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  auto* a = As<AggregateExpr>(e->get());
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->op, AggOp::kTopk);
  EXPECT_TRUE(a->without);
  EXPECT_EQ(a->grouping, std::vector<std::string>{"instance"});
  EXPECT_EQ(As<NumberLiteral>(a->param.get())->value, 3);
  EXPECT_EQ(a->expr->kind, NodeKind::kCall);
}

TEST(ParseExpr, TypesFollowPrometheus) {
  const std::pair<const char*, ValueType> cases[] = {
      {"1", ValueType::kScalar},           {R"("s")", ValueType::kString},
      {"x", ValueType::kVector},           {"x[5m]", ValueType::kMatrix},
      {"x[5m:]", ValueType::kMatrix},      {"(1)", ValueType::kScalar},
      {"-x", ValueType::kVector},          {"1 + 1", ValueType::kScalar},
      {"1 + x", ValueType::kVector},       {"sum(x)", ValueType::kVector},
      {"time()", ValueType::kScalar},      {"scalar(x)", ValueType::kScalar},
      {"rate(x[1m])", ValueType::kVector}, {"1 > bool 2", ValueType::kScalar},
  };
  for (const auto& [q, t] : cases) {
    auto e = ParseExpr(q);
    ASSERT_TRUE(e.ok()) << q << ": " << e.status().ToString();
    EXPECT_EQ((*e)->Type(), t) << q;
  }
}

TEST(ParseExpr, NodePositionsAreByteRanges) {
  std::string q = "sum(rate(foo[5m])) + bar";
  auto e = ParseExpr(q);
  ASSERT_TRUE(e.ok());
  auto* b = As<BinaryExpr>(e->get());
  EXPECT_EQ(b->pos, 0u);
  EXPECT_EQ(b->end, q.size());
  EXPECT_EQ(q.substr(b->lhs->pos, b->lhs->end - b->lhs->pos), "sum(rate(foo[5m]))");
  EXPECT_EQ(b->op_pos, q.find('+'));
  EXPECT_EQ(b->rhs->pos, q.find("bar"));
}

}  // namespace
}  // namespace steward::promql
