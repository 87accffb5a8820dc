#include "supervisor/health.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

namespace steward::supervisor {
namespace {

HealthResult Result(bool ok, std::string detail) { return HealthResult{ok, std::move(detail), {}}; }

size_t DiscardBody(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

void InitCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Explains a failed transfer the way people read it: "connect: Connection refused".
std::string DescribeCurlError(CURL* curl, CURLcode rc, const char* errbuf, Duration timeout) {
  if (rc == CURLE_OPERATION_TIMEDOUT) return TimeoutText(timeout);
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (rc == CURLE_COULDNT_CONNECT && os_errno != 0) {
    return std::string("connect: ") + std::strerror(static_cast<int>(os_errno));
  }
  std::string text = std::string("http: ") + curl_easy_strerror(rc);
  if (errbuf[0] != '\0') text += std::string(" (") + errbuf + ")";
  return text;
}

}  // namespace

std::string TimeoutText(Duration timeout) {
  // Whole seconds read better as "1s" than FormatDuration's "1.0s".
  int64_t ms = timeout.count();
  if (ms >= 1000 && ms < 60000 && ms % 1000 == 0) {
    return "timeout after " + std::to_string(ms / 1000) + "s";
  }
  return "timeout after " + FormatDuration(timeout);
}

HealthResult CheckHttp(const config::HealthCheck& check, int port) {
  InitCurlOnce();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return Result(false, "http: cannot create a curl handle");
  std::string path = check.path.empty() || check.path[0] != '/' ? "/" + check.path : check.path;
  std::string url = "http://127.0.0.1:" + std::to_string(port) + path;
  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(check.timeout.count()));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM: checks run on worker threads
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "steward-health");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return Result(false, DescribeCurlError(c, rc, errbuf, check.timeout));
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  bool ok =
      check.expect_status != 0 ? status == check.expect_status : status >= 200 && status < 400;
  return Result(ok, "HTTP " + std::to_string(status));
}

HealthResult CheckTcp(const config::HealthCheck& check, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Result(false, std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) err = errno;
  if (err == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int n;
    do {
      n = poll(&p, 1, static_cast<int>(check.timeout.count()));
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
      close(fd);
      return Result(false, TimeoutText(check.timeout));
    }
    socklen_t len = sizeof err;
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  }
  close(fd);
  if (err != 0) return Result(false, std::string("connect: ") + std::strerror(err));
  return Result(true, "connected");
}

HealthResult RunHealthCheck(const config::HealthCheck& check, int replica_port,
                            const std::map<std::string, std::string>& env) {
  MonoTime begin = RealClock::Get()->Now();
  int port = check.port != 0 ? check.port : replica_port;
  HealthResult result;
  switch (check.kind) {
    case config::HealthCheckKind::kNone:
      result = Result(true, "no health check");
      break;
    case config::HealthCheckKind::kHttp:
      result = port > 0 ? CheckHttp(check, port) : Result(false, "http: no port to check");
      break;
    case config::HealthCheckKind::kTcp:
      result = port > 0 ? CheckTcp(check, port) : Result(false, "tcp: no port to check");
      break;
    case config::HealthCheckKind::kExec:
      result = CheckExec(check, env);
      break;
  }
  result.took = std::chrono::duration_cast<Duration>(RealClock::Get()->Now() - begin);
  return result;
}

}  // namespace steward::supervisor
