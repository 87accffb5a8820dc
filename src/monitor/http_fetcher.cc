#include "monitor/http_fetcher.h"

#include <curl/curl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <mutex>
#include <queue>
#include <unordered_map>
#include <vector>

namespace steward::monitor {
namespace {

constexpr size_t kMaxPooledBuffers = 16;
constexpr size_t kMaxPooledCapacity = 16u << 20;
constexpr Duration kMaxPollWait{1000};  // bounds the error if the clock is a test's FakeClock

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// "15s", "1.5s": the scrape timeout in seconds, as Prometheus sends it.
std::string SecondsText(Duration d) {
  char buf[32];
  double s = static_cast<double>(d.count()) / 1000.0;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, s);
  return ec == std::errc() ? std::string(buf, end) : "0";
}

// Idle connections each hold a file descriptor: keep at most half of the process' limit, so
// that thousands of targets degrade into reconnecting rather than into failed scrapes.
long CachedConnectionLimit(long wanted) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return wanted;
  return std::min(wanted, std::max(16L, static_cast<long>(rl.rlim_cur / 2)));
}

struct Conn {
  uint64_t key = 0;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  std::string header_sig;  // what the header list was built from (timeout, token)
  std::string url;
  Duration timeout{0};
  bool in_flight = false;
  HttpFetcher::Callback done;
  FetchResult result;
  long status_code = 0;  // of the latest status line seen
  std::string reason;    // its reason phrase
  bool too_large = false;
  int64_t max_body = 0;
  MonoTime start;
  char errbuf[CURL_ERROR_SIZE] = {};

  ~Conn() {
    if (easy) curl_easy_cleanup(easy);
    if (headers) curl_slist_free_all(headers);
  }
};

size_t OnWrite(char* data, size_t size, size_t n, void* p) {
  auto* c = static_cast<Conn*>(p);
  size_t len = size * n;
  if (c->status_code != 200) return len;  // a failed response's body is not kept
  if (static_cast<int64_t>(c->result.body.size() + len) > c->max_body) {
    c->too_large = true;
    return 0;  // aborts the transfer with CURLE_WRITE_ERROR
  }
  c->result.body.append(data, len);
  return len;
}

// Parses status lines ("HTTP/1.1 500 Internal Server Error"); redirects show several.
size_t OnHeader(char* data, size_t size, size_t n, void* p) {
  auto* c = static_cast<Conn*>(p);
  size_t len = size * n;
  std::string_view line(data, len);
  if (line.substr(0, 5) != "HTTP/") return len;
  size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return len;
  std::string_view rest = line.substr(sp + 1);
  long code = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), code);
  c->status_code = ec == std::errc() ? code : 0;
  std::string_view reason(end, rest.data() + rest.size() - end);
  while (!reason.empty() && (reason.front() == ' ')) reason.remove_prefix(1);
  while (!reason.empty() &&
         (reason.back() == '\r' || reason.back() == '\n' || reason.back() == ' ')) {
    reason.remove_suffix(1);
  }
  c->reason.assign(reason);
  return len;
}

struct Timer {
  MonoTime when;
  uint64_t seq;
  HttpFetcher::Task task;
  bool operator>(const Timer& o) const { return when != o.when ? when > o.when : seq > o.seq; }
};

}  // namespace

struct HttpFetcher::Impl {
  HttpFetcherOptions options;
  Clock* clock = nullptr;
  CURLM* multi = nullptr;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  size_t in_flight = 0;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers;
  uint64_t timer_seq = 0;
  std::vector<std::string> buffers;

  std::mutex mu;
  std::vector<Task> posted;  // guarded by mu
  std::atomic<bool> stop{false};

  ~Impl() {
    conns.clear();
    if (multi) curl_multi_cleanup(multi);
  }

  Conn* GetConn(uint64_t key);
  void StartFetch(uint64_t key, FetchRequest request, Callback done);
  void Configure(Conn* c, const FetchRequest& request);
  void CancelConn(Conn* c);
  void Complete(Conn* c, CURLcode rc);
  Status Describe(Conn* c, CURLcode rc) const;
  void DrainMessages();
  void RunPosted();
  void RunDueTimers();
  int WaitMillis();
  void Run();

  std::string AcquireBuffer() {
    if (buffers.empty()) return std::string();
    std::string b = std::move(buffers.back());
    buffers.pop_back();
    return b;
  }
  void ReleaseBuffer(std::string b) {
    if (buffers.size() >= kMaxPooledBuffers || b.capacity() > kMaxPooledCapacity) return;
    b.clear();
    buffers.push_back(std::move(b));
  }
};

Conn* HttpFetcher::Impl::GetConn(uint64_t key) {
  auto& slot = conns[key];
  if (slot) return slot.get();
  auto c = std::make_unique<Conn>();
  c->key = key;
  c->easy = curl_easy_init();
  if (!c->easy) {
    conns.erase(key);
    return nullptr;
  }
  CURL* e = c->easy;
  curl_easy_setopt(e, CURLOPT_PRIVATE, c.get());
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, c.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, c.get());
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_NOPROXY, "*");  // like Prometheus: no proxy unless configured
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(e, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");  // curl decodes
  curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
  slot = std::move(c);
  return slot.get();
}

void HttpFetcher::Impl::Configure(Conn* c, const FetchRequest& request) {
  if (c->url != request.url) {
    c->url = request.url;
    curl_easy_setopt(c->easy, CURLOPT_URL, c->url.c_str());
  }
  if (c->timeout != request.timeout) {
    c->timeout = request.timeout;
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
  }
  std::string sig = SecondsText(request.timeout) + '\n' + request.bearer_token;
  if (c->headers && sig == c->header_sig) return;
  if (c->headers) curl_slist_free_all(c->headers);
  curl_slist* h =
      curl_slist_append(nullptr, (std::string("Accept: ") + kScrapeAcceptHeader).c_str());
  h = curl_slist_append(
      h, ("X-Prometheus-Scrape-Timeout-Seconds: " + SecondsText(request.timeout)).c_str());
  if (!request.bearer_token.empty()) {
    h = curl_slist_append(h, ("Authorization: Bearer " + request.bearer_token).c_str());
  }
  c->headers = h;
  c->header_sig = std::move(sig);
  curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
}

void HttpFetcher::Impl::StartFetch(uint64_t key, FetchRequest request, Callback done) {
  Conn* c = GetConn(key);
  if (!c) {
    FetchResult r;
    r.status = Internal("http: cannot create a curl handle");
    done(r);
    return;
  }
  if (c->in_flight) CancelConn(c);
  Configure(c, request);
  c->result = FetchResult{};
  c->result.body = AcquireBuffer();
  c->status_code = 0;
  c->reason.clear();
  c->too_large = false;
  c->max_body = options.max_body_bytes;
  c->errbuf[0] = '\0';
  c->start = clock->Now();
  CURLMcode mc = curl_multi_add_handle(multi, c->easy);
  if (mc != CURLM_OK) {
    ReleaseBuffer(std::move(c->result.body));
    FetchResult r;
    r.status = Internal(std::string("http: ") + curl_multi_strerror(mc));
    done(r);
    return;
  }
  c->done = std::move(done);
  c->in_flight = true;
  ++in_flight;
}

void HttpFetcher::Impl::CancelConn(Conn* c) {
  if (!c->in_flight) return;
  curl_multi_remove_handle(multi, c->easy);
  c->in_flight = false;
  c->done = nullptr;
  --in_flight;
  ReleaseBuffer(std::move(c->result.body));
}

Status HttpFetcher::Impl::Describe(Conn* c, CURLcode rc) const {
  if (rc == CURLE_OK) {
    if (c->status_code == 200) return Status::OK();
    std::string text = "server returned HTTP status " + std::to_string(c->status_code);
    if (!c->reason.empty()) text += " " + c->reason;
    return Unavailable(text);
  }
  if (c->too_large) {
    return FailedPrecondition("body size limit exceeded (" + std::to_string(c->max_body) +
                              " bytes)");
  }
  std::string prefix = "Get \"" + c->url + "\": ";
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return DeadlineExceeded(prefix + "timed out after " + FormatDuration(c->timeout));
  }
  std::string detail = c->errbuf[0] ? c->errbuf : curl_easy_strerror(rc);
  return Unavailable(prefix + detail);
}

void HttpFetcher::Impl::Complete(Conn* c, CURLcode rc) {
  curl_multi_remove_handle(multi, c->easy);
  c->in_flight = false;
  --in_flight;
  FetchResult r = std::move(c->result);
  r.elapsed = std::chrono::duration_cast<Duration>(clock->Now() - c->start);
  r.http_status = c->status_code;
  r.status = Describe(c, rc);
  if (r.status.ok()) {
    char* ct = nullptr;
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) r.content_type = ct;
  } else {
    r.body.clear();
  }
  Callback done = std::move(c->done);
  c->done = nullptr;
  // The callback may Fetch again on this key or Forget it: c is not touched afterwards.
  if (done) done(r);
  ReleaseBuffer(std::move(r.body));
}

void HttpFetcher::Impl::DrainMessages() {
  int left = 0;
  while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
    if (m->msg != CURLMSG_DONE) continue;
    Conn* c = nullptr;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&c));
    CURLcode rc = m->data.result;
    if (c && c->in_flight) Complete(c, rc);
  }
}

void HttpFetcher::Impl::RunPosted() {
  std::vector<Task> tasks;
  {
    std::lock_guard<std::mutex> l(mu);
    tasks.swap(posted);
  }
  for (auto& t : tasks) {
    if (stop.load()) return;
    t();
  }
}

void HttpFetcher::Impl::RunDueTimers() {
  MonoTime now = clock->Now();
  while (!timers.empty() && timers.top().when <= now && !stop.load()) {
    Task t = std::move(const_cast<Timer&>(timers.top()).task);
    timers.pop();
    t();
  }
}

int HttpFetcher::Impl::WaitMillis() {
  {
    std::lock_guard<std::mutex> l(mu);
    if (!posted.empty()) return 0;
  }
  Duration wait = kMaxPollWait;
  long curl_wait = -1;
  curl_multi_timeout(multi, &curl_wait);
  if (curl_wait >= 0) wait = std::min(wait, Duration(curl_wait));
  if (!timers.empty()) {
    auto until = std::chrono::ceil<Duration>(timers.top().when - clock->Now());
    wait = std::min(wait, std::max(until, Duration(0)));
  }
  return static_cast<int>(wait.count());
}

void HttpFetcher::Impl::Run() {
  while (!stop.load()) {
    RunPosted();
    RunDueTimers();
    int running = 0;
    curl_multi_perform(multi, &running);
    DrainMessages();
    if (stop.load()) break;
    curl_multi_poll(multi, nullptr, 0, WaitMillis(), nullptr);
  }
  for (auto& [key, c] : conns) CancelConn(c.get());
  while (!timers.empty()) timers.pop();
  std::lock_guard<std::mutex> l(mu);
  posted.clear();
  // Close every connection now rather than at destruction: peers see the scraper leave.
  conns.clear();
  curl_multi_cleanup(multi);
  multi = nullptr;
}

HttpFetcher::HttpFetcher(HttpFetcherOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  impl_->clock = impl_->options.clock ? impl_->options.clock : RealClock::Get();
}

HttpFetcher::~HttpFetcher() { Stop(); }

Status HttpFetcher::Start() {
  if (thread_.joinable()) return Status::OK();
  GlobalInit();
  impl_->multi = curl_multi_init();
  if (!impl_->multi) return Internal("http: cannot create a curl multi handle");
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS,
                    CachedConnectionLimit(impl_->options.max_connections_cached));
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    impl_->options.max_host_connections);
  thread_ = std::thread([this] {
    loop_thread_id_ = std::this_thread::get_id();
    impl_->Run();
  });
  return Status::OK();
}

void HttpFetcher::Stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stop.store(true);
    curl_multi_wakeup(impl_->multi);
  }
  thread_.join();
}

void HttpFetcher::Post(Task task) {
  // Under mu: the loop thread frees the multi handle under mu when it stops.
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->stop.load()) return;
  impl_->posted.push_back(std::move(task));
  if (impl_->multi) curl_multi_wakeup(impl_->multi);
}

void HttpFetcher::RunAt(MonoTime when, Task task) {
  if (OnLoopThread()) {
    impl_->timers.push(Timer{when, impl_->timer_seq++, std::move(task)});
    return;
  }
  Post([this, when, task = std::move(task)]() mutable { RunAt(when, std::move(task)); });
}

void HttpFetcher::Fetch(uint64_t key, FetchRequest request, Callback done) {
  if (OnLoopThread()) {
    impl_->StartFetch(key, std::move(request), std::move(done));
    return;
  }
  Post([this, key, request = std::move(request), done = std::move(done)]() mutable {
    impl_->StartFetch(key, std::move(request), std::move(done));
  });
}

void HttpFetcher::Cancel(uint64_t key) {
  if (!OnLoopThread()) {
    Post([this, key] { Cancel(key); });
    return;
  }
  auto it = impl_->conns.find(key);
  if (it != impl_->conns.end()) impl_->CancelConn(it->second.get());
}

void HttpFetcher::Forget(uint64_t key) {
  if (!OnLoopThread()) {
    Post([this, key] { Forget(key); });
    return;
  }
  auto it = impl_->conns.find(key);
  if (it == impl_->conns.end()) return;
  impl_->CancelConn(it->second.get());
  impl_->conns.erase(it);
}

size_t HttpFetcher::InFlight() const { return impl_->in_flight; }

}  // namespace steward::monitor
