#include "server/auth.h"

#include <spdlog/spdlog.h>
#include <sys/random.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <regex>

namespace steward::server {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// POSTs that only compute an answer: Grafana and promtool send PromQL as forms, and plan
// changes nothing.
bool ReadOnlyPost(std::string_view path) {
  for (std::string_view p :
       {"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels",
        "/api/v1/format_query", "/api/v1/query_exemplars", "/api/v1/plan"})
    if (path == p) return true;
  return false;
}

// The calls a release process makes: they change what runs, but cannot remove the stack,
// stop the daemon or hand out access.
bool DeployCall(std::string_view method, std::string_view path) {
  if (method == "POST") {
    if (path == "/api/v1/apply" || path == "/api/v1/deploys" || path == "/api/v2/alerts" ||
        path == "/api/v2/silences")
      return true;
    if (StartsWith(path, "/api/v1/services/") && EndsWith(path, "/rollback")) return true;
    if (StartsWith(path, "/api/v1/pipelines/") && EndsWith(path, "/runs")) return true;
    if (StartsWith(path, "/api/v1/runs/") && EndsWith(path, "/cancel")) return true;
    if (StartsWith(path, "/api/v1/backups/") && EndsWith(path, "/run")) return true;
    if (StartsWith(path, "/api/v1/incidents/") &&
        (EndsWith(path, "/ack") || EndsWith(path, "/resolve") || EndsWith(path, "/note")))
      return true;
  }
  if (method == "DELETE" && StartsWith(path, "/api/v2/silence/")) return true;
  return false;
}

}  // namespace

std::string_view ScopeName(Scope s) {
  switch (s) {
    case Scope::kRead:
      return "read";
    case Scope::kDeploy:
      return "deploy";
    case Scope::kAdmin:
      return "admin";
  }
  return "admin";
}

std::optional<Scope> ParseScope(std::string_view s) {
  for (Scope c : {Scope::kRead, Scope::kDeploy, Scope::kAdmin})
    if (s == ScopeName(c)) return c;
  return std::nullopt;
}

Scope RequiredScope(std::string_view method, std::string_view path) {
  if (method == "GET" || method == "HEAD") return Scope::kRead;
  if (method == "POST" && ReadOnlyPost(path)) return Scope::kRead;
  if (DeployCall(method, path)) return Scope::kDeploy;
  return Scope::kAdmin;
}

bool AuditedCall(std::string_view method, std::string_view path, int status) {
  if (method == "GET" || method == "HEAD" || method == "OPTIONS") return false;
  if (RequiredScope(method, path) != Scope::kRead) return true;
  return status == 401 || status == 403 || status == 429;
}

bool ExemptFromFailureLimit(std::string_view remote) {
  return remote == "127.0.0.1" || remote == "::1" || remote == "::ffff:127.0.0.1";
}

StatusOr<std::string> NewApiToken() {
  unsigned char raw[32];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("getrandom", errno);
    got += static_cast<size_t>(n);
  }
  return std::string(kTokenPrefix) + HexEncode(raw, sizeof raw);
}

bool TokenMatches(std::string_view got, std::string_view want) {
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;  // constant time: no early exit on the first differing byte
  for (size_t i = 0; i < got.size(); ++i) diff |= got[i] ^ want[i];
  return diff == 0;
}

Status ValidateTokenName(std::string_view name) {
  static const std::regex kName("[A-Za-z0-9_.-]{1,64}");
  if (!std::regex_match(name.begin(), name.end(), kName))
    return InvalidArgument("token name '" + std::string(name.substr(0, 80)) +
                           "': use 1 to 64 letters, digits, '_', '.' or '-' (e.g. ci-deploy)");
  if (name == "admin" || name == "-")
    return InvalidArgument("token name '" + std::string(name) +
                           "' is reserved (the audit log uses it for api.token or for calls "
                           "without a token); choose another");
  return Status::OK();
}

TokenAuthenticator::TokenAuthenticator(std::string admin_token, state::StateStore* store,
                                       Clock* clock)
    : admin_token_(std::move(admin_token)), store_(store), clock_(clock) {}

std::optional<Principal> TokenAuthenticator::Authenticate(std::string_view token) {
  if (token.empty()) return std::nullopt;
  if (!admin_token_.empty() && TokenMatches(token, admin_token_))
    return Principal{"admin", Scope::kAdmin};
  // Stored tokens carry the prefix; anything else cannot be one, so no lookup is spent on it.
  if (store_ == nullptr || !StartsWith(token, kTokenPrefix)) return std::nullopt;
  const std::string sha = Sha256Hex(token);
  const MonoTime now = clock_->Now();
  constexpr Duration kCacheFor(5000), kTouchEvery(60'000);
  std::lock_guard<std::mutex> l(mu_);
  auto it = cache_.find(sha);
  if (it == cache_.end() || now - it->second.fetched > kCacheFor) {
    auto found = store_->FindApiToken(sha);
    if (!found.ok()) {
      spdlog::error("msg=\"api token lookup failed\" error=\"{}\"", found.status().message());
      return std::nullopt;
    }
    if (!found->has_value()) {
      if (it != cache_.end()) cache_.erase(it);
      return std::nullopt;
    }
    auto scope = ParseScope((*found)->scope);
    if (!scope) {
      spdlog::error("msg=\"api token has an unknown scope; refused\" name={} scope={}",
                    (*found)->name, (*found)->scope);
      return std::nullopt;
    }
    if (cache_.size() >= 1024) cache_.clear();  // bounded; a refill costs one lookup each
    MonoTime touched = it == cache_.end() ? MonoTime{} : it->second.touched;
    it = cache_.insert_or_assign(sha, Cached{{(*found)->name, *scope}, now, touched}).first;
  }
  if (it->second.touched == MonoTime{} || now - it->second.touched >= kTouchEvery) {
    it->second.touched = now;
    const int64_t wall_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(clock_->WallNow().time_since_epoch())
            .count();
    if (Status st = store_->TouchApiToken(it->second.who.name, wall_ms); !st.ok())
      spdlog::warn("msg=\"api token last-use not recorded\" name={} error=\"{}\"",
                   it->second.who.name, st.message());
  }
  return it->second.who;
}

FailureLimiter::FailureLimiter(Options options, Clock* clock) : opt_(options), clock_(clock) {}

Duration FailureLimiter::Blocked(const std::string& remote) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = entries_.find(remote);
  if (it == entries_.end()) return Duration(0);
  const MonoTime now = clock_->Now();
  if (it->second.blocked_until <= now) return Duration(0);
  return std::chrono::ceil<Duration>(it->second.blocked_until - now);
}

void FailureLimiter::RecordFailure(const std::string& remote) {
  std::lock_guard<std::mutex> l(mu_);
  const MonoTime now = clock_->Now();
  auto it = entries_.find(remote);
  if (it == entries_.end()) {
    if (entries_.size() >= opt_.max_entries) MakeRoom(now);
    it = entries_.emplace(remote, Entry{now, 0, MonoTime{}}).first;
  }
  Entry& e = it->second;
  if (e.blocked_until > now) return;  // already refused; its block does not grow
  if (now - e.window_start > opt_.window) {
    e.window_start = now;
    e.failures = 0;
  }
  if (++e.failures >= opt_.max_failures) {
    e.blocked_until = now + opt_.block;
    e.failures = 0;
    e.window_start = e.blocked_until;
  }
}

size_t FailureLimiter::tracked() {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

void FailureLimiter::MakeRoom(MonoTime now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    bool expired = it->second.blocked_until <= now && now - it->second.window_start > opt_.window;
    it = expired ? entries_.erase(it) : std::next(it);
  }
  if (entries_.size() < opt_.max_entries) return;
  auto oldest =
      std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return std::max(a.second.window_start, a.second.blocked_until) <
               std::max(b.second.window_start, b.second.blocked_until);
      });
  entries_.erase(oldest);
}

std::string CorsPolicy::AllowOrigin(std::string_view origin) const {
  if (origin.empty()) return "";
  for (const std::string& o : origins)
    if (o == origin) return o;
  return "";
}

Status ValidateCorsOrigin(std::string_view origin) {
  static const std::regex kOrigin(R"(https?://[A-Za-z0-9.\-\[\]:]+(:[0-9]{1,5})?)");
  if (!std::regex_match(origin.begin(), origin.end(), kOrigin))
    return InvalidArgument("--cors-origin '" + std::string(origin.substr(0, 200)) +
                           "': expected an origin, scheme://host[:port] without a path, e.g. "
                           "https://grafana.example.com ('*' is not allowed: calls carry a token)");
  return Status::OK();
}

Status CheckApiListen(std::string_view host, const std::string& tls_cert,
                      const std::string& tls_key, bool insecure_listen) {
  if (tls_cert.empty() != tls_key.empty())
    return InvalidArgument(std::string("--tls-cert and --tls-key go together: ") +
                           (tls_cert.empty() ? "--tls-key" : "--tls-cert") +
                           " was given without the other");
  for (const std::string* f : {&tls_cert, &tls_key}) {
    if (f->empty()) continue;
    if (access(f->c_str(), R_OK) != 0)
      return ErrnoError("TLS " + std::string(f == &tls_cert ? "certificate " : "key ") + *f, errno);
  }
  if (!tls_cert.empty() || insecure_listen || IsLoopbackHost(host)) return Status::OK();
  return InvalidArgument(
      "refusing to listen on " + std::string(host.empty() ? "*" : host) +
      ": the API would be reachable beyond this machine without TLS; give --tls-cert FILE "
      "--tls-key FILE, listen on 127.0.0.1, or accept plain HTTP with --insecure-listen");
}

}  // namespace steward::server
