#include "demo_settings.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace steward::demo {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads a non-negative decimal number at the front of `s`, consuming it.
bool ConsumeNumber(std::string_view* s, double* value) {
  size_t n = 0;
  while (n < s->size() && (std::isdigit(static_cast<unsigned char>((*s)[n])) || (*s)[n] == '.')) {
    ++n;
  }
  if (n == 0) return false;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + n, *value);
  if (ec != std::errc() || ptr != s->data() + n) return false;
  s->remove_prefix(n);
  return true;
}

std::string_view ConsumeUnit(std::string_view* s) {
  size_t n = 0;
  while (n < s->size() && std::isalpha(static_cast<unsigned char>((*s)[n]))) ++n;
  std::string_view unit = s->substr(0, n);
  s->remove_prefix(n);
  return unit;
}

// Milliseconds per duration unit; 0 when the unit is unknown.
double UnitMillis(std::string_view unit) {
  if (unit == "us") return 0.001;
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60000;
  if (unit == "h") return 3600000;
  return 0;
}

double UnitBytes(std::string_view unit) {
  static const std::map<std::string, double, std::less<>> kUnits = {
      {"", 1},         {"b", 1},    {"k", 1e3},      {"kb", 1e3},     {"ki", 1024.0},
      {"kib", 1024.0}, {"m", 1e6},  {"mb", 1e6},     {"mi", 1048576}, {"mib", 1048576},
      {"g", 1e9},      {"gb", 1e9}, {"gi", 1 << 30}, {"gib", 1 << 30}};
  auto it = kUnits.find(Lower(unit));
  return it == kUnits.end() ? 0 : it->second;
}

}  // namespace

StatusOr<Duration> ParseDuration(std::string_view text) {
  auto bad = [&] {
    return InvalidArgument("invalid duration '" + std::string(text) +
                           "': want e.g. 200ms, 1.5s, 2m, 1m30s");
  };
  if (text == "0") return Duration(0);
  std::string_view rest = text;
  double total_ms = 0;
  if (rest.empty()) return bad();
  while (!rest.empty()) {
    double number = 0;
    if (!ConsumeNumber(&rest, &number)) return bad();
    double unit = UnitMillis(ConsumeUnit(&rest));
    if (unit == 0) return bad();
    total_ms += number * unit;
  }
  if (total_ms > 1e15) return bad();
  return Duration(static_cast<int64_t>(total_ms));
}

StatusOr<int64_t> ParseBytes(std::string_view text) {
  std::string_view rest = text;
  double number = 0;
  if (!ConsumeNumber(&rest, &number)) {
    return InvalidArgument("invalid size '" + std::string(text) + "': want e.g. 4096, 64Ki, 1Mi");
  }
  double unit = UnitBytes(rest);
  if (unit == 0 || number * unit > 9e18) {
    return InvalidArgument("invalid size '" + std::string(text) +
                           "': units are K, Ki, M, Mi, G, Gi (optionally with B)");
  }
  return static_cast<int64_t>(number * unit);
}

StatusOr<bool> ParseBool(std::string_view text) {
  std::string t = Lower(text);
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  return InvalidArgument("invalid boolean '" + std::string(text) + "': want true or false");
}

StatusOr<double> ParseRate(std::string_view text) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || !(v >= 0) || v > 1) {
    return InvalidArgument("invalid rate '" + std::string(text) + "': want a number in [0, 1]");
  }
  return v;
}

Status ApplyFields(const std::map<std::string, std::string>& fields, Settings* settings,
                   bool* crash) {
  static const std::set<std::string> kKnown = {"error_rate", "latency", "unhealthy", "hang",
                                               "leak",       "crash",   "reset"};
  for (const auto& [key, value] : fields) {
    if (!kKnown.count(key)) {
      return InvalidArgument("unknown field '" + key +
                             "': known are error_rate, latency, unhealthy, hang, leak, crash, "
                             "reset");
    }
  }
  Settings next = *settings;
  bool want_crash = false;
  auto field = [&](const char* key) -> const std::string* {
    auto it = fields.find(key);
    return it == fields.end() ? nullptr : &it->second;
  };
  if (const std::string* v = field("reset")) {
    ASSIGN_OR_RETURN(bool reset, ParseBool(*v));
    if (reset) next = Settings{};
  }
  Status st;
  auto note = [&](const char* key, const Status& s) {
    if (st.ok() && !s.ok()) st = s.Annotate(key);
  };
  if (const std::string* v = field("error_rate")) {
    auto r = ParseRate(*v);
    note("error_rate", r.status());
    if (r.ok()) next.error_rate = *r;
  }
  if (const std::string* v = field("latency")) {
    auto r = ParseDuration(*v);
    note("latency", r.status());
    if (r.ok()) next.latency = *r;
  }
  if (const std::string* v = field("unhealthy")) {
    auto r = ParseBool(*v);
    note("unhealthy", r.status());
    if (r.ok()) next.unhealthy = *r;
  }
  if (const std::string* v = field("hang")) {
    auto r = ParseBool(*v);
    note("hang", r.status());
    if (r.ok()) next.hang = *r;
  }
  if (const std::string* v = field("leak")) {
    auto r = ParseBytes(*v);
    note("leak", r.status());
    if (r.ok()) next.leak_bytes_per_second = *r;
  }
  if (const std::string* v = field("crash")) {
    auto r = ParseBool(*v);
    note("crash", r.status());
    if (r.ok()) want_crash = *r;
  }
  RETURN_IF_ERROR(st);
  *settings = next;
  *crash = want_crash;
  return Status::OK();
}

StatusOr<std::map<std::string, std::string>> FieldsFromJson(std::string_view body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("body is not a JSON object");
  }
  std::map<std::string, std::string> fields;
  for (const auto& [key, value] : j.items()) {
    if (value.is_string()) {
      fields[key] = value.get<std::string>();
    } else if (value.is_boolean() || value.is_number()) {
      fields[key] = value.dump();
    } else {
      return InvalidArgument("field '" + key + "' must be a string, number or boolean");
    }
  }
  return fields;
}

}  // namespace steward::demo
