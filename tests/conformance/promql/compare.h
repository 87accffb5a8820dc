// The query list of the PromQL conformance suite (queries.txt, format in its header) and the
// comparison of a Prometheus answer with Steward's: status and errorType, HTTP code,
// resultType, series by label set (in order only for `ordered` queries), timestamps exactly and
// values within 1e-9 relative (NaN equals NaN, infinities exact). Header-only: included by
// promql_compare_test.cc, whose helper tests pin the comparison itself.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace steward::testing::promql_conformance {

struct QueryCase {
  int line = 0;
  bool range = false;
  int64_t at_ms = 0;  // instant: offset from the end of the data
  int64_t start_ms = -3600 * 1000, end_ms = 0, step_ms = 60 * 1000;  // range: the same
  bool ordered = false;      // the series order is part of the answer
  bool msg_differs = false;  // allowlisted: error messages may differ
  bool post = false;         // sent as a POST form instead of GET
  bool raw = false;          // expr is the whole query string (API parameter checks)
  bool known_diff = false;   // a documented Prometheus 2.42 quirk: reported, not a failure
  std::string why;           // the comment lines right above the query (known_diff's reason)
  std::string expr;
};

// "-1h30m", "+5m", "0", "15s", "250ms" → milliseconds; false if malformed.
inline bool ParseOffset(const std::string& s, int64_t* ms) {
  size_t i = 0;
  int sign = 1;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) sign = s[i++] == '-' ? -1 : 1;
  if (s.substr(i) == "0") return *ms = 0, true;
  int64_t total = 0;
  bool any = false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i || j == s.size()) return false;
    int64_t n = std::stoll(s.substr(i, j - i));
    std::string unit = s.substr(j, s[j] == 'm' && j + 1 < s.size() && s[j + 1] == 's' ? 2 : 1);
    static const std::map<std::string, int64_t> kUnit = {
        {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
    auto it = kUnit.find(unit);
    if (it == kUnit.end()) return false;
    total += n * it->second;
    i = j + unit.size();
    any = true;
  }
  *ms = sign * total;
  return any;
}

// Reads queries.txt (format in its header). Fails the test on a malformed line.
inline std::vector<QueryCase> LoadQueries(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::vector<QueryCase> out;
  // The comment above a group of queries (up to a blank line) applies to each of them.
  std::string text, comment;
  bool after_query = false;
  for (int line = 1; std::getline(in, text); ++line) {
    size_t first = text.find_first_not_of(" \t");
    if (first == std::string::npos) {
      comment.clear();
      after_query = false;
      continue;
    }
    if (text[first] == '#') {
      if (after_query) comment.clear();
      after_query = false;
      size_t body = text.find_first_not_of("# ", first);
      if (body != std::string::npos) comment += (comment.empty() ? "" : " ") + text.substr(body);
      continue;
    }
    after_query = true;
    const std::string& above = comment;
    size_t colon = text.find(':');
    if (colon == std::string::npos) {
      ADD_FAILURE() << path << ":" << line << ": no ':' between header and query";
      continue;
    }
    QueryCase q;
    q.line = line;
    q.expr = text.substr(colon + 1);
    q.expr = q.expr.substr(std::min(q.expr.size(), q.expr.find_first_not_of(' ')));
    std::istringstream header(text.substr(0, colon));
    std::vector<std::string> words;
    for (std::string w; header >> w;) words.push_back(w);
    bool ok = !words.empty() && (words[0] == "instant" || words[0] == "range");
    q.range = ok && words[0] == "range";
    size_t k = 1;
    if (ok && !q.range && k < words.size() && words[k] == "at")
      ok = k + 1 < words.size() && ParseOffset(words[k + 1], &q.at_ms), k += 2;
    auto is_flag = [](const std::string& w) {
      return w == "ordered" || w == "msg-differs" || w == "post" || w == "raw" || w == "known-diff";
    };
    if (ok && q.range && k + 2 < words.size() && !is_flag(words[k])) {
      ok = ParseOffset(words[k], &q.start_ms) && ParseOffset(words[k + 1], &q.end_ms) &&
           ParseOffset(words[k + 2], &q.step_ms);
      k += 3;
    }
    for (; ok && k < words.size(); ++k) {
      if (words[k] == "ordered")
        q.ordered = true;
      else if (words[k] == "msg-differs")
        q.msg_differs = true;
      else if (words[k] == "post")
        q.post = true;
      else if (words[k] == "raw")
        q.raw = true;
      else if (words[k] == "known-diff")
        q.known_diff = true;
      else
        ok = false;
    }
    if (!ok || q.expr.empty()) {
      ADD_FAILURE() << path << ":" << line << ": bad header or empty query: " << text;
      continue;
    }
    q.why = above;
    if (q.known_diff && q.why.empty()) {
      ADD_FAILURE() << path << ":" << line << ": known-diff needs a comment right above it";
      continue;
    }
    // sort() and sort_desc() at the top of an instant query define the order.
    if (!q.range && (q.expr.rfind("sort(", 0) == 0 || q.expr.rfind("sort_desc(", 0) == 0))
      q.ordered = true;
    out.push_back(q);
  }
  return out;
}

// $END and $START in a query → the data's end and start (Unix seconds); directly followed by
// -N or +N (digits, no spaces) the offset is added: $END-600.
inline std::string Substitute(std::string expr, int64_t end, int64_t start) {
  for (auto [name, value] : {std::pair<std::string, int64_t>{"$END", end}, {"$START", start}}) {
    for (size_t at; (at = expr.find(name)) != std::string::npos;) {
      size_t len = name.size();
      int64_t v = value;
      if (at + len + 1 < expr.size() && (expr[at + len] == '-' || expr[at + len] == '+') &&
          isdigit(static_cast<unsigned char>(expr[at + len + 1]))) {
        size_t digits = at + len + 1;
        while (digits < expr.size() && isdigit(static_cast<unsigned char>(expr[digits]))) ++digits;
        int64_t n = std::stoll(expr.substr(at + len + 1, digits - at - len - 1));
        v += expr[at + len] == '-' ? -n : n;
        len = digits - at;
      }
      expr.replace(at, len, std::to_string(v));
    }
  }
  return expr;
}

inline std::string Seconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ms / 1000.0);
  return buf;
}

struct Answer {
  int http = 0;  // 0: no answer
  nlohmann::json body;
};

struct Series {
  std::string labels;  // the metric object as canonical JSON ("" for scalars and strings)
  std::vector<std::pair<double, std::string>> points;
};

struct Normal {
  std::string shape;  // resultType, or "error", or "invalid"
  std::string error_type, error;
  std::vector<Series> series;
};

inline Normal Normalize(const Answer& a) {
  Normal n;
  const auto& b = a.body;
  if (!b.is_object() || !b.contains("status")) {
    n.shape = "invalid";
    n.error = a.http == 0 ? "no answer"
                          : "HTTP " + std::to_string(a.http) + ", body " +
                                (b.is_string() ? b.get<std::string>() : b.dump()).substr(0, 200);
    return n;
  }
  if (b["status"] != "success") {
    n.shape = "error";
    n.error_type = b.value("errorType", "?");
    n.error = b.value("error", "?");
    return n;
  }
  const auto& data = b["data"];
  if (!data.is_object() || !data.contains("resultType")) {
    // Not a query result (format_query, series, labels): the data must be the same JSON.
    n.shape = "data " + data.dump();
    return n;
  }
  n.shape = data.value("resultType", "?");
  auto point = [](const nlohmann::json& p) {
    return std::pair<double, std::string>{p[0].get<double>(), p[1].get<std::string>()};
  };
  try {
    if (n.shape == "scalar" || n.shape == "string") {
      n.series.push_back({"", {point(data["result"])}});
    } else {
      for (const auto& s : data["result"]) {
        Series out{s["metric"].dump(), {}};
        if (s.contains("value")) out.points.push_back(point(s["value"]));
        for (const auto& p : s.value("values", nlohmann::json::array()))
          out.points.push_back(point(p));
        n.series.push_back(std::move(out));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    n.shape = "invalid";
    n.error = std::string("malformed result: ") + e.what();
  }
  return n;
}

inline double ParseValue(const std::string& s) {
  if (s == "NaN") return NAN;
  if (s == "+Inf") return INFINITY;
  if (s == "-Inf") return -INFINITY;
  return std::strtod(s.c_str(), nullptr);
}

// Equal within 1e-9 relative; an absolute 1e-12 floor absorbs summation-order noise around
// zero. NaN equals NaN; infinities must be the same infinity.
inline bool SameValue(const std::string& a, const std::string& b) {
  if (a == b) return true;
  double x = ParseValue(a), y = ParseValue(b);
  if (std::isnan(x) || std::isnan(y)) return std::isnan(x) && std::isnan(y);
  if (std::isinf(x) || std::isinf(y)) return x == y;
  double diff = std::fabs(x - y);
  return diff <= 1e-9 * std::max(std::fabs(x), std::fabs(y)) || diff <= 1e-12;
}

// The first difference between two successful answers, or "" when they are the same.
inline std::string DiffSeries(std::vector<Series> want, std::vector<Series> got, bool ordered,
                              bool is_string) {
  auto by_labels = [](const Series& a, const Series& b) { return a.labels < b.labels; };
  if (!ordered) {
    std::sort(want.begin(), want.end(), by_labels);
    std::sort(got.begin(), got.end(), by_labels);
  }
  size_t i = 0;
  for (; i < want.size() && i < got.size(); ++i) {
    const Series &w = want[i], &g = got[i];
    if (w.labels != g.labels)
      return "series #" + std::to_string(i) + ": Prometheus " + w.labels + ", Steward " + g.labels;
    if (w.points.size() != g.points.size())
      return w.labels + ": Prometheus " + std::to_string(w.points.size()) + " points, Steward " +
             std::to_string(g.points.size());
    for (size_t k = 0; k < w.points.size(); ++k) {
      const auto &wp = w.points[k], &gp = g.points[k];
      bool same = wp.first == gp.first &&
                  (is_string ? wp.second == gp.second : SameValue(wp.second, gp.second));
      if (!same)
        return w.labels + " point " + std::to_string(k) + ": Prometheus [" +
               Seconds(wp.first * 1000) + ", " + wp.second + "], Steward [" +
               Seconds(gp.first * 1000) + ", " + gp.second + "]";
    }
  }
  if (i < want.size())
    return "Steward lacks " + want[i].labels + " (and " + std::to_string(want.size() - i - 1) +
           " more)";
  if (i < got.size())
    return "Steward has extra " + got[i].labels + " (and " + std::to_string(got.size() - i - 1) +
           " more)";
  return "";
}

inline std::string Short(const Answer& a) {
  std::string text = std::to_string(a.http) + " " +
                     (a.body.is_string() ? a.body.get<std::string>() : a.body.dump());
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

enum class Verdict { kIdentical, kAllowedMessageDiff, kMessageDiff, kDifferent };

// For answers already found identical: the first value whose text differs (e.g. "1e+21" against
// "1000000000000000000000"), or "" when every value string is the same. Reported, not asserted:
// the suite's contract is numeric equality.
inline std::string TextDifference(const QueryCase& q, const Answer& prom, const Answer& ours) {
  Normal a = Normalize(prom), b = Normalize(ours);
  auto by_labels = [](const Series& x, const Series& y) { return x.labels < y.labels; };
  if (!q.ordered) {
    std::sort(a.series.begin(), a.series.end(), by_labels);
    std::sort(b.series.begin(), b.series.end(), by_labels);
  }
  for (size_t i = 0; i < a.series.size() && i < b.series.size(); ++i)
    for (size_t k = 0; k < a.series[i].points.size() && k < b.series[i].points.size(); ++k)
      if (a.series[i].points[k].second != b.series[i].points[k].second)
        return a.series[i].labels + ": \"" + a.series[i].points[k].second + "\" vs \"" +
               b.series[i].points[k].second + "\"";
  return "";
}

inline Verdict Compare(const QueryCase& q, const Answer& prom, const Answer& ours,
                       std::string* why) {
  Normal want = Normalize(prom), got = Normalize(ours);
  if (want.shape != got.shape || want.error_type != got.error_type) {
    auto cut = [](const std::string& t) { return t.size() > 300 ? t.substr(0, 300) + "..." : t; };
    *why = "Prometheus " + cut(want.shape) +
           (want.error_type.empty() ? "" : "/" + want.error_type) + ", Steward " + cut(got.shape) +
           (got.error_type.empty() ? "" : "/" + got.error_type) +
           (got.shape == "invalid" ? " (" + got.error + ")" : "");
    return Verdict::kDifferent;
  }
  if (prom.http != ours.http) {
    *why = "HTTP status: Prometheus " + std::to_string(prom.http) + ", Steward " +
           std::to_string(ours.http);
    return Verdict::kDifferent;
  }
  if (want.shape == "error") {
    if (want.error == got.error) return Verdict::kIdentical;
    *why = "error message: Prometheus \"" + want.error + "\", Steward \"" + got.error + "\"";
    return q.msg_differs ? Verdict::kAllowedMessageDiff : Verdict::kMessageDiff;
  }
  *why = DiffSeries(want.series, got.series, q.ordered, want.shape == "string");
  return why->empty() ? Verdict::kIdentical : Verdict::kDifferent;
}

}  // namespace steward::testing::promql_conformance
