// ${secret:NAME} in the stack: kept as references through interpolation, parsing, JSON and
// planning; errors where a reference may not stand; versions in the replace hash.
#include "config/secret_refs.h"

#include <gtest/gtest.h>

#include <map>

#include "config/stack_json.h"
#include "parse_helpers.h"

namespace steward::config {
namespace {

using testing::Errors;
using testing::Parse;

LookupFn Vars(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// Values the tests resolve to; never real secrets.
SecretValueFn Values(std::map<std::string, std::string> values) {
  return [values = std::move(values)](const std::string& name) -> StatusOr<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return NotFound(MissingSecretMessage(name));
    return it->second;
  };
}

// What a scalar of an env value becomes at replica start: interpolated into a template, then
// expanded with `values`.
std::string Start(const std::string& scalar, std::map<std::string, std::string> vars,
                  std::map<std::string, std::string> values) {
  auto parts = InterpolateParts(scalar, Vars(std::move(vars)));
  EXPECT_TRUE(parts.ok()) << parts.status().ToString();
  auto out = ExpandTemplate(SecretTemplate(*parts), Values(std::move(values)));
  EXPECT_TRUE(out.ok()) << out.status().ToString();
  return out.ok() ? *out : "";
}

TEST(SecretInterpolate, KeepsReferencesAndExpandsVariablesAroundThem) {
  auto out = Interpolate("postgres://${USER}:${secret:db_pw}@${HOST:-db}/app",
                         Vars({{"USER", "app"}}));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "postgres://app:${secret:db_pw}@db/app");
  auto parts = InterpolateParts("a${secret:x.y-z}b", Vars({}));
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(*parts, (std::vector<InterpolatedPart>{{false, "a"}, {true, "x.y-z"}, {false, "b"}}));
}

TEST(SecretInterpolate, DoubleDollarMakesLiteralText) {
  auto parts = InterpolateParts("$${secret:x}", Vars({}));
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(*parts, (std::vector<InterpolatedPart>{{false, "${secret:x}"}}));
  EXPECT_EQ(*Interpolate("$${secret:x}", Vars({})), "${secret:x}");
}

TEST(SecretInterpolate, MalformedNameIsAnError) {
  auto out = Interpolate("${secret:9lives}", Vars({}));
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("bad secret name '9lives'"), std::string::npos);
  EXPECT_FALSE(Interpolate("${secret:}", Vars({})).ok());
}

TEST(SecretTemplate, ExpandsReferencesAndKeepsEscapedTextLiteral) {
  std::map<std::string, std::string> v{{"pw", "s3cr3t-value"}};
  EXPECT_EQ(Start("${secret:pw}", {}, v), "s3cr3t-value");
  EXPECT_EQ(Start("x:${secret:pw}@h", {}, v), "x:s3cr3t-value@h");
  EXPECT_EQ(Start("$${secret:pw}", {}, v), "${secret:pw}");
  EXPECT_EQ(Start("$$${secret:pw}", {}, v), "$s3cr3t-value");
  EXPECT_EQ(Start("$$$${secret:pw}", {}, v), "$${secret:pw}");
  EXPECT_EQ(Start("cost $$5, $HOME $", {}, v), "cost $5, $HOME $");
  // A variable's value is not re-read: a reference inside it is literal text.
  EXPECT_EQ(Start("${A}", {{"A", "${secret:pw}"}}, v), "${secret:pw}");
  EXPECT_EQ(Start("${A}${secret:pw}", {{"A", "$"}}, v), "$s3cr3t-value");
}

TEST(SecretTemplate, PlainTextIsItsOwnTemplate) {
  auto parts = InterpolateParts("cost $5 and $HOME", Vars({}));
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(SecretTemplate(*parts), "cost $5 and $HOME");
  EXPECT_TRUE(TemplateSecrets("cost $5 and $HOME").empty());
}

TEST(SecretTemplate, NamesInOrderWithoutRepeatsAndNotEscapedOnes) {
  EXPECT_EQ(TemplateSecrets("${secret:b}${secret:a}$${secret:c}${secret:b}"),
            (std::vector<std::string>{"b", "a"}));
}

TEST(SecretTemplate, UnknownSecretFailsNamingItAndNoValue) {
  auto out = ExpandTemplate("u:${secret:known}:${secret:db_pw}", Values({{"known", "abcdef"}}));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "secret 'db_pw' does not exist; set it with `steward secret set db_pw`");
}

constexpr const char* kStack = R"(project: shop
services:
  web:
    command: ./web
    env:
      DATABASE_URL: "postgres://app:${secret:db_pw}@${DB_HOST:-db}/app"
      API_KEY: ${secret:api_key}
      LITERAL: "$${secret:not_a_ref}"
    secret_files:
      - {secret: tls_key, path: run/tls.key, mode: "0400"}
      - secret: ${secret:ca}
        path: /etc/app/ca.pem
)";

TEST(SecretStack, ReferencesAreKeptThroughParseAndJson) {
  auto r = Parse(kStack);
  ASSERT_TRUE(r.ok()) << Errors(r);
  const Service& web = r.stack->services[0];
  EXPECT_EQ(web.env.at("DATABASE_URL"), "postgres://app:${secret:db_pw}@db/app");
  EXPECT_EQ(web.env.at("API_KEY"), "${secret:api_key}");
  EXPECT_EQ(web.env.at("LITERAL"), "$${secret:not_a_ref}");
  ASSERT_EQ(web.secret_files.size(), 2u);
  EXPECT_EQ(web.secret_files[0].secret, "tls_key");
  EXPECT_EQ(web.secret_files[0].path, "/srv/app/run/tls.key");
  EXPECT_EQ(web.secret_files[0].mode, 0400);
  EXPECT_EQ(web.secret_files[0].location.line, 10);
  EXPECT_EQ(web.secret_files[1].secret, "ca");
  EXPECT_EQ(web.secret_files[1].mode, 0600);
  EXPECT_EQ(ServiceSecrets(web), (std::vector<std::string>{"api_key", "ca", "db_pw", "tls_key"}));

  auto back = ServiceFromJson(ServiceToJson(web));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->env, web.env);
  EXPECT_EQ(back->secret_files, web.secret_files);
  EXPECT_EQ(ReplaceHash(*back), ReplaceHash(web));
}

TEST(SecretStack, ReferenceOutsideEnvIsAnErrorWithItsLocation) {
  auto r = Parse(R"(project: shop
services:
  web:
    command: ./web --password=${secret:db_pw}
    health:
      exec: [check, "${secret:tok}"]
monitors:
  home:
    type: http
    url: "https://user:${secret:pw}@example.com/"
)");
  std::string e = Errors(r);
  EXPECT_NE(e.find("steward.yaml:4:14: error: service 'web': 'command': '${secret:db_pw}' is "
                   "not allowed here; secret references go only in a service's env values or "
                   "its secret_files"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("steward.yaml:6:21:"), std::string::npos) << e;
  EXPECT_NE(e.find("'${secret:tok}' is not allowed here"), std::string::npos) << e;
  EXPECT_NE(e.find("'${secret:pw}' is not allowed here"), std::string::npos) << e;
}

TEST(SecretStack, BadSecretFilesAreReported) {
  auto r = Parse(R"(project: shop
services:
  web:
    command: ./web
    secret_files:
      - {secret: tls_key, path: a, mode: "0200"}
      - {secret: "not a name", path: b}
      - {secret: x}
      - {secret: y, path: a2, owner: root}
      - {secret: z, path: c}
      - {secret: w, path: c}
)");
  std::string e = Errors(r);
  EXPECT_NE(e.find("steward.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("must be an octal file mode that lets the owner read"), std::string::npos) << e;
  EXPECT_NE(e.find("must be a secret name"), std::string::npos) << e;
  EXPECT_NE(e.find("steward.yaml:8:9: error: service 'web': 'secret_files[2]' has no 'path'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("unknown key 'owner'"), std::string::npos) << e;
  EXPECT_NE(e.find("steward.yaml:11:9: error: service 'web': secret_files[5]: path "
                   "'/srv/app/c' is already written by another entry"),
            std::string::npos)
      << e;
}

Service WithSecret(int64_t version) {
  auto r = Parse(kStack);
  EXPECT_TRUE(r.ok()) << Errors(r);
  Stack stack = *r.stack;
  auto diags = StampSecretVersions(&stack, [version](const std::string&) -> StatusOr<int64_t> {
    return version;
  });
  EXPECT_TRUE(diags.empty());
  return stack.services[0];
}

TEST(SecretVersions, HashChangesWhenAVersionChangesAndOnlyThen) {
  Service v1 = WithSecret(1), v1_again = WithSecret(1), v2 = WithSecret(2);
  EXPECT_EQ(v1.secret_versions.at("db_pw"), 1);
  EXPECT_EQ(ReplaceHash(v1), ReplaceHash(v1_again));
  EXPECT_NE(ReplaceHash(v1), ReplaceHash(v2));
  std::vector<std::string> reasons = ReplaceReasons(v1, v2);
  EXPECT_NE(std::find(reasons.begin(), reasons.end(), "secret db_pw rotated (v1 → v2)"),
            reasons.end());
  EXPECT_TRUE(ReplaceReasons(v1, v1_again).empty());
  // The recorded spec carries the versions, never a value.
  nlohmann::json j = ServiceToJson(v2);
  EXPECT_EQ(j["secret_versions"]["db_pw"], 2);
  auto back = ServiceFromJson(j);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->secret_versions, v2.secret_versions);
}

TEST(SecretVersions, ServiceWithoutSecretsKeepsItsRecordShape) {
  auto r = Parse("project: shop\nservices:\n  web:\n    command: ./web\n    env: {A: b}\n");
  ASSERT_TRUE(r.ok()) << Errors(r);
  Stack stack = *r.stack;
  EXPECT_TRUE(StampSecretVersions(&stack, [](const std::string&) -> StatusOr<int64_t> {
                return 7;
              }).empty());
  nlohmann::json j = ServiceToJson(stack.services[0]);
  EXPECT_FALSE(j.contains("secret_versions"));
  EXPECT_FALSE(j.contains("secret_files"));
  EXPECT_EQ(ReplaceHash(stack.services[0]), ReplaceHash(r.stack->services[0]));
}

TEST(SecretVersions, UnknownSecretIsReportedWithWhereItIsUsed) {
  auto r = Parse(kStack);
  ASSERT_TRUE(r.ok()) << Errors(r);
  Stack stack = *r.stack;
  auto diags = StampSecretVersions(&stack, [](const std::string& name) -> StatusOr<int64_t> {
    if (name == "db_pw" || name == "tls_key") return NotFound("no " + name);
    return 3;
  });
  ASSERT_EQ(diags.size(), 2u);
  EXPECT_EQ(diags[0].ToString(),
            "/srv/app/steward.yaml:3:3: error: service 'web': env.DATABASE_URL: secret 'db_pw' "
            "does not exist; set it with `steward secret set db_pw`");
  EXPECT_EQ(diags[1].ToString(),
            "/srv/app/steward.yaml:10:9: error: service 'web': secret_files[0]: secret "
            "'tls_key' does not exist; set it with `steward secret set tls_key`");
  EXPECT_EQ(stack.services[0].secret_versions.count("db_pw"), 0u);
  EXPECT_EQ(stack.services[0].secret_versions.at("api_key"), 3);
}

// One service stamped on its own gets what the whole-stack stamp gives it, and the daemon's
// and plan's one error joins every diagnostic.
TEST(SecretVersions, OneServiceStampsAsTheStackDoesAndDiagnosticsJoinIntoOneError) {
  auto r = Parse(kStack);
  ASSERT_TRUE(r.ok()) << Errors(r);
  Service service = r.stack->services[0];
  service.secret_versions["stale"] = 9;  // replaced, not merged
  auto version = [](const std::string& name) -> StatusOr<int64_t> {
    if (name == "db_pw" || name == "tls_key") return NotFound("no " + name);
    return 3;
  };
  auto diags = StampServiceSecretVersions(&service, version);
  ASSERT_EQ(diags.size(), 2u);
  EXPECT_EQ(service.secret_versions, (std::map<std::string, int64_t>{{"api_key", 3}, {"ca", 3}}));
  Status st = DiagnosticsStatus(diags);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), diags[0].ToString() + "; " + diags[1].ToString());
  EXPECT_TRUE(DiagnosticsStatus({}).ok());
}

}  // namespace
}  // namespace steward::config
