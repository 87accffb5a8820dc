// DaemonClient: how CLI commands talk to a running daemon of a state directory. Finds it via
// <state>/daemon.json (and checks the pid is alive and /healthz answers), authenticates with
// <state>/api.token, and reads NDJSON progress streams. A daemon serving TLS is spoken to over
// https, its certificate verified against daemon.json's tls_ca (never unverified).
// Thread safety: one client per thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/status.h"

namespace httplib {
class Client;
enum class Error;
}  // namespace httplib

namespace steward::server {

struct DaemonInfo {
  int pid = 0;
  std::string host = "127.0.0.1";
  int port = 0;
  std::string scheme = "http";  // "https" when the daemon serves TLS (daemon.json)
  // With https: the PEM file the server's certificate is verified with (daemon.json's tls_ca);
  // $STEWARD_TLS_CA, when set, takes its place (see NewHttpClient).
  std::string ca_file;
};

// An HTTP client for the daemon at `info`: https with the certificate verified when
// info.scheme is "https" — against $STEWARD_TLS_CA when set, else info.ca_file when set, else
// the system store.
std::unique_ptr<httplib::Client> NewHttpClient(const DaemonInfo& info);

// Why a request to `info` got no answer, for an error message: "connection refused by
// https://127.0.0.1:9000", or, when its certificate did not verify, which CA was tried and how
// to name the right one.
std::string TransportError(const DaemonInfo& info, httplib::Error error);

// The API token in `path` (its first line): what <state>/api.token or a --token-file holds.
StatusOr<std::string> ReadApiToken(const std::string& path);

// The daemon of `state_dir` if one is running and answering; nullopt otherwise.
std::optional<DaemonInfo> FindDaemon(const std::string& state_dir);

// Starts `steward serve` for state_dir in the background (its own session, output appended to
// <state>/daemon.log) and waits until it answers. `self` is the steward binary's path.
StatusOr<DaemonInfo> SpawnDaemon(const std::string& self, const std::string& state_dir,
                                 const std::string& listen, Duration timeout);
// As above, with more `serve` flags after --listen (--tls-cert FILE, --insecure-listen, …).
StatusOr<DaemonInfo> SpawnDaemon(const std::string& self, const std::string& state_dir,
                                 const std::string& listen,
                                 const std::vector<std::string>& serve_flags, Duration timeout);

class DaemonClient {
 public:
  DaemonClient(DaemonInfo info, std::string token);
  // Authenticates with $STEWARD_TOKEN when set (a scoped token), else with api.token.
  static StatusOr<DaemonClient> Connect(const std::string& state_dir);

  StatusOr<nlohmann::json> Get(const std::string& path);
  StatusOr<nlohmann::json> Post(const std::string& path, const nlohmann::json& body);
  // An empty answer is JSON null.
  StatusOr<nlohmann::json> Delete(const std::string& path);
  // POSTs and calls on_line for each NDJSON line; returns the last line (the result).
  StatusOr<nlohmann::json> PostStream(const std::string& path, const nlohmann::json& body,
                                      const std::function<void(const nlohmann::json&)>& on_line);
  const DaemonInfo& info() const { return info_; }

 private:
  DaemonInfo info_;
  std::string token_;
};

}  // namespace steward::server
