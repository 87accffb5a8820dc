// The http probe: one request with libcurl's easy interface (a probe is one blocking call on a
// worker thread; the scraper's multi loop is for thousands of targets), judged by status, body
// regex and latency in that order, so the error names the first reason.
#include <curl/curl.h>
#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <mutex>

#include "monitor/probe_internal.h"

namespace steward::monitor::internal {
namespace {

constexpr size_t kBodyCap = 4 << 20;  // body_regex looks at this much; the rest is counted only
constexpr long kMaxRedirects = 10;

struct Transfer {
  std::string body;
  int64_t bytes = 0;
  const ProbeContext* context = nullptr;
};

size_t OnData(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  t->bytes += static_cast<int64_t>(n);
  if (t->body.size() < kBodyCap) t->body.append(data, std::min(n, kBodyCap - t->body.size()));
  return n;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return Cancelled(*static_cast<Transfer*>(user)->context) ? 1 : 0;
}

bool HasHeader(const config::Monitor& m, std::string_view name) {
  return std::any_of(m.headers.begin(), m.headers.end(), [&](const auto& h) {
    return std::equal(h.first.begin(), h.first.end(), name.begin(), name.end(),
                      [](char a, char b) { return std::tolower(a) == std::tolower(b); });
  });
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

std::unique_ptr<curl_slist, SlistDeleter> Headers(const config::Monitor& m) {
  curl_slist* list = nullptr;
  for (const auto& [name, value] : m.headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  if (!HasHeader(m, "User-Agent")) list = curl_slist_append(list, "User-Agent: Steward-Probe/1");
  if (!HasHeader(m, "Expect")) list = curl_slist_append(list, "Expect:");  // no 100-continue wait
  return std::unique_ptr<curl_slist, SlistDeleter>(list);
}

void SetMethodAndBody(CURL* curl, const config::Monitor& m) {
  const std::string& method = m.method;
  bool sends_body = !m.body.empty() || method == "POST" || method == "PUT" || method == "PATCH";
  if (sends_body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(m.body.size()));
    curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, m.body.c_str());
  }
  if (method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method != "POST" && (method != "GET" || sends_body)) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
}

void SetOptions(CURL* curl, const config::Monitor& m, Transfer* t, char* errors, long timeout_ms) {
  curl_easy_setopt(curl, CURLOPT_URL, m.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errors);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnData);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, m.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, kMaxRedirects);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (m.insecure_skip_verify) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  SetMethodAndBody(curl, m);
}

bool StatusExpected(const config::Monitor& m, long status) {
  if (m.expect_status.empty()) return status >= 200 && status <= 299;
  return std::find(m.expect_status.begin(), m.expect_status.end(), status) != m.expect_status.end();
}

// "2xx", "200", "200 or 204", "200, 204 or 301".
std::string ExpectedText(const std::vector<int>& expected) {
  if (expected.empty()) return "2xx";
  std::string out;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (i > 0) out += i + 1 == expected.size() ? " or " : ", ";
    out += std::to_string(expected[i]);
  }
  return out;
}

// Status, then body, then latency: the first that fails is the error.
void Judge(const config::Monitor& m, long status, const Transfer& t, double latency,
           ProbeResult* result) {
  if (!StatusExpected(m, status)) {
    result->error =
        "status " + std::to_string(status) + ", expected " + ExpectedText(m.expect_status);
    return;
  }
  if (!m.body_regex.empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    RE2 re(m.body_regex, options);
    if (!re.ok()) {
      result->error = "body_regex /" + m.body_regex + "/ is not valid: " + re.error();
      return;
    }
    bool matched = RE2::PartialMatch(t.body, re);
    result->extra.emplace_back("probe_failed_due_to_regex", matched ? 0 : 1);
    if (!matched) {
      result->error = "body did not match /" + m.body_regex + "/";
      return;
    }
  }
  double max = std::chrono::duration<double>(m.max_latency).count();
  if (m.max_latency.count() > 0 && latency > max) {
    result->error = "latency " + FormatLatency(latency) + " > " + FormatLatency(max);
    return;
  }
  result->success = true;
}

}  // namespace

void ProbeHttp(const config::Monitor& monitor, const ProbeContext& context, SteadyTime deadline,
               ProbeResult* result) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) {
    result->error = "cannot create an HTTP client (curl_easy_init failed)";
    return;
  }
  Transfer t;
  t.context = &context;
  char errors[CURL_ERROR_SIZE] = {};
  long timeout_ms = std::max<long>(1, static_cast<long>(Remaining(deadline).count()));
  SetOptions(curl.get(), monitor, &t, errors, timeout_ms);
  auto headers = Headers(monitor);
  curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());

  auto start = std::chrono::steady_clock::now();
  CURLcode rc = curl_easy_perform(curl.get());
  double latency = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  long status = 0;
  long redirects = 0;
  char* final_url = nullptr;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(curl.get(), CURLINFO_REDIRECT_COUNT, &redirects);
  curl_easy_getinfo(curl.get(), CURLINFO_EFFECTIVE_URL, &final_url);
  bool ssl = final_url != nullptr && std::string_view(final_url).starts_with("https://");
  result->extra = {{"probe_http_status_code", static_cast<double>(status)},
                   {"probe_http_content_length", static_cast<double>(t.bytes)},
                   {"probe_http_redirects", static_cast<double>(redirects)},
                   {"probe_http_ssl", ssl ? 1 : 0}};
  if (rc != CURLE_OK) {
    result->error = errors[0] != '\0' ? errors : curl_easy_strerror(rc);
    if (!monitor.body_regex.empty()) result->extra.emplace_back("probe_failed_due_to_regex", 0);
    return;
  }
  Judge(monitor, status, t, latency, result);
  if (!monitor.body_regex.empty() && result->extra.back().first != "probe_failed_due_to_regex") {
    result->extra.emplace_back("probe_failed_due_to_regex", 0);  // not reached: status failed
  }
}

}  // namespace steward::monitor::internal
