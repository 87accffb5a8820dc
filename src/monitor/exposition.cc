// The exposition parser: one pass over the body with a byte cursor, no tokens materialised.
// The grammar follows Prometheus' lexers (model/textparse/promlex.l, openmetricslex.l) rule for
// rule; where this parser deliberately differs, docs/formats/exposition.md says so.
#include "monitor/exposition.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <numeric>
#include <unordered_map>

#include "monitor/exposition_scan.h"

namespace steward::monitor {
namespace {

using scan::IsDigit;
using scan::IsLabelStart;
using scan::IsMetricStart;
using scan::Quote;

struct LabelSpan {
  std::string_view name;
  std::string_view value;  // raw, between the quotes
  bool escaped;            // value holds a backslash
};

enum class Step { kSkip, kSample, kStop };

enum class MetaKind { kHelp, kType, kUnit };

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// Bytes that end the fast scan of a label value: the closing quote, an escape, a line break
// (counted, or an error in OpenMetrics) and non-ASCII (UTF-8 to validate).
struct ValueStops {
  bool stop[256];
  constexpr ValueStops() : stop() {
    for (int c = 0; c < 256; ++c) stop[c] = c == '"' || c == '\\' || c == '\n' || c >= 0x80;
  }
};
constexpr ValueStops kValueStops;

std::optional<MetricType> TextType(std::string_view s) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (s == "untyped") return MetricType::kUntyped;
  return std::nullopt;
}

std::optional<MetricType> OpenMetricsType(std::string_view s) {
  if (s == "counter") return MetricType::kCounter;
  if (s == "gauge") return MetricType::kGauge;
  if (s == "histogram") return MetricType::kHistogram;
  if (s == "gaugehistogram") return MetricType::kGaugeHistogram;
  if (s == "summary") return MetricType::kSummary;
  if (s == "info") return MetricType::kInfo;
  if (s == "stateset") return MetricType::kStateSet;
  if (s == "unknown") return MetricType::kUnknown;
  return std::nullopt;
}

// Whether a sample named <family><suffix> belongs to a family of type t.
bool SuffixBelongs(MetricType t, std::string_view suffix) {
  switch (t) {
    case MetricType::kCounter:
      return suffix == "_total" || suffix == "_created";
    case MetricType::kHistogram:
      return suffix == "_bucket" || suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kGaugeHistogram:
      return suffix == "_bucket" || suffix == "_gsum" || suffix == "_gcount";
    case MetricType::kSummary:
      return suffix == "_sum" || suffix == "_count" || suffix == "_created";
    case MetricType::kInfo:
      return suffix == "_info";
    default:
      return false;
  }
}

constexpr std::string_view kSuffixes[] = {"_total", "_created", "_bucket", "_count",
                                          "_sum",   "_gcount",  "_gsum",   "_info"};

// The auto-detection rule (docs/formats/exposition.md): OpenMetrics when the last line is
// "# EOF", or when the first line is a construct only OpenMetrics has (# UNIT, or # TYPE with
// an OpenMetrics-only type).
bool LooksLikeOpenMetrics(std::string_view body) {
  std::string_view tail = body;
  if (!tail.empty() && tail.back() == '\n') tail.remove_suffix(1);
  if (tail == "# EOF" || tail.ends_with("\n# EOF")) return true;
  std::string_view first = body.substr(0, body.find('\n'));
  if (first.starts_with("# UNIT ")) return true;
  if (!first.starts_with("# TYPE ")) return false;
  first.remove_prefix(7);
  const char* name_end = scan::ScanMetricName(first.data(), first.data() + first.size());
  const size_t n = static_cast<size_t>(name_end - first.data());
  if (n == 0 || n >= first.size() || first[n] != ' ') return false;
  const std::string_view type = first.substr(n + 1);
  return type == "gaugehistogram" || type == "info" || type == "stateset" || type == "unknown";
}

}  // namespace

struct ExpositionParser::Impl {
  Impl(std::string_view body, Format format)
      : begin(body.data()), p(body.data()), end(body.data() + body.size()), line_start(p) {
    om = format == Format::kOpenMetrics || (format == Format::kAuto && LooksLikeOpenMetrics(body));
  }

  bool Next();
  tsdb::Labels Labels() const;
  MetricType TypeOf(std::string_view metric) const;

  // ---- Cursor and errors.
  const char* SkipBlanks(const char* q) const {
    while (q < end && IsBlank(*q)) ++q;
    return q;
  }
  const char* FindEol(const char* q) const {
    const void* nl = std::memchr(q, '\n', static_cast<size_t>(end - q));
    return nl ? static_cast<const char*>(nl) : end;
  }
  // Moves past the line break at q (or to the end of the body when q is the end).
  void EndLine(const char* q) {
    if (q >= end) {
      p = end;
      return;
    }
    p = q + 1;
    ++line_no;
    line_start = p;
  }
  Step Error(const char* at, std::string message);
  Step Expected(const char* at, std::string_view what) {
    return Error(at, std::string(what) + ", got " + scan::QuoteAt(at, end));
  }

  // ---- Text format 0.0.4.
  Step TextLine();
  Step TextComment(const char* hash);
  Step TextSample(const char* name_begin);
  const char* TextLabels(const char* q);

  // ---- OpenMetrics.
  Step OpenMetricsLine();
  Step OpenMetricsComment(const char* hash);
  Step OpenMetricsSample(const char* name_begin);
  const char* OpenMetricsLabels(const char* q, std::vector<LabelSpan>* out);
  const char* OpenMetricsTimestamp(const char* q);
  const char* SkipExemplar(const char* q);

  // ---- Shared.
  Step Metadata(MetaKind kind, std::string_view name, std::string_view text, const char* text_at);
  const char* LabelValue(const char* quote, std::string_view name, std::vector<LabelSpan>* out);
  bool CheckDuplicateLabels();
  MetricFamilyInfo& Family(std::string_view name);

  const char* const begin;
  const char* p;
  const char* const end;
  bool om = false;
  bool finished = false;
  Status status;
  int64_t line_no = 1;     // the line p is on
  const char* line_start;  // its first byte
  int64_t sample_line = 0;

  std::string_view name;    // of the current sample
  std::string_view series;  // name{labels} as in the body
  std::vector<LabelSpan> labels;
  std::vector<LabelSpan> exemplar_labels;  // parsed for validation, then dropped
  std::vector<uint32_t> order;             // scratch of the duplicate check
  double value = 0;
  int64_t ts = 0;
  bool has_ts = false;

  std::vector<MetricFamilyInfo> families;
  std::unordered_map<std::string_view, size_t> family_index;  // keys view the body
};

Step ExpositionParser::Impl::Error(const char* at, std::string message) {
  // The line of `at`, counted from the line of the cursor: in the text format a label value
  // may span lines, and an error may point past the cursor's line.
  at = std::min(at, end);
  int64_t line = line_no;
  if (at < line_start) {
    line -= std::count(at, line_start, '\n');
  } else {
    line += std::count(line_start, at, '\n');
  }
  const char* bol = at;
  while (bol > begin && bol[-1] != '\n') --bol;
  std::string m = "line " + std::to_string(line) + ":" + std::to_string(at - bol + 1) + ": " +
                  std::move(message);
  const char* eol = FindEol(at);
  if (eol > begin && eol[-1] == '\r') {
    m += " (the body has CRLF line endings; the exposition formats allow only \\n)";
  }
  status = InvalidArgument(std::move(m));
  sample_line = line;
  finished = true;
  return Step::kStop;
}

bool ExpositionParser::Impl::Next() {
  while (!finished) {
    if (p >= end) {
      finished = true;
      if (om) Error(end, "the OpenMetrics body does not end with \"# EOF\"");
      return false;
    }
    sample_line = line_no;
    const Step step = om ? OpenMetricsLine() : TextLine();
    if (step == Step::kSample) return true;
  }
  return false;
}

// ---------------------------------------------------------------- text format 0.0.4

Step ExpositionParser::Impl::TextLine() {
  const char* s = SkipBlanks(p);
  if (s >= end) {
    p = end;
    return Step::kSkip;
  }
  if (*s == '\n') {
    EndLine(s);
    return Step::kSkip;
  }
  if (*s == '#') return TextComment(s);
  if (IsMetricStart(*s)) return TextSample(s);
  return Expected(s, "expected a metric name, a comment or a blank line");
}

Step ExpositionParser::Impl::TextComment(const char* hash) {
  const char* q = hash + 1;
  // As promlex.l: "#" [ \t]+ ("HELP"|"TYPE") [ \t]+ starts metadata; any other "#" line is a
  // comment, including "#HELP" and "# HELP" alone.
  if (q < end && IsBlank(*q)) {
    q = SkipBlanks(q);
    const bool help = end - q > 4 && std::memcmp(q, "HELP", 4) == 0 && IsBlank(q[4]);
    const bool type = end - q > 4 && std::memcmp(q, "TYPE", 4) == 0 && IsBlank(q[4]);
    if (help || type) {
      const char* nb = SkipBlanks(q + 4);
      if (nb >= end || !IsMetricStart(*nb)) {
        return Expected(nb, help ? "expected a metric name after # HELP"
                                 : "expected a metric name after # TYPE");
      }
      const char* ne = scan::ScanMetricName(nb, end);
      const char* eol = FindEol(ne);
      // Prometheus drops exactly one byte (the separator) before the text.
      const char* text = ne < eol ? ne + 1 : ne;
      const Step step =
          Metadata(help ? MetaKind::kHelp : MetaKind::kType, std::string_view(nb, ne - nb),
                   std::string_view(text, eol - text), text);
      if (step == Step::kSkip) EndLine(eol);
      return step;
    }
  }
  EndLine(FindEol(q));
  return Step::kSkip;
}

Step ExpositionParser::Impl::TextSample(const char* name_begin) {
  const char* q = scan::ScanMetricName(name_begin, end);
  name = series = std::string_view(name_begin, q - name_begin);
  labels.clear();
  q = SkipBlanks(q);
  if (q < end && *q == '{') {
    q = TextLabels(q + 1);
    if (q == nullptr) return Step::kStop;
    series = std::string_view(name_begin, q - name_begin);
    q = SkipBlanks(q);
  }
  // The value is the next run of bytes other than space, tab, '{' and line break.
  const char* vb = q;
  while (q < end && *q != ' ' && *q != '\t' && *q != '\n' && *q != '{') ++q;
  if (q == vb) return Expected(q, "expected a sample value after the metric");
  const std::string_view text(vb, q - vb);
  const std::optional<double> v = scan::ParseGoFloat(text);
  if (!v) {
    return Error(vb, "invalid sample value " + Quote(text) +
                         " (expected a float such as 1, -2.5e3, NaN or +Inf)");
  }
  value = *v;
  has_ts = false;
  q = SkipBlanks(q);
  if (q < end && *q != '\n') {
    if (!IsDigit(*q)) {
      return Expected(q, "expected a timestamp (integer milliseconds) or the end of the line");
    }
    const char* tb = q;
    while (q < end && IsDigit(*q)) ++q;
    const std::optional<int64_t> t = scan::ParseDecimalInt64(std::string_view(tb, q - tb));
    if (!t)
      return Error(tb, "timestamp " + Quote(std::string_view(tb, q - tb)) + " overflows int64");
    ts = *t;
    has_ts = true;
    q = SkipBlanks(q);
    if (q < end && *q != '\n')
      return Expected(q, "expected the end of the line after the timestamp");
  }
  if (!CheckDuplicateLabels()) return Step::kStop;
  EndLine(q);
  return Step::kSample;
}

// Parses name="value" pairs after '{' up to and including '}'; whitespace may surround every
// token. Returns the byte after '}', or nullptr after recording the error. Like Prometheus, the
// comma between pairs is optional and a trailing comma is allowed.
const char* ExpositionParser::Impl::TextLabels(const char* q) {
  for (;;) {
    q = SkipBlanks(q);
    if (q < end && *q == '}') return q + 1;
    if (q >= end || !IsLabelStart(*q)) {
      Expected(q, "expected a label name or '}'");
      return nullptr;
    }
    const char* nb = q;
    q = scan::ScanLabelName(q, end);
    const std::string_view lname(nb, q - nb);
    q = SkipBlanks(q);
    if (q >= end || *q != '=') {
      Expected(q, "expected '=' after label name " + Quote(lname));
      return nullptr;
    }
    q = SkipBlanks(q + 1);
    if (q >= end || *q != '"') {
      Expected(q, "expected a quoted value for label " + Quote(lname));
      return nullptr;
    }
    q = LabelValue(q, lname, &labels);
    if (q == nullptr) return nullptr;
    q = SkipBlanks(q);
    if (q < end && *q == ',') ++q;
  }
}

// ---------------------------------------------------------------- OpenMetrics

Step ExpositionParser::Impl::OpenMetricsLine() {
  if (*p == '#') return OpenMetricsComment(p);
  if (IsMetricStart(*p)) return OpenMetricsSample(p);
  if (*p == '\n') return Error(p, "blank lines are not allowed in OpenMetrics");
  return Expected(p, "expected a metric name or a '# ' line");
}

Step ExpositionParser::Impl::OpenMetricsComment(const char* hash) {
  static constexpr std::string_view kWhat =
      "expected '# HELP ', '# TYPE ', '# UNIT ' or '# EOF' (OpenMetrics has no other comments)";
  if (end - hash < 2 || hash[1] != ' ') return Expected(hash, kWhat);
  const char* q = hash + 2;
  const std::string_view rest(q, std::min<size_t>(end - q, 5));
  if (rest.starts_with("EOF")) {
    const char* after = q + 3;
    if (after < end && *after == '\n') ++after;
    if (after != end) return Expected(after, "unexpected data after # EOF");
    p = end;
    finished = true;
    return Step::kStop;
  }
  MetaKind kind;
  if (rest == "HELP ") {
    kind = MetaKind::kHelp;
  } else if (rest == "TYPE ") {
    kind = MetaKind::kType;
  } else if (rest == "UNIT ") {
    kind = MetaKind::kUnit;
  } else {
    return Expected(hash, kWhat);
  }
  q += 5;
  if (q >= end || !IsMetricStart(*q)) return Expected(q, "expected a metric name");
  const char* ne = scan::ScanMetricName(q, end);
  if (ne >= end || *ne != ' ') return Expected(ne, "expected ' ' and text after the metric name");
  const char* eol = FindEol(ne);
  if (eol >= end) return Error(eol, "the OpenMetrics body does not end with \"# EOF\"");
  const Step step =
      Metadata(kind, std::string_view(q, ne - q), std::string_view(ne + 1, eol - ne - 1), ne + 1);
  if (step == Step::kSkip) EndLine(eol);
  return step;
}

Step ExpositionParser::Impl::OpenMetricsSample(const char* name_begin) {
  const char* q = scan::ScanMetricName(name_begin, end);
  name = series = std::string_view(name_begin, q - name_begin);
  labels.clear();
  if (q < end && *q == '{') {
    q = OpenMetricsLabels(q + 1, &labels);
    if (q == nullptr) return Step::kStop;
    series = std::string_view(name_begin, q - name_begin);
  }
  if (q >= end || *q != ' ') return Expected(q, "expected ' ' and a sample value after the metric");
  const char* vb = ++q;
  while (q < end && *q != ' ' && *q != '\n') ++q;
  if (q == vb) return Expected(q, "expected a sample value");
  const std::string_view text(vb, q - vb);
  const std::optional<double> v = scan::ParseGoFloat(text);
  if (!v) {
    return Error(vb, "invalid sample value " + Quote(text) +
                         " (expected a float such as 1, -2.5e3, NaN or +Inf)");
  }
  value = *v;
  has_ts = false;
  if (q < end && *q == ' ' && (end - q < 4 || std::memcmp(q, " # {", 4) != 0)) {
    q = OpenMetricsTimestamp(q + 1);
    if (q == nullptr) return Step::kStop;
  }
  if (q < end && *q == ' ') {
    if (end - q < 4 || std::memcmp(q, " # {", 4) != 0) {
      return Expected(q, "expected the end of the line or an exemplar (\" # {\")");
    }
    q = SkipExemplar(q + 4);
    if (q == nullptr) return Step::kStop;
  }
  if (q >= end) return Error(q, "the OpenMetrics body does not end with \"# EOF\"");
  if (*q != '\n') return Expected(q, "expected the end of the line");
  if (!CheckDuplicateLabels()) return Step::kStop;
  EndLine(q);
  return Step::kSample;
}

// A timestamp in float seconds at q; sets ts (milliseconds, truncated like Prometheus).
const char* ExpositionParser::Impl::OpenMetricsTimestamp(const char* q) {
  const char* tb = q;
  while (q < end && *q != ' ' && *q != '\n') ++q;
  const std::string_view text(tb, q - tb);
  const std::optional<double> t = scan::ParseGoFloat(text);
  if (q == tb || !t || std::isnan(*t) || std::isinf(*t)) {
    Expected(tb, "expected a timestamp in seconds (e.g. 1520879607.789)");
    return nullptr;
  }
  const double ms = *t * 1000;
  if (!(ms > -9.2e18 && ms < 9.2e18)) {
    Error(tb, "timestamp " + Quote(text) + " is out of range");
    return nullptr;
  }
  ts = static_cast<int64_t>(ms);
  has_ts = true;
  return q;
}

// Validates and skips an exemplar after " # {": labels, ' ' value, optional ' ' timestamp.
const char* ExpositionParser::Impl::SkipExemplar(const char* q) {
  exemplar_labels.clear();
  q = OpenMetricsLabels(q, &exemplar_labels);
  if (q == nullptr) return nullptr;
  if (q >= end || *q != ' ') {
    Expected(q, "expected ' ' and the exemplar value");
    return nullptr;
  }
  const char* vb = ++q;
  while (q < end && *q != ' ' && *q != '\n') ++q;
  if (!scan::ParseGoFloat(std::string_view(vb, q - vb))) {
    Expected(vb, "expected the exemplar value (a float)");
    return nullptr;
  }
  if (q < end && *q == ' ') {
    const char* tb = ++q;
    while (q < end && *q != ' ' && *q != '\n') ++q;
    const std::optional<double> t = scan::ParseGoFloat(std::string_view(tb, q - tb));
    if (!t || std::isnan(*t) || std::isinf(*t)) {
      Expected(tb, "expected the exemplar timestamp in seconds");
      return nullptr;
    }
  }
  return q;
}

// Strict OpenMetrics label set: no whitespace, pairs separated by ',', trailing comma allowed.
const char* ExpositionParser::Impl::OpenMetricsLabels(const char* q, std::vector<LabelSpan>* out) {
  for (;;) {
    if (q < end && *q == '}') return q + 1;
    if (q >= end || !IsLabelStart(*q)) {
      Expected(q, "expected a label name or '}'");
      return nullptr;
    }
    const char* nb = q;
    q = scan::ScanLabelName(q, end);
    const std::string_view lname(nb, q - nb);
    if (q >= end || *q != '=') {
      Expected(q, "expected '=' after label name " + Quote(lname));
      return nullptr;
    }
    if (++q >= end || *q != '"') {
      Expected(q, "expected a quoted value for label " + Quote(lname));
      return nullptr;
    }
    q = LabelValue(q, lname, out);
    if (q == nullptr) return nullptr;
    if (q < end && *q == ',') {
      ++q;
    } else if (q >= end || *q != '}') {
      Expected(q, "expected ',' or '}' after the value of label " + Quote(lname));
      return nullptr;
    }
  }
}

// ---------------------------------------------------------------- shared

Step ExpositionParser::Impl::Metadata(MetaKind kind, std::string_view metric, std::string_view text,
                                      const char* text_at) {
  if (kind == MetaKind::kType) {
    const std::optional<MetricType> t = om ? OpenMetricsType(text) : TextType(text);
    if (!t) {
      return Error(text_at, "invalid metric type " + Quote(text) +
                                (om ? " (expected counter, gauge, histogram, gaugehistogram, "
                                      "summary, info, stateset or unknown)"
                                    : " (expected counter, gauge, histogram, summary or untyped)"));
    }
    Family(metric).type = *t;
  } else if (kind == MetaKind::kHelp) {
    if (!scan::IsValidUtf8(text)) return Error(text_at, "HELP text is not valid UTF-8");
    std::string& help = Family(metric).help;
    help.clear();
    if (om) {
      scan::AppendUnescaped(&help, text);
    } else {
      scan::AppendUnescapedHelp(&help, text);
    }
  } else {
    if (!text.empty() && !(metric.size() > text.size() && metric.ends_with(text) &&
                           metric[metric.size() - text.size() - 1] == '_')) {
      return Error(text_at, "unit " + Quote(text) + " is not a suffix of metric " + Quote(metric) +
                                " (OpenMetrics requires <name>_<unit>)");
    }
    Family(metric).unit = std::string(text);
  }
  return Step::kSkip;
}

// Scans a quoted label value starting at the opening quote; appends it to out and returns the
// byte after the closing quote, or nullptr after recording the error.
const char* ExpositionParser::Impl::LabelValue(const char* quote, std::string_view lname,
                                               std::vector<LabelSpan>* out) {
  const char* r = quote + 1;
  bool escaped = false, high = false;
  for (;;) {
    while (r < end && !kValueStops.stop[static_cast<unsigned char>(*r)]) ++r;
    if (r >= end) {
      Error(quote, "unterminated value of label " + Quote(lname) + " (no closing '\"')");
      return nullptr;
    }
    const char c = *r;
    if (c == '"') break;
    if (c == '\\') {
      // Prometheus' lexer: a backslash pairs with any byte but a line break.
      if (r + 1 < end && r[1] == '\n') {
        Error(r, "a backslash before a line break in the value of label " + Quote(lname));
        return nullptr;
      }
      if (r + 1 < end && static_cast<unsigned char>(r[1]) >= 0x80) high = true;
      escaped = true;
      r += 2;
      continue;
    }
    if (c == '\n') {
      if (om) {
        Error(r, "line break inside the value of label " + Quote(lname) + " (write \\n)");
        return nullptr;
      }
      ++line_no;  // the text format's lexer allows raw line breaks in label values
      line_start = r + 1;
    } else {
      high = true;
    }
    ++r;
  }
  const std::string_view value(quote + 1, r - quote - 1);
  if (high && !scan::IsValidUtf8(value)) {
    Error(quote, "the value of label " + Quote(lname) + " is not valid UTF-8");
    return nullptr;
  }
  out->push_back(LabelSpan{lname, value, escaped});
  return r + 1;
}

bool ExpositionParser::Impl::CheckDuplicateLabels() {
  const size_t n = labels.size();
  const LabelSpan* dup = nullptr;
  for (const LabelSpan& l : labels) {
    if (l.name == tsdb::kMetricName) dup = &l;
  }
  if (dup == nullptr && n > 1 && n <= 16) {
    for (size_t i = 1; i < n && dup == nullptr; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (labels[i].name == labels[j].name) {
          dup = &labels[i];
          break;
        }
      }
    }
  } else if (dup == nullptr && n > 16) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [this](uint32_t a, uint32_t b) {
      return labels[a].name != labels[b].name ? labels[a].name < labels[b].name : a < b;
    });
    for (size_t i = 1; i < n && dup == nullptr; ++i) {
      if (labels[order[i]].name == labels[order[i - 1]].name) dup = &labels[order[i]];
    }
  }
  if (dup == nullptr) return true;
  Error(dup->name.data(), "duplicate label name " + Quote(dup->name) + " in one sample");
  return false;
}

MetricFamilyInfo& ExpositionParser::Impl::Family(std::string_view metric) {
  // HELP and TYPE of one family usually come together: skip the hash lookup for the second.
  if (!families.empty() && families.back().name == metric) return families.back();
  auto [it, inserted] = family_index.try_emplace(metric, families.size());
  if (inserted) {
    families.emplace_back();
    families.back().name = std::string(metric);
  }
  return families[it->second];
}

MetricType ExpositionParser::Impl::TypeOf(std::string_view metric) const {
  if (families.empty()) return MetricType::kUnknown;
  if (auto it = family_index.find(metric); it != family_index.end()) {
    return families[it->second].type;
  }
  for (std::string_view suffix : kSuffixes) {
    if (metric.size() <= suffix.size() || !metric.ends_with(suffix)) continue;
    auto it = family_index.find(metric.substr(0, metric.size() - suffix.size()));
    if (it != family_index.end() && SuffixBelongs(families[it->second].type, suffix)) {
      return families[it->second].type;
    }
  }
  return MetricType::kUnknown;
}

tsdb::Labels ExpositionParser::Impl::Labels() const {
  std::vector<tsdb::Label> items;
  items.reserve(labels.size() + 1);
  items.push_back(tsdb::Label{std::string(tsdb::kMetricName), std::string(name)});
  for (const LabelSpan& l : labels) {
    tsdb::Label item{std::string(l.name), {}};
    if (l.escaped) {
      scan::AppendUnescaped(&item.value, l.value);
    } else {
      item.value = std::string(l.value);
    }
    items.push_back(std::move(item));
  }
  // Cannot fail: names are non-empty and were checked for duplicates in Next().
  StatusOr<tsdb::Labels> built = tsdb::Labels::FromUnsorted(std::move(items));
  return built.ok() ? std::move(built).value() : tsdb::Labels();
}

// ---------------------------------------------------------------- public API

ExpositionParser::ExpositionParser(std::string_view body, Format format)
    : impl_(new Impl(body, format)) {}
ExpositionParser::~ExpositionParser() { delete impl_; }

bool ExpositionParser::Next() { return impl_->Next(); }
Status ExpositionParser::status() const { return impl_->status; }
std::string_view ExpositionParser::series_text() const { return impl_->series; }
double ExpositionParser::value() const { return impl_->value; }
std::optional<int64_t> ExpositionParser::timestamp() const {
  return impl_->has_ts ? std::optional<int64_t>(impl_->ts) : std::nullopt;
}
tsdb::Labels ExpositionParser::labels() const { return impl_->Labels(); }
std::string_view ExpositionParser::metric_name() const { return impl_->name; }
MetricType ExpositionParser::type() const { return impl_->TypeOf(impl_->name); }
const std::vector<MetricFamilyInfo>& ExpositionParser::families() const { return impl_->families; }
bool ExpositionParser::openmetrics() const { return impl_->om; }
int ExpositionParser::line() const {
  return static_cast<int>(std::min<int64_t>(impl_->sample_line, INT_MAX));
}

Format FormatFromContentType(std::string_view content_type) {
  std::string_view media = content_type.substr(0, content_type.find(';'));
  while (!media.empty() && IsBlank(media.front())) media.remove_prefix(1);
  while (!media.empty() && IsBlank(media.back())) media.remove_suffix(1);
  static constexpr std::string_view kOpenMetrics = "application/openmetrics-text";
  if (media.size() != kOpenMetrics.size()) return Format::kText004;
  for (size_t i = 0; i < media.size(); ++i) {
    if ((media[i] | 0x20) != kOpenMetrics[i]) return Format::kText004;
  }
  return Format::kOpenMetrics;
}

namespace {

uint64_t SampleKey(const ParsedSample& s) {
  uint64_t h = s.labels.Hash();
  if (s.timestamp) {
    h ^= (static_cast<uint64_t>(*s.timestamp) + 0x9E3779B97F4A7C15ull) * 0xff51afd7ed558ccdull;
  }
  return h;
}

}  // namespace

StatusOr<ParseResult> Parse(std::string_view body, Format format) {
  ExpositionParser parser(body, format);
  ParseResult result;
  std::unordered_multimap<uint64_t, size_t> seen;
  while (parser.Next()) {
    ParsedSample sample{parser.labels(), parser.value(), parser.timestamp()};
    const uint64_t key = SampleKey(sample);
    auto [first, last] = seen.equal_range(key);
    const bool duplicate = std::any_of(first, last, [&](const auto& entry) {
      const ParsedSample& other = result.samples[entry.second];
      return other.timestamp == sample.timestamp && other.labels == sample.labels;
    });
    if (duplicate) {
      ++result.duplicates;
      continue;
    }
    seen.emplace(key, result.samples.size());
    result.samples.push_back(std::move(sample));
  }
  if (!parser.status().ok()) return parser.status();
  result.families = parser.families();
  result.openmetrics = parser.openmetrics();
  return result;
}

std::string_view MetricTypeName(MetricType t) {
  switch (t) {
    case MetricType::kUnknown:
      return "unknown";
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kSummary:
      return "summary";
    case MetricType::kGaugeHistogram:
      return "gaugehistogram";
    case MetricType::kInfo:
      return "info";
    case MetricType::kStateSet:
      return "stateset";
    case MetricType::kUntyped:
      return "untyped";
  }
  return "unknown";
}

}  // namespace steward::monitor
