// text/template's builtin functions (text/template/funcs.go, Go 1.20): and, or, not, len,
// index, slice, print, printf, println, html, js, urlquery, call and the comparisons, with
// Go's errors ("incompatible types for comparison", "index out of range: 5").
#include <fmt/format.h>

#include "alerting/template_internal.h"

namespace steward::alerting::tmpl {
namespace {

struct Sig {
  std::string_view name;
  const char* sig;
};

// 'r': reflect.Value (any value, no conversion); 'a': interface{}; 's': string.
constexpr Sig kBuiltins[] = {
    {"and", "rr*"},   {"or", "rr*"},      {"not", "r"},      {"len", "r"},      {"index", "rr*"},
    {"slice", "rr*"}, {"print", "a*"},    {"printf", "sa*"}, {"println", "a*"}, {"html", "a*"},
    {"js", "a*"},     {"urlquery", "a*"}, {"call", "rr*"},   {"eq", "rr*"},     {"ne", "rr"},
    {"lt", "rr"},     {"le", "rr"},       {"gt", "rr"},      {"ge", "rr"},
};

[[noreturn]] void Fail(const std::string& why) { throw TemplateError(why); }

enum class Kind { kInvalid, kBool, kInt, kFloat, kString, kOther };

Kind BasicKind(const Value& v) {
  using T = Value::Type;
  switch (v.type) {
    case T::kInvalid:
    case T::kNil:
      return Kind::kInvalid;
    case T::kBool:
      return Kind::kBool;
    case T::kInt:
      return Kind::kInt;
    case T::kFloat:
      return Kind::kFloat;
    case T::kString:
    case T::kHTML:
      return Kind::kString;
    default:
      return Kind::kOther;
  }
}

bool Eq(const Value& a, const std::vector<Value>& rest) {
  if (rest.empty()) Fail("missing argument for comparison");
  Kind k1 = BasicKind(a);
  for (const Value& b : rest) {
    Kind k2 = BasicKind(b);
    bool truth = false;
    if (k1 != k2) {
      if (a.valid() && a.type != Value::Type::kNil && b.valid() && b.type != Value::Type::kNil) {
        Fail("incompatible types for comparison");
      }
    } else {
      switch (k1) {
        case Kind::kBool:
          truth = a.b == b.b;
          break;
        case Kind::kInt:
          truth = a.i == b.i;
          break;
        case Kind::kFloat:
          truth = a.f == b.f;
          break;
        case Kind::kString:
          truth = a.s == b.s;
          break;
        case Kind::kInvalid:
          truth = true;
          break;
        default:
          if (a.type != b.type || a.type == Value::Type::kLabels ||
              a.type == Value::Type::kAnyMap || a.type == Value::Type::kSamples) {
            Fail(fmt::format("non-comparable type {}: {}", FormatValue(a), TypeName(a)));
          }
          truth = a.type == Value::Type::kSample ? a.sample == b.sample
                  : a.type == Value::Type::kTime ? a.i == b.i
                                                 : a.data == b.data;
      }
    }
    if (truth) return true;
  }
  return false;
}

bool Lt(const Value& a, const Value& b) {
  Kind k1 = BasicKind(a), k2 = BasicKind(b);
  if (k1 == Kind::kInvalid || k1 == Kind::kOther || k2 == Kind::kInvalid || k2 == Kind::kOther) {
    Fail("invalid type for comparison");
  }
  if (k1 != k2) Fail("incompatible types for comparison");
  switch (k1) {
    case Kind::kFloat:
      return a.f < b.f;
    case Kind::kInt:
      return a.i < b.i;
    case Kind::kString:
      return a.s < b.s;
    default:
      Fail("invalid type for comparison");
  }
}

int64_t IndexArg(const Value& index, size_t cap) {
  if (index.type == Value::Type::kInvalid || index.type == Value::Type::kNil) {
    Fail("cannot index slice/array with nil");
  }
  if (index.type != Value::Type::kInt)
    Fail("cannot index slice/array with type " + TypeName(index));
  if (index.i < 0 || static_cast<uint64_t>(index.i) > cap) {
    Fail(fmt::format("index out of range: {}", index.i));
  }
  return index.i;
}

Value SampleValue(std::shared_ptr<const QSample> s) {
  Value v;
  v.type = Value::Type::kSample;
  v.sample = std::move(s);
  return v;
}

Value Index(const std::vector<Value>& args) {
  Value item = args[0];
  if (!item.valid() || item.type == Value::Type::kNil) Fail("index of untyped nil");
  for (size_t k = 1; k < args.size(); ++k) {
    const Value& index = args[k];
    switch (item.type) {
      case Value::Type::kString:
      case Value::Type::kHTML: {
        int64_t x = IndexArg(index, item.s.size());
        if (static_cast<size_t>(x) == item.s.size()) Fail("reflect: string index out of range");
        item = Value::Int(static_cast<unsigned char>(item.s[static_cast<size_t>(x)]));
        break;
      }
      case Value::Type::kSamples: {
        size_t n = item.samples ? item.samples->size() : 0;
        int64_t x = IndexArg(index, n);
        if (static_cast<size_t>(x) == n) Fail("reflect: slice index out of range");
        item = SampleValue((*item.samples)[static_cast<size_t>(x)]);
        break;
      }
      case Value::Type::kLabels:
      case Value::Type::kAnyMap: {
        std::string key;
        if (index.type == Value::Type::kString) {
          key = index.s;
        } else if (index.valid() && index.type != Value::Type::kNil) {
          Fail(fmt::format("value has type {}; should be string", TypeName(index)));
        }
        if (item.type == Value::Type::kLabels) {
          auto it = item.labels->find(key);
          item = Value::String(it == item.labels->end() ? "" : it->second);
        } else {
          auto it = item.any->find(key);
          if (it != item.any->end()) {
            item = it->second;
          } else {
            item = Value();
            item.type = Value::Type::kNil;
          }
        }
        break;
      }
      case Value::Type::kSample:
        if (!item.sample) Fail("index of nil pointer");
        [[fallthrough]];
      default:
        Fail("can't index item of type " + TypeName(item));
    }
  }
  return item;
}

Value Slice(const std::vector<Value>& args) {
  const Value& item = args[0];
  if (!item.valid() || item.type == Value::Type::kNil) Fail("slice of untyped nil");
  const size_t nidx = args.size() - 1;
  if (nidx > 3) Fail(fmt::format("too many slice indexes: {}", nidx));
  size_t len = 0;
  if (item.IsStringKind()) {
    if (nidx == 3) Fail("cannot 3-index slice a string");
    len = item.s.size();
  } else if (item.type == Value::Type::kSamples) {
    len = item.samples ? item.samples->size() : 0;
  } else {
    Fail("can't slice item of type " + TypeName(item));
  }
  int64_t idx[3] = {0, static_cast<int64_t>(len), static_cast<int64_t>(len)};
  for (size_t k = 0; k < nidx; ++k) idx[k] = IndexArg(args[k + 1], len);
  if (idx[0] > idx[1]) Fail(fmt::format("invalid slice index: {} > {}", idx[0], idx[1]));
  if (nidx == 3 && idx[1] > idx[2]) {
    Fail(fmt::format("invalid slice index: {} > {}", idx[1], idx[2]));
  }
  auto b = static_cast<size_t>(idx[0]), e = static_cast<size_t>(idx[1]);
  if (item.IsStringKind()) return Value::String(item.s.substr(b, e - b), item.type);
  Value out;
  out.type = Value::Type::kSamples;
  auto s = std::make_shared<Samples>();
  if (item.samples)
    s->assign(item.samples->begin() + static_cast<long>(b),
              item.samples->begin() + static_cast<long>(e));
  out.samples = std::move(s);
  return out;
}

Value Len(const Value& v) {
  using T = Value::Type;
  switch (v.type) {
    case T::kString:
    case T::kHTML:
      return Value::Int(static_cast<int64_t>(v.s.size()));
    case T::kLabels:
      return Value::Int(static_cast<int64_t>(v.labels->size()));
    case T::kAnyMap:
      return Value::Int(static_cast<int64_t>(v.any->size()));
    case T::kSamples:
      return Value::Int(v.samples ? static_cast<int64_t>(v.samples->size()) : 0);
    case T::kSample:
      if (!v.sample) Fail("len of nil pointer");
      Fail("len of type template.sample");
    case T::kInvalid:
    case T::kNil:
      Fail("len of untyped nil");
    default:
      Fail("len of type " + TypeName(v));
  }
}

// evalArgs: the one string argument as is, else fmt.Sprint of all, with nothing printed as
// "<no value>".
std::string ArgsText(const std::vector<Value>& args) {
  if (args.size() == 1 && args[0].type == Value::Type::kString) return args[0].s;
  std::vector<Value> printable = args;
  for (Value& v : printable) {
    if (!v.valid() || v.type == Value::Type::kNil) v = Value::String("<no value>");
  }
  return Sprint(printable);
}

std::string HtmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\0':
        out += "\xEF\xBF\xBD";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string JsEscape(std::string_view s) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      size_t w = 1;
      uint32_t r = DecodeRune(s, i, &w);
      bool printable = !(r == 0xFFFD && w == 1) && !(r >= 0x80 && r < 0xA0) && r != 0xAD &&
                       r != 0x2028 && r != 0x2029 && r != 0xFEFF;
      if (printable) {
        out.append(s.substr(i, w));
      } else {
        out += fmt::format("\\u{:04X}", r);
      }
      i += w;
      continue;
    }
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '"':
        out += "\\\"";
        break;
      case '<':
        out += "\\u003C";
        break;
      case '>':
        out += "\\u003E";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '=':
        out += "\\u003D";
        break;
      default:
        if (c < ' ') {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  return out;
}

}  // namespace


bool IsBuiltin(std::string_view name) {
  for (const Sig& s : kBuiltins) {
    if (s.name == name) return true;
  }
  return false;
}

bool HasFunction(std::string_view name) { return IsBuiltin(name) || IsPrometheusFunction(name); }

const char* BuiltinSignature(std::string_view name) {
  for (const Sig& s : kBuiltins) {
    if (s.name == name) return s.sig;
  }
  return nullptr;
}

bool Compare(std::string_view op, const Value& a, const std::vector<Value>& rest) {
  if (op == "eq") return Eq(a, rest);
  if (op == "ne") return !Eq(a, rest);
  const Value& b = rest.at(0);
  if (op == "lt") return Lt(a, b);
  if (op == "le") return Lt(a, b) || Eq(a, rest);
  if (op == "gt") return !(Lt(a, b) || Eq(a, rest));
  return !Lt(a, b);  // ge
}

Value CallBuiltin(std::string_view name, const std::vector<Value>& args, const CallContext&) {
  if (name == "not") return Value::Bool(!IsTrue(args[0]));
  if (name == "len") return Len(args[0]);
  if (name == "index") return Index(args);
  if (name == "slice") return Slice(args);
  if (name == "print") return Value::String(Sprint(args));
  if (name == "println") return Value::String(Sprintln(args));
  if (name == "printf") {
    return Value::String(Sprintf(args[0].s, std::vector<Value>(args.begin() + 1, args.end())));
  }
  if (name == "html") return Value::String(HtmlEscape(ArgsText(args)));
  if (name == "js") return Value::String(JsEscape(ArgsText(args)));
  if (name == "urlquery") return Value::String(steward::QueryEscape(ArgsText(args)));
  if (name == "call") {
    if (!args[0].valid() || args[0].type == Value::Type::kNil) Fail("call of nil");
    Fail("non-function of type " + TypeName(args[0]));
  }
  return Value::Bool(Compare(name, args[0], std::vector<Value>(args.begin() + 1, args.end())));
}

}  // namespace steward::alerting::tmpl
