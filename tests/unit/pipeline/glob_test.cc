// Glob over a real directory tree: the wildcards, directories taking what is below them,
// exclusions in order, refusals of paths that leave the root, and symbolic links.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "pipeline/cache.h"

namespace steward::pipeline {
namespace {

namespace fs = std::filesystem;
using Files = std::vector<std::string>;

class GlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-glob-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    for (const char* f :
         {"a.cc", "b.h", "c.cc", ".hidden.cc", "src/main.cc", "src/util.h", "src/deep/x.cc",
          "src/deep/er/y.cc", "docs/readme.md", ".git/HEAD", "src/.git/config"}) {
      Write(f);
    }
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  void Write(const std::string& rel) {
    fs::create_directories(fs::path(root_ + "/" + rel).parent_path());
    std::ofstream(root_ + "/" + rel) << rel;
  }
  Files Match(const std::vector<std::string>& patterns) {
    StatusOr<Files> files = Glob(root_, patterns);
    EXPECT_TRUE(files.ok()) << files.status().ToString();
    return files.ok() ? *files : Files{};
  }
  std::string Error(const std::vector<std::string>& patterns) {
    StatusOr<Files> files = Glob(root_, patterns);
    EXPECT_FALSE(files.ok());
    return files.ok() ? "" : files.status().message();
  }

  std::string root_;
};

TEST_F(GlobTest, StarStaysWithinOneSegment) {
  EXPECT_EQ(Match({"*.cc"}), (Files{".hidden.cc", "a.cc", "c.cc"}));
  EXPECT_EQ(Match({"src/*.cc"}), (Files{"src/main.cc"}));
}

TEST_F(GlobTest, DoubleStarCrossesSegments) {
  EXPECT_EQ(Match({"**/*.cc"}), (Files{".hidden.cc", "a.cc", "c.cc", "src/deep/er/y.cc",
                                       "src/deep/x.cc", "src/main.cc"}));
  EXPECT_EQ(Match({"src/**/y.cc"}), (Files{"src/deep/er/y.cc"}));
  EXPECT_EQ(Match({"src/**/*.cc"}), (Files{"src/deep/er/y.cc", "src/deep/x.cc", "src/main.cc"}));
}

TEST_F(GlobTest, QuestionMarkAndClasses) {
  EXPECT_EQ(Match({"?.cc"}), (Files{"a.cc", "c.cc"}));
  EXPECT_EQ(Match({"[ab].*"}), (Files{"a.cc", "b.h"}));
  EXPECT_EQ(Match({"[!a].cc"}), (Files{"c.cc"}));
  EXPECT_EQ(Match({"[a-b].??"}), (Files{"a.cc"}));
}

TEST_F(GlobTest, ADirectoryTakesEveryFileBelowIt) {
  EXPECT_EQ(Match({"src/deep"}), (Files{"src/deep/er/y.cc", "src/deep/x.cc"}));
  EXPECT_EQ(Match({"./src/deep/"}), (Files{"src/deep/er/y.cc", "src/deep/x.cc"}));
  EXPECT_EQ(Match({"docs/readme.md"}), (Files{"docs/readme.md"}));
}

TEST_F(GlobTest, ExclusionsApplyInOrder) {
  EXPECT_EQ(Match({"**/*.cc", "!src/deep"}), (Files{".hidden.cc", "a.cc", "c.cc", "src/main.cc"}));
  EXPECT_EQ(Match({"src", "!**/*.cc", "src/deep/x.cc"}), (Files{"src/deep/x.cc", "src/util.h"}));
  EXPECT_EQ(Match({"!a.cc"}), Files{});
}

TEST_F(GlobTest, SkipsGitDirectoriesUnlessNamed) {
  Files all = Match({"**"});
  EXPECT_EQ(std::count(all.begin(), all.end(), ".git/HEAD"), 0);
  EXPECT_EQ(std::count(all.begin(), all.end(), "src/.git/config"), 0);
  EXPECT_EQ(all.size(), 9u);
  EXPECT_EQ(Match({".git/HEAD"}), (Files{".git/HEAD"}));
}

TEST_F(GlobTest, RefusesPatternsThatLeaveTheRoot) {
  EXPECT_EQ(Error({"../etc/passwd"}),
            "pattern '../etc/passwd' uses '..', which would leave the working copy; name paths "
            "inside it");
  EXPECT_NE(Error({"src/../../x"}).find("'..'"), std::string::npos);
  EXPECT_EQ(Error({"/etc/passwd"}),
            "pattern '/etc/passwd' is absolute; write it relative to the working copy");
  EXPECT_NE(Error({"!/etc"}).find("absolute"), std::string::npos);
  EXPECT_EQ(Error({"src/[ab"}), "pattern 'src/[ab' has a '[' without a closing ']'");
  EXPECT_EQ(Error({""}), "empty pattern ''");
}

TEST_F(GlobTest, ListsSymlinksButDoesNotFollowThemOutOfTheRoot) {
  char tmpl[] = "/tmp/steward-glob-outside-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string outside = tmpl;
  std::ofstream(outside + "/secret") << "s";
  fs::create_directory_symlink(outside, root_ + "/escape");
  fs::create_symlink("a.cc", root_ + "/alias.cc");
  EXPECT_EQ(Match({"escape/**", "*.cc"}), (Files{".hidden.cc", "a.cc", "alias.cc", "c.cc"}));
  Files all = Match({"**"});
  EXPECT_EQ(std::count(all.begin(), all.end(), "escape"), 1);  // the link itself
  EXPECT_EQ(std::count(all.begin(), all.end(), "escape/secret"), 0);
  fs::remove_all(outside);
}

TEST_F(GlobTest, MissingRootIsAnError) {
  StatusOr<Files> files = Glob(root_ + "/nope", {"**"});
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.status().message().find(root_ + "/nope"), std::string::npos);
}

TEST_F(GlobTest, ManyDoubleStarsOnADeepTreeStayFast) {
  std::string deep;
  for (int i = 0; i < 30; ++i) deep += "a/";
  Write(deep + "a.txt");
  std::string pattern;
  for (int i = 0; i < 12; ++i) pattern += "**/a/";
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Match({pattern + "**/b"}), Files{});
  EXPECT_EQ(Match({pattern + "**/a.txt"}), Files{deep + "a.txt"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST_F(GlobTest, NothingMatchedIsEmpty) { EXPECT_EQ(Match({"*.rs", "nope/**"}), Files{}); }

}  // namespace
}  // namespace steward::pipeline
