// Internals of the alert template engine (template.h), shared by its files: a port of Go's
// text/template as Go 1.20 (which built Prometheus 2.42) has it — lexer (template_lex.cc),
// parser into the node tree below (template_parse.cc), executor (template_exec.cc), the
// builtin functions (template_builtins.cc), fmt's verbs (template_fmt.cc) — and Prometheus'
// own functions (template_funcs.cc).
//
// Errors: parse and execution errors are thrown as TemplateError inside these files and caught
// by Parse and Execute, which return them as Status; nothing throws out of the room. Messages
// are Go's ("template: NAME:LINE: unexpected \"}\" in operand").
//
// Values are Go's dynamic values reduced to the types alert templates can meet: bool, int,
// float64, string, html/template.HTML, map[string]string (labels), map[string]interface{}
// (args), Prometheus' queryResult and *sample, time.Time, and the alert data struct.
// Thread safety: plain values and stateless functions; one Executor per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "alerting/template.h"
#include "base/url.h"
#include "base/status.h"

namespace steward::alerting::tmpl {

// Limits that keep hostile templates bounded.
inline constexpr size_t kMaxTextBytes = 1 << 20;      // template source
inline constexpr int kMaxParseDepth = 100;            // nested control structures / parens
inline constexpr size_t kMaxOutputBytes = 256 << 10;  // expanded text
inline constexpr int64_t kMaxSteps = 1000000;         // evaluated nodes and range iterations
inline constexpr int kMaxTemplateDepth = 10;          // nested {{template}} calls
inline constexpr size_t kMaxVariables = 1000;         // variables in scope

class TemplateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// ---- Values ----------------------------------------------------------------------------------

struct QSample {  // Prometheus' template `sample`
  std::map<std::string, std::string> labels;
  double value = 0;
};
struct Value;
using AnyMap = std::map<std::string, Value>;
using Samples = std::vector<std::shared_ptr<const QSample>>;

struct Value {
  enum class Type : uint8_t {
    kInvalid,  // Go's invalid reflect.Value (missing value, untyped nil)
    kNil,      // a nil interface{} (zero element of map[string]interface{})
    kBool,
    kInt,
    kFloat,
    kString,
    kHTML,     // html/template.HTML
    kLabels,   // map[string]string
    kAnyMap,   // map[string]interface{}
    kSamples,  // template.queryResult ([]*sample)
    kSample,   // *template.sample (may be nil)
    kTime,     // *time.Time: unix nanoseconds in i
    kData,     // the alert data struct
  };
  Type type = Type::kInvalid;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<const std::map<std::string, std::string>> labels;
  std::shared_ptr<const AnyMap> any;
  std::shared_ptr<const Samples> samples;
  std::shared_ptr<const QSample> sample;
  const TemplateData* data = nullptr;

  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Float(double v);
  static Value String(std::string v, Type t = Type::kString);
  bool valid() const { return type != Type::kInvalid; }
  bool IsStringKind() const { return type == Type::kString || type == Type::kHTML; }
};

// Go's type name of a value ("float64", "map[string]string", "*template.sample", ...).
std::string TypeName(const Value& v);
// Go's truth: (truth, ok); ok false when the value has no truth (never for our types).
bool IsTrue(const Value& v);

// ---- Nodes -----------------------------------------------------------------------------------

enum class NodeType : uint8_t {
  kList,
  kText,
  kAction,
  kIf,
  kRange,
  kWith,
  kTemplate,
  kBreak,
  kContinue,
  kPipe,
  kCommand,
  kIdentifier,
  kVariable,
  kField,
  kChain,
  kDot,
  kNil,
  kBool,
  kNumber,
  kString,
  kEnd,
  kElse,  // parser-internal
};

struct Node {
  NodeType type = NodeType::kList;
  size_t pos = 0;  // byte offset in the parsed text
  int line = 1;
  std::string text;                          // kText bytes; identifier; string value; template name
  std::string raw;                           // number or string literal as written
  std::vector<std::string> ident;            // variable ("$x","a") / field ("a","b") / chain fields
  std::vector<std::unique_ptr<Node>> nodes;  // list items; command args; pipe commands
  std::vector<std::unique_ptr<Node>> decl;   // pipe declarations (variables)
  bool is_assign = false;                    // pipe: "=" rather than ":="
  bool b = false;                            // bool literal
  // Number literal, as Go's parse.NumberNode.
  bool is_int = false, is_uint = false, is_float = false;
  int64_t i = 0;
  double f = 0;
  std::unique_ptr<Node> pipe;       // action, if, range, with, template; chain base node
  std::unique_ptr<Node> list;       // if/range/with body
  std::unique_ptr<Node> else_list;  // if/range/with else

  // Go's Node.String(): the node as it would be written.
  std::string String() const;
};

// A parsed set of templates: the main one under its name plus every {{define}} and {{block}}.
struct TemplateSet {
  std::string name;
  std::string text;
  std::map<std::string, std::unique_ptr<Node>> trees;
};

// ---- Entry points ----------------------------------------------------------------------------

// Is `name` a function templates may call (builtin or Prometheus')?
bool HasFunction(std::string_view name);

// Parses like text/template's Parse. On error, `*error_pos` (when set) receives the byte offset
// of the action the error is in (or of the error itself, outside actions).
StatusOr<std::unique_ptr<TemplateSet>> Parse(std::string_view name, std::string_view text,
                                             size_t* error_pos = nullptr);

// Executes the set's main template with `dot` as data.
StatusOr<std::string> Execute(const TemplateSet& set, const Value& dot, const TemplateData& data);

// ---- Go helpers shared by the files ----------------------------------------------------------

// fmt.Sprint / Sprintf / Sprintln over values; `budget` bounds output size (0: unbounded).
std::string Sprint(const std::vector<Value>& args);
std::string Sprintln(const std::vector<Value>& args);
std::string Sprintf(std::string_view format, const std::vector<Value>& args);
// fmt's %v of one value (what {{ x }} prints).
std::string FormatValue(const Value& v);
// fmt.Sprintf("%.4g", v) etc.: Go's %g / %e / %f with a precision (-1: shortest).
std::string GoFormatFloat(double v, char verb, int prec);
// time.Time.String() of unix nanoseconds in UTC.
std::string GoTimeString(int64_t unix_nanos);
// strconv.Quote.
std::string Quote(std::string_view s);
// strconv.Unquote for "..." and `...` literals; "invalid syntax" on failure.
StatusOr<std::string> UnquoteLiteral(std::string_view s);
// One UTF-8 rune at s[at]: the code point (0xFFFD when invalid) and its width (>= 1).
uint32_t DecodeRune(std::string_view s, size_t at, size_t* width);
void AppendRune(std::string* out, uint32_t r);

// The builtins and Prometheus' functions, called with evaluated arguments. Throws
// TemplateError with the bare reason (the executor adds "error calling NAME: ").
struct CallContext {
  const TemplateData* data = nullptr;
};
Value CallBuiltin(std::string_view name, const std::vector<Value>& args, const CallContext& ctx);
Value CallPrometheus(std::string_view name, const std::vector<Value>& args, const CallContext& ctx);
bool IsBuiltin(std::string_view name);
bool IsPrometheusFunction(std::string_view name);
// Argument kinds of a function, for Go's argument checking before the call: one letter per
// parameter: 's' string, 'f' float64, 'i' int, 'a' interface{}/reflect.Value, 'q' queryResult,
// 'p' *sample; a trailing '*' marks the last as variadic. nullptr for unknown names.
const char* Signature(std::string_view name);

// Go comparisons: eq/ne/lt/le/gt/ge; throws TemplateError with Go's reason.
bool Compare(std::string_view op, const Value& a, const std::vector<Value>& rest);
// The builtins' and Prometheus' signatures (see Signature).
const char* BuiltinSignature(std::string_view name);
const char* PrometheusSignature(std::string_view name);
using steward::QueryEscape;  // base/url.h: Go's url.QueryEscape

}  // namespace steward::alerting::tmpl
