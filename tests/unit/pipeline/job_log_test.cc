#include "pipeline/job_log.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;

class JobLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("job_log_test_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(JobLogTest, EachJobReadsBackOnlyItsOwnLinesInOrder) {
  RunLogFile log;
  ASSERT_TRUE(log.Open(dir_.string()).ok());
  log.Append("build", "compiling");
  log.Append("test", "running 3 tests");
  log.Append("build", "linked");
  log.Append("test", "a line\nwith a newline in it");
  const std::string build = RunLogFile::JobLogPath(dir_.string(), "build");
  const std::string test = RunLogFile::JobLogPath(dir_.string(), "test");
  EXPECT_EQ(ReadJobLog(build), "compiling\nlinked\n");
  EXPECT_EQ(ReadJobLog(test), "running 3 tests\na line with a newline in it\n");
  EXPECT_EQ(ReadJobLog(RunLogFile::JobLogPath(dir_.string(), "lint")), "");
  auto both = ReadJobLogs({build, test});
  EXPECT_EQ(both[build], "compiling\nlinked\n");
  EXPECT_EQ(both[test], "running 3 tests\na line with a newline in it\n");
}

// Runs recorded before one file per run named a file per job.
TEST_F(JobLogTest, APerJobFileOfAnOlderRunIsReadWhole) {
  const std::string old = (dir_ / "logs" / "build.log").string();
  fs::create_directories(dir_ / "logs");
  std::ofstream(old) << "one\ntwo\n";
  EXPECT_EQ(ReadJobLog(old), "one\ntwo\n");
}

// A killed run may leave its last line without a newline: it is kept, and what is appended
// after reopening starts a line of its own.
TEST_F(JobLogTest, ACutLastLineIsKeptAndReopeningAppends) {
  std::ofstream(dir_ / "jobs.log") << "a\tfirst\na\tcut sho";
  RunLogFile log;
  ASSERT_TRUE(log.Open(dir_.string()).ok());
  log.Append("b", "after");
  EXPECT_EQ(ReadJobLog(RunLogFile::JobLogPath(dir_.string(), "a")), "first\ncut sho\n");
  EXPECT_EQ(ReadJobLog(RunLogFile::JobLogPath(dir_.string(), "b")), "after\n");
}

TEST_F(JobLogTest, LinesFromManyThreadsAreNeverInterleaved) {
  RunLogFile log;
  ASSERT_TRUE(log.Open(dir_.string()).ok());
  std::vector<std::thread> threads;
  const std::string line(3000, 'x');
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) log.Append("j" + std::to_string(t), line);
    });
  for (auto& t : threads) t.join();
  for (int t = 0; t < 4; ++t) {
    std::string text = ReadJobLog(RunLogFile::JobLogPath(dir_.string(), "j" + std::to_string(t)));
    EXPECT_EQ(text.size(), 200 * (line.size() + 1));
    EXPECT_EQ(text.find_first_not_of("x\n"), std::string::npos);
  }
}

TEST_F(JobLogTest, AnUnwritableRunDirectoryIsAnErrorNamingTheFile) {
  RunLogFile log;
  Status st = log.Open((dir_ / "missing").string());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("jobs.log"), std::string::npos) << st.message();
  log.Append("a", "dropped, not a crash");
}

}  // namespace
}  // namespace steward::pipeline
