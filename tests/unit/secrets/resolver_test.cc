#include "secrets/resolver.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace steward::secrets {
namespace {

class MapResolver : public SecretResolver {
 public:
  std::map<std::string, std::string> values;
  StatusOr<ResolvedSecret> Resolve(const std::string& name) override {
    auto it = values.find(name);
    if (it == values.end()) return NotFound("secret '" + name + "' does not exist");
    return ResolvedSecret{it->second, 1};
  }
  StatusOr<int64_t> CurrentVersion(const std::string& name) override {
    if (!values.count(name)) return NotFound("secret '" + name + "' does not exist");
    return 1;
  }
};

TEST(SecretReferences, FindsWellFormedNamesOnceInOrder) {
  EXPECT_EQ(SecretReferences("postgres://app:${secret:db_pw}@db/${secret:db_name}?x=${secret:db_pw}"),
            (std::vector<std::string>{"db_pw", "db_name"}));
  EXPECT_TRUE(SecretReferences("${secret:} ${secret:1x} ${secret:open ${DB}").empty());
  EXPECT_EQ(SecretReferences("${secret:a.b-c_1}"), (std::vector<std::string>{"a.b-c_1"}));
}

TEST(ResolveReferences, ReplacesEveryReferenceAndNamesAnUnknownOne) {
  MapResolver r;
  r.values = {{"user", "app"}, {"pw", "s3cr3t-value"}};
  auto out = ResolveReferences("u=${secret:user} p=${secret:pw} again=${secret:pw} $${x}", r);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "u=app p=s3cr3t-value again=s3cr3t-value $${x}");
  auto missing = ResolveReferences("${secret:nope}", r);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().ToString().find("nope"), std::string::npos);
}

TEST(MaskValues, MasksLongestFirstAndIgnoresTinyValues) {
  EXPECT_EQ(MaskValues("token=abcdef1234 and abcd", {"abcd", "abcdef1234", "a", ""}),
            "token=*** and ***");
  EXPECT_EQ(MaskValues("nothing here", {}), "nothing here");
}

}  // namespace
}  // namespace steward::secrets
