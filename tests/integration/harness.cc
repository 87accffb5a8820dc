#include "integration/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "server/daemon.h"

namespace steward::testing {
namespace fs = std::filesystem;

bool PollUntil(const std::function<bool()>& cond, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string StewardBinary() { return STEWARD_BIN; }
std::string DemoBinary() { return STEWARD_DEMO_BIN; }

void WriteFile(const std::string& path, const std::string& data) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << data;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int ReapAll() {
  int n = 0;
  while (waitpid(-1, nullptr, WNOHANG) > 0) ++n;
  return n;
}

bool ProcessAlive(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return false;
  size_t close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

Project::Project() {
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  char tmpl[] = "/tmp/steward-it-XXXXXX";
  dir_ = mkdtemp(tmpl);
}

Project::~Project() {
  Steward({"down"}, 60000);
  for (int pid : MarkedProcesses()) kill(pid, SIGKILL);
  PollUntil([&] {
    ReapAll();
    return MarkedProcesses().empty();
  }, 5000);
  ReapAll();
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void Project::WriteStack(const std::string& yaml) {
  std::ofstream out(dir_ + "/steward.yaml", std::ios::trunc);
  out << yaml;
}

// How SpawnSteward sets up the child besides its arguments and output files.
struct SpawnOptions {
  int stdin_fd = -1;  // -1: /dev/null
  const std::map<std::string, std::string>* env = nullptr;  // added
  const std::vector<std::string>* unset = nullptr;          // removed first
  bool new_session = false;                                 // setsid: no controlling terminal
};

// Forks steward with args in `dir`, stdout and stderr to the files.
static pid_t SpawnSteward(const std::string& dir, const std::vector<std::string>& args,
                          const std::string& out_path, const std::string& err_path,
                          const SpawnOptions& options = {}) {
  std::vector<std::string> argv_s = {StewardBinary()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    if (options.unset != nullptr)
      for (const std::string& name : *options.unset) unsetenv(name.c_str());
    if (options.env != nullptr)
      for (const auto& [k, v] : *options.env) setenv(k.c_str(), v.c_str(), 1);
    int in = options.stdin_fd >= 0 ? options.stdin_fd : open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = err_path == out_path ? out : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    if (options.new_session) setsid();
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits (bounded) for a steward started by SpawnSteward and reads what it wrote.
static RunResult WaitSteward(pid_t pid, const std::string& out_path, const std::string& err_path,
                             int timeout_ms) {
  RunResult r;
  int status = 0;
  bool done = PollUntil([&] { return waitpid(pid, &status, WNOHANG) == pid; }, timeout_ms);
  if (!done) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.err = "(timed out)\n";
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream o(out_path), e(err_path);
  r.out = std::string((std::istreambuf_iterator<char>(o)), {});
  r.err += std::string((std::istreambuf_iterator<char>(e)), {});
  return r;
}

RunResult Project::Steward(const std::vector<std::string>& args, int timeout_ms) {
  std::string out_path = dir_ + "/.out", err_path = dir_ + "/.err";
  return WaitSteward(SpawnSteward(dir_, args, out_path, err_path), out_path, err_path, timeout_ms);
}

RunResult Project::StewardWithInput(const std::vector<std::string>& args, const std::string& input,
                                    const std::map<std::string, std::string>& env,
                                    const std::vector<std::string>& unset, int timeout_ms) {
  std::string out_path = dir_ + "/.out", err_path = dir_ + "/.err";
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return RunResult{-1, "", "(pipe failed)\n"};
  SpawnOptions options;
  options.stdin_fd = pipefd[0];
  options.env = &env;
  options.unset = &unset;
  options.new_session = true;
  pid_t pid = SpawnSteward(dir_, args, out_path, err_path, options);
  close(pipefd[0]);
  signal(SIGPIPE, SIG_IGN);  // a command that does not read its input must not kill the test
  for (size_t done = 0; done < input.size();) {
    ssize_t n = write(pipefd[1], input.data() + done, input.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(pipefd[1]);
  return WaitSteward(pid, out_path, err_path, timeout_ms);
}

int Project::StewardBackground(const std::vector<std::string>& args, const std::string& log_file) {
  return SpawnSteward(dir_, args, log_file, log_file);
}

int Project::DaemonPid() {
  std::ifstream in(StateDir() + "/daemon.json");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return 0;
  return j.value("pid", 0);
}

std::optional<nlohmann::json> Project::Api(const std::string& path) {
  std::ifstream in(StateDir() + "/daemon.json");
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  std::ifstream t(StateDir() + "/api.token");
  std::string token;
  std::getline(t, token);
  httplib::Client cli("127.0.0.1", j.value("port", 0));
  cli.set_connection_timeout(1, 0);
  cli.set_read_timeout(5, 0);
  cli.set_bearer_token_auth(token.c_str());
  auto res = cli.Get(path.c_str());
  if (!res || res->status != 200) return std::nullopt;
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (body.is_discarded()) return std::nullopt;
  return body;
}

nlohmann::json Project::Status() {
  auto s = Api("/api/v1/status");
  return s ? *s : nlohmann::json::object();
}

std::vector<nlohmann::json> Project::Replicas(const std::string& service) {
  std::vector<nlohmann::json> out;
  auto st = Status();
  for (const auto& r : st.value("replicas", nlohmann::json::array()))
    if (r.value("service", "") == service) out.push_back(r);
  return out;
}

int Project::ReadyCount(const std::string& service) {
  int n = 0;
  for (const auto& r : Replicas(service))
    if (r.value("ready", false)) ++n;
  return n;
}

std::vector<int> Project::MarkedProcesses() {
  std::vector<int> out;
  const std::string needle = "STEWARD_INSTANCE=" + server::InstanceId(StateDir()) + "/";
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    int pid = atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream env("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(env)), {});
    if (bytes.find(needle) != std::string::npos && ProcessAlive(pid)) out.push_back(pid);
  }
  closedir(d);
  return out;
}

int HttpGet(int port, const std::string& path, std::string* body, int timeout_ms) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(0, timeout_ms * 1000);
  cli.set_read_timeout(0, timeout_ms * 1000);
  auto res = cli.Get(path.c_str());
  if (!res) return 0;
  if (body) *body = res->body;
  return res->status;
}

int HttpPost(int port, const std::string& path, const std::string& form) {
  httplib::Client cli("127.0.0.1", port);
  cli.set_connection_timeout(1, 0);
  auto res = cli.Post(path.c_str(), form, "application/x-www-form-urlencoded");
  return res ? res->status : 0;
}

}  // namespace steward::testing
