#include "secrets/store.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "unit/state/temp_dir.h"

namespace steward::secrets {
namespace {

using state::testing::TempDir;

MasterKey KeyOf(char fill) {
  KeyBytes k{};
  k.fill(static_cast<uint8_t>(fill));
  return MasterKey(k, std::string("test key ") + fill);
}

class SecretStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = state::OpenSqliteStateStore(dir_.path(), &clock_);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    state_ = std::move(*opened);
  }
  SecretStore Store(char key = 'a') {
    return SecretStore(state_.get(), KeyOf(key), &clock_, SecretsLockPath(dir_.path()));
  }
  // name@version → state, from the records themselves.
  std::map<std::string, std::string> States() {
    std::map<std::string, std::string> out;
    auto rows = state_->ListSecrets("");
    EXPECT_TRUE(rows.ok());
    for (const auto& r : *rows) out[r.name + "@" + std::to_string(r.version)] = r.state;
    return out;
  }
  std::vector<state::SecretRecord> Rows() {
    auto rows = state_->ListSecrets("");
    EXPECT_TRUE(rows.ok());
    return *rows;
  }

  TempDir dir_;
  FakeClock clock_;
  std::unique_ptr<state::StateStore> state_;
};

TEST_F(SecretStoreTest, SetThenGetRoundTripsAndNeverStoresThePlaintext) {
  SecretStore s = Store();
  auto v = s.Set("db_password", "s3cr3t-value\n\x01binary");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, 1);
  auto got = s.Get("db_password");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value, "s3cr3t-value\n\x01binary");
  EXPECT_EQ(got->version, 1);
  auto resolved = s.Resolve("db_password");
  ASSERT_TRUE(resolved.ok());
  EXPECT_EQ(resolved->value, got->value);

  auto rows = Rows();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key_id, KeyOf('a').id());
  EXPECT_EQ(rows[0].state, "current");
  EXPECT_EQ(rows[0].created_at_ms, ToUnixMillis(clock_.WallNow()));
  EXPECT_NE(rows[0].created_by.find('@'), std::string::npos);
  EXPECT_EQ(rows[0].sealed.find("s3cr3t"), std::string::npos);
  // Two seals of one value differ (random nonce).
  ASSERT_TRUE(s.Set("other", "s3cr3t-value\n\x01binary").ok());
  auto again = state_->ListSecrets("other");
  ASSERT_TRUE(again.ok());
  EXPECT_NE((*again)[0].sealed, rows[0].sealed);
}

TEST_F(SecretStoreTest, VersionsMoveThroughCurrentPreviousRetired) {
  SecretStore s = Store();
  ASSERT_TRUE(s.Set("api_key", "one").ok());
  EXPECT_EQ(States(), (std::map<std::string, std::string>{{"api_key@1", "current"}}));

  auto r = s.Rotate("api_key", "two");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->old_version, 1);
  EXPECT_EQ(r->new_version, 2);
  EXPECT_EQ(States(), (std::map<std::string, std::string>{{"api_key@1", "previous"},
                                                          {"api_key@2", "current"}}));
  r = s.Rotate("api_key", "three");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(States(), (std::map<std::string, std::string>{{"api_key@1", "retired"},
                                                          {"api_key@2", "previous"},
                                                          {"api_key@3", "current"}}));
  auto values = s.Values();
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"three", "two"}));

  ASSERT_TRUE(s.CompleteRoll("api_key").ok());
  EXPECT_EQ(States(), (std::map<std::string, std::string>{{"api_key@1", "retired"},
                                                          {"api_key@2", "retired"},
                                                          {"api_key@3", "current"}}));
  ASSERT_TRUE(s.CompleteRoll("api_key").ok());  // nothing awaits a roll: no change
  values = s.Values();
  ASSERT_TRUE(values.ok());
  EXPECT_EQ(*values, (std::vector<std::string>{"three"}));

  EXPECT_EQ(*s.GetVersion("api_key", 1), "one");
  EXPECT_EQ(*s.GetVersion("api_key", 2), "two");
  EXPECT_EQ(s.Get("api_key")->value, "three");
  EXPECT_EQ(*s.CurrentVersion("api_key"), 3);
  auto missing = s.GetVersion("api_key", 9);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("versions kept: 3, 2, 1"), std::string::npos)
      << missing.status().message();
}

TEST_F(SecretStoreTest, ListShowsVersionsAndTimesButNoValue) {
  SecretStore s = Store();
  const int64_t t0 = ToUnixMillis(clock_.WallNow());
  ASSERT_TRUE(s.Set("b_token", "value-b-1").ok());
  clock_.Advance(Duration(60000));
  ASSERT_TRUE(s.Rotate("b_token", "value-b-2").ok());
  ASSERT_TRUE(s.Set("a_pass", "value-a-1").ok());
  auto list = s.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  const SecretInfo& a = (*list)[0];
  const SecretInfo& b = (*list)[1];
  EXPECT_EQ(a.name, "a_pass");
  EXPECT_EQ(a.version, 1);
  EXPECT_EQ(a.versions, 1);
  EXPECT_EQ(a.previous_version, 0);
  EXPECT_EQ(b.name, "b_token");
  EXPECT_EQ(b.version, 2);
  EXPECT_EQ(b.versions, 2);
  EXPECT_EQ(b.previous_version, 1);
  EXPECT_EQ(b.created_at_ms, t0);
  EXPECT_EQ(b.updated_at_ms, t0 + 60000);
  EXPECT_EQ(b.key_id, s.key().id());
}

TEST_F(SecretStoreTest, WrongMasterKeyIsAClearErrorAndLosesNothing) {
  SecretStore right = Store('a');
  ASSERT_TRUE(right.Set("db_password", "the-real-value").ok());
  ASSERT_TRUE(right.Rotate("db_password", "the-new-value").ok());
  const auto before = Rows();

  SecretStore wrong = Store('b');
  auto got = wrong.Get("db_password");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kFailedPrecondition);
  const std::string expected = "secret 'db_password' cannot be opened with this master key (key "
                               "id " + KeyOf('b').id() + ", sealed with " + KeyOf('a').id() +
                               "): set STEWARD_MASTER_KEY_FILE or --master-key-file to the key "
                               "that sealed it";
  EXPECT_EQ(got.status().message(), expected);
  EXPECT_EQ(wrong.GetVersion("db_password", 1).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(wrong.Values().ok());

  // Writes under the wrong key are refused too, for this secret and for new ones, so the store
  // never holds values two keys are needed for.
  auto set = wrong.Set("db_password", "overwritten");
  EXPECT_EQ(set.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.Set("another", "x-value").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(wrong.Rotate("db_password", "y-value").status().code(),
            StatusCode::kFailedPrecondition);

  const auto after = Rows();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].sealed, before[i].sealed);
    EXPECT_EQ(after[i].state, before[i].state);
  }
  EXPECT_EQ(right.Get("db_password")->value, "the-new-value");
  EXPECT_EQ(*right.GetVersion("db_password", 1), "the-real-value");
}

TEST_F(SecretStoreTest, TamperedSealedBytesFailNamingTheSecret) {
  SecretStore s = Store();
  ASSERT_TRUE(s.Set("stripe_key", "sk_live_abcdef").ok());
  auto row = Rows()[0];
  auto bytes = Base64Decode(row.sealed);
  ASSERT_TRUE(bytes.ok());
  (*bytes)[30] ^= 0x01;  // inside the ciphertext
  row.sealed = Base64Encode(*bytes);
  ASSERT_TRUE(state_->PutSecrets({row}).ok());
  auto got = s.Get("stripe_key");
  ASSERT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find("secret 'stripe_key' version 1 cannot be opened"),
            std::string::npos)
      << got.status().message();
  EXPECT_EQ(got.status().message().find("sk_live"), std::string::npos);

  row.sealed = "!!not base64!!";
  ASSERT_TRUE(state_->PutSecrets({row}).ok());
  EXPECT_EQ(s.Get("stripe_key").status().code(), StatusCode::kCorruption);
  row.sealed = Base64Encode("short");
  ASSERT_TRUE(state_->PutSecrets({row}).ok());
  EXPECT_EQ(s.Get("stripe_key").status().code(), StatusCode::kCorruption);
}

TEST_F(SecretStoreTest, SealedValueIsBoundToItsNameAndVersion) {
  SecretStore s = Store();
  ASSERT_TRUE(s.Set("admin_password", "admin-value").ok());
  ASSERT_TRUE(s.Set("guest_password", "guest-value").ok());
  state::SecretRecord admin = state_->ListSecrets("admin_password")->at(0);
  // The admin's sealed bytes moved onto the guest's row: refused, not silently handed out.
  state::SecretRecord moved = state_->ListSecrets("guest_password")->at(0);
  moved.sealed = admin.sealed;
  ASSERT_TRUE(state_->PutSecrets({moved}).ok());
  auto got = s.Get("guest_password");
  ASSERT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got.status().message().find("guest_password"), std::string::npos);
  // And onto another version of the same secret.
  state::SecretRecord v2 = admin;
  v2.version = 2;
  admin.state = "previous";
  ASSERT_TRUE(state_->PutSecrets({admin, v2}).ok());
  EXPECT_EQ(s.Get("admin_password").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(*s.GetVersion("admin_password", 1), "admin-value");
}

TEST_F(SecretStoreTest, NamesAndSizesAreCheckedWithWhatIsRight) {
  SecretStore s = Store();
  for (std::string bad : std::vector<std::string>{"", "1abc", "has space", "a/b", "é", "${x}", std::string(129, 'a')}) {
    auto st = s.Set(bad, "v");
    ASSERT_EQ(st.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(st.status().message().find("db_password"), std::string::npos)
        << st.status().message();  // shows a right one
  }
  for (std::string good : std::vector<std::string>{"a", "_x", "DB.pass-word_2", std::string(128, 'a')})
    EXPECT_TRUE(s.Set(good, "v").ok()) << good;
  auto big = s.Set("big", std::string(kMaxValueBytes + 1, 'x'));
  ASSERT_EQ(big.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(big.status().message().find("1 MiB"), std::string::npos);
  EXPECT_TRUE(s.Set("big", std::string(kMaxValueBytes, 'x')).ok());
  EXPECT_TRUE(s.Set("empty", "").ok());
  EXPECT_EQ(s.Get("empty")->value, "");
  EXPECT_EQ(s.SetAll({{"dup", "1"}, {"dup", "2"}}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(SecretStoreTest, RemoveDeletesEveryVersionAndUnknownNamesAreNotFound) {
  SecretStore s = Store();
  ASSERT_TRUE(s.Set("gone", "v1-value").ok());
  ASSERT_TRUE(s.Rotate("gone", "v2-value").ok());
  ASSERT_TRUE(s.Set("kept", "k-value").ok());
  ASSERT_TRUE(s.Remove("gone").ok());
  EXPECT_EQ(States(), (std::map<std::string, std::string>{{"kept@1", "current"}}));
  for (auto st : {s.Remove("gone"), s.Get("gone").status(), s.CurrentVersion("gone").status(),
                  s.Rotate("gone", "x").status(), s.CompleteRoll("gone")}) {
    EXPECT_EQ(st.code(), StatusCode::kNotFound);
    EXPECT_NE(st.message().find("secret 'gone' does not exist"), std::string::npos)
        << st.message();
  }
  EXPECT_FALSE(s.Exists("gone"));
  EXPECT_TRUE(s.Exists("kept"));
  // A removed name starts again at version 1.
  EXPECT_EQ(*s.Set("gone", "again"), 1);
}

TEST_F(SecretStoreTest, SetAllWritesEveryNameInOneGo) {
  SecretStore s = Store();
  ASSERT_TRUE(s.Set("a", "old-a").ok());
  auto v = s.SetAll({{"a", "new-a"}, {"b", "new-b"}});
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(States(), (std::map<std::string, std::string>{
                          {"a@1", "previous"}, {"a@2", "current"}, {"b@1", "current"}}));
}

}  // namespace
}  // namespace steward::secrets
