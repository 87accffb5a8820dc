// One JSON POST per notification through libcurl's easy interface: notifications are rare, so a
// handle per request keeps the code simple and shares nothing between threads.
#include <curl/curl.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "alerting/receivers.h"

namespace steward::alerting {
namespace {

constexpr size_t kMaxBodyKept = 4096;    // of a response, for the error message
constexpr size_t kMaxBodyInError = 256;  // bytes of it shown

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t OnWrite(char* data, size_t size, size_t n, void* p) {
  auto* body = static_cast<std::string*>(p);
  size_t len = size * n;
  if (body->size() < kMaxBodyKept) body->append(data, std::min(len, kMaxBodyKept - body->size()));
  return len;
}

struct Easy {
  CURL* h = curl_easy_init();
  curl_slist* headers = nullptr;
  ~Easy() {
    if (headers) curl_slist_free_all(headers);
    if (h) curl_easy_cleanup(h);
  }
};

// The response body as one short line, secrets scrubbed.
std::string Excerpt(const std::string& body, const std::vector<std::string>& secrets) {
  std::string s = body.substr(0, kMaxBodyInError);
  std::replace(s.begin(), s.end(), '\n', ' ');
  std::replace(s.begin(), s.end(), '\r', ' ');
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (body.size() > kMaxBodyInError) s += "…";
  return ScrubSecrets(std::move(s), secrets);
}

Status Classify(long code, const std::string& body, const std::string& prefix,
                const std::vector<std::string>& secrets) {
  if (code >= 200 && code < 300) return Status::OK();
  std::string text =
      prefix + "server returned HTTP status " + std::to_string(code);  // see FailureReason
  std::string excerpt = Excerpt(body, secrets);
  if (!excerpt.empty()) text += ": " + excerpt;
  // Like Alertmanager's retrier: 4xx means the request itself is wrong, except 429.
  if (code >= 400 && code < 500 && code != 429) return InvalidArgument(text);
  if (code >= 300 && code < 400) return InvalidArgument(text);  // a redirect not followed
  return Unavailable(text);
}

}  // namespace

std::string RedactUrl(std::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "<invalid url>";
  std::string_view rest = url.substr(scheme_end + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string out = std::string(url.substr(0, scheme_end)) + "://" + std::string(authority);
  if (auth_end != std::string_view::npos && rest.substr(auth_end) != "/") out += "/…";
  return out;
}

std::string ScrubSecrets(std::string text, const std::vector<std::string>& secrets) {
  std::vector<std::string> sorted;
  for (const auto& s : secrets) {
    if (s.size() >= 4) sorted.push_back(s);  // shorter "secrets" would mangle ordinary words
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& s : sorted) {
    for (size_t pos = text.find(s); pos != std::string::npos; pos = text.find(s, pos)) {
      text.replace(pos, s.size(), "<secret>");
      pos += 8;
    }
  }
  return text;
}

Status PostJson(std::string_view integration, const PostRequest& request) {
  GlobalInit();
  std::string prefix = std::string(integration) + ": POST " + RedactUrl(request.url) + ": ";
  std::vector<std::string> secrets = request.secrets;
  secrets.push_back(request.url);
  if (size_t s = request.url.find("://"); s != std::string::npos) {
    size_t p = request.url.find_first_of("/?#", s + 3);
    if (p != std::string::npos) secrets.push_back(request.url.substr(p));
  }
  for (const auto& [k, v] : request.headers) secrets.push_back(v);

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      request.deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return Unavailable(prefix + "timed out before the request was sent");
  Easy e;
  if (!e.h) return Internal(prefix + "cannot create a curl handle");
  e.headers = curl_slist_append(nullptr, "Content-Type: application/json");
  for (const auto& [k, v] : request.headers)
    e.headers = curl_slist_append(e.headers, (k + ": " + v).c_str());
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(e.h, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e.h, CURLOPT_POST, 1L);
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(e.h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(e.h, CURLOPT_HTTPHEADER, e.headers);
  curl_easy_setopt(e.h, CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  curl_easy_setopt(e.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e.h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(e.h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e.h, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(e.h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e.h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(e.h, CURLOPT_POSTREDIR, static_cast<long>(CURL_REDIR_POST_ALL));
  curl_easy_setopt(e.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e.h, CURLOPT_USERAGENT, "Steward");
  curl_easy_setopt(e.h, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(e.h, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(e.h, CURLOPT_ERRORBUFFER, errbuf);
  CURLcode rc = curl_easy_perform(e.h);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return Unavailable(prefix + "timed out after " + std::to_string(left.count()) + "ms");
  }
  if (rc != CURLE_OK) {
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    return Unavailable(prefix + ScrubSecrets(detail, secrets));
  }
  long code = 0;
  curl_easy_getinfo(e.h, CURLINFO_RESPONSE_CODE, &code);
  return Classify(code, body, prefix, secrets);
}

std::string_view FailureReason(const Status& s) {
  const std::string& m = s.message();
  constexpr std::string_view kMarker = "server returned HTTP status ";
  size_t p = m.find(kMarker);
  if (p != std::string::npos) {
    int code = 0;
    const char* b = m.data() + p + kMarker.size();
    std::from_chars(b, m.data() + m.size(), code);
    return code >= 500 || code == 429 ? "serverError" : "clientError";
  }
  if (m.find("timed out") != std::string::npos) return "contextDeadlineExceededError";
  return "other";
}

}  // namespace steward::alerting
