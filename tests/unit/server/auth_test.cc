// The API's access rules: the scope table, the failed-auth limiter, CORS, tokens and the listen
// check (server/auth.h), and the audit result text (server/audit.h).
#include "server/auth.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "server/audit.h"

namespace steward::server {
namespace {

TEST(Scopes, ReadCoversGetsAndQueryPostsOnly) {
  for (const char* path : {"/api/v1/status", "/api/v1/history", "/api/v2/silences",
                           "/api/v1/incidents/3", "/runbooks/StewardReplicaDown"}) {
    EXPECT_EQ(RequiredScope("GET", path), Scope::kRead) << path;
    EXPECT_EQ(RequiredScope("HEAD", path), Scope::kRead) << path;
  }
  for (const char* path :
       {"/api/v1/query", "/api/v1/query_range", "/api/v1/series", "/api/v1/labels", "/api/v1/plan"})
    EXPECT_EQ(RequiredScope("POST", path), Scope::kRead) << path;
}

TEST(Scopes, DeployCoversReleaseWork) {
  for (const char* path :
       {"/api/v1/apply", "/api/v1/deploys", "/api/v1/services/web/rollback",
        "/api/v1/pipelines/ci/runs", "/api/v1/runs/12/cancel", "/api/v1/backups/db/run",
        "/api/v2/silences", "/api/v2/alerts", "/api/v1/incidents/4/ack",
        "/api/v1/incidents/4/resolve", "/api/v1/incidents/4/note"})
    EXPECT_EQ(RequiredScope("POST", path), Scope::kDeploy) << path;
  EXPECT_EQ(RequiredScope("DELETE", "/api/v2/silence/0b1c"), Scope::kDeploy);
}

TEST(Scopes, AdminCoversDestructionAndAnythingUnknown) {
  for (const char* path :
       {"/api/v1/destroy", "/api/v1/down", "/-/reload", "/api/v1/admin/tsdb/flush",
        "/api/v1/secrets/db-password", "/api/v1/tokens", "/api/v1/something-new",
        // near misses of deploy routes stay closed
        "/api/v1/services/web/rollback/x", "/api/v1/applyx"})
    EXPECT_EQ(RequiredScope("POST", path), Scope::kAdmin) << path;
  EXPECT_EQ(RequiredScope("PUT", "/api/v1/apply"), Scope::kAdmin);
  EXPECT_EQ(RequiredScope("DELETE", "/api/v1/incidents/4"), Scope::kAdmin);
}

TEST(Scopes, OrderAndNames) {
  EXPECT_TRUE(ScopeAllows(Scope::kAdmin, Scope::kDeploy));
  EXPECT_TRUE(ScopeAllows(Scope::kDeploy, Scope::kRead));
  EXPECT_FALSE(ScopeAllows(Scope::kRead, Scope::kDeploy));
  EXPECT_FALSE(ScopeAllows(Scope::kDeploy, Scope::kAdmin));
  for (Scope s : {Scope::kRead, Scope::kDeploy, Scope::kAdmin})
    EXPECT_EQ(ParseScope(ScopeName(s)), s);
  EXPECT_FALSE(ParseScope("write").has_value());
  EXPECT_FALSE(ParseScope("ADMIN").has_value());
}

TEST(Audit, MutatingCallsAndRefusalsAreAudited) {
  EXPECT_TRUE(AuditedCall("POST", "/api/v1/apply", 200));
  EXPECT_TRUE(AuditedCall("DELETE", "/api/v2/silence/x", 200));
  EXPECT_TRUE(AuditedCall("POST", "/api/v1/destroy", 500));
  EXPECT_FALSE(AuditedCall("GET", "/api/v1/status", 401));
  EXPECT_FALSE(AuditedCall("OPTIONS", "/api/v1/apply", 403));
  // A PromQL POST is a read: only its refusals are on record.
  EXPECT_FALSE(AuditedCall("POST", "/api/v1/query", 200));
  EXPECT_TRUE(AuditedCall("POST", "/api/v1/query", 401));
  EXPECT_TRUE(AuditedCall("POST", "/api/v1/query", 429));
}

TEST(Audit, ResultTextIsShortAndNeverABody) {
  EXPECT_EQ(AuditResult(200, ""), "ok");
  EXPECT_EQ(AuditResult(202, "ignored"), "ok");
  EXPECT_EQ(AuditResult(401, "missing token"), "denied");
  EXPECT_EQ(AuditResult(403, "x"), "denied");
  EXPECT_EQ(AuditResult(429, ""), "denied");
  EXPECT_EQ(AuditResult(400, "missing 'stack'"), "error: missing 'stack'");
  EXPECT_EQ(AuditResult(413, ""), "error: HTTP 413");
  std::string long_text(100, 'a');
  for (int i = 0; i < 100; ++i) long_text += "é";  // two bytes each
  std::string r = AuditResult(500, long_text);
  EXPECT_LE(r.size(), std::string("error: ").size() + 160 + std::string("…").size());
  // Cut at a character boundary: what is left before the ellipsis is whole characters.
  std::string kept = r.substr(7, r.size() - 7 - std::string("…").size());
  EXPECT_EQ((kept.size() - 100) % 2, 0u);
}

TEST(FailureLimiter, TheEleventhAttemptInAMinuteIsRefused) {
  FakeClock clock;
  FailureLimiter limiter({10, Duration(60'000), Duration(60'000), 100}, &clock);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(limiter.Blocked("10.0.0.1").count(), 0) << "attempt " << i + 1;
    limiter.RecordFailure("10.0.0.1");
    clock.Advance(Duration(1000));
  }
  Duration wait = limiter.Blocked("10.0.0.1");
  EXPECT_GT(wait.count(), 0);
  EXPECT_LE(wait.count(), 60'000);
  EXPECT_EQ(limiter.Blocked("10.0.0.2").count(), 0) << "other addresses are not affected";
  clock.Advance(wait);
  EXPECT_EQ(limiter.Blocked("10.0.0.1").count(), 0) << "the block is bounded";
}

TEST(FailureLimiter, FailuresSpreadOverMoreThanTheWindowDoNotBlock) {
  FakeClock clock;
  FailureLimiter limiter({10, Duration(60'000), Duration(60'000), 100}, &clock);
  for (int i = 0; i < 30; ++i) {
    limiter.RecordFailure("10.0.0.1");
    clock.Advance(Duration(7000));  // 9 per 63 s at most
    if (i % 9 == 8) clock.Advance(Duration(60'000));
  }
  EXPECT_EQ(limiter.Blocked("10.0.0.1").count(), 0);
}

TEST(FailureLimiter, MemoryIsBoundedUnderAFloodOfAddresses) {
  FakeClock clock;
  FailureLimiter limiter({3, Duration(60'000), Duration(60'000), 50}, &clock);
  for (int i = 0; i < 3; ++i) limiter.RecordFailure("attacker");
  ASSERT_GT(limiter.Blocked("attacker").count(), 0);
  clock.Advance(Duration(1));
  for (int i = 0; i < 10'000; ++i) {
    limiter.RecordFailure("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256));
    EXPECT_LE(limiter.tracked(), 50u);
  }
  // A flood of one-off addresses evicts the oldest first; the blocked one was recorded before
  // them, so it may go — what matters is that memory stayed bounded.
  EXPECT_LE(limiter.tracked(), 50u);
}

TEST(FailureLimiter, OnlyTheDefaultLocalClientAddressesAreExempt) {
  EXPECT_TRUE(ExemptFromFailureLimit("127.0.0.1"));
  EXPECT_TRUE(ExemptFromFailureLimit("::1"));
  EXPECT_TRUE(ExemptFromFailureLimit("::ffff:127.0.0.1"));
  for (const char* remote : {"127.0.0.9", "10.0.0.1", "192.168.1.20", "::ffff:10.0.0.1", ""})
    EXPECT_FALSE(ExemptFromFailureLimit(remote)) << remote;
}

TEST(Cors, OffByDefaultAndExactOriginsOnly) {
  CorsPolicy off;
  EXPECT_EQ(off.AllowOrigin("https://grafana.example.com"), "");
  CorsPolicy on{{"https://grafana.example.com", "http://localhost:3000"}};
  EXPECT_EQ(on.AllowOrigin("https://grafana.example.com"), "https://grafana.example.com");
  EXPECT_EQ(on.AllowOrigin("http://localhost:3000"), "http://localhost:3000");
  EXPECT_EQ(on.AllowOrigin("https://grafana.example.com.evil.net"), "");
  EXPECT_EQ(on.AllowOrigin("http://grafana.example.com"), "");
  EXPECT_EQ(on.AllowOrigin(""), "");
  EXPECT_TRUE(ValidateCorsOrigin("https://grafana.example.com").ok());
  EXPECT_TRUE(ValidateCorsOrigin("http://localhost:3000").ok());
  for (const char* bad : {"*", "grafana.example.com", "https://x.com/path", "ftp://x.com", ""})
    EXPECT_EQ(ValidateCorsOrigin(bad).code(), StatusCode::kInvalidArgument) << bad;
}

TEST(Tokens, NewTokensArePrefixedRandomAndHashed) {
  auto a = NewApiToken();
  auto b = NewApiToken();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->rfind("stw_", 0), 0u);
  EXPECT_EQ(a->size(), 4u + 64u);
  EXPECT_NE(*a, *b);
  // FIPS 180-2 test vector.
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_TRUE(TokenMatches("secret", "secret"));
  EXPECT_FALSE(TokenMatches("secret", "secreT"));
  EXPECT_FALSE(TokenMatches("secret", "secret2"));
}

TEST(Tokens, NamesAreCheckedAndReservedOnesRefused) {
  EXPECT_TRUE(ValidateTokenName("ci-deploy").ok());
  EXPECT_TRUE(ValidateTokenName("grafana.read_1").ok());
  for (const char* bad : {"", "admin", "-", "has space", "semi;colon", "ünï"})
    EXPECT_EQ(ValidateTokenName(bad).code(), StatusCode::kInvalidArgument) << bad;
  EXPECT_FALSE(ValidateTokenName(std::string(65, 'a')).ok());
}

TEST(Listen, NonLoopbackNeedsTlsOrTheExplicitFlag) {
  EXPECT_TRUE(CheckApiListen("127.0.0.1", "", "", false).ok());
  EXPECT_TRUE(CheckApiListen("127.0.3.4", "", "", false).ok());
  EXPECT_TRUE(CheckApiListen("localhost", "", "", false).ok());
  EXPECT_TRUE(CheckApiListen("::1", "", "", false).ok());
  for (const char* host : {"0.0.0.0", "::", "10.0.0.5", "127.evil.example", ""}) {
    Status st = CheckApiListen(host, "", "", false);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << host;
    EXPECT_NE(st.message().find("--tls-cert"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("--insecure-listen"), std::string::npos) << st.message();
    EXPECT_TRUE(CheckApiListen(host, "", "", true).ok()) << host;
  }
  Status missing =
      CheckApiListen("0.0.0.0", "/nonexistent/cert.pem", "/nonexistent/key.pem", false);
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.message().find("/nonexistent/cert.pem"), std::string::npos)
      << missing.message();
  EXPECT_EQ(CheckApiListen("127.0.0.1", "cert.pem", "", false).code(),
            StatusCode::kInvalidArgument);
}

// A stored token is found by its hash, its last use is recorded, and a removed one stops
// working once the short cache expires.
TEST(TokenAuthenticator, AdminTokenAndStoredTokens) {
  std::string dir =
      (std::filesystem::temp_directory_path() / ("auth_test_" + std::to_string(::getpid())))
          .string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  FakeClock clock;
  auto store = state::OpenSqliteStateStore(dir, &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto token = NewApiToken();
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE((*store)->PutApiToken({"ci", "deploy", Sha256Hex(*token), 1, 0}).ok());
  TokenAuthenticator auth(std::string(64, 'a'), store->get(), &clock);

  auto admin = auth.Authenticate(std::string(64, 'a'));
  ASSERT_TRUE(admin.has_value());
  EXPECT_EQ(admin->name, "admin");
  EXPECT_EQ(admin->scope, Scope::kAdmin);
  auto ci = auth.Authenticate(*token);
  ASSERT_TRUE(ci.has_value());
  EXPECT_EQ(ci->name, "ci");
  EXPECT_EQ(ci->scope, Scope::kDeploy);
  EXPECT_FALSE(auth.Authenticate("stw_" + std::string(64, '0')).has_value());
  EXPECT_FALSE(auth.Authenticate("").has_value());
  auto listed = (*store)->ListApiTokens();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_GT((*listed)[0].last_used_ms, 0) << "the first use is recorded";

  ASSERT_TRUE((*store)->DeleteApiToken("ci").ok());
  clock.Advance(Duration(6000));
  EXPECT_FALSE(auth.Authenticate(*token).has_value()) << "revoked within the cache time";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace steward::server
