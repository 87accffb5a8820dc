#include "integration/peers.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include <httplib.h>

#include "integration/harness.h"

namespace steward::testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

namespace {

bool CanBind(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

int FreePortBlock(int count) {
  int ephemeral_low = 32768;
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  range >> ephemeral_low;
  int low = 10000, high = ephemeral_low - count;  // [low, high) holds the block's first port
  if (high <= low) return FreePort();              // an unusual range: fall back
  std::random_device rd;
  for (int attempt = 0; attempt < 200; ++attempt) {
    int base = low + static_cast<int>(rd() % static_cast<unsigned>(high - low));
    bool free = true;
    for (int i = 0; i < count && free; ++i) free = CanBind(base + i);
    if (free) return base;
  }
  return 0;
}

bool HaveBinary(const std::string& binary) {
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    if (access((p.substr(start, end - start) + "/" + binary).c_str(), X_OK) == 0) return true;
    start = end + 1;
  }
  return false;
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Start(const std::vector<std::string>& args, const std::string& log_file) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    setpgid(0, 0);
    int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    if (null >= 0) dup2(null, 0);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  return true;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = 0;
}

bool NodeExporter::Start(const std::string& dir) {
  port_ = FreePort();
  if (!proc_.Start({"prometheus-node-exporter", "--web.listen-address=127.0.0.1:" +
                                                    std::to_string(port_)},
                   dir + "/node_exporter.log"))
    return false;
  return PollUntil([&] { return HttpGet(port_, "/metrics") == 200; }, 15000);
}

bool Prometheus::Start(const std::string& dir, const std::string& scrape_configs_yaml,
                       const std::string& scrape_interval) {
  port_ = FreePort();
  std::string config = dir + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: " << scrape_interval
                        << "\n  scrape_timeout: " << scrape_interval
                        << "\nscrape_configs:\n"
                        << scrape_configs_yaml;
  if (!proc_.Start({"prometheus", "--config.file=" + config,
                    "--storage.tsdb.path=" + dir + "/prometheus-data",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_)},
                   dir + "/prometheus.log"))
    return false;
  return PollUntil([&] { return HttpGet(port_, "/-/ready") == 200; }, 30000);
}

bool Prometheus::StartOnData(const std::string& dir, const std::string& tsdb_path,
                             const std::vector<std::string>& flags) {
  port_ = FreePort();
  std::string config = dir + "/prometheus-nodata.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1m\nscrape_configs: []\n";
  std::vector<std::string> argv = {"prometheus", "--config.file=" + config,
                                   "--storage.tsdb.path=" + tsdb_path,
                                   "--storage.tsdb.retention.time=36500d",
                                   "--web.listen-address=127.0.0.1:" + std::to_string(port_)};
  argv.insert(argv.end(), flags.begin(), flags.end());
  if (!proc_.Start(argv, dir + "/prometheus.log")) return false;
  return PollUntil([&] { return HttpGet(port_, "/-/ready") == 200; }, 30000);
}

nlohmann::json Prometheus::Api(const std::string& path_and_query) {
  httplib::Client cli("127.0.0.1", port_);
  cli.set_read_timeout(10, 0);
  auto res = cli.Get("/api/v1/" + path_and_query);
  if (!res || res->status != 200) return nullptr;
  auto j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded() || j.value("status", "") != "success") return nullptr;
  return j["data"];
}

bool Alertmanager::Start(const std::string& dir, const std::string& config_yaml) {
  port_ = FreePort();
  std::string config = dir + "/alertmanager.yml";
  std::ofstream(config) << config_yaml;
  if (!proc_.Start({"prometheus-alertmanager", "--config.file=" + config,
                    "--storage.path=" + dir + "/alertmanager-data",
                    "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                    "--cluster.listen-address="},
                   dir + "/alertmanager.log"))
    return false;
  return PollUntil([&] { return HttpGet(port_, "/-/ready") == 200; }, 30000);
}

std::string UrlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

nlohmann::json Data(Project& p, const std::string& path) {
  auto j = p.Api(path);
  if (!j || j->value("status", "") != "success") return nullptr;
  return (*j)["data"];
}

BodyServer::BodyServer(std::function<std::string(const std::string& path)> body)
    : body_(std::move(body)), svr_(std::make_unique<httplib::Server>()) {
  svr_->Get(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_content(body_(req.path), "text/plain; version=0.0.4");
  });
  port_ = svr_->bind_to_any_port("127.0.0.1");
  thread_ = std::thread([this] { svr_->listen_after_bind(); });
}

BodyServer::~BodyServer() {
  svr_->stop();
  thread_.join();
}

}  // namespace steward::testing
