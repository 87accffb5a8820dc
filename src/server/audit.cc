#include "server/audit.h"

#include <spdlog/spdlog.h>

#include "base/clock.h"

namespace steward::server {

std::string AuditResult(int status, std::string_view error_message) {
  if (status < 400) return "ok";
  if (status == 401 || status == 403 || status == 429) return "denied";
  if (error_message.empty()) return "error: HTTP " + std::to_string(status);
  constexpr size_t kMax = 160;
  size_t n = std::min(error_message.size(), kMax);
  // Back off to the start of a UTF-8 sequence, so the record stays valid text.
  while (n < error_message.size() && n > 0 &&
         (static_cast<unsigned char>(error_message[n]) & 0xC0) == 0x80)
    --n;
  std::string out = "error: " + std::string(error_message.substr(0, n));
  if (n < error_message.size()) out += "…";
  return out;
}

void WriteAudit(state::StateStore* store, const state::AuditRecord& record) {
  if (store == nullptr) return;
  auto id = store->AppendAudit(record);
  if (!id.ok())
    spdlog::error("msg=\"audit record not written\" method={} path={} status={} error=\"{}\"",
                  record.method, record.path, record.status, id.status().message());
}

nlohmann::json AuditJson(const std::vector<state::AuditRecord>& records) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& r : records)
    out.push_back({{"id", r.id},
                   {"time", FormatRfc3339(FromUnixMillis(r.time_ms))},
                   {"actor", r.actor},
                   {"scope", r.scope},
                   {"remote", r.remote},
                   {"method", r.method},
                   {"path", r.path},
                   {"status", r.status},
                   {"result", r.result},
                   {"duration_ms", r.duration_ms}});
  return out;
}

}  // namespace steward::server
