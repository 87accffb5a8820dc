// `steward secret …` end to end: the real binary, values through stdin and files, a second state
// directory with its own master key for export/import, and a byte-wise search of every file
// under both state directories and of every command's output for the values afterwards.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "integration/harness.h"

namespace steward::testing {
namespace {
namespace fs = std::filesystem;

// Runs steward in the project with `input` on stdin, `env` added and the master-key variables
// of the test's own environment removed: each command gets only the key it is given.
RunResult RunSteward(Project& project, const std::vector<std::string>& args,
                     const std::string& input = "",
                     const std::map<std::string, std::string>& env = {}) {
  return project.StewardWithInput(args, input, env,
                                  {"STEWARD_MASTER_KEY", "STEWARD_MASTER_KEY_FILE",
                                   "STEWARD_MASTER_PASSPHRASE", "STEWARD_EXPORT_PASSPHRASE",
                                   "STEWARD_STATE_DIR"});
}

std::string RandomToken(const std::string& prefix) {
  std::random_device rd;
  std::string s = prefix;
  for (int i = 0; i < 24; ++i) s += "0123456789abcdef"[rd() % 16];
  return s;
}

int Mode(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
}

// Every regular file under `dir` holding any of `needles`, byte-wise.
std::vector<std::string> FilesHolding(const std::string& dir,
                                      const std::vector<std::string>& needles) {
  std::vector<std::string> hits;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string bytes = ReadFile(it->path().string());
    for (const std::string& n : needles)
      if (bytes.find(n) != std::string::npos) hits.push_back(it->path().string());
  }
  return hits;
}

class SecretCli : public ::testing::Test {
 protected:
  // web uses db_password; worker is given `worker_keys` (none by default).
  static std::string Stack(const std::string& worker_keys = "", const std::string& more = "") {
    return "project: secrets\n"
           "services:\n"
           "  web:\n"
           "    command: " + DemoBinary() + "\n"
           "    env:\n"
           "      DB_PASSWORD: \"${secret:db_password}\"\n"
           "  worker:\n"
           "    command: " + DemoBinary() + "\n" + worker_keys + more;
  }
  void SetUp() override {
    project_.WriteStack(Stack());
    other_ = project_.dir() + "/elsewhere";  // a second machine's project
    fs::create_directories(other_);
  }
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "",
                const std::map<std::string, std::string>& env = {}) {
    RunResult r = RunSteward(project_, args, input, env);
    outputs_.push_back(r.out + r.err);
    return r;
  }

  Project project_;
  std::string other_;
  std::vector<std::string> outputs_;  // of every command but `get`
};

// "used by" names the services plan would roll: a secret_files user counts, an escaped
// $${secret:NAME} (literal text) does not.
TEST_F(SecretCli, UsedByNamesSecretFileUsersAndNotEscapedReferences) {
  project_.WriteStack(Stack("    env:\n"
                            "      NOT_A_REFERENCE: \"$${secret:db_password}\"\n",
                            "  certs:\n"
                            "    command: " + DemoBinary() + "\n"
                            "    secret_files:\n"
                            "      - {secret: tls_cert, path: tls.pem}\n"));
  RunResult cert = Run({"secret", "set", "tls_cert"}, RandomToken("cert-") + "\n");
  ASSERT_EQ(cert.exit_code, 0) << cert.out << cert.err;
  RunResult rotate = Run({"secret", "rotate", "tls_cert", "--json"}, RandomToken("cert-") + "\n");
  ASSERT_EQ(rotate.exit_code, 0) << rotate.out << rotate.err;
  EXPECT_EQ(nlohmann::json::parse(rotate.out)["services"], nlohmann::json({"certs"}));
  RunResult pw = Run({"secret", "set", "db_password", "--json"}, RandomToken("pw-") + "\n");
  ASSERT_EQ(pw.exit_code, 0) << pw.out << pw.err;
  EXPECT_EQ(nlohmann::json::parse(pw.out)["services"], nlohmann::json({"web"}));
  RunResult rm = Run({"secret", "rm", "tls_cert"});
  ASSERT_EQ(rm.exit_code, 0) << rm.out << rm.err;
  EXPECT_NE(rm.err.find("the stack's certs still use ${secret:tls_cert}"), std::string::npos) << rm.err;
}

TEST_F(SecretCli, SetGetListRotateRemoveExportImportAndNoValueLeaks) {
  const std::string v1 = RandomToken("first-"), v2 = RandomToken("second-"),
                    v3 = RandomToken("filed-");
  const std::string pass = RandomToken("passphrase-");

  RunResult set = Run({"secret", "set", "db_password"}, v1 + "\n");
  ASSERT_EQ(set.exit_code, 0) << set.out << set.err;
  EXPECT_NE(set.out.find("secret db_password: version 1 set"), std::string::npos) << set.out;
  EXPECT_NE(set.err.find("created master key " + project_.StateDir() + "/master.key"),
            std::string::npos)
      << set.err;
  EXPECT_EQ(Mode(project_.StateDir() + "/master.key"), 0600);

  RunResult get = RunSteward(project_, {"secret", "get", "db_password"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, v1);  // the trailing newline of stdin was dropped; none added on a pipe

  RunResult list = Run({"secret", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0]["name"], "db_password");
  EXPECT_EQ(listed[0]["version"], 1);
  EXPECT_FALSE(listed[0].contains("value"));
  const std::string key_id = listed[0]["key_id"];
  EXPECT_EQ(key_id.size(), 16u);

  // No value argument exists: a value on the command line is refused, and nothing is stored.
  RunResult argv_value = Run({"secret", "set", "db_password", "on-the-command-line"});
  EXPECT_NE(argv_value.exit_code, 0);

  RunResult rotate = Run({"secret", "rotate", "db_password"}, v2);
  ASSERT_EQ(rotate.exit_code, 0) << rotate.out << rotate.err;
  EXPECT_NE(rotate.out.find("version 2 is current; version 1 is kept"), std::string::npos)
      << rotate.out;
  // The stack names web (not worker) as a user of the secret.
  RunResult validate = RunSteward(project_, {"validate"});
  ASSERT_EQ(validate.exit_code, 0) << validate.out << validate.err;
  EXPECT_NE(rotate.out.find(
                "used by: web; `steward apply` (or rotate --apply) rolls them onto version 2"),
            std::string::npos)
      << rotate.out;
  get = RunSteward(project_, {"secret", "get", "db_password"});
  EXPECT_EQ(get.out, v2);
  get = RunSteward(project_, {"secret", "get", "db_password", "--version", "1"});
  EXPECT_EQ(get.out, v1);
  get = RunSteward(project_, {"secret", "get", "db_password", "--json"});
  EXPECT_EQ(nlohmann::json::parse(get.out)["value"], v2);

  list = Run({"secret", "list", "--json"});
  listed = nlohmann::json::parse(list.out);
  EXPECT_EQ(listed[0]["version"], 2);
  EXPECT_EQ(listed[0]["previous_version"], 1);

  // A value from a file, outside the state dir, every byte kept.
  const std::string value_file = other_ + "/value.txt";
  WriteFile(value_file, v3 + "\n");
  RunResult filed = Run({"secret", "set", "api_token", "--file", value_file});
  ASSERT_EQ(filed.exit_code, 0) << filed.err;
  fs::remove(value_file);
  get = RunSteward(project_, {"secret", "get", "api_token"});
  EXPECT_EQ(get.out, v3 + "\n");

  // Export, then import into a second state dir with its own master key.
  const std::string bundle = other_ + "/secrets.export";
  RunResult exp = Run({"secret", "export", "--out", bundle}, "",
                      {{"STEWARD_EXPORT_PASSPHRASE", pass}});
  ASSERT_EQ(exp.exit_code, 0) << exp.out << exp.err;
  EXPECT_EQ(Mode(bundle), 0600);
  RunResult again = Run({"secret", "export", "--out", bundle}, "",
                        {{"STEWARD_EXPORT_PASSPHRASE", pass}});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos);
  RunResult no_pass = Run({"secret", "export", "--out", other_ + "/x.export"});
  EXPECT_EQ(no_pass.exit_code, 1);
  EXPECT_NE(no_pass.err.find("STEWARD_EXPORT_PASSPHRASE"), std::string::npos) << no_pass.err;

  const std::string state2 = other_ + "/.steward";
  RunResult wrong = Run({"--state-dir", state2, "secret", "import", bundle}, "",
                        {{"STEWARD_EXPORT_PASSPHRASE", pass + "x"}});
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("wrong passphrase"), std::string::npos) << wrong.err;
  RunResult imp = Run({"--state-dir", state2, "secret", "import", bundle, "--json"}, "",
                      {{"STEWARD_EXPORT_PASSPHRASE", pass}});
  ASSERT_EQ(imp.exit_code, 0) << imp.out << imp.err;
  EXPECT_EQ(nlohmann::json::parse(imp.out)["imported"].size(), 2u);
  get = RunSteward(project_, {"--state-dir", state2, "secret", "get", "db_password"});
  EXPECT_EQ(get.out, v2);
  list = Run({"--state-dir", state2, "secret", "list", "--json"});
  listed = nlohmann::json::parse(list.out);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_NE(listed[0]["key_id"], key_id);
  RunResult skip = Run({"--state-dir", state2, "secret", "import", bundle}, "",
                       {{"STEWARD_EXPORT_PASSPHRASE", pass}});
  EXPECT_EQ(skip.exit_code, 0);
  EXPECT_NE(skip.out.find("0 imported, 2 skipped"), std::string::npos) << skip.out;

  // The other machine's key cannot open this one's secrets: a clear error, nothing lost.
  RunResult wrong_key = Run({"secret", "get", "db_password", "--master-key-file",
                             state2 + "/master.key"});
  EXPECT_EQ(wrong_key.exit_code, 1);
  EXPECT_NE(wrong_key.err.find("secret 'db_password' cannot be opened with this master key"),
            std::string::npos)
      << wrong_key.err;
  EXPECT_NE(wrong_key.err.find("sealed with " + key_id), std::string::npos);
  RunResult wrong_set = Run({"secret", "set", "db_password", "--master-key-file",
                             state2 + "/master.key"}, RandomToken("never-stored-"));
  EXPECT_EQ(wrong_set.exit_code, 1);
  get = RunSteward(project_, {"secret", "get", "db_password"});
  EXPECT_EQ(get.out, v2);

  RunResult rm = Run({"secret", "rm", "api_token"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  RunResult gone = Run({"secret", "get", "api_token"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("secret 'api_token' does not exist"), std::string::npos) << gone.err;

  // A group-readable key file is refused with the fix in the message.
  chmod((project_.StateDir() + "/master.key").c_str(), 0640);
  RunResult loose = Run({"secret", "get", "db_password"});
  EXPECT_EQ(loose.exit_code, 1);
  EXPECT_NE(loose.err.find("chmod 600"), std::string::npos) << loose.err;
  chmod((project_.StateDir() + "/master.key").c_str(), 0600);

  const std::vector<std::string> values = {v1, v2, v3};
  EXPECT_EQ(FilesHolding(project_.StateDir(), values), std::vector<std::string>{});
  EXPECT_EQ(FilesHolding(state2, values), std::vector<std::string>{});
  EXPECT_EQ(FilesHolding(other_, {v1, v2, v3, pass}), std::vector<std::string>{});
  for (const std::string& out : outputs_) {
    for (const std::string& v : values) EXPECT_EQ(out.find(v), std::string::npos) << out;
    EXPECT_EQ(out.find(pass), std::string::npos) << out;
  }
}

TEST_F(SecretCli, ReadCommandsOnAFreshProjectCreateNothing) {
  RunResult list = Run({"secret", "list"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("no secrets"), std::string::npos);
  RunResult get = Run({"secret", "get", "x"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_NE(get.err.find("no secrets in"), std::string::npos) << get.err;
  EXPECT_FALSE(fs::exists(project_.StateDir()));
  RunResult empty = Run({"secret", "set", "x"}, "");
  EXPECT_EQ(empty.exit_code, 1);
  EXPECT_NE(empty.err.find("the value is empty"), std::string::npos) << empty.err;
  RunResult bad = Run({"secret", "set", "no/slash"}, "v");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("secret name 'no/slash'"), std::string::npos) << bad.err;
  for (const char* sub : {"set", "get", "list", "rm", "rotate", "export", "import"}) {
    RunResult help = Run({"secret", sub, "--help"});
    EXPECT_EQ(help.exit_code, 0) << sub;
    EXPECT_NE(help.out.find("--json"), std::string::npos) << sub;
  }
}

}  // namespace
}  // namespace steward::testing
