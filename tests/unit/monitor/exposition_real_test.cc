// Real bodies: a prometheus-node-exporter started by the test (skipped when it is not
// installed), and the text our own src/metrics registry renders for the daemon's /metrics.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <string>
#include <thread>

#include "metrics/registry.h"
#include "monitor/exposition.h"
#include "monitor/exposition_scan.h"

extern char** environ;

namespace steward::monitor {
namespace {

constexpr char kNodeExporter[] = "/usr/bin/prometheus-node-exporter";

// A port that was free a moment ago (bind to port 0, read it back, close).
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// node_exporter as a child process, killed (and reaped) when this goes out of scope.
class NodeExporter {
 public:
  NodeExporter() = default;
  NodeExporter(const NodeExporter&) = delete;
  NodeExporter& operator=(const NodeExporter&) = delete;
  ~NodeExporter() { Stop(); }

  bool Start(int port) {
    const std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    std::string bin = kNodeExporter;
    char* argv[] = {bin.data(), const_cast<char*>(listen.c_str()), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    const int rc = posix_spawn(&pid_, kNodeExporter, &actions, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }
  bool Exited() { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == pid_ && (pid_ = -1, true); }
  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

struct Fetched {
  std::string body;
  std::string content_type;
};

// Polls /metrics until it answers 200 or the deadline passes.
std::optional<Fetched> FetchMetrics(int port, NodeExporter* child, const std::string& accept) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  client.set_read_timeout(10);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline && !child->Exited()) {
    httplib::Headers headers;
    if (!accept.empty()) headers.emplace("Accept", accept);
    if (auto res = client.Get("/metrics", headers); res && res->status == 200) {
      return Fetched{res->body, res->get_header_value("Content-Type")};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

// name{a="x",b="y"} from parsed labels, in client_golang's rendering (sorted, comma-separated).
std::string RenderSeries(const tsdb::Labels& labels) {
  std::string out(labels.MetricName());
  std::string inner;
  for (const tsdb::Label& l : labels.items()) {
    if (l.name == tsdb::kMetricName) continue;
    if (!inner.empty()) inner += ',';
    inner += l.name + "=\"" + metrics::EscapeLabelValue(l.value) + "\"";
  }
  return inner.empty() ? out : out + "{" + inner + "}";
}

// Every sample line of a text body survives parse -> render: the series text (exactly when the
// exporter sorts its labels, else pair by pair), and the value read back from the body's own
// spelling. Lines with an empty label value are skipped (the parser drops empty labels, as
// Prometheus does).
void ExpectTextRoundTrip(const std::string& body, bool sorted_labels) {
  ExpositionParser p(body, Format::kText004);
  int checked = 0;
  while (p.Next()) {
    const std::string_view series = p.series_text();
    if (series.find("=\"\"") != std::string_view::npos) continue;
    const tsdb::Labels labels = p.labels();
    const std::string rendered = RenderSeries(labels);
    if (sorted_labels) {
      EXPECT_EQ(rendered, series) << "line " << p.line();
    } else {
      EXPECT_EQ(rendered.size(), series.size()) << series;
      for (const tsdb::Label& l : labels.items()) {
        if (l.name == tsdb::kMetricName) continue;
        const std::string pair = l.name + "=\"" + metrics::EscapeLabelValue(l.value) + "\"";
        EXPECT_NE(series.find(pair), std::string_view::npos) << pair << " in " << series;
      }
    }
    const size_t line_begin = static_cast<size_t>(series.data() - body.data());
    const size_t line_end = body.find('\n', line_begin);
    const std::string_view line = std::string_view(body).substr(line_begin, line_end - line_begin);
    const std::string_view token = line.substr(series.size() + 1);
    const std::optional<double> v = scan::ParseGoFloat(token);
    ASSERT_TRUE(v.has_value()) << line;
    if (std::isnan(*v)) {
      EXPECT_TRUE(std::isnan(p.value())) << line;
    } else {
      EXPECT_EQ(p.value(), std::strtod(std::string(token).c_str(), nullptr)) << line;
    }
    ++checked;
  }
  ASSERT_TRUE(p.status().ok()) << p.status().ToString();
  EXPECT_GT(checked, 40);
}

TEST(ExpositionRealBody, NodeExporterPageParses) {
  if (access(kNodeExporter, X_OK) != 0) {
    GTEST_SKIP() << kNodeExporter << " is not installed; run scripts/setup";
  }
  const int port = FreePort();
  ASSERT_GT(port, 0);
  NodeExporter child;
  ASSERT_TRUE(child.Start(port));
  const std::optional<Fetched> page = FetchMetrics(port, &child, "");
  ASSERT_TRUE(page.has_value()) << "node_exporter did not answer on port " << port;

  StatusOr<ParseResult> r = Parse(page->body, FormatFromContentType(page->content_type));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->samples.size(), 200u);
  EXPECT_EQ(r->duplicates, 0);

  auto family = [&](std::string_view name) -> const MetricFamilyInfo* {
    for (const MetricFamilyInfo& f : r->families) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  ASSERT_NE(family("node_cpu_seconds_total"), nullptr);
  EXPECT_EQ(family("node_cpu_seconds_total")->type, MetricType::kCounter);
  EXPECT_FALSE(family("node_cpu_seconds_total")->help.empty());
  ASSERT_NE(family("go_gc_duration_seconds"), nullptr);
  EXPECT_EQ(family("go_gc_duration_seconds")->type, MetricType::kSummary);
  int quantiles = 0, cpu = 0;
  for (const ParsedSample& s : r->samples) {
    if (s.labels.MetricName() == "go_gc_duration_seconds") quantiles += s.labels.Has("quantile");
    if (s.labels.MetricName() == "node_cpu_seconds_total") cpu += s.labels.Has("mode");
  }
  EXPECT_GE(quantiles, 3);
  EXPECT_GT(cpu, 0);

  ExpositionParser p(page->body, Format::kText004);
  while (p.Next()) {
    if (p.metric_name() == "go_gc_duration_seconds_sum") {
      EXPECT_EQ(p.type(), MetricType::kSummary);
    }
    if (p.metric_name() == "node_cpu_seconds_total") {
      EXPECT_EQ(p.type(), MetricType::kCounter);
    }
  }
  EXPECT_TRUE(p.status().ok());
  ExpectTextRoundTrip(page->body, /*sorted_labels=*/true);

  // When asked for OpenMetrics, whichever format it answers in parses too (Debian's
  // node_exporter answers in text 0.0.4; a newer one may send OpenMetrics).
  const std::optional<Fetched> om =
      FetchMetrics(port, &child, "application/openmetrics-text;version=1.0.0,text/plain;q=0.5");
  ASSERT_TRUE(om.has_value());
  StatusOr<ParseResult> r2 = Parse(om->body, FormatFromContentType(om->content_type));
  ASSERT_TRUE(r2.ok()) << om->content_type << ": " << r2.status().ToString();
  EXPECT_GT(r2->samples.size(), 200u);
}

TEST(ExpositionRealBody, OwnRegistryRenderingParsesAndRoundTrips) {
  metrics::Registry registry;
  registry.AddCounter("steward_requests_total", "Requests.\nSecond \\ line.", {"code", "path"})
      .WithLabels({"200", "/a\"b\\c\nd"})
      .Inc(3);
  registry.AddGauge("steward_temperature", "A gauge.").WithLabels({}).Set(-1.25e-7);
  auto& hist = registry.AddHistogram("steward_latency_seconds", "Latency.", {"op"});
  hist.WithLabels({"read"}).Observe(0.03);
  hist.WithLabels({"write"}).Observe(7);
  for (int i = 0; i < 40; ++i) {
    registry.AddGauge("steward_g" + std::to_string(i), "filler", {"i"})
        .WithLabels({std::to_string(i)})
        .Set(i * 0.1);
  }
  const std::string body = registry.Render();

  StatusOr<ParseResult> r = Parse(body, Format::kAuto);
  ASSERT_TRUE(r.ok()) << r.status().ToString() << "\n" << body;
  EXPECT_FALSE(r->openmetrics);
  ASSERT_EQ(r->samples[0].labels.Get("path"), "/a\"b\\c\nd");
  EXPECT_EQ(r->samples[0].value, 3);
  EXPECT_EQ(r->families[0].help, "Requests.\nSecond \\ line.");
  EXPECT_EQ(r->families[0].type, MetricType::kCounter);
  EXPECT_EQ(r->families[2].type, MetricType::kHistogram);
  int buckets = 0;
  for (const ParsedSample& s : r->samples) {
    buckets += s.labels.MetricName() == "steward_latency_seconds_bucket";
  }
  EXPECT_EQ(buckets, 2 * 12);  // 11 default bounds + Inf, per child
  ExpectTextRoundTrip(body, /*sorted_labels=*/false);
}

}  // namespace
}  // namespace steward::monitor
