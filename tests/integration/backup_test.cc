// End to end: `steward backup` as a user runs it — init, run, snapshots, ls, diff, restore,
// check, forget, prune — against a repository in a temp dir, with kill -9, flipped bytes,
// wrong passwords and concurrent clients.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

namespace steward::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

// Runs steward on a new pseudo-terminal (its controlling terminal; stdin, stdout and stderr
// too), with `env` set and STEWARD_PASSWORD/STEWARD_PASSWORD_FILE unset, answering `answer`
// once the output shows `prompt`. Returns the exit code and everything it wrote.
RunResult StewardOnTerminal(const std::string& dir, const std::vector<std::string>& args,
                            const std::map<std::string, std::string>& env,
                            const std::string& prompt, const std::string& answer) {
  RunResult r;
  r.exit_code = -1;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) return r;
  const std::string slave = ptsname(master);
  std::vector<std::string> all = {StewardBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int fd = open(slave.c_str(), O_RDWR);  // becomes the controlling terminal
    if (fd < 0) _exit(126);
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    unsetenv("STEWARD_PASSWORD");
    unsetenv("STEWARD_PASSWORD_FILE");
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    if (chdir(dir.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  // This end of the slave stays open until the child is gone: with no slave open (before the
  // child has opened it, or after it exited) a read of the master fails with EIO, which must
  // not end the conversation early. The child's exit is seen through waitpid instead.
  int held = open(slave.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
  fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
  bool answered = false, exited = false;
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!exited && std::chrono::steady_clock::now() < deadline) {
    exited = waitpid(pid, &status, WNOHANG) == pid;
    pollfd pfd{master, POLLIN, 0};
    if (!exited && poll(&pfd, 1, 100) <= 0) continue;
    char buf[4096];
    for (ssize_t n; (n = read(master, buf, sizeof buf)) > 0;)
      r.out.append(buf, static_cast<size_t>(n));
    if (!answered && r.out.find(prompt) != std::string::npos) {
      std::string line = answer + "\n";
      answered = write(master, line.data(), line.size()) == static_cast<ssize_t>(line.size());
    }
  }
  if (!exited) {  // still waiting for something: fail the test, not hang it
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    r.out += "\n[killed after 60 s]";
  } else if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  }
  if (held >= 0) close(held);
  close(master);
  return r;
}

// A project with a password file and a repository path; every backup command gets both.
class BackupCli : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = p_.dir() + "/repo";
    password_file_ = p_.dir() + "/password";
    WriteFile(password_file_, "correct horse battery staple\n");
  }

  std::vector<std::string> Args(std::vector<std::string> args) {
    std::vector<std::string> all = {"backup", "--repo", repo_, "--password-file", password_file_};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
  RunResult Backup(std::vector<std::string> args, int timeout_ms = 120000) {
    return p_.Steward(Args(std::move(args)), timeout_ms);
  }
  json BackupJson(std::vector<std::string> args) {
    args.push_back("--json");
    RunResult r = Backup(args);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    json j = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << r.out;
    return j;
  }
  void Init() {
    RunResult r = Backup({"init", "--kdf-ops", "1", "--kdf-memory", "8M"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  uint64_t RepoBytes() {
    uint64_t total = 0;
    for (const auto& e : fs::recursive_directory_iterator(repo_))
      if (e.is_regular_file()) total += e.file_size();
    return total;
  }
  std::vector<std::string> Packs() {
    std::vector<std::string> packs;
    for (const auto& e : fs::recursive_directory_iterator(repo_ + "/data"))
      if (e.is_regular_file() && e.path().filename().string()[0] != '.')
        packs.push_back(e.path().string());
    return packs;
  }

  Project p_;
  std::string repo_;
  std::string password_file_;
};

TEST_F(BackupCli, BacksUpListsDiffsAndRestoresATree) {
  Init();
  const std::string src = p_.dir() + "/data";
  WriteFile(src + "/a.txt", "hello\n");
  WriteFile(src + "/empty", "");
  WriteFile(src + "/sub/big.bin", RandomBytes(3 << 20, 1));
  WriteFile(src + "/sub/deeper/b.txt", "bee\n");
  fs::create_symlink("sub/deeper/b.txt", src + "/link");
  chmod((src + "/a.txt").c_str(), 0600);

  json first = BackupJson({"run", src});
  EXPECT_EQ(first["summary"]["files_new"], 4);
  EXPECT_TRUE(first["parent"].is_null());

  WriteFile(src + "/a.txt", "hello again\n");
  WriteFile(src + "/new.txt", "new\n");
  json second = BackupJson({"run", src});
  EXPECT_EQ(second["summary"]["files_changed"], 1);
  EXPECT_EQ(second["summary"]["files_new"], 1);
  EXPECT_EQ(second["summary"]["files_unmodified"], 3);
  EXPECT_EQ(second["parent"], first["snapshot"]);
  // Only the changed and new files' bytes (and trees) were added, not the 3 MiB file again.
  EXPECT_LT(second["summary"]["bytes_added"].get<uint64_t>(), 64u << 10);

  json snapshots = BackupJson({"snapshots"});
  ASSERT_EQ(snapshots.size(), 2u);
  EXPECT_EQ(snapshots[1]["id"], second["snapshot"]);
  EXPECT_EQ(snapshots[1]["paths"][0], src);

  RunResult ls = Backup({"ls", "latest", src + "/sub"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find(src + "/sub/deeper/b.txt\n"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find(src + "/a.txt"), std::string::npos) << ls.out;

  json diff = BackupJson({"diff", first["snapshot"], second["snapshot"]});
  EXPECT_EQ(diff["added"], 1);
  EXPECT_EQ(diff["modified"], 1);
  EXPECT_EQ(diff["removed"], 0);

  const std::string target = p_.dir() + "/restored";
  json restored = BackupJson({"restore", "latest", "--target", target});
  EXPECT_EQ(restored["files"], 6);  // five files and the symlink
  EXPECT_EQ(ReadFile(target + src + "/a.txt"), "hello again\n");
  EXPECT_EQ(ReadFile(target + src + "/sub/big.bin"), ReadFile(src + "/sub/big.bin"));
  EXPECT_EQ(fs::read_symlink(target + src + "/link"), "sub/deeper/b.txt");
  struct stat st{};
  ASSERT_EQ(stat((target + src + "/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  // Restoring over existing files is refused and writes nothing; --overwrite replaces them.
  WriteFile(target + src + "/a.txt", "local edit\n");
  RunResult again = Backup({"restore", "latest", "--target", target});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  EXPECT_EQ(ReadFile(target + src + "/a.txt"), "local edit\n");
  RunResult over = Backup({"restore", first["snapshot"], "--target", target, "--overwrite"});
  EXPECT_EQ(over.exit_code, 0) << over.err;
  EXPECT_EQ(ReadFile(target + src + "/a.txt"), "hello\n");

  RunResult check = Backup({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("no errors were found"), std::string::npos) << check.out;
}

TEST_F(BackupCli, WrongPasswordAndMissingKeyFileAreClearErrors) {
  Init();
  const std::string wrong = p_.dir() + "/wrong";
  WriteFile(wrong, "Tr0ub4dor&3\n");
  RunResult r = p_.Steward({"backup", "--repo", repo_, "--password-file", wrong, "snapshots"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("wrong password"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("Tr0ub4dor"), std::string::npos) << r.err;
  EXPECT_EQ(r.out.find("Tr0ub4dor"), std::string::npos) << r.out;

  RunResult missing =
      p_.Steward({"backup", "--repo", repo_, "--key-file", p_.dir() + "/nope.key", "snapshots"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nope.key"), std::string::npos) << missing.err;

  RunResult no_repo = p_.Steward({"backup", "--repo", p_.dir() + "/nothing-here",
                                  "--password-file", password_file_, "snapshots"});
  EXPECT_EQ(no_repo.exit_code, 1);
  EXPECT_NE(no_repo.err.find("nothing-here"), std::string::npos) << no_repo.err;

  // Initialising over an existing repository is refused; the repository still opens.
  RunResult twice = Backup({"init"});
  EXPECT_EQ(twice.exit_code, 1);
  EXPECT_EQ(Backup({"snapshots"}).exit_code, 0);
}

TEST_F(BackupCli, KillNineDuringBackupLeavesARepositoryTheNextRunReuses) {
  Init();
  const std::string src = p_.dir() + "/data";
  for (int i = 0; i < 12; ++i) WriteFile(src + "/f" + std::to_string(i), RandomBytes(12 << 20, i));

  int pid = p_.StewardBackground(Args({"run", "--threads", "1", src}), p_.dir() + "/bg.log");
  // Wait until several packs (and so at least one index file) are stored, then kill -9.
  bool enough = PollUntil([&] { return Packs().size() >= 6; }, 60000);
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ASSERT_TRUE(enough) << ReadFile(p_.dir() + "/bg.log");

  // The repository is consistent: check passes (the dead backup's lock is stale, its packs
  // without an index are only unreferenced).
  RunResult check = Backup({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;

  json rerun = BackupJson({"run", src});
  const uint64_t total = 12ull * (12 << 20);
  EXPECT_EQ(rerun["summary"]["bytes_processed"].get<uint64_t>(), total);
  // What the killed run stored (and indexed) is not stored again.
  EXPECT_LT(rerun["summary"]["bytes_added"].get<uint64_t>(), total - (32u << 20)) << rerun.dump();

  RunResult full = Backup({"check", "--read-data"});
  EXPECT_EQ(full.exit_code, 0) << full.out << full.err;
  const std::string target = p_.dir() + "/restored";
  ASSERT_EQ(Backup({"restore", "latest", "--target", target}).exit_code, 0);
  for (int i = 0; i < 12; ++i) {
    std::string name = "/f" + std::to_string(i);
    ASSERT_EQ(ReadFile(target + src + name), ReadFile(src + name)) << name;
  }
}

TEST_F(BackupCli, AFlippedByteIsFoundWithTheSnapshotAndFileItAffects) {
  Init();
  const std::string src = p_.dir() + "/data";
  WriteFile(src + "/precious.db", RandomBytes(2 << 20, 7));
  json snap = BackupJson({"run", src});
  std::vector<std::string> packs = Packs();
  ASSERT_FALSE(packs.empty());
  // Flip a byte in the middle of the largest pack (the data, not the header).
  std::string biggest = packs[0];
  for (const auto& p : packs)
    if (fs::file_size(p) > fs::file_size(biggest)) biggest = p;
  {
    std::fstream f(biggest, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(fs::file_size(biggest) / 2));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(fs::file_size(biggest) / 2));
    f.put(static_cast<char>(c ^ 0x40));
  }
  RunResult check = Backup({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 1) << check.out;
  EXPECT_NE(check.out.find(fs::path(biggest).filename().string()), std::string::npos) << check.out;
  EXPECT_NE(check.out.find(snap["snapshot"].get<std::string>().substr(0, 8)), std::string::npos)
      << check.out;
  EXPECT_NE(check.out.find(src + "/precious.db"), std::string::npos) << check.out;

  // A restore of the damaged file fails loudly instead of writing wrong bytes silently.
  RunResult restore = Backup({"restore", "latest", "--target", p_.dir() + "/r"});
  EXPECT_NE(restore.exit_code, 0);
}

TEST_F(BackupCli, ForgetAndPruneFreeSpaceAndKeepWhatIsLeftRestorable) {
  Init();
  const std::string src = p_.dir() + "/data";
  for (int i = 0; i < 3; ++i) {
    WriteFile(src + "/changing.bin", RandomBytes(4 << 20, 100 + i));
    WriteFile(src + "/stable.txt", "stays\n");
    BackupJson({"run", src});
  }
  uint64_t before = RepoBytes();
  json forget = BackupJson({"forget", "--keep-last", "1", "--prune"});
  EXPECT_EQ(forget["removed"].size(), 2u);
  EXPECT_GT(forget["prune"]["bytes_freed"].get<uint64_t>(), 6u << 20) << forget.dump();
  EXPECT_LT(RepoBytes(), before - (6u << 20));
  EXPECT_EQ(BackupJson({"snapshots"}).size(), 1u);
  RunResult check = Backup({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  const std::string target = p_.dir() + "/restored";
  ASSERT_EQ(Backup({"restore", "latest", "--target", target}).exit_code, 0);
  EXPECT_EQ(ReadFile(target + src + "/changing.bin"), ReadFile(src + "/changing.bin"));

  // A policy-less forget is refused rather than removing everything.
  RunResult bare = Backup({"forget"});
  EXPECT_EQ(bare.exit_code, 1);
  EXPECT_EQ(BackupJson({"snapshots"}).size(), 1u);
}

TEST_F(BackupCli, AppendOnlyClientsCanAddButNotDelete) {
  Init();
  const std::string src = p_.dir() + "/data";
  WriteFile(src + "/x", "x\n");
  RunResult run = Backup({"--append-only", "run", src});
  EXPECT_EQ(run.exit_code, 0) << run.err;
  RunResult forget = Backup({"--append-only", "forget", "latest"});
  EXPECT_EQ(forget.exit_code, 1);
  EXPECT_NE(forget.err.find("append-only"), std::string::npos) << forget.err;
  EXPECT_EQ(BackupJson({"snapshots"}).size(), 1u);
}

TEST_F(BackupCli, TwoClientsBackUpIntoOneRepositoryAtOnce) {
  Init();
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 4; ++i)
      WriteFile(p_.dir() + "/src" + std::to_string(c) + "/f" + std::to_string(i),
                RandomBytes(6 << 20, 1000 * c + i));
  int a = p_.StewardBackground(Args({"run", p_.dir() + "/src0"}), p_.dir() + "/a.log");
  int b = p_.StewardBackground(Args({"run", p_.dir() + "/src1"}), p_.dir() + "/b.log");
  int status_a = 0, status_b = 0;
  waitpid(a, &status_a, 0);
  waitpid(b, &status_b, 0);
  EXPECT_TRUE(WIFEXITED(status_a) && WEXITSTATUS(status_a) == 0) << ReadFile(p_.dir() + "/a.log");
  EXPECT_TRUE(WIFEXITED(status_b) && WEXITSTATUS(status_b) == 0) << ReadFile(p_.dir() + "/b.log");
  EXPECT_EQ(BackupJson({"snapshots"}).size(), 2u);
  RunResult check = Backup({"check", "--read-data"});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
}

// The repository from STEWARD_REPOSITORY and the password from STEWARD_PASSWORD or typed on
// the terminal; without either, errors that say what to give. check --read-data-subset and
// forget --keep-daily as a user types them.
TEST_F(BackupCli, RepositoryAndPasswordFromTheEnvironmentOrTheTerminal) {
  Init();
  const std::string src = p_.dir() + "/data";
  WriteFile(src + "/a.txt", "hello\n");
  WriteFile(src + "/b.bin", RandomBytes(2 << 20, 5));
  const std::string password = "correct horse battery staple";
  const std::vector<std::string> no_password = {"STEWARD_PASSWORD", "STEWARD_PASSWORD_FILE"};
  const std::map<std::string, std::string> env = {{"STEWARD_REPOSITORY", repo_},
                                                  {"STEWARD_PASSWORD", password}};
  for (int i = 0; i < 2; ++i) {
    RunResult run = p_.StewardWithInput({"backup", "run", src}, "", env, {"STEWARD_PASSWORD_FILE"});
    ASSERT_EQ(run.exit_code, 0) << run.out << run.err;
  }
  RunResult listed = p_.StewardWithInput({"backup", "snapshots", "--json"}, "", env);
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_EQ(json::parse(listed.out, nullptr, false).size(), 2u) << listed.out;

  RunResult subset = p_.StewardWithInput({"backup", "check", "--read-data-subset", "50%"}, "", env);
  EXPECT_EQ(subset.exit_code, 0) << subset.out << subset.err;
  RunResult bad_share =
      p_.StewardWithInput({"backup", "check", "--read-data-subset", "150%"}, "", env);
  EXPECT_NE(bad_share.exit_code, 0);
  EXPECT_NE(bad_share.err.find("--read-data-subset"), std::string::npos) << bad_share.err;
  // Two snapshots of one day: --keep-daily 1 keeps the newest.
  RunResult forget = p_.StewardWithInput({"backup", "forget", "--keep-daily", "1", "--json"}, "",
                                         env);
  ASSERT_EQ(forget.exit_code, 0) << forget.out << forget.err;
  listed = p_.StewardWithInput({"backup", "snapshots", "--json"}, "", env);
  EXPECT_EQ(json::parse(listed.out, nullptr, false).size(), 1u) << listed.out;

  // No terminal to ask on, no password given: refused, saying how to give one.
  RunResult refused = p_.StewardWithInput({"backup", "snapshots"}, "",
                                          {{"STEWARD_REPOSITORY", repo_}}, no_password);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("no password: give --password-file"), std::string::npos)
      << refused.err;
  RunResult no_repo = p_.StewardWithInput({"backup", "snapshots"}, "",
                                          {{"STEWARD_PASSWORD", password}}, {"STEWARD_REPOSITORY"});
  EXPECT_NE(no_repo.exit_code, 0);
  EXPECT_NE(no_repo.err.find("no repository: give --repo PATH or set STEWARD_REPOSITORY"),
            std::string::npos)
      << no_repo.err;

  // Typed on the terminal (not echoed), the password opens the repository.
  RunResult typed = StewardOnTerminal(p_.dir(), {"backup", "snapshots"},
                                      {{"STEWARD_REPOSITORY", repo_}}, "repository password: ",
                                      password);
  EXPECT_EQ(typed.exit_code, 0) << typed.out;
  EXPECT_EQ(typed.out.find(password), std::string::npos) << "the password was echoed";
  EXPECT_NE(typed.out.find(src), std::string::npos) << typed.out;
  RunResult mistyped = StewardOnTerminal(p_.dir(), {"backup", "snapshots"},
                                         {{"STEWARD_REPOSITORY", repo_}},
                                         "repository password: ", "wrong");
  EXPECT_NE(mistyped.exit_code, 0) << mistyped.out;
}

}  // namespace
}  // namespace steward::testing
