#include "drivers/proc_fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace steward::drivers {
namespace {

TEST(ProcStat, ParsesFieldsAfterLastParenthesisOfComm) {
  std::string line =
      "4242 (evil) (name x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 "
      "1000 200 18446744073709551615";
  StatusOr<ProcStat> st = ParseProcStat(line);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->pgrp, 4242);
  EXPECT_EQ(st->start_ticks, 987654);
}

TEST(ProcStat, RejectsTruncatedLine) {
  EXPECT_FALSE(ParseProcStat("12 (x) S 1 2").ok());
  EXPECT_FALSE(ParseProcStat("garbage").ok());
}

TEST(ProcStat, ReadsOwnProcess) {
  StatusOr<ProcStat> st = ReadProcStat(getpid());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->ppid, getppid());
  EXPECT_GT(st->start_ticks, 0);
}

TEST(ProcStat, MissingProcessIsNotFound) {
  StatusOr<ProcStat> st = ReadProcStat(0x3fffffff);
  EXPECT_EQ(st.status().code(), StatusCode::kNotFound);
}

TEST(Environ, ParsesNulSeparatedEntriesWithEqualsInValues) {
  std::string bytes("A=1\0B=x=y\0NOEQ\0C=\0", 18);
  auto env = ParseEnviron(bytes);
  EXPECT_EQ(env.size(), 3u);
  EXPECT_EQ(env["A"], "1");
  EXPECT_EQ(env["B"], "x=y");
  EXPECT_EQ(env["C"], "");
}

TEST(Rss, OwnProcessHasResidentMemory) {
  StatusOr<int64_t> rss = ReadRssBytes(getpid());
  ASSERT_TRUE(rss.ok());
  EXPECT_GT(*rss, 0);
}

}  // namespace
}  // namespace steward::drivers
