// Access control for the daemon's API: which scope a call needs, who a bearer token is, how
// often an address may fail to authenticate, and which browser origins may call at all.
//
// Scopes are ordered: read < deploy < admin, and a token allows every call its scope or a lower
// one needs. RequiredScope is the one table of routes (docs/api.md, "Scopes"); a route it does
// not know needs admin, so a new mutating route is closed until someone classifies it.
// <state>/api.token is the admin token (actor "admin"); the others are in the state store by
// their SHA-256 only (`steward token create`).
//
// Thread safety: TokenAuthenticator and FailureLimiter are safe to call from every HTTP worker;
// the free functions are pure.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.h"
#include "base/sha256.h"
#include "base/status.h"
#include "base/url.h"
#include "state/state_store.h"

namespace steward::server {

enum class Scope { kRead = 0, kDeploy = 1, kAdmin = 2 };

std::string_view ScopeName(Scope s);  // "read", "deploy", "admin"
std::optional<Scope> ParseScope(std::string_view s);
inline bool ScopeAllows(Scope have, Scope need) { return have >= need; }

// The scope a call needs. GET and HEAD need read, as do the POSTs that only compute an answer
// (PromQL queries, plan); deploy covers what a release process does (apply, deploys,
// rollbacks, pipeline and backup runs, silences, incident actions, posting alerts); anything
// else — destroy, down, reload, TSDB admin, tokens, secrets, unknown routes — needs admin.
Scope RequiredScope(std::string_view method, std::string_view path);

// Whether the daemon writes an audit record for this call: every call that can change
// something (not GET, HEAD or OPTIONS, and not a read-scope POST), and every refused call
// that is not GET/HEAD/OPTIONS, so that probing for tokens with POSTs is on record too.
bool AuditedCall(std::string_view method, std::string_view path, int status);


inline constexpr std::string_view kTokenPrefix = "stw_";
// "stw_" and 64 hex digits of 32 random bytes (the kernel's getrandom).
StatusOr<std::string> NewApiToken();
// Equal strings, compared without an early exit on the first differing byte.
bool TokenMatches(std::string_view got, std::string_view want);
// A token name for `steward token create`: 1..64 of [A-Za-z0-9_.-], not "admin" (api.token's
// actor) and not "-" (the unknown actor). The error says what is allowed.
Status ValidateTokenName(std::string_view name);

struct Principal {
  std::string name;  // "admin" for api.token
  Scope scope = Scope::kRead;
};

// Who a bearer token belongs to: the admin token, else a stored token found by its SHA-256.
// Found records are cached for a few seconds (a revoked token stops working within that time)
// and their last_used_ms is written at most once a minute, so a busy client does not turn every
// call into a database write.
class TokenAuthenticator {
 public:
  TokenAuthenticator(std::string admin_token, state::StateStore* store, Clock* clock);
  // nullopt for an unknown token (or a store error, which is logged).
  std::optional<Principal> Authenticate(std::string_view token);

 private:
  struct Cached {
    Principal who;
    MonoTime fetched;
    MonoTime touched;
  };
  std::string admin_token_;
  state::StateStore* store_;
  Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Cached> cache_;  // by SHA-256
};

// The addresses this machine's own clients (the CLI, a local Grafana) connect from by default:
// 127.0.0.1 and ::1 (also as ::ffff:127.0.0.1). They are not limited, as fail2ban ignores
// localhost: a misconfigured local client would otherwise lock the operator's CLI out for good,
// and a 256-bit token is not brute-forced anyway. Every other address, the rest of 127.0.0.0/8
// included, is.
bool ExemptFromFailureLimit(std::string_view remote);

// Failed authentications per remote address. After max_failures inside `window` the address
// is refused (429) for `block`; the count starts afresh after a window without the limit
// reached. At most max_entries addresses are tracked: when full, expired entries go first,
// then the oldest, so a flood of addresses cannot grow memory.
class FailureLimiter {
 public:
  struct Options {
    int max_failures = 10;
    Duration window = Duration(60'000);
    Duration block = Duration(60'000);
    size_t max_entries = 4096;
  };
  FailureLimiter(Options options, Clock* clock);
  // How long `remote` is still refused; zero when it may try.
  Duration Blocked(const std::string& remote);
  void RecordFailure(const std::string& remote);
  size_t tracked();

 private:
  struct Entry {
    MonoTime window_start;
    int failures = 0;
    MonoTime blocked_until;
  };
  void MakeRoom(MonoTime now);
  Options opt_;
  Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// CORS: off unless origins are configured. An allowed origin is echoed back exactly; "*" is
// not accepted as a configured origin because calls carry a bearer token.
struct CorsPolicy {
  std::vector<std::string> origins;  // e.g. "https://grafana.example.com"
  // The Access-Control-Allow-Origin for a request's Origin header, or "" (no header).
  std::string AllowOrigin(std::string_view origin) const;
};
// Where the API may listen: a host that is not loopback needs TLS (cert and key) or
// insecure_listen; TLS needs both files, and both readable. The error says what to add.
Status CheckApiListen(std::string_view host, const std::string& tls_cert,
                      const std::string& tls_key, bool insecure_listen);

// An origin for --cors-origin: scheme://host[:port], http or https, no path. The error says so.
Status ValidateCorsOrigin(std::string_view origin);

}  // namespace steward::server
