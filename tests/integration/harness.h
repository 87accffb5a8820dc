// Test harness for end-to-end tests: runs the real steward binary in a temporary project
// directory, talks to its daemon's API, and cleans up every process it caused.
//
// The test process makes itself a child subreaper, so the daemon that `steward apply` starts
// in the background is re-parented to the test (not to this machine's PID 1, which does not
// reap) and is reaped in TearDown: no zombies are left behind.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace steward::testing {

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Polls `cond` every 20 ms until it is true or `timeout_ms` passes. Returns the final value.
bool PollUntil(const std::function<bool()>& cond, int timeout_ms);

class Project {
 public:
  Project();   // creates a temp dir and makes this process a subreaper
  ~Project();  // `steward down`, kills anything left with this project's marker, reaps, removes

  const std::string& dir() const { return dir_; }
  std::string StateDir() const { return dir_ + "/.steward"; }
  void WriteStack(const std::string& yaml);
  // Runs steward with args in the project dir; stdin is /dev/null. Bounded by timeout_ms.
  RunResult Steward(const std::vector<std::string>& args, int timeout_ms = 60000);
  // As Steward, with `input` on stdin (a pipe closed once it is written), the variables in
  // `unset` removed from and `env` added to the environment, and no controlling terminal, so
  // a command that would prompt cannot.
  RunResult StewardWithInput(const std::vector<std::string>& args, const std::string& input,
                             const std::map<std::string, std::string>& env = {},
                             const std::vector<std::string>& unset = {},
                             int timeout_ms = 60000);
  // Starts steward in the background (e.g. `up`); returns its pid.
  int StewardBackground(const std::vector<std::string>& args, const std::string& log_file);

  // The daemon's API, authenticated with the project's token.
  std::optional<nlohmann::json> Api(const std::string& path);
  int DaemonPid();
  nlohmann::json Status();                                 // /api/v1/status, or {} on failure
  std::vector<nlohmann::json> Replicas(const std::string& service);
  int ReadyCount(const std::string& service);

  // Processes (pids) carrying this project's STEWARD_INSTANCE marker, group leaders or not.
  std::vector<int> MarkedProcesses();

 private:
  std::string dir_;
};

// GET http://127.0.0.1:<port><path>; returns the HTTP status (0 when no answer).
int HttpGet(int port, const std::string& path, std::string* body = nullptr, int timeout_ms = 1000);
int HttpPost(int port, const std::string& path, const std::string& form);

// The demo service's path, for stack files.
std::string DemoBinary();
std::string StewardBinary();

// Reaps every exited child (the subreaper's adopted ones too). Returns how many.
int ReapAll();

// Writes `data` to `path` (binary), creating the folders above it.
void WriteFile(const std::string& path, const std::string& data);
// The whole file, or "" when it cannot be read.
std::string ReadFile(const std::string& path);
// True when /proc/<pid> exists and is not a zombie.
bool ProcessAlive(int pid);

}  // namespace steward::testing

// `steward apply` (starting a daemon on a free port) must succeed; shows its output if not.
#define ASSERT_APPLY_OK(project)                                                     \
  do {                                                                               \
    ::steward::testing::RunResult apply_ = (project).Steward({"apply", "--listen", "127.0.0.1:0"}); \
    ASSERT_EQ(apply_.exit_code, 0) << apply_.out << apply_.err;                       \
  } while (0)
