// The bubblewrap sandbox as a step sees it: a read-only system, writable only where the job
// may write, its own /tmp, no network unless asked, and killed as a tree on cancel. Skipped
// where bubblewrap cannot run.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "pipeline/process.h"

namespace steward::pipeline {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

// A source tree and a working copy under /var/tmp: under /tmp they would be hidden by the
// sandbox's private /tmp rather than read-only.
class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!SandboxAvailable()) GTEST_SKIP() << "bubblewrap cannot create a sandbox here";
    char tmpl[] = "/var/tmp/steward-sandbox-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ + "/src");
    fs::create_directories(root_ + "/work");
    std::ofstream(root_ + "/src/main.c") << "int main() { return 0; }\n";
  }
  void TearDown() override {
    std::error_code ec;
    if (!root_.empty()) fs::remove_all(root_, ec);
  }

  ProcessSpec Spec(const std::string& script) {
    ProcessSpec spec;
    spec.argv = {"bash", "-c", script};
    spec.env = {{"PATH", "/usr/local/bin:/usr/bin:/bin"}};
    spec.cwd = root_ + "/work";
    spec.sandbox.enabled = true;
    spec.sandbox.writable = {root_ + "/work"};
    return spec;
  }

  struct Outcome {
    ProcessResult result;
    std::vector<std::string> out;
    std::vector<std::string> err;
  };
  Outcome Run(const ProcessSpec& spec, const CancelToken* cancel = nullptr) {
    Outcome o;
    o.result = RunProcess(
        spec,
        [&](std::string_view line, bool is_stderr) {
          (is_stderr ? o.err : o.out).push_back(std::string(line));
        },
        cancel);
    return o;
  }

  std::string root_;
};

TEST_F(SandboxTest, WritesOnlyWhereTheJobMay) {
  std::string probe = "steward-sandbox-probe-" + std::to_string(getpid());
  Outcome o = Run(Spec("touch /usr/" + probe +
                       " 2>/dev/null && echo usr-writable;"
                       "touch " +
                       root_ + "/src/" + probe +
                       " 2>/dev/null && echo src-writable;"
                       "echo built > out.txt && echo work-writable; pwd"));
  ASSERT_TRUE(o.result.ok()) << o.result.Describe() << " " << testing::PrintToString(o.err);
  EXPECT_EQ(o.out, (std::vector<std::string>{"work-writable", root_ + "/work"}));
  EXPECT_FALSE(fs::exists("/usr/" + probe));
  EXPECT_FALSE(fs::exists(root_ + "/src/" + probe));
  std::ifstream built(root_ + "/work/out.txt");
  std::string text;
  std::getline(built, text);
  EXPECT_EQ(text, "built");
}

TEST_F(SandboxTest, SeesTheSourceTreeReadOnly) {
  Outcome o = Run(Spec("cat " + root_ + "/src/main.c"));
  ASSERT_TRUE(o.result.ok()) << o.result.Describe();
  EXPECT_EQ(o.out, (std::vector<std::string>{"int main() { return 0; }"}));
}

TEST_F(SandboxTest, HasAPrivateTmp) {
  std::string outside = "/tmp/steward-sandbox-outside-" + std::to_string(getpid());
  std::ofstream(outside) << "host\n";
  std::string inside = "/tmp/steward-sandbox-inside-" + std::to_string(getpid());
  Outcome o = Run(Spec("test -e " + outside + " && echo host-tmp-visible; echo x > " + inside +
                       " && echo tmp-writable"));
  fs::remove(outside);
  ASSERT_TRUE(o.result.ok()) << o.result.Describe();
  EXPECT_EQ(o.out, (std::vector<std::string>{"tmp-writable"}));
  EXPECT_FALSE(fs::exists(inside));
}

// A listener on the host's loopback. Without network the sandbox has a loopback of its own
// (a new network namespace), so connecting to the same address reaches nobody.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(fd_, 8), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }
  // Whether a connection is waiting to be accepted (bounded wait).
  bool Accepted(milliseconds within) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(within.count())) != 1) return false;
    int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) return false;
    close(c);
    return true;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(SandboxTest, HasNoNetworkUnlessAsked) {
  Listener listener;
  std::string connect = "exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(listener.port()) +
                        " && echo connected || echo refused";
  Outcome off = Run(Spec(connect));
  ASSERT_TRUE(off.result.ok()) << off.result.Describe();
  EXPECT_EQ(off.out, (std::vector<std::string>{"refused"}));
  EXPECT_FALSE(listener.Accepted(milliseconds(100)));

  ProcessSpec spec = Spec(connect);
  spec.sandbox.network = true;
  Outcome on = Run(spec);
  ASSERT_TRUE(on.result.ok()) << on.result.Describe();
  EXPECT_EQ(on.out, (std::vector<std::string>{"connected"}));
  EXPECT_TRUE(listener.Accepted(milliseconds(2000)));
}

TEST_F(SandboxTest, DoesNotSeeTheHostEnvironment) {
  setenv("STEWARD_SANDBOX_TEST_LEAK", "x", 1);
  ProcessSpec spec = Spec("echo \"leak=${STEWARD_SANDBOX_TEST_LEAK:-none} v=$V\"");
  spec.env["V"] = "given";
  Outcome o = Run(spec);
  unsetenv("STEWARD_SANDBOX_TEST_LEAK");
  EXPECT_EQ(o.out, (std::vector<std::string>{"leak=none v=given"}));
}

TEST_F(SandboxTest, ReportsExitCodes) {
  Outcome o = Run(Spec("exit 7"));
  EXPECT_EQ(o.result.end, ProcessEnd::kExited);
  EXPECT_EQ(o.result.exit_code, 7);
}

bool AnyProcessWith(const std::string& marker) {
  DIR* dir = opendir("/proc");
  bool found = false;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string stat_text((std::istreambuf_iterator<char>(stat)), {});
    size_t paren = stat_text.rfind(')');
    if (paren == std::string::npos || stat_text.size() < paren + 3 || stat_text[paren + 2] == 'Z') {
      continue;
    }
    std::ifstream cmd(std::string("/proc/") + e->d_name + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(cmd)), {});
    if (cmdline.find(marker) != std::string::npos) found = true;
  }
  closedir(dir);
  return found;
}

bool WaitFor(bool want, const std::string& marker, milliseconds bound) {
  Clock::time_point end = Clock::now() + bound;
  while (Clock::now() < end) {
    if (AnyProcessWith(marker) == want) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return AnyProcessWith(marker) == want;
}

TEST_F(SandboxTest, CancelKillsTheTreeInsideTheSandbox) {
  std::string m = "1000." + std::to_string(getpid()) + "77";
  ProcessSpec spec = Spec("sleep " + m + " & setsid sleep " + m + " & wait");
  CancelToken cancel;
  bool started = false;
  Clock::time_point cancelled_at{};
  std::thread canceller([&] {
    started = WaitFor(true, m, milliseconds(5000));
    cancelled_at = Clock::now();
    cancel.Cancel();
  });
  Outcome o = Run(spec, &cancel);
  Clock::time_point returned = Clock::now();
  canceller.join();
  ASSERT_TRUE(started);
  EXPECT_EQ(o.result.end, ProcessEnd::kCancelled);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(returned - cancelled_at).count(), 500);
  EXPECT_TRUE(WaitFor(false, m, milliseconds(1000)));
}

}  // namespace
}  // namespace steward::pipeline
