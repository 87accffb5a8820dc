#include "scan/versions.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace steward::scan {
namespace {

// Every adjacent pair of `ascending` must compare less, in both directions, and each equal to
// itself.
void ExpectAscending(VersionScheme scheme, const std::vector<std::string>& ascending) {
  for (size_t i = 0; i < ascending.size(); ++i) {
    EXPECT_EQ(CompareVersions(scheme, ascending[i], ascending[i]), 0) << ascending[i];
    for (size_t j = i + 1; j < ascending.size(); ++j) {
      EXPECT_LT(CompareVersions(scheme, ascending[i], ascending[j]).value_or(0), 0)
          << ascending[i] << " < " << ascending[j];
      EXPECT_GT(CompareVersions(scheme, ascending[j], ascending[i]).value_or(0), 0)
          << ascending[j] << " > " << ascending[i];
    }
  }
}

TEST(Versions, SemverOrdersPreReleasesAsTheSpecSays) {
  // semver.org §11's example, plus core numbers compared numerically.
  ExpectAscending(VersionScheme::kSemver,
                  {"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                   "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"});
}

TEST(Versions, SemverIgnoresBuildMetadataAndAcceptsAPrefix) {
  EXPECT_EQ(CompareVersions(VersionScheme::kSemver, "1.0.0+build.5", "1.0.0"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kSemver, "v1.2.3", "1.2.3"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kSemver, "1.2", "1.2.0"), 0);
  EXPECT_FALSE(IsValidVersion(VersionScheme::kSemver, "latest"));
  EXPECT_FALSE(IsValidVersion(VersionScheme::kSemver, "1.0.0-"));
  EXPECT_FALSE(IsValidVersion(VersionScheme::kSemver, "1.0.0-a..b"));
  EXPECT_FALSE(IsValidVersion(VersionScheme::kSemver, ""));
}

TEST(Versions, Pep440OrdersDevPrePostAndEpochs) {
  ExpectAscending(VersionScheme::kPep440,
                  {"1.0.dev1", "1.0a1", "1.0a2.dev1", "1.0a2", "1.0b2", "1.0rc1", "1.0",
                   "1.0+local.1", "1.0.post1.dev1", "1.0.post1", "1.0.1", "1.1", "2.0", "1!0.1"});
}

TEST(Versions, Pep440NormalisesSpellings) {
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "1.0alpha1", "1.0a1"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "1.0-c1", "1.0rc1"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "1.0-1", "1.0.post1"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "1.0.0", "1.0"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "V1.0", "1.0"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "1.0RC1", "1.0rc1"), 0);
  EXPECT_GT(CompareVersions(VersionScheme::kPep440, "1!0.1", "2.0").value_or(0), 0);
  EXPECT_FALSE(IsValidVersion(VersionScheme::kPep440, "1.0-foo"));
  EXPECT_FALSE(IsValidVersion(VersionScheme::kPep440, "not a version!"));
}

TEST(Versions, Pep440LocalVersionsNumbersAboveLetters) {
  ExpectAscending(VersionScheme::kPep440, {"1.0", "1.0+abc", "1.0+abc.5", "1.0+5", "1.0+6"});
}

TEST(Versions, GoPseudoVersionsOrderAsPreReleases) {
  ExpectAscending(VersionScheme::kGo,
                  {"v0.0.0-20190308221718-c2843e01d9a2", "v0.0.0-20220127200216-cd36cc0744dd",
                   "v0.3.7", "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4",
                   "v2.0.0+incompatible", "v2.1.0"});
  // OSV writes Go versions without the 'v'.
  EXPECT_EQ(CompareVersions(VersionScheme::kGo, "v0.3.7", "0.3.7"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kGo, "v2.0.0+incompatible", "2.0.0"), 0);
}

TEST(Versions, RubyGemsLetterSegmentsArePreReleases) {
  ExpectAscending(VersionScheme::kRubyGems, {"1.0.a", "1.0.a.1", "1.0.b1", "1.0.rc1", "1.0",
                                             "1.0.0.1", "1.1", "2.2.3", "2.2.3.1", "10.0"});
  EXPECT_EQ(CompareVersions(VersionScheme::kRubyGems, "1.0", "1.0.0.0"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kRubyGems, "1.0-beta", "1.0.pre.beta"), 0);
  EXPECT_EQ(CompareVersions(VersionScheme::kRubyGems, "1.0.b1", "1.0.b.1"), 0);
  EXPECT_FALSE(IsValidVersion(VersionScheme::kRubyGems, "a.1"));
  EXPECT_FALSE(IsValidVersion(VersionScheme::kRubyGems, "1..0"));
}

TEST(Versions, PackagistReadsComposerSpellings) {
  ExpectAscending(VersionScheme::kPackagist, {"1.0.0-alpha1", "1.0.0-beta1", "1.0.0-RC1", "v1.0.0",
                                              "1.0.1", "v5.4.19", "5.4.20"});
  EXPECT_EQ(CompareVersions(VersionScheme::kPackagist, "1.0.0beta1", "1.0.0-beta1"), 0);
}

TEST(Versions, EcosystemsMapToSchemes) {
  EXPECT_EQ(SchemeForEcosystem("npm"), VersionScheme::kSemver);
  EXPECT_EQ(SchemeForEcosystem("crates.io"), VersionScheme::kSemver);
  EXPECT_EQ(SchemeForEcosystem("PyPI"), VersionScheme::kPep440);
  EXPECT_EQ(SchemeForEcosystem("Go"), VersionScheme::kGo);
  EXPECT_EQ(SchemeForEcosystem("RubyGems"), VersionScheme::kRubyGems);
  EXPECT_EQ(SchemeForEcosystem("Packagist"), VersionScheme::kPackagist);
  EXPECT_FALSE(SchemeForEcosystem("Debian:11").has_value());
}

TEST(Versions, HugeNumbersCompareWithoutOverflow) {
  EXPECT_LT(CompareVersions(VersionScheme::kSemver, "99999999999999999999999.0.0",
                            "100000000000000000000000.0.0")
                .value_or(0),
            0);
  EXPECT_EQ(CompareVersions(VersionScheme::kPep440, "01.002", "1.2"), 0);
}

}  // namespace
}  // namespace steward::scan
