#include "pipeline/triggers.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "unit/pipeline/webhook_signature.h"

namespace steward::pipeline {
namespace {

const char* kGithubPush = R"({
  "ref": "refs/heads/main",
  "before": "0000000000000000000000000000000000000000",
  "after": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c",
  "repository": {"full_name": "team/app"},
  "pusher": {"name": "ada"},
  "head_commit": {"id": "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c", "message": "Fix the build\n\nDetails."}
})";

TEST(Webhook, GithubSignatureIsVerifiedAgainstTheExactBody) {
  std::string body = kGithubPush;
  std::map<std::string, std::string> h = {{"x-hub-signature-256", steward::testing::GithubSignature("s3cret", body)},
                                          {"X-GitHub-Event", "push"}};
  EXPECT_TRUE(VerifyWebhook(h, body, "s3cret").ok());
  // One changed byte, or another secret, fails; the message never shows the secret.
  Status bad = VerifyWebhook(h, body + " ", "s3cret");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.message().find("s3cret"), std::string::npos);
  EXPECT_FALSE(VerifyWebhook(h, body, "other").ok());
  h["x-hub-signature-256"] = "sha1=abc";
  EXPECT_FALSE(VerifyWebhook(h, body, "s3cret").ok());
}

TEST(Webhook, GitlabTokenAndUnsignedDeliveries) {
  EXPECT_TRUE(VerifyWebhook({{"X-Gitlab-Token", "tok"}}, "{}", "tok").ok());
  EXPECT_FALSE(VerifyWebhook({{"X-Gitlab-Token", "tok2"}}, "{}", "tok").ok());
  Status unsigned_ = VerifyWebhook({{"X-GitHub-Event", "push"}}, "{}", "tok");
  EXPECT_FALSE(unsigned_.ok());
  EXPECT_NE(unsigned_.message().find("not signed"), std::string::npos);
  EXPECT_FALSE(VerifyWebhook({{"X-Gitlab-Token", ""}}, "{}", "").ok());  // no secret configured
}

TEST(Webhook, ParsesGithubAndGitlabPushes) {
  auto gh = ParsePushPayload({{"X-GitHub-Event", "push"}, {"X-GitHub-Delivery", "d-1"}},
                             kGithubPush);
  ASSERT_TRUE(gh.ok()) << gh.status().ToString();
  ASSERT_TRUE(gh->has_value());
  EXPECT_EQ((*gh)->branch, "main");
  EXPECT_EQ((*gh)->commit, "1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c");
  EXPECT_EQ((*gh)->repository, "team/app");
  EXPECT_EQ((*gh)->pusher, "ada");
  EXPECT_EQ((*gh)->message, "Fix the build");
  EXPECT_EQ((*gh)->delivery, "d-1");

  std::string gl_body = R"({"object_kind":"push","ref":"refs/heads/release","after":"abc123",
    "user_username":"bob","project":{"path_with_namespace":"grp/svc"},
    "commits":[{"id":"abc123","message":"Ship it\n"}]})";
  auto gl = ParsePushPayload({{"X-Gitlab-Event", "Push Hook"}}, gl_body);
  ASSERT_TRUE(gl.ok());
  ASSERT_TRUE(gl->has_value());
  EXPECT_EQ((*gl)->provider, "gitlab");
  EXPECT_EQ((*gl)->branch, "release");
  EXPECT_EQ((*gl)->repository, "grp/svc");
  EXPECT_EQ((*gl)->message, "Ship it");
}

TEST(Webhook, OtherEventsAreIgnoredAndBadPayloadsNamed) {
  auto ping = ParsePushPayload({{"X-GitHub-Event", "ping"}}, "{}");
  ASSERT_TRUE(ping.ok());
  EXPECT_FALSE(ping->has_value());
  auto bad = ParsePushPayload({{"X-GitHub-Event", "push"}}, "not json");
  EXPECT_FALSE(bad.ok());
  auto noref = ParsePushPayload({{"X-GitHub-Event", "push"}}, R"({"after":"x"})");
  ASSERT_FALSE(noref.ok());
  EXPECT_NE(noref.status().message().find("'ref'"), std::string::npos);
  EXPECT_FALSE(ParsePushPayload({}, "{}").ok());
}

TEST(GitRepository, LocalPathsAreReadInPlaceAndUrlsFetched) {
  EXPECT_TRUE(IsLocalRepository("."));
  EXPECT_TRUE(IsLocalRepository("../app"));
  EXPECT_TRUE(IsLocalRepository("/srv/git/app.git"));
  EXPECT_FALSE(IsLocalRepository("file:///srv/git/app.git"));
  EXPECT_FALSE(IsLocalRepository("https://example.com/team/app.git"));
  EXPECT_FALSE(IsLocalRepository("git@example.com:team/app.git"));
}

class GitWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/steward-git-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Git("init -q -b main");
    Commit("one");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Git(const std::string& args) {
    std::string cmd = "cd " + dir_ + " && git -c user.name=t -c user.email=t@example.com " +
                      args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void Commit(const std::string& text) {
    std::ofstream(dir_ + "/file.txt") << text;
    Git("add file.txt");
    Git("commit -q -m " + text);
  }
  std::string dir_;
};

TEST_F(GitWatcherTest, LocalRepositoryNewCommitsAreSeenOnce) {
  GitWatcher w(dir_, dir_ + "-mirror");
  auto first = w.Poll("main");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->has_value());  // the first poll only records the head
  auto same = w.Poll("main");
  ASSERT_TRUE(same.ok());
  EXPECT_FALSE(same->has_value());
  Commit("two");
  auto next = w.Poll("main");
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->size(), 40u);
  auto head = w.Head("main");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(*head, **next);
  EXPECT_FALSE(w.Head("nope").ok());
}

TEST_F(GitWatcherTest, RemoteUrlIsFetchedIntoAMirror) {
  std::string mirror = dir_ + "-mirror";
  GitWatcher w("file://" + dir_, mirror);
  auto first = w.Poll("main");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  Commit("two");
  auto next = w.Poll("main");
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  ASSERT_TRUE(next->has_value());
  GitWatcher local(dir_, "");
  EXPECT_EQ(**next, *local.Head("main"));
  std::filesystem::remove_all(mirror);
  GitWatcher missing("file:///nonexistent/repo", mirror);
  EXPECT_FALSE(missing.Head("main").ok());
}

}  // namespace
}  // namespace steward::pipeline
