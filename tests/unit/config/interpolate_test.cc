#include "config/interpolate.h"

#include <gtest/gtest.h>

#include <map>

namespace steward::config {
namespace {

LookupFn From(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(Interpolate, ReplacesVariables) {
  auto out = Interpolate("http://${HOST}:${PORT}/", From({{"HOST", "db"}, {"PORT", "5432"}}));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "http://db:5432/");
}

TEST(Interpolate, UsesDefaultWhenUnsetOrEmpty) {
  EXPECT_EQ(*Interpolate("${LEVEL:-info}", From({})), "info");
  EXPECT_EQ(*Interpolate("${LEVEL:-info}", From({{"LEVEL", ""}})), "info");
  EXPECT_EQ(*Interpolate("${LEVEL:-info}", From({{"LEVEL", "debug"}})), "debug");
  EXPECT_EQ(*Interpolate("x${EMPTY:-}y", From({})), "xy");
}

TEST(Interpolate, DoubleDollarIsLiteralAndLoneDollarStays) {
  EXPECT_EQ(*Interpolate("cost $$5 and $${HOME}", From({})), "cost $5 and ${HOME}");
  EXPECT_EQ(*Interpolate("$HOME $ end$", From({})), "$HOME $ end$");
}

TEST(Interpolate, ValuesAreNotReinterpolated) {
  EXPECT_EQ(*Interpolate("${A}", From({{"A", "${B}"}})), "${B}");
}

TEST(Interpolate, MissingVariableIsAnErrorNamingIt) {
  auto out = Interpolate("${DB_HOST}", From({}));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().message(),
            "variable 'DB_HOST' is not set; export it, define it under environments.<env>.vars, "
            "or give a default: ${DB_HOST:-value}");
}

TEST(Interpolate, UnterminatedAndBadNamesAreErrors) {
  EXPECT_FALSE(Interpolate("${OOPS", From({})).ok());
  EXPECT_FALSE(Interpolate("${1X}", From({})).ok());
  EXPECT_FALSE(Interpolate("${}", From({})).ok());
  EXPECT_FALSE(Interpolate("${A B}", From({{"A B", "x"}})).ok());
}

}  // namespace
}  // namespace steward::config
