// Secrets at replica start: env templates resolved into the child's environment, secret files
// written with their mode and removed with the service's last replica, a missing secret failing
// the start by name, replica output the runtime quotes masked; and StateDirSecrets over a real
// state store and master key.
#include "runtime/secret_env.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "config/secret_refs.h"
#include "runtime/runtime.h"
#include "state/sqlite_state_store.h"
#include "unit/runtime/fake_driver.h"
#include "unit/state/temp_dir.h"

namespace steward::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr const char* kDbPw = "pw-7f3a9c-test-only";
constexpr const char* kTls = "tls-key-bytes-test-only";

class FakeSecrets : public secrets::SecretResolver {
 public:
  std::map<std::string, secrets::ResolvedSecret> values;
  StatusOr<secrets::ResolvedSecret> Resolve(const std::string& name) override {
    auto it = values.find(name);
    if (it == values.end()) return NotFound(config::MissingSecretMessage(name));
    return it->second;
  }
  StatusOr<int64_t> CurrentVersion(const std::string& name) override {
    ASSIGN_OR_RETURN(secrets::ResolvedSecret s, Resolve(name));
    return s.version;
  }
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

int ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return static_cast<int>(st.st_mode & 0777);
}

class SecretStartTest : public ::testing::Test {
 protected:
  SecretStartTest() {
    secrets_.values["db_pw"] = {kDbPw, 1};
    secrets_.values["tls_key"] = {kTls, 2};
    RuntimeOptions o;
    o.driver = &driver_;
    o.clock = &clock_;
    o.log_root = dir_.path() + "/logs";
    o.base_env = {{"PATH", "/bin:/usr/bin"}};
    o.secrets = &secrets_;
    o.masking_values = [] { return std::vector<std::string>{kDbPw, kTls}; };
    o.state_dir = dir_.path();
    runtime_ = std::make_unique<Runtime>(std::move(o));
  }
  ~SecretStartTest() override { runtime_.reset(); }

  config::Service Web() {
    config::Service s;
    s.name = "web";
    s.command = "/usr/bin/web";
    s.env = {{"DATABASE_URL", "postgres://app:${secret:db_pw}@db/app"},
             {"LITERAL", "$${secret:db_pw}"},
             {"PLAIN", "x"}};
    s.secret_files = {{"tls_key", dir_.path() + "/run/web/tls.key", 0400, {}},
                      {"db_pw", outside_.path() + "/db.pw", 0640, {}}};
    return s;
  }

  state::testing::TempDir dir_;
  state::testing::TempDir outside_;
  FakeClock clock_;
  testing::FakeDriver driver_;
  FakeSecrets secrets_;
  std::unique_ptr<Runtime> runtime_;
};

TEST_F(SecretStartTest, ResolvesEnvIntoTheChildAndWritesFilesWithTheirMode) {
  ASSERT_TRUE(runtime_->StartReplica(Web(), 0, 1, 8000).ok());
  ASSERT_EQ(driver_.start_count(), 1u);
  drivers::ReplicaSpec spec = driver_.starts()[0];
  EXPECT_EQ(spec.env.at("DATABASE_URL"), std::string("postgres://app:") + kDbPw + "@db/app");
  EXPECT_EQ(spec.env.at("LITERAL"), "${secret:db_pw}");
  EXPECT_EQ(spec.env.at("PLAIN"), "x");
  std::string tls = dir_.path() + "/run/web/tls.key";
  EXPECT_EQ(ReadAll(tls), kTls);
  EXPECT_EQ(ModeOf(tls), 0400);
  EXPECT_EQ(ModeOf(dir_.path() + "/run/web"), 0700);
  EXPECT_EQ(ReadAll(outside_.path() + "/db.pw"), kDbPw);
  EXPECT_EQ(ModeOf(outside_.path() + "/db.pw"), 0640);
  // No temporary file is left beside them.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_.path() + "/run/web"), {}), 1);
}

TEST_F(SecretStartTest, ARotatedValueReachesTheNextStartAndOverwritesTheFile) {
  ASSERT_TRUE(runtime_->StartReplica(Web(), 0, 1, 8000).ok());
  secrets_.values["tls_key"] = {"tls-key-rotated-test", 3};
  ASSERT_TRUE(runtime_->StartReplica(Web(), 0, 2, 8001).ok());
  EXPECT_EQ(ReadAll(dir_.path() + "/run/web/tls.key"), "tls-key-rotated-test");
  EXPECT_EQ(ModeOf(dir_.path() + "/run/web/tls.key"), 0400);
}

TEST_F(SecretStartTest, FilesUnderTheStateDirGoWithTheServicesLastReplica) {
  ASSERT_TRUE(runtime_->StartReplica(Web(), 0, 1, 8000).ok());
  ASSERT_TRUE(runtime_->StartReplica(Web(), 1, 1, 8001).ok());
  std::string tls = dir_.path() + "/run/web/tls.key";
  ASSERT_TRUE(runtime_->StopReplica({"web", 0, 1}).ok());
  EXPECT_TRUE(fs::exists(tls)) << "replica 1 still runs with it";
  ASSERT_TRUE(runtime_->StopReplica({"web", 1, 1}).ok());
  EXPECT_FALSE(fs::exists(tls));
  EXPECT_TRUE(fs::exists(outside_.path() + "/db.pw")) << "outside the state dir: the operator's";
}

TEST_F(SecretStartTest, AMissingSecretFailsTheStartNamingItAndNoValue) {
  config::Service web = Web();
  web.env["API_KEY"] = "${secret:api_key}";
  Status st = runtime_->StartReplica(web, 0, 1, 8000);
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(),
              HasSubstr("secret 'api_key' does not exist; set it with `steward secret set api_key`"));
  EXPECT_THAT(st.message(), Not(HasSubstr(kDbPw)));
  EXPECT_EQ(driver_.start_count(), 0u);
}

TEST_F(SecretStartTest, WithoutAResolverAServiceUsingSecretsDoesNotStart) {
  RuntimeOptions o;
  o.driver = &driver_;
  o.clock = &clock_;
  o.log_root = dir_.path() + "/logs";
  Runtime rt(std::move(o));
  Status st = rt.StartReplica(Web(), 0, 1, 8000);
  EXPECT_THAT(st.message(), HasSubstr("uses secrets"));
  EXPECT_EQ(driver_.start_count(), 0u);
}

TEST_F(SecretStartTest, TheStderrTailOfAFailedStartIsMasked) {
  ASSERT_TRUE(runtime_->StartReplica(Web(), 0, 1, 8000).ok());
  fs::create_directories(runtime_->LogDir("web", 0));
  std::ofstream(runtime_->LogDir("web", 0) + "/stderr.log")
      << "connecting with " << kDbPw << "\nfatal: key " << kTls << " refused\n";
  driver_.Exit(testing::FakeDriver::kFirstPid, 3);
  runtime_->Tick();
  Status st = runtime_->WaitReady({"web", 0, 1}, Duration(5000));
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("connecting with ***"));
  EXPECT_THAT(st.message(), HasSubstr("fatal: key *** refused"));
  EXPECT_THAT(st.message(), Not(HasSubstr(kDbPw)));
  EXPECT_THAT(st.message(), Not(HasSubstr(kTls)));
}

TEST(WriteFileAtomically, ReplacesTheFileWithTheGivenMode) {
  state::testing::TempDir dir;
  std::string path = dir.path() + "/f";
  ASSERT_TRUE(WriteFileAtomically(path, "one", 0600).ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two", 0440).ok());
  EXPECT_EQ(ReadAll(path), "two");
  EXPECT_EQ(ModeOf(path), 0440);
  EXPECT_FALSE(WriteFileAtomically(dir.path() + "/missing/f", "x", 0600).ok());
}

// StateDirSecrets over the real store: versions without a key, values once a key exists (made
// after it was constructed, as `steward secret set` does beside a running daemon).
TEST(StateDirSecrets, FindsTheKeyMadeAfterItStartedAndMapsUnknownNames) {
  state::testing::TempDir dir;
  auto store = state::OpenSqliteStateStore(dir.path(), RealClock::Get());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  secrets::MasterKeyOptions no_env;
  no_env.getenv = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  StateDirSecrets daemon(store->get(), dir.path(), RealClock::Get(), no_env);
  EXPECT_EQ(daemon.CurrentVersion("db_pw").status().message(),
            "secret 'db_pw' does not exist; set it with `steward secret set db_pw`");
  EXPECT_TRUE(daemon.MaskingValues().empty());

  auto key = secrets::LoadMasterKey(dir.path(), no_env, /*create_if_missing=*/true);
  ASSERT_TRUE(key.ok()) << key.status().ToString();
  secrets::SecretStore cli(store->get(), *key, RealClock::Get());
  ASSERT_TRUE(cli.Set("db_pw", kDbPw).ok());
  ASSERT_TRUE(cli.Rotate("db_pw", "pw-rotated-test-only").ok());

  EXPECT_EQ(*daemon.CurrentVersion("db_pw"), 2);
  auto v = daemon.Resolve("db_pw");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->value, "pw-rotated-test-only");
  EXPECT_THAT(daemon.MaskingValues(), ::testing::UnorderedElementsAre(kDbPw, "pw-rotated-test-only"));
  ASSERT_TRUE(daemon.CompleteRoll("db_pw").ok());
  EXPECT_THAT(daemon.MaskingValues(), ::testing::ElementsAre("pw-rotated-test-only"));
  EXPECT_EQ(daemon.Resolve("nope").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace steward::runtime
