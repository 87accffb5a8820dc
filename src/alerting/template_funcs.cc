// Prometheus 2.42's template functions (template/template.go): the humanize family, query and
// its helpers, string and regexp helpers, links and time conversions, with Prometheus' output
// and errors ("first() called on vector with no elements").
#include <arpa/inet.h>
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "alerting/template_internal.h"
#include "base/go_float.h"
#include "promql/parser.h"
#include "tsdb/go_regexp.h"

namespace steward::alerting::tmpl {
namespace {

struct Sig {
  std::string_view name;
  const char* sig;
};

// 's' string, 'a' interface{}, 'q' queryResult, 'p' *sample; '*' variadic.
constexpr Sig kFunctions[] = {
    {"query", "s"},
    {"first", "q"},
    {"label", "sp"},
    {"value", "p"},
    {"strvalue", "p"},
    {"args", "a*"},
    {"reReplaceAll", "sss"},
    {"safeHtml", "s"},
    {"match", "ss"},
    {"title", "s"},
    {"toUpper", "s"},
    {"toLower", "s"},
    {"graphLink", "s"},
    {"tableLink", "s"},
    {"sortByLabel", "sq"},
    {"stripPort", "s"},
    {"stripDomain", "s"},
    {"humanize", "a"},
    {"humanize1024", "a"},
    {"humanizeDuration", "a"},
    {"humanizePercentage", "a"},
    {"humanizeTimestamp", "a"},
    {"toTime", "a"},
    {"pathPrefix", ""},
    {"externalURL", ""},
    {"parseDuration", "s"},
};

[[noreturn]] void Fail(const std::string& why) { throw TemplateError(why); }

constexpr const char* kNilDeref =
    "runtime error: invalid memory address or nil pointer dereference";

// Prometheus' convertToFloat.
double ToFloat(const Value& v) {
  switch (v.type) {
    case Value::Type::kFloat:
      return v.f;
    case Value::Type::kInt:
      return static_cast<double>(v.i);
    case Value::Type::kString: {
      GoFloatResult r = GoParseFloat(v.s);
      if (r.ok()) return r.value;
      Fail(fmt::format(
          "strconv.ParseFloat: parsing {}: {}", Quote(v.s),
          r.error == GoFloatResult::Error::kRange ? "value out of range" : "invalid syntax"));
    }
    default:
      Fail(fmt::format("can't convert {} to float", TypeName(v)));
  }
}

// Go's int64(f) on amd64: out of range and NaN give math.MinInt64.
int64_t GoInt64(double f) {
  if (std::isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0) {
    return std::numeric_limits<int64_t>::min();
  }
  return static_cast<int64_t>(f);
}

std::string G4(double v) { return GoFormatFloat(v, 'g', 4); }

std::string ScaleDown(double v, const char* const* prefixes, double step) {
  std::string prefix;
  for (int i = 0; prefixes[i] != nullptr && std::abs(v) >= step; ++i) {
    prefix = prefixes[i];
    v /= step;
  }
  return G4(v) + prefix;
}

std::string ScaleUp(double v, const char* suffix) {
  static const char* const kSmall[] = {"m", "u", "n", "p", "f", "a", "z", "y", nullptr};
  std::string prefix;
  for (int i = 0; kSmall[i] != nullptr && std::abs(v) < 1; ++i) {
    prefix = kSmall[i];
    v *= 1000;
  }
  return G4(v) + prefix + suffix;
}

std::string Humanize(double v) {
  static const char* const kBig[] = {"k", "M", "G", "T", "P", "E", "Z", "Y", nullptr};
  if (v == 0 || std::isnan(v) || std::isinf(v)) return G4(v);
  if (std::abs(v) >= 1) return ScaleDown(v, kBig, 1000);
  return ScaleUp(v, "");
}

std::string Humanize1024(double v) {
  static const char* const kBig[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi", nullptr};
  if (std::abs(v) <= 1 || std::isnan(v) || std::isinf(v)) return G4(v);
  return ScaleDown(v, kBig, 1024);
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return G4(v);
  if (v == 0) return G4(v) + "s";
  if (std::abs(v) >= 1) {
    std::string sign;
    if (v < 0) {
      sign = "-";
      v = -v;
    }
    int64_t d = GoInt64(v);
    int64_t seconds = d % 60, minutes = d / 60 % 60, hours = d / 60 / 60 % 24;
    int64_t days = d / 60 / 60 / 24;
    if (days != 0) return fmt::format("{}{}d {}h {}m {}s", sign, days, hours, minutes, seconds);
    if (hours != 0) return fmt::format("{}{}h {}m {}s", sign, hours, minutes, seconds);
    if (minutes != 0) return fmt::format("{}{}m {}s", sign, minutes, seconds);
    return sign + G4(v) + "s";
  }
  return ScaleUp(v, "s");
}

// Prometheus' floatToTime, as unix nanoseconds at millisecond precision; `nan_inf` is set
// instead of failing when v is NaN or ±Inf.
int64_t FloatToTime(double v, bool* nan_inf) {
  if (std::isnan(v) || std::isinf(v)) {
    if (nan_inf != nullptr) {
      *nan_inf = true;
      return 0;
    }
    Fail("value is NaN or Inf");
  }
  double ts = v * 1e9;
  if (ts > 9223372036854775807.0 || ts < -9223372036854775808.0) {
    Fail(fmt::format("{} cannot be represented as a nanoseconds timestamp since it overflows int64",
                     FormatValue(Value::Float(v))));
  }
  return GoInt64(ts) / 1000000 * 1000000;
}

const QSample& Deref(const Value& v) {
  if (!v.sample) Fail(kNilDeref);
  return *v.sample;
}

// Go's regexp error text from RE2's.
std::string RegexpError(const RE2& re) {
  const char* code = "invalid regexp";
  switch (re.error_code()) {
    case RE2::ErrorMissingParen:
      code = "missing closing )";
      break;
    case RE2::ErrorMissingBracket:
      code = "missing closing ]";
      break;
    case RE2::ErrorBadEscape:
      code = "invalid escape sequence";
      break;
    case RE2::ErrorBadCharRange:
      code = "invalid character class range";
      break;
    case RE2::ErrorBadCharClass:
      code = "invalid character class";
      break;
    case RE2::ErrorRepeatArgument:
      code = "missing argument to repetition operator";
      break;
    case RE2::ErrorRepeatSize:
      code = "invalid repeat count";
      break;
    case RE2::ErrorRepeatOp:
      code = "invalid nested repetition operator";
      break;
    case RE2::ErrorBadPerlOp:
      code = "invalid or unsupported Perl syntax";
      break;
    case RE2::ErrorBadNamedCapture:
      code = "invalid named capture";
      break;
    case RE2::ErrorTrailingBackslash:
      code = "trailing backslash at end of expression";
      break;
    case RE2::ErrorBadUTF8:
      code = "invalid UTF-8";
      break;
    default:
      break;
  }
  return fmt::format("error parsing regexp: {}: `{}`", code, re.error_arg());
}

std::unique_ptr<RE2> Compile(const std::string& pattern, bool must) {
  auto re = std::make_unique<RE2>(pattern, tsdb::GoRegexpOptions());
  if (re->ok() && pattern.find("\\C") == std::string::npos) return re;
  std::string err =
      re->ok() ? "error parsing regexp: invalid escape sequence: `\\C`" : RegexpError(*re);
  if (!must) Fail(err);
  std::string quoted =
      pattern.find('`') == std::string::npos ? "`" + pattern + "`" : Quote(pattern);
  Fail(fmt::format("regexp: Compile({}): {}", quoted, err));
}

// Go's Regexp.expand of a ReplaceAllString template: $1, ${1}, $name, ${name}, $$.
void Expand(const RE2& re, std::string_view tmpl, const std::vector<re2::StringPiece>& groups,
            std::string* out) {
  const auto& names = re.NamedCapturingGroups();
  while (!tmpl.empty()) {
    size_t dollar = tmpl.find('$');
    if (dollar == std::string_view::npos) break;
    out->append(tmpl.substr(0, dollar));
    tmpl.remove_prefix(dollar + 1);
    if (!tmpl.empty() && tmpl[0] == '$') {
      out->push_back('$');
      tmpl.remove_prefix(1);
      continue;
    }
    std::string_view str = tmpl;
    bool brace = !str.empty() && str[0] == '{';
    if (brace) str.remove_prefix(1);
    size_t i = 0;
    while (i < str.size()) {
      size_t w = 1;
      uint32_t r = DecodeRune(str, i, &w);
      bool word = r == '_' || (r < 0x80 ? std::isalnum(static_cast<int>(r)) != 0 : r != 0xFFFD);
      if (!word) break;
      i += w;
    }
    std::string_view name = str.substr(0, i);
    if (i == 0 || (brace && (i >= str.size() || str[i] != '}'))) {
      out->push_back('$');
      continue;
    }
    if (brace) ++i;
    tmpl = str.substr(i);
    int64_t num = 0;
    for (char c : name) {
      if (c < '0' || c > '9' || num >= 100000000) {
        num = -1;
        break;
      }
      num = num * 10 + (c - '0');
    }
    if (name[0] == '0' && name.size() > 1) num = -1;
    if (num < 0) {
      auto it = names.find(std::string(name));
      if (it != names.end()) num = it->second;
    }
    if (num >= 0 && static_cast<size_t>(num) < groups.size() && groups[num].data() != nullptr) {
      out->append(groups[num].data(), groups[num].size());
    }
  }
  out->append(tmpl);
}

std::string ReplaceAll(const std::string& pattern, const std::string& repl,
                       const std::string& text) {
  auto re = Compile(pattern, true);
  std::vector<re2::StringPiece> groups(static_cast<size_t>(re->NumberOfCapturingGroups()) + 1);
  std::string out;
  size_t search = 0, last_end = 0;
  while (search <= text.size()) {
    if (!re->Match(text, search, text.size(), RE2::UNANCHORED, groups.data(),
                   static_cast<int>(groups.size()))) {
      break;
    }
    size_t a0 = static_cast<size_t>(groups[0].data() - text.data());
    size_t a1 = a0 + groups[0].size();
    out.append(text, last_end, a0 - last_end);
    if (a1 > last_end || a0 == 0) Expand(*re, repl, groups, &out);
    if (out.size() > kMaxOutputBytes) Fail(fmt::format("result exceeds {} bytes", kMaxOutputBytes));
    last_end = a1;
    size_t width = 1;
    if (search < text.size()) DecodeRune(text, search, &width);
    if (search + width > a1) {
      search += width;
    } else if (search + 1 > a1) {
      ++search;
    } else {
      search = a1;
    }
  }
  out.append(text, last_end, std::string::npos);
  return out;
}

// Simple Unicode case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic.
uint32_t ToUpperRune(uint32_t r) {
  if (r >= 'a' && r <= 'z') return r - 32;
  if ((r >= 0xE0 && r <= 0xFE && r != 0xF7)) return r - 32;
  if (r == 0xFF) return 0x178;
  if (r == 0xB5) return 0x39C;
  if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 && r != 0x149) {
    bool odd_lower = (r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E);
    if (odd_lower ? (r % 2 == 0) : (r % 2 == 1)) return r - 1;
    return r;
  }
  if (r == 0x3C2) return 0x3A3;
  if (r >= 0x3B1 && r <= 0x3C9) return r - 32;
  if (r >= 0x430 && r <= 0x44F) return r - 32;
  if (r >= 0x450 && r <= 0x45F) return r - 80;
  return r;
}

uint32_t ToLowerRune(uint32_t r) {
  if (r >= 'A' && r <= 'Z') return r + 32;
  if (r >= 0xC0 && r <= 0xDE && r != 0xD7) return r + 32;
  if (r == 0x178) return 0xFF;
  if (r >= 0x100 && r <= 0x17F && r != 0x130 && r != 0x131 && r != 0x138 && r != 0x149) {
    bool odd_lower = (r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E);
    if (odd_lower ? (r % 2 == 1) : (r % 2 == 0)) return r + 1;
    return r;
  }
  if (r == 0x130) return 'i';
  if (r >= 0x391 && r <= 0x3A9 && r != 0x3A2) return r + 32;
  if (r >= 0x410 && r <= 0x42F) return r + 32;
  if (r >= 0x400 && r <= 0x40F) return r + 80;
  return r;
}

bool IsLetterOrDigit(uint32_t r) {
  if (r < 0x80) return std::isalnum(static_cast<int>(r)) != 0 || r == '_';
  return ToUpperRune(r) != r || ToLowerRune(r) != r || r >= 0x4E00;
}

std::string MapRunes(std::string_view s, uint32_t (*f)(uint32_t)) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t w = 1;
    uint32_t r = DecodeRune(s, i, &w);
    if (r == 0xFFFD && w == 1) {
      AppendRune(&out, r);
    } else {
      AppendRune(&out, f(r));
    }
    i += w;
  }
  return out;
}

// strings.Title: upper-case the first letter of each word.
std::string Title(std::string_view s) {
  std::string out;
  bool prev_sep = true;
  for (size_t i = 0; i < s.size();) {
    size_t w = 1;
    uint32_t r = DecodeRune(s, i, &w);
    bool invalid = r == 0xFFFD && w == 1;
    bool sep = r < 0x80
                   ? !(std::isalnum(static_cast<int>(r)) != 0 || r == '_')
                   : !IsLetterOrDigit(r) &&
                         (r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) ||
                          r == 0x2028 || r == 0x2029 || r == 0x202F || r == 0x205F || r == 0x3000);
    AppendRune(&out, prev_sep && !invalid ? ToUpperRune(r) : r);
    prev_sep = sep;
    i += w;
  }
  return out;
}

// net.SplitHostPort; false on error.
bool SplitHostPort(std::string_view hp, std::string* host, std::string* port) {
  size_t i = hp.rfind(':');
  if (i == std::string_view::npos) return false;
  size_t j = 0, k = 0;
  if (!hp.empty() && hp[0] == '[') {
    size_t end = hp.find(']');
    if (end == std::string_view::npos || end + 1 != i) return false;
    *host = std::string(hp.substr(1, end - 1));
    j = 1;
    k = end + 1;
  } else {
    *host = std::string(hp.substr(0, i));
    if (host->find(':') != std::string::npos) return false;
  }
  if (hp.substr(j).find('[') != std::string_view::npos) return false;
  if (hp.substr(k).find(']') != std::string_view::npos) return false;
  *port = std::string(hp.substr(i + 1));
  return true;
}

bool IsIP(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

std::string StripDomain(const std::string& hp) {
  std::string host, port;
  if (!SplitHostPort(hp, &host, &port)) {
    host = hp;
    port.clear();
  }
  if (IsIP(host)) return hp;
  host = host.substr(0, host.find('.'));
  if (port.empty()) return host;
  return host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port;
}

std::string UrlPath(const std::string& url) {
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : url.find('/', scheme + 3);
  if (start == std::string::npos) return "";
  size_t end = url.find_first_of("?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

Value SamplesValue(std::shared_ptr<const Samples> s) {
  Value v;
  v.type = Value::Type::kSamples;
  v.samples = std::move(s);
  return v;
}

Value Query(const std::string& expr, const CallContext& ctx) {
  if (!ctx.data->query) Fail("query is not available here: no query engine");
  auto result = ctx.data->query(expr, ctx.data->eval_time_ms);
  if (!result.ok()) Fail(result.status().message());
  auto samples = std::make_shared<Samples>();
  for (const promql::Sample& s : *result) {
    auto q = std::make_shared<QSample>();
    for (const auto& l : s.metric.items()) q->labels[l.name] = l.value;
    q->value = s.v;
    samples->push_back(std::move(q));
  }
  return SamplesValue(std::move(samples));
}

Value TimeValue(int64_t ns) {
  Value v;
  v.type = Value::Type::kTime;
  v.i = ns;
  return v;
}

Value CallSample(std::string_view name, const std::vector<Value>& args) {
  if (name == "first") {
    if (!args[0].samples || args[0].samples->empty()) {
      Fail("first() called on vector with no elements");
    }
    Value v;
    v.type = Value::Type::kSample;
    v.sample = args[0].samples->front();
    return v;
  }
  if (name == "label") {
    const auto& labels = Deref(args[1]).labels;
    auto it = labels.find(args[0].s);
    return Value::String(it == labels.end() ? "" : it->second);
  }
  if (name == "value") return Value::Float(Deref(args[0]).value);
  if (name == "strvalue") {
    const auto& labels = Deref(args[0]).labels;
    auto it = labels.find("__value__");
    return Value::String(it == labels.end() ? "" : it->second);
  }
  // sortByLabel
  auto sorted = std::make_shared<Samples>();
  if (args[1].samples) *sorted = *args[1].samples;
  const std::string& label = args[0].s;
  auto get = [&](const std::shared_ptr<const QSample>& s) -> std::string_view {
    if (!s) Fail(kNilDeref);
    auto it = s->labels.find(label);
    return it == s->labels.end() ? std::string_view() : std::string_view(it->second);
  };
  std::stable_sort(sorted->begin(), sorted->end(),
                   [&](const auto& a, const auto& b) { return get(a) < get(b); });
  return SamplesValue(std::move(sorted));
}

Value CallNumber(std::string_view name, const Value& arg) {
  double v = ToFloat(arg);
  if (name == "humanize") return Value::String(Humanize(v));
  if (name == "humanize1024") return Value::String(Humanize1024(v));
  if (name == "humanizeDuration") return Value::String(HumanizeDuration(v));
  if (name == "humanizePercentage") return Value::String(G4(v * 100) + "%");
  bool nan_inf = false;
  if (name == "toTime") return TimeValue(FloatToTime(v, nullptr));
  int64_t ns = FloatToTime(v, &nan_inf);  // humanizeTimestamp
  return Value::String(nan_inf ? G4(v) : GoTimeString(ns));
}

}  // namespace

bool IsPrometheusFunction(std::string_view name) { return PrometheusSignature(name) != nullptr; }

const char* PrometheusSignature(std::string_view name) {
  for (const Sig& s : kFunctions) {
    if (s.name == name) return s.sig;
  }
  return nullptr;
}

const char* Signature(std::string_view name) {
  const char* s = BuiltinSignature(name);
  return s != nullptr ? s : PrometheusSignature(name);
}

Value CallPrometheus(std::string_view name, const std::vector<Value>& args,
                     const CallContext& ctx) {
  if (name.starts_with("humanize") || name == "toTime") return CallNumber(name, args[0]);
  if (name == "first" || name == "label" || name == "value" || name == "strvalue" ||
      name == "sortByLabel") {
    return CallSample(name, args);
  }
  if (name == "query") return Query(args[0].s, ctx);
  if (name == "args") {
    auto m = std::make_shared<AnyMap>();
    for (size_t i = 0; i < args.size(); ++i) (*m)[fmt::format("arg{}", i)] = args[i];
    Value v;
    v.type = Value::Type::kAnyMap;
    v.any = std::move(m);
    return v;
  }
  if (name == "reReplaceAll") return Value::String(ReplaceAll(args[0].s, args[1].s, args[2].s));
  if (name == "match") {
    auto re = Compile(args[0].s, false);
    return Value::Bool(RE2::PartialMatch(args[1].s, *re));
  }
  if (name == "safeHtml") return Value::String(args[0].s, Value::Type::kHTML);
  if (name == "title") return Value::String(Title(args[0].s));
  if (name == "toUpper") return Value::String(MapRunes(args[0].s, ToUpperRune));
  if (name == "toLower") return Value::String(MapRunes(args[0].s, ToLowerRune));
  if (name == "graphLink" || name == "tableLink") {
    return Value::String(fmt::format("/graph?g0.expr={}&g0.tab={}", QueryEscape(args[0].s),
                                     name == "graphLink" ? 0 : 1));
  }
  if (name == "stripPort") {
    std::string host, port;
    return Value::String(SplitHostPort(args[0].s, &host, &port) ? host : args[0].s);
  }
  if (name == "stripDomain") return Value::String(StripDomain(args[0].s));
  if (name == "externalURL") return Value::String(ctx.data->external_url);
  if (name == "pathPrefix") return Value::String(UrlPath(ctx.data->external_url));
  // parseDuration
  auto ms = promql::ParseDurationMillis(args[0].s);
  if (!ms.ok()) Fail(ms.status().message());
  return Value::Float(static_cast<double>(*ms * 1000000) / 1e9);
}

}  // namespace steward::alerting::tmpl
