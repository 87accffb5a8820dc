#include "secrets/master_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <map>
#include <thread>
#include <vector>

#include "unit/state/temp_dir.h"

namespace steward::secrets {
namespace {

using state::testing::ReadFile;
using state::testing::TempDir;
using state::testing::WriteFile;

// An environment for LoadMasterKey that is not the test process's.
MasterKeyOptions WithEnv(std::map<std::string, std::string> env) {
  MasterKeyOptions o;
  o.getenv = [env](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
  // The cheapest Argon2id libsodium accepts: the tests check stability, not strength.
  o.kdf_ops = 1;
  o.kdf_mem = 8192;
  return o;
}

int Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// 32 known bytes as base64 (bytes 0..31).
std::string KnownKeyBase64() {
  std::string raw;
  for (int i = 0; i < 32; ++i) raw += static_cast<char>(i);
  return Base64Encode(raw);
}

TEST(MasterKey, CreatesKeyFileMode0600OnFirstUseAndReusesIt) {
  TempDir dir;
  const std::string state = dir.Sub("state");  // not there yet: created too
  auto first = LoadMasterKey(state, WithEnv({}), /*create_if_missing=*/true);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(Mode(state + "/master.key"), 0600);
  EXPECT_EQ(Mode(state), 0700);
  EXPECT_EQ(first->source(), state + "/master.key");
  ASSERT_EQ(first->id().size(), 16u);
  EXPECT_EQ(first->id().find_first_not_of("0123456789abcdef"), std::string::npos);

  auto again = LoadMasterKey(state, WithEnv({}), /*create_if_missing=*/false);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(again->bytes(), first->bytes());
  // The file holds the key as base64, never its id; and the id is not a piece of the key.
  auto stored = Base64Decode(ReadFile(state + "/master.key"));
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->size(), 32u);
  EXPECT_EQ(std::memcmp(stored->data(), first->bytes().data(), 32), 0);
}

TEST(MasterKey, WithoutAnySourceAndNoCreateNamesEverySource) {
  TempDir dir;
  auto key = LoadMasterKey(dir.path(), WithEnv({}), false);
  ASSERT_EQ(key.status().code(), StatusCode::kNotFound);
  for (const char* source : {"--master-key-file", "STEWARD_MASTER_KEY", "STEWARD_MASTER_KEY_FILE",
                             "STEWARD_MASTER_PASSPHRASE", "master.key"}) {
    EXPECT_NE(key.status().message().find(source), std::string::npos) << key.status().message();
  }
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("master.key")));
}

TEST(MasterKey, RefusesAKeyFileGroupOrOthersCanRead) {
  TempDir dir;
  ASSERT_TRUE(LoadMasterKey(dir.path(), WithEnv({}), true).ok());
  const std::string path = dir.Sub("master.key");
  ASSERT_EQ(chmod(path.c_str(), 0644), 0);
  auto key = LoadMasterKey(dir.path(), WithEnv({}), true);
  ASSERT_EQ(key.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(key.status().message().find("chmod 600 " + path), std::string::npos)
      << key.status().message();
  EXPECT_NE(key.status().message().find("0644"), std::string::npos);
  // The same rule holds for a configured file.
  MasterKeyOptions o = WithEnv({});
  o.key_file = path;
  EXPECT_EQ(LoadMasterKey(dir.Sub("other"), o, true).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  EXPECT_TRUE(LoadMasterKey(dir.Sub("other"), o, true).ok());
}

TEST(MasterKey, SourcesInOrderFlagThenKeyThenKeyFileThenPassphrase) {
  TempDir dir;
  const std::string flag_file = dir.Sub("flag.key"), env_file = dir.Sub("env.key");
  WriteFile(flag_file, KnownKeyBase64() + "\n");
  std::string raw(32, 'k');  // a key file may hold 32 raw bytes too
  WriteFile(env_file, raw);
  chmod(flag_file.c_str(), 0600);
  chmod(env_file.c_str(), 0600);
  std::string other(32, 'e');
  std::map<std::string, std::string> env = {{"STEWARD_MASTER_KEY", Base64Encode(other)},
                                            {"STEWARD_MASTER_KEY_FILE", env_file},
                                            {"STEWARD_MASTER_PASSPHRASE", "correct horse"}};
  MasterKeyOptions o = WithEnv(env);
  o.key_file = flag_file;
  auto k = LoadMasterKey(dir.Sub("s"), o, true);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(k->bytes()[31], 31);
  EXPECT_EQ(k->source(), "--master-key-file " + flag_file);

  k = LoadMasterKey(dir.Sub("s"), WithEnv(env), true);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->bytes()[0], 'e');
  EXPECT_EQ(k->source(), "STEWARD_MASTER_KEY");

  env.erase("STEWARD_MASTER_KEY");
  k = LoadMasterKey(dir.Sub("s"), WithEnv(env), true);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->bytes()[0], 'k');

  env.erase("STEWARD_MASTER_KEY_FILE");
  k = LoadMasterKey(dir.Sub("s"), WithEnv(env), true);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->source(), "STEWARD_MASTER_PASSPHRASE");
  // None of them wrote a master.key.
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("s/master.key")));
}

TEST(MasterKey, MalformedEnvironmentKeyIsRefusedWithoutEchoingIt) {
  TempDir dir;
  for (std::string bad : {std::string("hunter2-not-base64!"), Base64Encode("short key")}) {
    auto k = LoadMasterKey(dir.path(), WithEnv({{"STEWARD_MASTER_KEY", bad}}), true);
    ASSERT_EQ(k.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(k.status().message().find("STEWARD_MASTER_KEY must hold the base64 of 32"),
              std::string::npos)
        << k.status().message();
    EXPECT_EQ(k.status().message().find(bad), std::string::npos);
  }
}

TEST(MasterKey, PassphraseKeyIsStableAcrossOpensAndNeedsItsSalt) {
  TempDir dir;
  auto env = [](const std::string& p) { return WithEnv({{"STEWARD_MASTER_PASSPHRASE", p}}); };
  // Without master.salt and without create: a clear error, nothing written.
  auto none = LoadMasterKey(dir.path(), env("pass one"), false);
  ASSERT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("master.salt"), std::string::npos);

  auto a = LoadMasterKey(dir.path(), env("pass one"), true);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(Mode(dir.Sub("master.salt")), 0600);
  const std::string salt = ReadFile(dir.Sub("master.salt"));
  EXPECT_NE(salt.find("argon2id13"), std::string::npos);
  EXPECT_EQ(salt.find("pass one"), std::string::npos);

  auto b = LoadMasterKey(dir.path(), env("pass one"), false);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->id(), a->id());
  EXPECT_EQ(b->bytes(), a->bytes());
  EXPECT_EQ(ReadFile(dir.Sub("master.salt")), salt);  // created once, never rewritten

  auto c = LoadMasterKey(dir.path(), env("pass two"), false);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->id(), a->id());

  // Another state dir gets its own salt, so the same passphrase gives another key.
  auto d = LoadMasterKey(dir.Sub("elsewhere"), env("pass one"), true);
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->id(), a->id());
}

TEST(MasterKey, DamagedSaltFileIsCorruption) {
  TempDir dir;
  WriteFile(dir.Sub("master.salt"), "{\"kdf\":\"argon2id13\",\"ops\":1}");
  auto k = LoadMasterKey(dir.path(), WithEnv({{"STEWARD_MASTER_PASSPHRASE", "x"}}), true);
  ASSERT_EQ(k.status().code(), StatusCode::kCorruption);
  EXPECT_NE(k.status().message().find(dir.Sub("master.salt")), std::string::npos);
}

TEST(MasterKey, ConcurrentFirstUsesAgreeOnOneKey) {
  TempDir dir;
  std::vector<std::string> ids(6);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      auto k = LoadMasterKey(dir.path(), WithEnv({}), true);
      ids[i] = k.ok() ? k->id() : k.status().ToString();
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& id : ids) EXPECT_EQ(id, ids[0]);
  // No temporary file is left beside the key.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    (void)e;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace steward::secrets
