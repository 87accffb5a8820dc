// The audit log of the daemon's API: one record per call that can change something, refused
// ones included (auth.h AuditedCall says which). Records go to the state store's append-only
// audit_log (docs/formats/state.md); they hold who (the token's name, never the token), from
// where, the method and path without the query string, the status and a short result — never
// a request body.
// Thread safety: the functions are safe from every HTTP worker (the store serialises writes).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "state/state_store.h"

namespace steward::server {

// "ok" for 2xx/3xx, "denied" for 401/403/429, else "error: <message>" with the message cut to
// 160 bytes (at a UTF-8 boundary), or "error: HTTP <status>" without one.
std::string AuditResult(int status, std::string_view error_message);

// Appends `record`; a failing write is logged and dropped, so the call it describes still
// gets its answer and the daemon keeps running.
void WriteAudit(state::StateStore* store, const state::AuditRecord& record);

// Records as `steward audit --json` prints them: time as RFC 3339, newest first as given.
nlohmann::json AuditJson(const std::vector<state::AuditRecord>& records);

}  // namespace steward::server
