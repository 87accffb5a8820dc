// Go's fmt over template values (Sprint, Sprintln, Sprintf with its verbs, flags, widths and
// precisions, and its "%!d(string=x)" complaints), strconv's quoting, and time.Time.String —
// what {{ }} actions and print/printf/println output in Go.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>

#include "alerting/template_internal.h"
#include "promql/parser_internal.h"

namespace steward::alerting::tmpl {

Value Value::Bool(bool v) {
  Value r;
  r.type = Type::kBool;
  r.b = v;
  return r;
}
Value Value::Int(int64_t v) {
  Value r;
  r.type = Type::kInt;
  r.i = v;
  return r;
}
Value Value::Float(double v) {
  Value r;
  r.type = Type::kFloat;
  r.f = v;
  return r;
}
Value Value::String(std::string v, Type t) {
  Value r;
  r.type = t;
  r.s = std::move(v);
  return r;
}

std::string TypeName(const Value& v) {
  using T = Value::Type;
  switch (v.type) {
    case T::kInvalid:
    case T::kNil:
      return "<nil>";
    case T::kBool:
      return "bool";
    case T::kInt:
      return "int";
    case T::kFloat:
      return "float64";
    case T::kString:
      return "string";
    case T::kHTML:
      return "template.HTML";
    case T::kLabels:
      return "map[string]string";
    case T::kAnyMap:
      return "map[string]interface {}";
    case T::kSamples:
      return "template.queryResult";
    case T::kSample:
      return "*template.sample";
    case T::kTime:
      return "*time.Time";
    case T::kData:
      return "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL "
             "string; Value float64 }";
  }
  return "?";
}

bool IsTrue(const Value& v) {
  using T = Value::Type;
  switch (v.type) {
    case T::kInvalid:
    case T::kNil:
      return false;
    case T::kBool:
      return v.b;
    case T::kInt:
      return v.i != 0;
    case T::kFloat:
      return v.f != 0;
    case T::kString:
    case T::kHTML:
      return !v.s.empty();
    case T::kLabels:
      return v.labels && !v.labels->empty();
    case T::kAnyMap:
      return v.any && !v.any->empty();
    case T::kSamples:
      return v.samples && !v.samples->empty();
    case T::kSample:
      return v.sample != nullptr;
    case T::kTime:
    case T::kData:
      return true;
  }
  return false;
}

uint32_t DecodeRune(std::string_view s, size_t at, size_t* width) {
  auto c = static_cast<unsigned char>(s[at]);
  *width = 1;
  if (c < 0x80) return c;
  int n = (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xE ? 2 : (c >> 3) == 0x1E ? 3 : -1;
  if (n < 0) return 0xFFFD;
  static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
  uint32_t cp = n == 1 ? (c & 0x1Fu) : n == 2 ? (c & 0x0Fu) : (c & 0x07u);
  for (int k = 1; k <= n; ++k) {
    if (at + k >= s.size()) return 0xFFFD;
    auto cc = static_cast<unsigned char>(s[at + k]);
    if ((cc >> 6) != 0x2) return 0xFFFD;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000)) return 0xFFFD;
  *width = static_cast<size_t>(n) + 1;
  return cp;
}

void AppendRune(std::string* out, uint32_t r) {
  if (r > 0x10FFFF || (r >= 0xD800 && r < 0xE000)) r = 0xFFFD;
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

std::string Quote(std::string_view s) { return promql::internal::GoQuote(s); }

StatusOr<std::string> UnquoteLiteral(std::string_view s) {
  if (s.size() >= 2 && s.front() == '`' && s.back() == '`') {
    std::string out;
    for (char c : s.substr(1, s.size() - 2)) {
      if (c == '`') return InvalidArgument("invalid syntax");
      if (c != '\r') out.push_back(c);
    }
    return out;
  }
  // Go decodes invalid UTF-8 in a quoted string to U+FFFD.
  std::string valid;
  for (size_t i = 0; i < s.size();) {
    size_t w = 1;
    uint32_t r = DecodeRune(s, i, &w);
    if (r == 0xFFFD && w == 1) {
      AppendRune(&valid, r);
    } else {
      valid.append(s.substr(i, w));
    }
    i += w;
  }
  if (valid.empty() || valid.front() != '"') return InvalidArgument("invalid syntax");
  return promql::internal::Unquote(valid);
}

std::string GoTimeString(int64_t unix_nanos) {
  int64_t secs = unix_nanos / 1000000000;
  int64_t nanos = unix_nanos % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    --secs;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t day = doy - (153 * mp + 2) / 5 + 1;
  int64_t month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  std::string out = fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}", year, month, day, rem / 3600,
                                rem / 60 % 60, rem % 60);
  if (nanos != 0) {
    std::string frac = fmt::format("{:09}", nanos);
    while (frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + " +0000 UTC";
}

std::string GoFormatFloat(double v, char verb, int prec) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (prec < 0) {  // shortest: only %g / %G / %v ask for it here
    std::string s = promql::internal::GoFloat(v);
    if (verb == 'G') {
      for (char& c : s) c = c == 'e' ? 'E' : c;
    }
    return s;
  }
  char spec[8] = {'%', '.', '*', verb == 'F' ? 'f' : verb, '\0'};
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec, std::min(prec, 400), v);
  if (n < 0) return "";
  if (static_cast<size_t>(n) < sizeof buf) return std::string(buf, static_cast<size_t>(n));
  std::string big(static_cast<size_t>(n) + 1, '\0');
  std::snprintf(big.data(), big.size(), spec, std::min(prec, 400), v);
  big.resize(static_cast<size_t>(n));
  return big;
}

namespace {

constexpr int kMaxWidth = 1000000;  // fmt's tooLarge

size_t RuneCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    size_t w = 1;
    DecodeRune(s, i, &w);
    i += w;
  }
  return n;
}

// strconv.QuoteToASCII.
std::string QuoteAscii(std::string_view s) {
  std::string q = Quote(s);
  std::string out;
  for (size_t i = 0; i < q.size();) {
    size_t w = 1;
    uint32_t r = DecodeRune(q, i, &w);
    if (w == 1) {
      out += q[i];
    } else if (r < 0x10000) {
      out += fmt::format("\\u{:04x}", r);
    } else {
      out += fmt::format("\\U{:08x}", r);
    }
    i += w;
  }
  return out;
}

// One fmt.pp: flags of the current verb and the output.
class Printer {
 public:
  std::string out;

  void ClearFlags() {
    plus_ = minus_ = sharp_ = space_ = zero_ = plus_v_ = sharp_v_ = false;
    wid_present_ = prec_present_ = false;
    wid_ = prec_ = 0;
  }
  void DoPrintf(std::string_view format, const std::vector<Value>& args);
  // Go has no bound; a template's output has one, and widths of 10^6 add up.
  void CheckSize() const {
    if (out.size() > kMaxOutputBytes) {
      throw TemplateError(fmt::format("result exceeds {} bytes", kMaxOutputBytes));
    }
  }
  void DoPrint(const std::vector<Value>& args, bool ln);
  void PrintArg(const Value& v, uint32_t verb, int depth = 0);

 private:
  void Pad(std::string_view s);
  void WritePadding(size_t n) { out.append(n, zero_ ? '0' : ' '); }
  void BadVerb(const Value& v, uint32_t verb);
  void FmtInteger(int64_t v, uint32_t verb, const Value& arg);
  void FmtFloat(double v, uint32_t verb, const Value& arg);
  void FmtString(std::string_view s, uint32_t verb, const Value& arg);
  void FmtBool(bool b, uint32_t verb, const Value& arg);
  void IntegerDigits(uint64_t u, bool negative, int base, bool upper, uint32_t verb);
  void FloatString(double v, char verb, int prec);
  std::string Truncate(std::string_view s) const;
  void PrintComposite(const Value& v, uint32_t verb, int depth);

  bool plus_ = false, minus_ = false, sharp_ = false, space_ = false, zero_ = false;
  bool plus_v_ = false, sharp_v_ = false;
  bool wid_present_ = false, prec_present_ = false;
  int wid_ = 0, prec_ = 0;
};

void Printer::Pad(std::string_view s) {
  if (!wid_present_ || wid_ == 0) {
    out.append(s);
    return;
  }
  size_t n = RuneCount(s);
  size_t width = static_cast<size_t>(wid_) > n ? static_cast<size_t>(wid_) - n : 0;
  if (!minus_) {
    WritePadding(width);
    out.append(s);
  } else {
    out.append(s);
    out.append(width, ' ');
  }
}

std::string Printer::Truncate(std::string_view s) const {
  if (!prec_present_) return std::string(s);
  size_t i = 0;
  for (int n = 0; n < prec_ && i < s.size(); ++n) {
    size_t w = 1;
    DecodeRune(s, i, &w);
    i += w;
  }
  return std::string(s.substr(0, i));
}

void Printer::BadVerb(const Value& v, uint32_t verb) {
  out += "%!";
  AppendRune(&out, verb);
  out += '(';
  if (v.valid() && v.type != Value::Type::kNil) {
    out += TypeName(v) + "=";
    PrintArg(v, 'v');
  } else {
    out += "<nil>";
  }
  out += ')';
}

void Printer::FmtBool(bool b, uint32_t verb, const Value& arg) {
  if (verb == 't' || verb == 'v') {
    Pad(b ? "true" : "false");
  } else {
    BadVerb(arg, verb);
  }
}

void Printer::IntegerDigits(uint64_t u, bool negative, int base, bool upper, uint32_t verb) {
  const char* digits = upper ? "0123456789ABCDEFX" : "0123456789abcdefx";
  if (prec_present_ && prec_ == 0 && u == 0) {
    bool old = zero_;
    zero_ = false;
    WritePadding(static_cast<size_t>(wid_));
    zero_ = old;
    return;
  }
  int prec = 0;
  if (prec_present_) {
    prec = prec_;
  } else if (zero_ && wid_present_) {
    prec = wid_;
    if (negative || plus_ || space_) --prec;
  }
  std::string buf;
  do {
    buf.push_back(digits[u % static_cast<uint64_t>(base)]);
    u /= static_cast<uint64_t>(base);
  } while (u != 0);
  while (static_cast<int>(buf.size()) < prec) buf.push_back('0');
  if (sharp_) {
    if (base == 2) buf += "b0";
    if (base == 8 && buf.back() != '0') buf.push_back('0');
    if (base == 16) {
      buf.push_back(digits[16]);
      buf.push_back('0');
    }
  }
  if (verb == 'O') buf += "o0";
  if (negative) {
    buf.push_back('-');
  } else if (plus_) {
    buf.push_back('+');
  } else if (space_) {
    buf.push_back(' ');
  }
  std::reverse(buf.begin(), buf.end());
  bool old = zero_;
  zero_ = false;
  Pad(buf);
  zero_ = old;
}

void Printer::FmtInteger(int64_t v, uint32_t verb, const Value& arg) {
  bool neg = v < 0;
  uint64_t u = neg ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  switch (verb) {
    case 'v':
    case 'd':
      IntegerDigits(u, neg, 10, false, verb);
      return;
    case 'b':
      IntegerDigits(u, neg, 2, false, verb);
      return;
    case 'o':
    case 'O':
      IntegerDigits(u, neg, 8, false, verb);
      return;
    case 'x':
      IntegerDigits(u, neg, 16, false, verb);
      return;
    case 'X':
      IntegerDigits(u, neg, 16, true, verb);
      return;
    case 'c': {
      std::string s;
      AppendRune(&s, v < 0 || v > 0x10FFFF ? 0xFFFD : static_cast<uint32_t>(v));
      Pad(s);
      return;
    }
    case 'q':
      Pad(promql::internal::GoQuoteRune(v < 0 || v > 0x10FFFF ? 0xFFFD : static_cast<uint32_t>(v)));
      return;
    case 'U': {
      std::string s = fmt::format("U+{:04X}", u);
      if (sharp_ && v >= 0 && v <= 0x10FFFF) {
        s += " '";
        AppendRune(&s, static_cast<uint32_t>(v));
        s += "'";
      }
      Pad(s);
      return;
    }
    default:
      BadVerb(arg, verb);
  }
}

void Printer::FloatString(double v, char verb, int prec) {
  if (prec_present_) prec = prec_;
  std::string num = GoFormatFloat(v, verb, prec);
  if (num[0] != '-' && num[0] != '+') num.insert(num.begin(), '+');
  if (space_ && num[0] == '+' && !plus_) num[0] = ' ';
  if (num[1] == 'I' || num[1] == 'N') {
    bool old = zero_;
    zero_ = false;
    if (num[1] == 'N' && !space_ && !plus_) num.erase(0, 1);
    Pad(num);
    zero_ = old;
    return;
  }
  if (plus_ || num[0] != '+') {
    if (zero_ && wid_present_ && wid_ > static_cast<int>(num.size())) {
      out.push_back(num[0]);
      WritePadding(static_cast<size_t>(wid_) - num.size());
      out.append(num, 1);
      return;
    }
    Pad(num);
    return;
  }
  Pad(std::string_view(num).substr(1));
}

void Printer::FmtFloat(double v, uint32_t verb, const Value& arg) {
  switch (verb) {
    case 'v':
      FloatString(v, 'g', -1);
      return;
    case 'g':
    case 'G':
    case 'x':
    case 'X':
    case 'b':
      FloatString(v, verb == 'G' ? 'G' : 'g', -1);
      return;
    case 'f':
    case 'F':
    case 'e':
    case 'E':
      FloatString(v, static_cast<char>(verb), 6);
      return;
    default:
      BadVerb(arg, verb);
  }
}

void Printer::FmtString(std::string_view s, uint32_t verb, const Value& arg) {
  switch (verb) {
    case 'v':
      if (sharp_v_) {
        Pad(Quote(Truncate(s)));
        return;
      }
      [[fallthrough]];
    case 's':
      Pad(Truncate(s));
      return;
    case 'q': {
      std::string t = Truncate(s);
      if (sharp_ && t.find_first_of("`\r\n") == std::string::npos) {
        Pad("`" + t + "`");
      } else if (plus_) {
        Pad(QuoteAscii(t));
      } else {
        Pad(Quote(t));
      }
      return;
    }
    case 'x':
    case 'X': {
      const char* digits = verb == 'x' ? "0123456789abcdef" : "0123456789ABCDEF";
      size_t n = prec_present_ ? std::min(s.size(), static_cast<size_t>(prec_)) : s.size();
      std::string h;
      for (size_t i = 0; i < n; ++i) {
        if (space_ && i > 0) h += ' ';
        if (sharp_ && (space_ || i == 0)) h += verb == 'x' ? "0x" : "0X";
        auto c = static_cast<unsigned char>(s[i]);
        h += digits[c >> 4];
        h += digits[c & 0xF];
      }
      Pad(h);
      return;
    }
    default:
      BadVerb(arg, verb);
  }
}

void Printer::PrintComposite(const Value& v, uint32_t verb, int depth) {
  using T = Value::Type;
  auto labels_map = [&](const std::map<std::string, std::string>& m) {
    out += "map[";
    bool first = true;
    for (const auto& [k, val] : m) {
      if (!first) out += ' ';
      first = false;
      PrintArg(Value::String(k), verb, depth + 1);
      out += ':';
      PrintArg(Value::String(val), verb, depth + 1);
    }
    out += ']';
  };
  auto sample = [&](const QSample& s) {
    out += '{';
    if (plus_v_) out += "Labels:";
    labels_map(s.labels);
    out += plus_v_ ? " Value:" : " ";
    PrintArg(Value::Float(s.value), verb, depth + 1);
    out += '}';
  };
  switch (v.type) {
    case T::kLabels:
      labels_map(*v.labels);
      return;
    case T::kAnyMap: {
      out += "map[";
      bool first = true;
      for (const auto& [k, val] : *v.any) {
        if (!first) out += ' ';
        first = false;
        PrintArg(Value::String(k), verb, depth + 1);
        out += ':';
        PrintArg(val, verb, depth + 1);
      }
      out += ']';
      return;
    }
    case T::kSamples:
      out += '[';
      for (size_t i = 0; v.samples && i < v.samples->size(); ++i) {
        if (i > 0) out += ' ';
        out += '&';
        sample(*(*v.samples)[i]);
      }
      out += ']';
      return;
    case T::kSample:
      if (depth == 0) out += '&';
      sample(*v.sample);
      return;
    case T::kData: {
      out += '{';
      const char* names[] = {"Labels:", " ExternalLabels:", " ExternalURL:", " Value:"};
      out += plus_v_ ? names[0] : "";
      labels_map(v.data->labels);
      out += plus_v_ ? names[1] : " ";
      labels_map(v.data->external_labels);
      out += plus_v_ ? names[2] : " ";
      PrintArg(Value::String(v.data->external_url), verb, depth + 1);
      out += plus_v_ ? names[3] : " ";
      PrintArg(Value::Float(v.data->value), verb, depth + 1);
      out += '}';
      return;
    }
    default:
      return;
  }
}

void Printer::PrintArg(const Value& v, uint32_t verb, int depth) {
  using T = Value::Type;
  if (!v.valid() || v.type == T::kNil || (v.type == T::kSample && !v.sample)) {
    if (verb == 'T' || verb == 'v') {
      Pad("<nil>");
    } else {
      BadVerb(v, verb);
    }
    return;
  }
  if (verb == 'T') {
    Pad(TypeName(v));
    return;
  }
  switch (v.type) {
    case T::kBool:
      FmtBool(v.b, verb, v);
      return;
    case T::kInt:
      FmtInteger(v.i, verb, v);
      return;
    case T::kFloat:
      FmtFloat(v.f, verb, v);
      return;
    case T::kString:
    case T::kHTML:
      FmtString(v.s, verb, v);
      return;
    case T::kTime:
      if (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' || verb == 'X') {
        FmtString(GoTimeString(v.i), verb, v);
      } else {
        BadVerb(v, verb);
      }
      return;
    default:
      PrintComposite(v, verb, depth);
  }
}

// fmt's parsenum: digits at s[*i]; false (and *i at the end) when too large.
bool ParseNum(std::string_view s, size_t* i, int* num, bool* isnum) {
  *num = 0;
  *isnum = false;
  while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9') {
    if (*num > kMaxWidth) {
      *i = s.size();
      *isnum = false;
      return false;
    }
    *num = *num * 10 + (s[*i] - '0');
    *isnum = true;
    ++*i;
  }
  return true;
}

void Printer::DoPrintf(std::string_view format, const std::vector<Value>& args) {
  size_t arg = 0;
  const size_t end = format.size();
  for (size_t i = 0; i < end;) {
    size_t lasti = i;
    while (i < end && format[i] != '%') ++i;
    out.append(format.substr(lasti, i - lasti));
    if (i >= end) break;
    ++i;  // the '%'
    ClearFlags();
    for (; i < end; ++i) {
      char c = format[i];
      if (c == '#')
        sharp_ = true;
      else if (c == '0')
        zero_ = !minus_;
      else if (c == '+')
        plus_ = true;
      else if (c == '-')
        minus_ = true, zero_ = false;
      else if (c == ' ')
        space_ = true;
      else
        break;
    }
    auto int_from_arg = [&](int* out_num) {
      bool ok = arg < args.size() && args[arg].type == Value::Type::kInt &&
                args[arg].i <= kMaxWidth && args[arg].i >= -kMaxWidth;
      *out_num = ok ? static_cast<int>(args[arg].i) : 0;
      if (arg < args.size()) ++arg;
      return ok;
    };
    if (i < end && format[i] == '*') {
      ++i;
      wid_present_ = int_from_arg(&wid_);
      if (!wid_present_) out += "%!(BADWIDTH)";
      if (wid_ < 0) {
        wid_ = -wid_;
        minus_ = true;
        zero_ = false;
      }
    } else {
      ParseNum(format, &i, &wid_, &wid_present_);
    }
    if (i + 1 < end && format[i] == '.') {
      ++i;
      if (i < end && format[i] == '*') {
        ++i;
        prec_present_ = int_from_arg(&prec_);
        if (prec_ < 0) {
          prec_ = 0;
          prec_present_ = false;
        }
        if (!prec_present_) out += "%!(BADPREC)";
      } else {
        ParseNum(format, &i, &prec_, &prec_present_);
        if (!prec_present_) {
          prec_ = 0;
          prec_present_ = true;
        }
      }
    }
    if (i >= end) {
      out += "%!(NOVERB)";
      break;
    }
    size_t w = 1;
    uint32_t verb = DecodeRune(format, i, &w);
    i += w;
    if (verb == '%') {
      out += '%';
    } else if (arg >= args.size()) {
      out += "%!";
      AppendRune(&out, verb);
      out += "(MISSING)";
    } else {
      if (verb == 'v') {
        sharp_v_ = sharp_;
        sharp_ = false;
        plus_v_ = plus_;
        plus_ = false;
      }
      PrintArg(args[arg++], verb);
    }
    CheckSize();
  }
  if (arg < args.size()) {
    ClearFlags();
    out += "%!(EXTRA ";
    for (size_t k = arg; k < args.size(); ++k) {
      if (k > arg) out += ", ";
      if (!args[k].valid() || args[k].type == Value::Type::kNil) {
        out += "<nil>";
      } else {
        out += TypeName(args[k]) + "=";
        PrintArg(args[k], 'v');
      }
    }
    out += ')';
  }
}

void Printer::DoPrint(const std::vector<Value>& args, bool ln) {
  bool prev_string = false;
  for (size_t k = 0; k < args.size(); ++k) {
    bool is_string = args[k].IsStringKind();
    if (k > 0 && (ln || (!is_string && !prev_string))) out += ' ';
    ClearFlags();
    PrintArg(args[k], 'v');
    CheckSize();
    prev_string = is_string;
  }
  if (ln) out += '\n';
}

}  // namespace

std::string Sprint(const std::vector<Value>& args) {
  Printer p;
  p.DoPrint(args, false);
  return std::move(p.out);
}

std::string Sprintln(const std::vector<Value>& args) {
  Printer p;
  p.DoPrint(args, true);
  return std::move(p.out);
}

std::string Sprintf(std::string_view format, const std::vector<Value>& args) {
  Printer p;
  p.DoPrintf(format, args);
  return std::move(p.out);
}

std::string FormatValue(const Value& v) {
  Printer p;
  p.ClearFlags();
  p.PrintArg(v, 'v');
  return std::move(p.out);
}

}  // namespace steward::alerting::tmpl
