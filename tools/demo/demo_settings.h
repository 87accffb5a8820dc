// The demo service's misbehaviour settings and the parsers for the values people type into its
// flags and its admin API ("200ms", "1Mi", "true", "0.3").
//
// Contract: parsers accept what the flags documentation shows and reject everything else with an
// InvalidArgument that names the field and the expected form. ApplyFields is all-or-nothing:
// on error the settings are untouched. Plain functions over values; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"

namespace steward::demo {

// What the service is currently told to do wrong. Defaults: behave.
struct Settings {
  double error_rate = 0;              // fraction of `/` requests that answer 500
  Duration latency{0};                // added to every `/` request
  bool unhealthy = false;             // /healthz answers 503
  bool hang = false;                  // every handler blocks until shutdown
  int64_t leak_bytes_per_second = 0;  // memory touched and kept, per second

  bool operator==(const Settings&) const = default;
};

// "0", "250ms", "1.5s", "2m", "1h", "1m30s", "500us" (rounded down to ms). Not negative.
StatusOr<Duration> ParseDuration(std::string_view text);
// "0", "4096", "64K"/"64KB" (x1000), "64Ki"/"64KiB" (x1024), M, Mi, G, Gi; decimals allowed
// ("1.5Mi"). Not negative.
StatusOr<int64_t> ParseBytes(std::string_view text);
// true/false, 1/0, yes/no, on/off (any case).
StatusOr<bool> ParseBool(std::string_view text);
// A number in [0, 1].
StatusOr<double> ParseRate(std::string_view text);

// One admin request's fields: error_rate, latency, unhealthy, hang, leak, crash, reset.
// "reset=true" first restores the defaults, then the other fields apply. Sets *crash when the
// caller asked for an exit. Unknown fields are an error, so typos do not pass silently.
Status ApplyFields(const std::map<std::string, std::string>& fields, Settings* settings,
                   bool* crash);

// The fields of a JSON object body as strings (numbers and booleans spelled as in JSON).
StatusOr<std::map<std::string, std::string>> FieldsFromJson(std::string_view body);

}  // namespace steward::demo
