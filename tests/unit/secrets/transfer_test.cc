#include "secrets/transfer.h"

#include <gtest/gtest.h>

#include <memory>

#include <nlohmann/json.hpp>

#include "unit/state/temp_dir.h"

namespace steward::secrets {
namespace {

using state::testing::TempDir;

// A state dir with its own master key (master.key created on first use), as on one machine.
struct Machine {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<state::StateStore> state;
  std::unique_ptr<SecretStore> secrets;

  Machine() {
    auto opened = state::OpenSqliteStateStore(dir.path(), &clock);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    state = std::move(*opened);
    auto key = LoadMasterKey(dir.path(), MasterKeyOptions{}, true);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    secrets = std::make_unique<SecretStore>(state.get(), *key, &clock,
                                            SecretsLockPath(dir.path()));
  }
};

// Cheap Argon2id for tests; the defaults are exercised by the integration test.
ExportOptions Cheap() {
  ExportOptions o;
  o.kdf_ops = 1;
  o.kdf_mem = 8192;
  return o;
}

TEST(Transfer, ExportImportRoundTripBetweenStateDirsWithDifferentMasterKeys) {
  Machine from, to;
  ASSERT_NE(from.secrets->key().id(), to.secrets->key().id());
  ASSERT_TRUE(from.secrets->Set("db_password", "pw-version-one").ok());
  ASSERT_TRUE(from.secrets->Rotate("db_password", "pw-version-two").ok());
  ASSERT_TRUE(from.secrets->Set("api.token", std::string("bin\0ary\xff", 8)).ok());

  auto exported = ExportSecrets(*from.secrets, "move me please", Cheap());
  ASSERT_TRUE(exported.ok()) << exported.status().ToString();
  EXPECT_EQ(exported->names, (std::vector<std::string>{"api.token", "db_password"}));
  // The bundle shows neither values nor names.
  for (const char* hidden : {"pw-version", "db_password", "api.token", "move me"})
    EXPECT_EQ(exported->bundle.find(hidden), std::string::npos) << hidden;
  auto envelope = nlohmann::json::parse(exported->bundle);
  EXPECT_EQ(envelope["format"], "steward-secrets-export");
  EXPECT_EQ(envelope["version"], 1);
  EXPECT_EQ(envelope["kdf"]["algorithm"], "argon2id13");

  auto imported = ImportSecrets(*to.secrets, exported->bundle, "move me please", false, "b.json");
  ASSERT_TRUE(imported.ok()) << imported.status().ToString();
  ASSERT_EQ(imported->imported.size(), 2u);
  EXPECT_TRUE(imported->skipped.empty());
  EXPECT_EQ(to.secrets->Get("db_password")->value, "pw-version-two");
  EXPECT_EQ(to.secrets->Get("db_password")->version, 1);  // a new version in the new store
  EXPECT_EQ(to.secrets->Get("api.token")->value, std::string("bin\0ary\xff", 8));
  auto rows = to.state->ListSecrets("");
  ASSERT_TRUE(rows.ok());
  for (const auto& r : *rows) EXPECT_EQ(r.key_id, to.secrets->key().id());
}

TEST(Transfer, WrongPassphraseIsAClearErrorAndChangesNothing) {
  Machine from, to;
  ASSERT_TRUE(from.secrets->Set("token", "the-token-value").ok());
  ASSERT_TRUE(to.secrets->Set("token", "local-value").ok());
  auto exported = ExportSecrets(*from.secrets, "right passphrase", Cheap());
  ASSERT_TRUE(exported.ok());
  auto imported =
      ImportSecrets(*to.secrets, exported->bundle, "wrong passphrase", true, "/tmp/s.json");
  ASSERT_EQ(imported.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(imported.status().message(),
            "cannot open /tmp/s.json: wrong passphrase, or the bundle is damaged (check "
            "STEWARD_EXPORT_PASSPHRASE)");
  EXPECT_EQ(to.secrets->Get("token")->value, "local-value");
  EXPECT_EQ(to.state->ListSecrets("")->size(), 1u);
}

TEST(Transfer, ExistingNamesAreSkippedUnlessOverwrite) {
  Machine from, to;
  ASSERT_TRUE(from.secrets->Set("shared", "from-value").ok());
  ASSERT_TRUE(from.secrets->Set("fresh", "fresh-value").ok());
  ASSERT_TRUE(to.secrets->Set("shared", "to-value").ok());
  auto exported = ExportSecrets(*from.secrets, "pass", Cheap());
  ASSERT_TRUE(exported.ok());

  auto first = ImportSecrets(*to.secrets, exported->bundle, "pass", false, "");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->skipped, (std::vector<std::string>{"shared"}));
  ASSERT_EQ(first->imported.size(), 1u);
  EXPECT_EQ(first->imported[0].name, "fresh");
  EXPECT_EQ(to.secrets->Get("shared")->value, "to-value");

  auto second = ImportSecrets(*to.secrets, exported->bundle, "pass", true, "");
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->skipped.empty());
  EXPECT_EQ(second->imported.size(), 2u);
  auto shared = to.secrets->Get("shared");
  EXPECT_EQ(shared->value, "from-value");
  EXPECT_EQ(shared->version, 2);  // the local value stays as the previous version
  EXPECT_EQ(*to.secrets->GetVersion("shared", 1), "to-value");
}

TEST(Transfer, DamagedOrForeignBundlesAreRefusedWithWhatIsWrong) {
  Machine from, to;
  ASSERT_TRUE(from.secrets->Set("k", "value-k").ok());
  auto exported = ExportSecrets(*from.secrets, "pass", Cheap());
  ASSERT_TRUE(exported.ok());
  auto j = nlohmann::json::parse(exported->bundle);

  auto expect = [&](const std::string& bundle, const std::string& fragment) {
    auto r = ImportSecrets(*to.secrets, bundle, "pass", false, "x.json");
    ASSERT_FALSE(r.ok()) << fragment;
    EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().message();
  };
  expect("not json at all", "x.json is not a Steward secrets export");
  expect("[1,2]", "x.json is not a Steward secrets export");
  auto v2 = j;
  v2["version"] = 2;
  expect(v2.dump(), "export format version 2 is not supported");
  auto no_kdf = j;
  no_kdf.erase("kdf");
  expect(no_kdf.dump(), "kdf (argon2id13 ops, mem, salt)");
  auto greedy = j;
  greedy["kdf"]["mem"] = uint64_t{1} << 40;
  expect(greedy.dump(), "beyond 1 GiB");
  auto flipped = j;
  std::string payload = *Base64Decode(j["payload"].get<std::string>());
  payload[payload.size() / 2] ^= 0x20;
  flipped["payload"] = Base64Encode(payload);
  expect(flipped.dump(), "wrong passphrase, or the bundle is damaged");
  EXPECT_TRUE(to.state->ListSecrets("")->empty());
  EXPECT_EQ(ImportSecrets(*to.secrets, exported->bundle, "", false, "x").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ExportSecrets(*from.secrets, "", Cheap()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace steward::secrets
