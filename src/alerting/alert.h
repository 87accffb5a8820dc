// Alert: one alert as Alertmanager models it — what the rule evaluator sends on, what
// `POST /api/v2/alerts` accepts from other senders, and what the dispatcher groups, silences,
// inhibits and hands to receivers.
//
// Contract: labels identify an alert (alertname among them); two alerts with the same labels
// are the same alert, updated. starts_at/ends_at are unix milliseconds; ends_at == 0 means
// "still firing, no end known". An alert whose ends_at is in the past is resolved. Plain
// values; no thread-safety concerns.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "tsdb/labels.h"

namespace steward::alerting {

inline constexpr std::string_view kAlertNameLabel = "alertname";

struct Alert {
  tsdb::Labels labels;
  std::map<std::string, std::string> annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;     // 0: open-ended (firing)
  int64_t updated_at_ms = 0;  // when Steward last received or re-sent it
  std::string generator_url;

  uint64_t Fingerprint() const { return labels.Hash(); }
  bool ResolvedAt(int64_t now_ms) const { return ends_at_ms != 0 && ends_at_ms <= now_ms; }
  std::string_view Name() const { return labels.Get(kAlertNameLabel); }
};

// A fingerprint as the APIs and payloads show it: 16 lowercase hex digits.
inline std::string FingerprintHex(uint64_t fingerprint) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, fingerprint);
  return buf;
}

}  // namespace steward::alerting
