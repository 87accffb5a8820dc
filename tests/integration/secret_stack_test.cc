// ${secret:NAME} in a stack, end to end with the real binary: a shell service that writes the
// SHA-256 of what it was given (never the value) to a file, so the test sees that the value
// reached its environment and its secret file; a rotation that the plan names and the apply
// rolls; and THE test of issue 8: after a full run, no byte of a known secret is anywhere under
// .steward/, in any command's output, or in any API answer.
#include <openssl/sha.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

namespace steward::testing {
namespace {
namespace fs = std::filesystem;

// Test-only values, distinctive enough that any hit is this test's.
constexpr const char* kPw1 = "pw1-c0ffee-5ecret-TESTONLY";
constexpr const char* kPw2 = "pw2-deadbeef-rotated-TESTONLY";
constexpr const char* kPw3 = "pw3-cafef00d-rotated-again-TESTONLY";
constexpr const char* kTls = "tls-k3y-material-TESTONLY";

std::string Sha256Hex(const std::string& data) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), d);
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : d) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A folder outside the project for the files the values are read from (`secret set --file`),
// so that only what Steward writes is under the project.
class ValueFiles {
 public:
  ValueFiles() {
    char tmpl[] = "/tmp/steward-secret-values-XXXXXX";
    dir_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~ValueFiles() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string Write(const std::string& name, const std::string& value) {
    std::string path = dir_ + "/" + name;
    WriteFile(path, value);
    chmod(path.c_str(), 0600);
    return path;
  }

 private:
  std::string dir_;
};

// The service: writes sha256 of $DB_URL, of its secret file and the file's mode to out/, each
// atomically, then sleeps. `file` is the secret file's path as the stack writes it.
std::string Stack(const std::string& file) {
  std::string script =
      "mkdir -p out; "
      "printf %s \"$DB_URL\" | sha256sum | cut -c1-64 > out/env.tmp && mv out/env.tmp "
      "out/env.sha; "
      "sha256sum < " + file + " | cut -c1-64 > out/file.tmp && mv out/file.tmp out/file.sha; "
      "stat -c %a " + file + " > out/mode.tmp && mv out/mode.tmp out/mode; "
      "echo started; exec sleep 600";
  return "project: secretshop\n"
         "services:\n"
         "  web:\n"
         "    command: [sh, -c, '" + script + "']\n"
         "    env:\n"
         "      DB_URL: \"postgres://app:${secret:db_pw}@db/app\"\n"
         "      LITERAL: \"$${secret:db_pw}\"\n"
         "    secret_files:\n"
         "      - {secret: tls_key, path: " + file + ", mode: \"0400\"}\n"
         "    stop_grace: 1s\n";
}

std::string UrlWith(const std::string& pw) { return "postgres://app:" + pw + "@db/app"; }

// Waits until the service has written the hashes of `pw` and of kTls.
bool Sees(Project& p, const std::string& pw) {
  return PollUntil(
      [&] {
        return Trim(ReadFile(p.dir() + "/out/env.sha")) == Sha256Hex(UrlWith(pw)) &&
               Trim(ReadFile(p.dir() + "/out/file.sha")) == Sha256Hex(kTls);
      },
      20000);
}

TEST(SecretStack, TheServiceSeesTheValueAndARotationRollsIt) {
  Project p;
  ValueFiles values;
  const std::string file = ".steward/run/web/tls.key";
  p.WriteStack(Stack(file));
  RunResult r = p.Steward({"secret", "set", "tls_key", "--file", values.Write("tls", kTls)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  // db_pw is not set yet: validate and plan say so, where, and how to fix it.
  r = p.Steward({"validate"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("steward.yaml:3:3: error: service 'web': env.DB_URL: secret 'db_pw' does "
                       "not exist; set it with `steward secret set db_pw`"),
            std::string::npos)
      << r.err;
  r = p.Steward({"plan"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("secret 'db_pw' does not exist"), std::string::npos) << r.out << r.err;

  r = p.Steward({"secret", "set", "db_pw", "--file", values.Write("pw1", kPw1)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(Sees(p, kPw1)) << ReadFile(p.dir() + "/out/env.sha");
  PollUntil([&] { return !ReadFile(p.dir() + "/out/mode").empty(); }, 10000);
  EXPECT_EQ(Trim(ReadFile(p.dir() + "/out/mode")), "400");
  r = p.Steward({"plan"});
  EXPECT_EQ(r.exit_code, 0) << "nothing changed: " << r.out << r.err;
  auto replicas = p.Replicas("web");
  ASSERT_EQ(replicas.size(), 1u);
  int old_pid = replicas[0].value("pid", 0);

  r = p.Steward({"secret", "rotate", "db_pw", "--file", values.Write("pw2", kPw2)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = p.Steward({"plan"});
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("secret db_pw rotated (v1 → v2)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("-/+"), std::string::npos) << "a replace: " << r.out;

  ASSERT_APPLY_OK(p);
  ASSERT_TRUE(Sees(p, kPw2)) << "the rolled replica has the new value";
  replicas = p.Replicas("web");
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_NE(replicas[0].value("pid", 0), old_pid);
  r = p.Steward({"plan"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // rotate --apply: one command stores the new version and rolls the services using it.
  int before = replicas[0].value("pid", 0);
  r = p.Steward({"secret", "rotate", "db_pw", "--apply", "--file", values.Write("pw3", kPw3)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("used by: web; rolling them onto version 3"), std::string::npos) << r.out;
  ASSERT_TRUE(Sees(p, kPw3)) << "rotate --apply rolled the replica";
  replicas = p.Replicas("web");
  ASSERT_EQ(replicas.size(), 1u);
  EXPECT_NE(replicas[0].value("pid", 0), before);
  r = p.Steward({"plan"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find(kPw3), std::string::npos);
  // The roll completed: the previous version is retired.
  r = p.Steward({"secret", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("\"previous_version\": 1"), std::string::npos) << r.out;

  // The secret file lives under the state dir: it goes with the service.
  ASSERT_TRUE(fs::exists(p.dir() + "/" + file));
  p.WriteStack("project: secretshop\nservices: {}\n");
  r = p.Steward({"apply"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(p.dir() + "/" + file));
}

// Every regular file under `root`, byte-wise, that holds any of `needles`.
std::vector<std::string> FilesHolding(const std::string& root,
                                      const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec || !it->is_regular_file()) continue;
    std::string data = ReadFile(it->path().string());
    for (const auto& n : needles)
      if (data.find(n) != std::string::npos) hits.push_back(it->path().string() + " has " + n);
  }
  return hits;
}

TEST(SecretStack, AKnownSecretNeverAppearsAnywhereAfterAFullRun) {
  Project p;
  ValueFiles values;
  // The secret file outside .steward/ (the service's own folder), so that every byte under
  // .steward/ is Steward's.
  p.WriteStack(Stack("run/tls.key"));
  std::vector<std::string> outputs;
  auto run = [&](const std::vector<std::string>& args) {
    RunResult r = p.Steward(args);
    outputs.push_back(r.out + r.err);
    return r;
  };
  ASSERT_EQ(run({"secret", "set", "tls_key", "--file", values.Write("tls", kTls)}).exit_code, 0);
  ASSERT_EQ(run({"secret", "set", "db_pw", "--file", values.Write("pw1", kPw1)}).exit_code, 0);
  run({"validate"});
  run({"validate", "--json"});
  run({"plan"});
  run({"plan", "--json"});
  RunResult r = run({"apply", "--listen", "127.0.0.1:0"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(Sees(p, kPw1));
  ASSERT_EQ(run({"secret", "rotate", "db_pw", "--file", values.Write("pw2", kPw2)}).exit_code, 0);
  run({"plan"});
  run({"plan", "--json"});
  ASSERT_EQ(run({"apply"}).exit_code, 0);
  ASSERT_TRUE(Sees(p, kPw2));
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"status"}, {"status", "--json"}, {"history"}, {"history", "--json"},
           {"logs", "web"}, {"secret", "list"}, {"secret", "list", "--json"},
           {"releases", "web"}, {"plan", "--destroy"}, {"plan", "--destroy", "--json"}})
    run(args);
  for (const char* path : {"/api/v1/status", "/api/v1/services", "/api/v1/replicas",
                           "/api/v1/history", "/api/v1/deploys", "/api/v1/monitors",
                           "/api/v1/targets", "/metrics"}) {
    auto j = p.Api(path);
    outputs.push_back(j ? j->dump() : std::string());
  }
  auto services = p.Api("/api/v1/services");
  ASSERT_TRUE(services.has_value());
  EXPECT_NE(services->dump().find("\"web\""), std::string::npos) << services->dump();
  ASSERT_EQ(run({"down"}).exit_code, 0);

  const std::vector<std::string> needles = {kPw1, kPw2, kTls};
  for (size_t i = 0; i < outputs.size(); ++i)
    for (const auto& n : needles)
      EXPECT_EQ(outputs[i].find(n), std::string::npos) << "output " << i << ": " << outputs[i];
  std::vector<std::string> hits = FilesHolding(p.StateDir(), needles);
  EXPECT_TRUE(hits.empty()) << ::testing::PrintToString(hits);
  // The search itself finds what is there: the state holds the reference (the recorded spec),
  // the service's own secret file the value.
  EXPECT_FALSE(FilesHolding(p.StateDir(), {"${secret:db_pw}"}).empty());
  EXPECT_EQ(FilesHolding(p.dir() + "/run", {kTls}).size(), 1u);
}

// A replica that prints its secret: the log file holds what it wrote, `steward logs` and a failed
// start's error show *** instead.
TEST(SecretStack, LogsAndStartErrorsMaskTheValuesAServicePrints) {
  Project p;
  ValueFiles values;
  p.WriteStack(
      "project: secretshop\n"
      "services:\n"
      "  chatty:\n"
      "    command: [sh, -c, \"echo token=$TOKEN; echo err $TOKEN >&2; exec sleep 600\"]\n"
      "    env: {TOKEN: \"${secret:api_token}\"}\n"
      "    stop_grace: 1s\n"
      "  failing:\n"
      "    command: [sh, -c, \"echo cannot use $TOKEN >&2; exit 3\"]\n"
      "    env: {TOKEN: \"${secret:api_token}\"}\n"
      "    health: {exec: [\"false\"], interval: 1s}\n"
      "    restart: never\n");
  RunResult r = p.Steward({"secret", "set", "api_token", "--file", values.Write("t", kPw1)});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = p.Steward({"apply", "--listen", "127.0.0.1:0"});
  EXPECT_NE(r.exit_code, 0) << "the failing service fails the apply: " << r.out << r.err;
  EXPECT_NE((r.out + r.err).find("cannot use ***"), std::string::npos) << r.out << r.err;
  EXPECT_EQ((r.out + r.err).find(kPw1), std::string::npos) << r.out << r.err;
  ASSERT_TRUE(PollUntil(
      [&] {
        return ReadFile(p.StateDir() + "/logs/chatty/0/stdout.log").find("token=") !=
               std::string::npos;
      },
      10000));
  r = p.Steward({"logs", "chatty"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("token=***"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("err ***"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find(kPw1), std::string::npos) << r.out;
  r = p.Steward({"history"});
  EXPECT_EQ((r.out + r.err).find(kPw1), std::string::npos) << r.out;
}

}  // namespace
}  // namespace steward::testing
