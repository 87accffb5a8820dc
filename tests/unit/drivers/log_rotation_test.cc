#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "drivers/driver.h"
#include "test_util.h"

namespace steward::drivers {
namespace {

using testing::ReadAll;
using testing::TempDir;
using testing::WriteFile;

TEST(RotateLogs, LeavesSmallFilesAlone) {
  TempDir dir;
  WriteFile(dir.path() + "/stdout.log", "short\n");
  ASSERT_TRUE(RotateLogs(dir.path(), 100, 3).ok());
  EXPECT_EQ(ReadAll(dir.path() + "/stdout.log"), "short\n");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/stdout.log.1"));
}

TEST(RotateLogs, MissingLogsAreNotAnError) {
  TempDir dir;
  EXPECT_TRUE(RotateLogs(dir.path(), 10, 3).ok());
}

TEST(RotateLogs, KeepsNewestCopiesAndTruncatesInPlace) {
  TempDir dir;
  std::string log = dir.path() + "/stdout.log";
  WriteFile(log, "");
  struct stat before {};
  ASSERT_EQ(stat(log.c_str(), &before), 0);
  for (int round = 1; round <= 3; ++round) {
    WriteFile(log, "round " + std::to_string(round) + " with enough bytes\n");
    ASSERT_TRUE(RotateLogs(dir.path(), 10, 2).ok());
  }
  EXPECT_EQ(ReadAll(log), "");
  EXPECT_EQ(ReadAll(log + ".1"), "round 3 with enough bytes\n");
  EXPECT_EQ(ReadAll(log + ".2"), "round 2 with enough bytes\n");
  EXPECT_FALSE(std::filesystem::exists(log + ".3"));
  struct stat after {};
  ASSERT_EQ(stat(log.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the writer's file must stay the same inode";
}

TEST(RotateLogs, RotatesStderrIndependently) {
  TempDir dir;
  WriteFile(dir.path() + "/stdout.log", "tiny");
  WriteFile(dir.path() + "/stderr.log", "a much longer error output\n");
  ASSERT_TRUE(RotateLogs(dir.path(), 10, 1).ok());
  EXPECT_EQ(ReadAll(dir.path() + "/stdout.log"), "tiny");
  EXPECT_EQ(ReadAll(dir.path() + "/stderr.log.1"), "a much longer error output\n");
}

TEST(RotateLogs, KeepZeroOnlyTruncates) {
  TempDir dir;
  WriteFile(dir.path() + "/stdout.log", "0123456789abcdef");
  ASSERT_TRUE(RotateLogs(dir.path(), 4, 0).ok());
  EXPECT_EQ(ReadAll(dir.path() + "/stdout.log"), "");
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/stdout.log.1"));
}

}  // namespace
}  // namespace steward::drivers
