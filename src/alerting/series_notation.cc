// ParseSeriesDesc: a hand-written reader of Prometheus' series descriptions (its lexer in
// series mode plus the parser's series_description rule), with the lexer's and yacc's error
// words at the same byte positions.
#include "alerting/series_notation.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>

#include "promql/parser_internal.h"

namespace steward::alerting {
namespace {

namespace pi = promql::internal;

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

class SeriesReader {
 public:
  explicit SeriesReader(std::string_view in) : in_(in) {}

  Status Metric(LabelPairs* out);
  Status Values(std::vector<SequenceValue>* out);
  // The lexer's error for a character the series notation never has (`,`, `#`, ...).
  Status UnknownCharacter() const;
  Status ExpectEnd() {
    SkipSpaces();
    return AtEnd() ? Status::OK() : Error(pos_, "unexpected " + Describe(pos_));
  }

 private:
  bool AtEnd() const { return pos_ >= in_.size(); }
  char Peek() const { return AtEnd() ? '\0' : in_[pos_]; }
  size_t SkipSpaces() {
    size_t start = pos_;
    while (!AtEnd() && IsSpace(in_[pos_])) ++pos_;
    return pos_ - start;
  }
  Status Error(size_t pos, std::string_view message) const {
    return pi::ParseError(in_, pos, message);
  }
  std::string_view Word(size_t at) const {
    size_t end = at;
    while (end < in_.size() && (IsAlnum(in_[end]) || in_[end] == ':')) ++end;
    return in_.substr(at, end - at);
  }
  // Prometheus' item description of what starts at `at`.
  std::string Describe(size_t at) const;

  Status LabelSet(LabelPairs* out);
  Status Item(std::vector<SequenceValue>* out);
  // A number item (digits, '.', exponent); `text` is its bytes.
  Status Number(std::string_view* text);
  // An unsigned number or an inf/nan word; item_start picks the error words for a bad word.
  Status UnsignedValue(double* v, bool item_start);
  Status Repetition(uint64_t* n);
  Status Append(std::vector<SequenceValue>* out, uint64_t count, SequenceValue v, double step);

  std::string_view in_;
  size_t pos_ = 0;
};

std::string SeriesReader::Describe(size_t at) const {
  if (at >= in_.size()) return "end of input";
  char c = in_[at];
  // BLANK and TIMES of the series lexer.
  bool times = c == 'x' && (at + 1 >= in_.size() || !IsAlpha(in_[at + 1]));
  if (c == '_' || times) return fmt::format("\"{}\"", c);
  if (IsAlpha(c)) return fmt::format("identifier {}", pi::GoQuote(Word(at)));
  if (IsDigit(c)) {
    size_t end = at;
    while (end < in_.size() && (IsDigit(in_[end]) || in_[end] == '.')) ++end;
    return fmt::format("number {}", pi::GoQuote(in_.substr(at, end - at)));
  }
  if (c == '+' || c == '-') return fmt::format("<op:{}>", c);
  if (c == '"' || c == '\'' || c == '`') return "string";
  return pi::GoQuote(in_.substr(at, 1));
}

Status SeriesReader::Metric(LabelPairs* out) {
  SkipSpaces();
  if (!AtEnd() && (IsAlpha(Peek()) || Peek() == ':')) {
    std::string_view name = Word(pos_);
    out->emplace_back("__name__", std::string(name));
    pos_ += name.size();
  }
  if (Peek() == '{') {
    ++pos_;
    if (Status st = LabelSet(out); !st.ok()) return st;
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  return Status::OK();
}

Status SeriesReader::LabelSet(LabelPairs* out) {
  for (;;) {
    SkipSpaces();
    if (Peek() == '}') {
      ++pos_;
      return Status::OK();
    }
    if (AtEnd() || !IsAlpha(Peek())) {
      return Error(pos_, fmt::format("unexpected {} in label set, expected identifier or \"}}\"",
                                     Describe(pos_)));
    }
    std::string name(Word(pos_));
    pos_ += name.size();
    SkipSpaces();
    if (Peek() != '=' || (pos_ + 1 < in_.size() && in_[pos_ + 1] == '~')) {
      return Error(pos_, fmt::format("unexpected {} in label set, expected \"=\"",
                                     AtEnd() ? "end of input" : pi::GoQuote(in_.substr(pos_, 1))));
    }
    ++pos_;
    SkipSpaces();
    char q = Peek();
    if (q != '"' && q != '\'' && q != '`') {
      return Error(pos_,
                   fmt::format("unexpected {} in label set, expected string", Describe(pos_)));
    }
    size_t start = pos_++;
    while (!AtEnd() && Peek() != q) pos_ += (q != '`' && Peek() == '\\') ? 2 : 1;
    if (AtEnd()) return Error(start, "unterminated quoted string");
    ++pos_;
    auto value = pi::Unquote(in_.substr(start, pos_ - start));
    if (!value.ok()) return Error(start, value.status().message());
    out->emplace_back(std::move(name), std::move(*value));
    SkipSpaces();
    if (Peek() == ',') {
      ++pos_;
    } else if (Peek() != '}') {
      return Error(pos_, fmt::format("unexpected {} in label set, expected \",\" or \"}}\"",
                                     Describe(pos_)));
    }
  }
}

Status SeriesReader::Values(std::vector<SequenceValue>* out) {
  for (;;) {
    size_t spaces = SkipSpaces();
    if (AtEnd()) return Status::OK();
    if (spaces == 0) {
      return Error(pos_, fmt::format("unexpected {} in series values", Describe(pos_)));
    }
    if (Status st = UnknownCharacter(); !st.ok()) return st;
    if (Status st = Item(out); !st.ok()) return st;
    if (Status st = UnknownCharacter(); !st.ok()) return st;
    // After a whole item yacc names the token without "in series values".
    if (!AtEnd() && !IsSpace(Peek())) return Error(pos_, "unexpected " + Describe(pos_));
  }
}

Status SeriesReader::UnknownCharacter() const {
  if (AtEnd()) return Status::OK();
  char c = Peek();
  if (IsAlnum(c) || IsSpace(c) || c == ':' || c == '+' || c == '-' || c == '.') {
    return Status::OK();
  }
  return Error(pos_, "unexpected character in series sequence: " +
                         pi::GoQuoteRune(static_cast<unsigned char>(c)));
}

Status SeriesReader::Number(std::string_view* text) {
  size_t start = pos_;
  while (IsDigit(Peek())) ++pos_;
  if (Peek() == '.') {
    ++pos_;
    while (IsDigit(Peek())) ++pos_;
  }
  if (Peek() == 'e' || Peek() == 'E') {
    ++pos_;
    if (Peek() == '+' || Peek() == '-') ++pos_;
    while (IsDigit(Peek())) ++pos_;
  }
  // The lexer rejects a number run into letters, except the `x` of a repetition.
  if (!AtEnd() && IsAlnum(Peek()) && Peek() != 'x') {
    return Error(
        start, fmt::format("bad number syntax: {}", pi::GoQuote(in_.substr(start, pos_ - start))));
  }
  *text = in_.substr(start, pos_ - start);
  return Status::OK();
}

Status SeriesReader::UnsignedValue(double* v, bool item_start) {
  size_t start = pos_;
  if (IsAlpha(Peek())) {
    std::string_view word = Word(pos_);
    std::string lower = Lower(word);
    if (lower == "inf" || lower == "nan") {
      pos_ += word.size();
      *v = lower == "inf" ? INFINITY : NAN;
      return Status::OK();
    }
    return Error(start,
                 fmt::format("unexpected identifier {} in series values{}", pi::GoQuote(word),
                             item_start ? ", expected number or \"stale\"" : ""));
  }
  if (!IsDigit(Peek()) && !(Peek() == '.' && pos_ + 1 < in_.size() && IsDigit(in_[pos_ + 1]))) {
    return Error(start, fmt::format("unexpected {} in series values", Describe(start)));
  }
  std::string_view text;
  if (Status st = Number(&text); !st.ok()) return st;
  std::string error;
  if (!pi::ParseGoNumber(text, v, &error)) {
    return Error(start, "error parsing number: " + error);
  }
  return Status::OK();
}

Status SeriesReader::Repetition(uint64_t* n) {
  size_t start = pos_;
  if (!IsDigit(Peek()) && Peek() != '.') {
    return Error(start, fmt::format("unexpected {} in series values", Describe(start)));
  }
  std::string_view text;
  if (Status st = Number(&text); !st.ok()) return st;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *n);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Error(start, fmt::format("invalid repetition in series values: strconv.ParseUint: "
                                    "parsing {}: {}",
                                    pi::GoQuote(text),
                                    ec == std::errc::result_out_of_range ? "value out of range"
                                                                         : "invalid syntax"));
  }
  return Status::OK();
}

Status SeriesReader::Append(std::vector<SequenceValue>* out, uint64_t count, SequenceValue v,
                            double step) {
  if (count > kMaxSeriesValues || out->size() + count > kMaxSeriesValues) {
    return Error(pos_, fmt::format("too many values in one series (at most {})", kMaxSeriesValues));
  }
  for (uint64_t i = 0; i < count; ++i) {
    out->push_back(v);
    v.value += step;
  }
  return Status::OK();
}

Status SeriesReader::Item(std::vector<SequenceValue>* out) {
  if (Peek() == '_') {
    ++pos_;
    uint64_t n = 1;
    if (Peek() == 'x') {
      ++pos_;
      if (Status st = Repetition(&n); !st.ok()) return st;
    }
    return Append(out, n, SequenceValue{0, true}, 0);
  }
  if (Peek() == 'x') return Error(pos_, "unexpected \"x\"");
  double value = 0;
  if (IsAlpha(Peek()) && Lower(Word(pos_)) == "stale") {
    pos_ += 5;
    value = std::bit_cast<double>(uint64_t{0x7ff0000000000002});
  } else {
    char sign = (Peek() == '+' || Peek() == '-') ? in_[pos_++] : '\0';
    if (Status st = UnsignedValue(&value, sign == '\0'); !st.ok()) return st;
    if (sign == '-') value = -value;
  }
  if (Peek() == 'x') {
    ++pos_;
    uint64_t n = 0;
    if (Status st = Repetition(&n); !st.ok()) return st;
    return Append(out, n + 1, SequenceValue{value, false}, 0);
  }
  if (Peek() != '+' && Peek() != '-') return Append(out, 1, SequenceValue{value, false}, 0);
  char sign = in_[pos_++];
  double step = 0;
  if (Status st = UnsignedValue(&step, false); !st.ok()) return st;
  if (sign == '-') step = -step;
  if (Peek() != 'x') {
    return Error(pos_, fmt::format("unexpected {} in series values", Describe(pos_)));
  }
  ++pos_;
  uint64_t n = 0;
  if (Status st = Repetition(&n); !st.ok()) return st;
  return Append(out, n + 1, SequenceValue{value, false}, step);
}

}  // namespace

StatusOr<SeriesDesc> ParseSeriesDesc(std::string_view line) {
  SeriesReader r(line);
  SeriesDesc desc;
  if (Status st = r.Metric(&desc.labels); !st.ok()) return st;
  if (Status st = r.Values(&desc.values); !st.ok()) return st;
  return desc;
}

StatusOr<LabelPairs> ParseMetric(std::string_view text) {
  SeriesReader r(text);
  LabelPairs labels;
  if (Status st = r.Metric(&labels); !st.ok()) return st;
  if (Status st = r.ExpectEnd(); !st.ok()) return st;
  return labels;
}

std::string LabelsString(const LabelPairs& labels) {
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ", ";
    out += name + "=" + pi::GoQuote(value);
  }
  return out + "}";
}

std::string FormatFloatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string out(buf, end);
  std::replace(out.begin(), out.end(), 'e', 'E');
  return out;
}

std::string GoDurationString(int64_t ms) {
  if (ms == 0) return "0s";
  std::string sign = ms < 0 ? "-" : "";
  uint64_t u = ms < 0 ? -static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (u < 1000) return fmt::format("{}{}ms", sign, u);
  uint64_t h = u / 3'600'000, m = u / 60'000 % 60, s = u / 1000 % 60, frac = u % 1000;
  std::string secs = std::to_string(s);
  if (frac != 0) {
    std::string f = fmt::format("{:03d}", frac);
    while (f.back() == '0') f.pop_back();
    secs += "." + f;
  }
  if (h > 0) return fmt::format("{}{}h{}m{}s", sign, h, m, secs);
  if (m > 0) return fmt::format("{}{}m{}s", sign, m, secs);
  return fmt::format("{}{}s", sign, secs);
}

}  // namespace steward::alerting
