// `steward report security`: where the stack stands on security, from what the scanners found
// (leaked secrets, vulnerable dependencies, risky configuration), what the state store records
// (secret versions and their ages, API tokens, the audit log of mutating API calls) and the
// stack itself, as pass/fail controls in the manner of CIS benchmarks. Markdown, HTML, JSON;
// docs/reports.md defines every field.
//
// Contract:
//  - Only names, ages, counts and findings (already masked by the scanners) are read: the
//    report never sees a secret value or a token.
//  - A control is "pass", "fail" or "n/a" (nothing to judge, e.g. no secrets stored); the
//    report passes when no control fails. Controls are listed in a fixed order with stable ids.
//  - Secret age: now − creation of the current version. "Pending roll": a previous version is
//    still kept (rotated, but the services using it have not all rolled yet).
// Thread safety: plain functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/stack.h"
#include "scan/finding.h"
#include "state/state_store.h"

namespace steward::report {

struct SecurityInput {
  const config::Stack* stack = nullptr;       // nullptr: no stack controls
  scan::ScanResult scan;                      // what `steward scan` found (may be empty)
  bool scanned = false;                       // false: the scan controls are n/a
  bool deps_scanned = false;                  // an OSV database was given
  std::vector<state::SecretRecord> secrets;   // every version (sealed values are not read)
  std::vector<state::ApiTokenRecord> tokens;
  std::vector<state::AuditRecord> audit;      // the window's entries
  int64_t now_ms = 0;
  int64_t audit_since_ms = 0;
  int max_secret_age_days = 90;
  int max_token_idle_days = 90;
  // The master key file when one is in use ("" when the key comes from the environment); its
  // mode is checked.
  std::string master_key_file;
};

struct SecretAge {
  std::string name;
  int64_t version = 0;        // current
  int64_t versions = 0;       // kept
  int64_t age_days = 0;       // of the current version
  int64_t rotations = 0;      // current version − 1
  bool pending_roll = false;  // a "previous" version is kept
  bool stale = false;         // older than max_secret_age_days
};

struct AuditSummary {
  int64_t calls = 0;
  int64_t denied = 0;                        // 401, 403, 429
  int64_t errors = 0;                        // 5xx
  std::map<std::string, int64_t> by_actor;
  std::map<std::string, int64_t> by_path;    // method + path
  std::vector<state::AuditRecord> recent_denied;  // newest first, at most 10
};

struct Control {
  std::string id;        // "SEC-01"
  std::string title;
  std::string status;    // "pass", "fail", "n/a"
  std::string detail;    // why, with counts or names
};

struct SecurityReport {
  int64_t generated_ms = 0;
  std::map<std::string, int64_t> findings_by_severity;  // every severity, 0 included
  std::map<std::string, int64_t> findings_by_scanner;
  std::vector<scan::Finding> top_findings;              // worst first, at most 20
  int64_t problems = 0;
  std::vector<SecretAge> secrets;
  std::vector<state::ApiTokenRecord> tokens;
  AuditSummary audit;
  int64_t audit_since_ms = 0;
  std::vector<Control> controls;
  bool pass = false;
};

SecurityReport ComputeSecurity(const SecurityInput& in);

nlohmann::json ToJson(const SecurityReport& r);
std::string ToMarkdown(const SecurityReport& r);
std::string ToHtml(const SecurityReport& r);  // one self-contained page, text escaped

}  // namespace steward::report
