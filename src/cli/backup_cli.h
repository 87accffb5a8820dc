// Shared by the `steward backup` command files (cmd_backup*.cc): the flags, opening the
// repository with its password, and the progress line. Not a public interface.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backup/archiver.h"
#include "backup/policy.h"
#include "backup/repository.h"
#include "base/status.h"
#include "cli/cli.h"

namespace steward::cli::backup_cli {

struct BackupArgs {
  std::string repo;
  std::string password_file;
  std::string key_file;
  bool append_only = false;
  // run
  std::vector<std::string> paths;
  std::vector<std::string> excludes;
  std::vector<std::string> tags;
  std::string host;
  std::string parent;
  bool force = false;
  bool one_file_system = false;
  int threads = 2;
  // snapshots / ls / diff / restore
  std::vector<std::string> refs;
  std::string target;
  std::vector<std::string> includes;
  bool overwrite = false;
  bool buffered = false;  // restore: no O_DIRECT
  bool long_listing = false;
  // check
  bool read_data = false;
  std::string read_data_subset;
  // forget / prune
  backup::KeepPolicy keep;
  std::string keep_within;
  std::string group_by = "host,paths";
  bool dry_run = false;
  bool prune = false;
  std::string max_unused = "5%";
  // unlock / key
  bool remove_all = false;
  std::string new_password_file;
  // init
  int64_t kdf_ops = 0;
  std::string kdf_memory;
  int compression = -1;  // init: zstd level, 0 = off; -1 = the default
};

StatusOr<std::string> RepoLocation(const BackupArgs& a);
// The password from --password-file, --key-file, STEWARD_PASSWORD_FILE, STEWARD_PASSWORD or a
// prompt (asked twice with `confirm`). Never from argv.
StatusOr<std::string> Password(const BackupArgs& a, bool confirm);
StatusOr<std::unique_ptr<backup::Repository>> OpenRepo(const BackupArgs& a);
std::string LocalTime(int64_t ns);
std::string Rfc3339(int64_t ns);
// A "12%" or "0.12" share in [0, 1] ((0, 1] unless allow_zero).
StatusOr<double> ParseShare(const std::string& flag, const std::string& text, bool allow_zero);

// One self-erasing line on stderr when it is a TTY; nothing otherwise.
class ProgressLine {
 public:
  explicit ProgressLine(const char* verb);
  ~ProgressLine() { Clear(); }
  void Update(const backup::Progress& p);
  void Show(const std::string& text);
  void Clear();

 private:
  const char* verb_;
  bool tty_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
};

int Init(const Context& ctx, const BackupArgs& a);
int Run(const Context& ctx, const BackupArgs& a);
int Snapshots(const Context& ctx, const BackupArgs& a);
int Ls(const Context& ctx, const BackupArgs& a);
int Diff(const Context& ctx, const BackupArgs& a);
int Restore(const Context& ctx, const BackupArgs& a);
int Check(const Context& ctx, const BackupArgs& a);
int Forget(const Context& ctx, const BackupArgs& a);
int Prune(const Context& ctx, const BackupArgs& a);
int Unlock(const Context& ctx, const BackupArgs& a);
int KeyAdd(const Context& ctx, const BackupArgs& a);
int RebuildIndex(const Context& ctx, const BackupArgs& a);

}  // namespace steward::cli::backup_cli
