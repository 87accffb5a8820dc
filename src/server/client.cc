#include "server/client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <httplib.h>

namespace steward::server {
namespace {

std::string ErrorFromBody(const httplib::Result& res) {
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_string())
    return j["error"].get<std::string>();
  if (!j.is_discarded() && j.is_string()) return j.get<std::string>();  // Alertmanager's v2 API
  return "HTTP " + std::to_string(res->status) + ": " + res->body;
}

Status StatusForHttp(int code, const std::string& msg) {
  switch (code) {
    case 400: return InvalidArgument(msg);
    case 401: return FailedPrecondition(msg);
    case 403: return FailedPrecondition(msg);
    case 413: return InvalidArgument(msg);
    case 429: return Unavailable(msg);
    case 404: return NotFound(msg);
    case 409: return Aborted(msg);
    default: return Internal(msg);
  }
}


// Where to connect for a listen host: a wildcard listener answers on loopback.
std::string ConnectHost(const std::string& listen_host) {
  if (listen_host.empty() || listen_host == "0.0.0.0") return "127.0.0.1";
  if (listen_host == "::" || listen_host == "[::]") return "::1";
  if (listen_host.size() > 2 && listen_host.front() == '[' && listen_host.back() == ']')
    return listen_host.substr(1, listen_host.size() - 2);
  return listen_host;
}

}  // namespace

std::unique_ptr<httplib::Client> NewHttpClient(const DaemonInfo& info) {
  const std::string host =
      info.host.find(':') != std::string::npos ? "[" + info.host + "]" : info.host;
  auto cli = std::make_unique<httplib::Client>(info.scheme + "://" + host + ":" +
                                               std::to_string(info.port));
  if (info.scheme == "https") {
    cli->enable_server_certificate_verification(true);
    std::string ca = info.ca_file;
    if (const char* env = getenv("STEWARD_TLS_CA"); env != nullptr && *env != '\0') ca = env;
    if (!ca.empty()) cli->set_ca_cert_path(ca.c_str());
  }
  return cli;
}

std::string TransportError(const DaemonInfo& info, httplib::Error e) {
  const std::string where = info.scheme + "://" + info.host + ":" + std::to_string(info.port);
  if (e == httplib::Error::SSLServerVerification) {
    const char* env = getenv("STEWARD_TLS_CA");
    std::string ca = env != nullptr && *env != '\0' ? std::string("$STEWARD_TLS_CA (") + env + ")"
                     : !info.ca_file.empty()       ? info.ca_file
                                                   : "the system's trust store";
    return "the TLS certificate of " + where + " does not verify against " + ca +
           "; set STEWARD_TLS_CA to the PEM file of the CA (or the self-signed certificate) "
           "it was issued by";
  }
  if (e == httplib::Error::Connection) return "cannot connect to " + where;
  return httplib::to_string(e) + " talking to " + where;
}

std::optional<DaemonInfo> FindDaemon(const std::string& state_dir) {
  std::ifstream in(state_dir + "/daemon.json");
  if (!in) return std::nullopt;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  DaemonInfo info;
  info.pid = j.value("pid", 0);
  info.port = j.value("port", 0);
  if (j.contains("host") && j["host"].is_string()) info.host = ConnectHost(j["host"]);
  if (j.value("scheme", "http") == "https") {
    info.scheme = "https";
    info.ca_file = j.value("tls_ca", "");
  }
  if (info.pid <= 0 || info.port <= 0 || kill(info.pid, 0) != 0) return std::nullopt;
  auto cli = NewHttpClient(info);
  cli->set_connection_timeout(1, 0);
  cli->set_read_timeout(2, 0);
  auto res = cli->Get("/healthz");
  if (!res || res->status != 200) return std::nullopt;
  return info;
}

StatusOr<DaemonInfo> SpawnDaemon(const std::string& self, const std::string& state_dir,
                                 const std::string& listen, Duration timeout) {
  return SpawnDaemon(self, state_dir, listen, {}, timeout);
}

StatusOr<DaemonInfo> SpawnDaemon(const std::string& self, const std::string& state_dir,
                                 const std::string& listen,
                                 const std::vector<std::string>& serve_flags, Duration timeout) {
  std::vector<std::string> args = {"steward", "--state-dir", state_dir,         "serve",
                                   "--listen", listen,       "--defer-reconcile"};
  args.insert(args.end(), serve_flags.begin(), serve_flags.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = state_dir + "/daemon.log";
  pid_t pid = fork();
  if (pid < 0) return ErrnoError("fork", errno);
  if (pid == 0) {
    setsid();
    int null_fd = open("/dev/null", O_RDONLY);
    int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (null_fd >= 0) dup2(null_fd, 0);
    if (log_fd >= 0) {
      dup2(log_fd, 1);
      dup2(log_fd, 2);
    }
    execv(self.c_str(), argv.data());
    _exit(127);
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto info = FindDaemon(state_dir); info && info->pid == pid) return *info;
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), {}), last;
      size_t cut = text.rfind('\n', text.size() > 1 ? text.size() - 2 : 0);
      last = cut == std::string::npos ? text : text.substr(cut + 1);
      return Unavailable("the steward daemon exited at start; " + log + " says: " + last);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return DeadlineExceeded("the steward daemon did not answer within " + FormatDuration(timeout) +
                          "; see " + log);
}

DaemonClient::DaemonClient(DaemonInfo info, std::string token)
    : info_(std::move(info)), token_(std::move(token)) {}

StatusOr<DaemonClient> DaemonClient::Connect(const std::string& state_dir) {
  auto info = FindDaemon(state_dir);
  if (!info) return Unavailable("no steward daemon is running for " + state_dir);
  // A scoped token (`steward token create`) from the environment, else the admin token.
  if (const char* t = getenv("STEWARD_TOKEN"); t != nullptr && *t != '\0')
    return DaemonClient(*info, t);
  auto token = ReadApiToken(state_dir + "/api.token");
  if (!token.ok()) return token.status();
  return DaemonClient(*info, *token);
}

StatusOr<std::string> ReadApiToken(const std::string& path) {
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token)) return FailedPrecondition("cannot read the API token " + path);
  return token;
}

StatusOr<nlohmann::json> DaemonClient::Get(const std::string& path) {
  auto cli_ptr = NewHttpClient(info_);
  httplib::Client& cli = *cli_ptr;
  cli.set_bearer_token_auth(token_.c_str());
  cli.set_read_timeout(30, 0);
  auto res = cli.Get(path.c_str());
  if (!res) return Unavailable("GET " + path + ": " + TransportError(info_, res.error()));
  if (res->status != 200) return StatusForHttp(res->status, ErrorFromBody(res));
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return Internal("GET " + path + ": the daemon sent invalid JSON");
  return j;
}

StatusOr<nlohmann::json> DaemonClient::Post(const std::string& path, const nlohmann::json& body) {
  auto cli_ptr = NewHttpClient(info_);
  httplib::Client& cli = *cli_ptr;
  cli.set_bearer_token_auth(token_.c_str());
  cli.set_read_timeout(120, 0);
  auto res = cli.Post(path.c_str(), body.dump(), "application/json");
  if (!res) return Unavailable("POST " + path + ": " + TransportError(info_, res.error()));
  // 202 Accepted (a deploy that goes on in the daemon) is a success too.
  if (res->status / 100 != 2) return StatusForHttp(res->status, ErrorFromBody(res));
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return Internal("POST " + path + ": the daemon sent invalid JSON");
  return j;
}

StatusOr<nlohmann::json> DaemonClient::Delete(const std::string& path) {
  auto cli_ptr = NewHttpClient(info_);
  httplib::Client& cli = *cli_ptr;
  cli.set_bearer_token_auth(token_.c_str());
  cli.set_read_timeout(30, 0);
  auto res = cli.Delete(path.c_str());
  if (!res) return Unavailable("DELETE " + path + ": " + TransportError(info_, res.error()));
  if (res->status != 200) return StatusForHttp(res->status, ErrorFromBody(res));
  if (res->body.empty()) return nlohmann::json();
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return Internal("DELETE " + path + ": the daemon sent invalid JSON");
  return j;
}

StatusOr<nlohmann::json> DaemonClient::PostStream(
    const std::string& path, const nlohmann::json& body,
    const std::function<void(const nlohmann::json&)>& on_line) {
  auto cli_ptr = NewHttpClient(info_);
  httplib::Client& cli = *cli_ptr;
  cli.set_read_timeout(3600, 0);  // an apply may wait long for readiness; progress keeps coming
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = {{"Authorization", "Bearer " + token_}};
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");
  std::string pending, error_body;
  nlohmann::json last;
  int status = 0;
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data, len);
      return true;
    }
    pending.append(data, len);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      auto j = nlohmann::json::parse(pending.substr(0, nl), nullptr, false);
      pending.erase(0, nl + 1);
      if (j.is_discarded()) continue;
      if (j.value("event", "") == "result") last = j;
      else on_line(j);
    }
    return true;
  };
  auto res = cli.send(req);
  if (!res) return Unavailable("POST " + path + ": " + TransportError(info_, res.error()));
  if (status != 200) {
    auto j = nlohmann::json::parse(error_body, nullptr, false);
    return StatusForHttp(status, !j.is_discarded() && j.contains("error")
                                     ? j["error"].get<std::string>()
                                     : error_body);
  }
  if (last.is_null()) return Unavailable("POST " + path + ": the stream ended without a result");
  return last;
}

}  // namespace steward::server
