// Talking to haproxy: its unix CLI sockets, the answers it gives there, and running the
// haproxy program to check a config.
#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "ingress/haproxy_internal.h"

extern char** environ;

namespace steward::ingress::internal {
namespace {

using Clock = std::chrono::steady_clock;


std::vector<std::string_view> SplitCsv(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, comma - start));
    start = comma + 1;
  }
}

int64_t ToInt(std::string_view s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::vector<std::string_view> Lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

// Connects to a unix socket, retrying while it is absent or refusing (haproxy re-binding it).
StatusOr<int> ConnectUnix(const std::string& path, Clock::time_point deadline) {
  sockaddr_un addr{};
  if (path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgument(fmt::format("socket path '{}' is {} bytes; unix sockets allow {}", path,
                                       path.size(), sizeof(addr.sun_path) - 1));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  while (true) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return ErrnoError("socket", errno);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return fd;
    int err = errno;
    close(fd);
    bool transient = err == ENOENT || err == ECONNREFUSED || err == EAGAIN;
    if (!transient || Clock::now() >= deadline) {
      return ErrnoError(fmt::format("connect to haproxy socket {}", path), err);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

StatusOr<std::string> SocketCommand(const std::string& socket_path, const std::string& command,
                                    std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  ASSIGN_OR_RETURN(int raw_fd, ConnectUnix(socket_path, deadline));
  Fd fd(raw_fd);
  std::string request = command + "\n";
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("send to " + socket_path, errno);
    }
    sent += static_cast<size_t>(n);
  }
  // The master CLI waits for more commands until the client half-closes; the workers' socket
  // answers either way.
  shutdown(fd.get(), SHUT_WR);
  std::string answer;
  char buf[16384];
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return DeadlineExceeded(
          fmt::format("haproxy socket {}: no complete answer to '{}' within {}ms", socket_path,
                      command, timeout.count()));
    }
    pollfd p{fd.get(), POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoError("poll " + socket_path, errno);
    if (r == 0) continue;
    ssize_t n = read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read from " + socket_path, errno);
    }
    if (n == 0) return answer;
    answer.append(buf, static_cast<size_t>(n));
  }
}

StatusOr<std::vector<ServerState>> ParseServerStats(std::string_view csv,
                                                    const std::string& backend) {
  std::vector<std::string_view> lines = Lines(csv);
  if (lines.empty() || lines[0].substr(0, 2) != "# ") {
    return Corruption("haproxy show stat: answer does not start with a '# pxname,...' header: " +
                      std::string(csv.substr(0, 200)));
  }
  std::map<std::string_view, size_t> column;
  std::vector<std::string_view> header = SplitCsv(lines[0].substr(2));
  for (size_t i = 0; i < header.size(); ++i) column[header[i]] = i;
  for (const char* name : {"pxname", "svname", "scur", "stot", "status", "weight", "econ",
                           "hrsp_1xx", "hrsp_5xx", "hrsp_other", "addr"}) {
    if (!column.count(name)) {
      return Corruption(fmt::format("haproxy show stat: header lacks column '{}'", name));
    }
  }
  std::vector<ServerState> servers;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string_view> f = SplitCsv(lines[i]);
    if (f.size() < header.size()) continue;
    std::string_view svname = f[column["svname"]];
    if (f[column["pxname"]] != backend || svname.substr(0, kServerPrefix.size()) != kServerPrefix) {
      continue;
    }
    std::string_view number = svname.substr(kServerPrefix.size());
    int slot = 0;
    auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), slot);
    if (ec != std::errc() || end != number.data() + number.size() || slot <= 0) continue;
    ServerState s;
    s.slot = slot;
    s.status = std::string(f[column["status"]]);
    // A parked slot keeps its last address in haproxy, but it is not serving from it.
    if (s.status.substr(0, 5) != "MAINT") s.addr = std::string(f[column["addr"]]);
    s.weight = static_cast<int>(ToInt(f[column["weight"]]));
    s.sessions_total = ToInt(f[column["stot"]]);
    s.current_sessions = ToInt(f[column["scur"]]);
    for (const char* name :
         {"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"}) {
      if (column.count(name)) s.responses_total += ToInt(f[column[name]]);
    }
    s.responses_5xx = ToInt(f[column["hrsp_5xx"]]);
    s.connection_errors = ToInt(f[column["econ"]]);
    servers.push_back(std::move(s));
  }
  std::sort(servers.begin(), servers.end(),
            [](const ServerState& a, const ServerState& b) { return a.slot < b.slot; });
  return servers;
}

// `show proc` answers (2.6):
//   #<PID>          <type>          <reloads>       <uptime>        <version>
//   24032           master          1 [failed: 0]   0d00h10m19s     2.6.12
//   # workers
//   300             worker          0               0d00h00m03s     2.6.12
//   # old workers
//   ...
//   # programs
StatusOr<ProcInfo> ParseShowProc(std::string_view text) {
  ProcInfo info;
  enum { kNone, kWorkers, kOld, kOther } section = kNone;
  bool saw_master = false;
  for (std::string_view line : Lines(text)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      if (line.find("old workers") != std::string_view::npos) {
        section = kOld;
      } else if (line.find("workers") != std::string_view::npos) {
        section = kWorkers;
      } else if (line.find("<PID>") == std::string_view::npos) {
        section = kOther;
      }
      continue;
    }
    int pid = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), pid);
    if (ec != std::errc()) continue;
    std::string_view rest = line.substr(static_cast<size_t>(end - line.data()));
    if (rest.find("master") != std::string_view::npos && section == kNone) {
      saw_master = true;
      size_t failed = rest.find("failed:");
      if (failed != std::string_view::npos) {
        std::string_view n = rest.substr(failed + 7);
        while (!n.empty() && n[0] == ' ') n.remove_prefix(1);
        std::from_chars(n.data(), n.data() + n.size(), info.failed_reloads);
      }
    } else if (section == kWorkers) {
      info.workers.push_back(pid);
    } else if (section == kOld) {
      info.old_workers.push_back(pid);
    }
  }
  if (!saw_master) {
    return Corruption("haproxy master CLI: 'show proc' answer has no master line: " +
                      std::string(text.substr(0, 200)));
  }
  return info;
}

StatusOr<ProgramResult> RunProgram(const std::vector<std::string>& argv) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoError("pipe", errno);
  Fd read_end(pipe_fds[0]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int err = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (err != 0) return ErrnoError(fmt::format("run '{}'", argv[0]), err);
  ProgramResult result;
  char buf[4096];
  while (true) {
    ssize_t n = read(read_end.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.output.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return ErrnoError(fmt::format("wait for '{}'", argv[0]), errno);
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

Status CheckPortFree(const std::string& bind, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  // Host names are left for haproxy to resolve and report; only numeric IPv4 is checked here.
  if (inet_pton(AF_INET, bind.c_str(), &addr.sin_addr) != 1) return Status::OK();
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return ErrnoError("socket", errno);
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return ErrnoError(fmt::format("cannot listen on {}:{}", bind, port), errno);
  }
  return Status::OK();
}

bool AcceptsConnections(const std::string& host, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);  // "localhost" and "0.0.0.0" binds
  }
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace steward::ingress::internal
