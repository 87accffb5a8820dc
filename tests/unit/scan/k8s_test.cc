#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "fixtures/scan/config/expectations.h"
#include "scan/config_scan.h"
#include "scan/k8s_rules.h"
#include "scan/output.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;

// A pod spec that passes every container rule, to which a test adds one thing.
std::string Pod(std::string_view extra_container, std::string_view extra_spec = "") {
  return std::string(
             "apiVersion: v1\n"
             "kind: Pod\n"
             "metadata: {name: p, namespace: app}\n"
             "spec:\n") +
         std::string(extra_spec) +
         "  containers:\n"
         "    - name: c\n"
         "      image: app:1.0\n"
         "      securityContext:\n"
         "        runAsNonRoot: true\n"
         "        allowPrivilegeEscalation: false\n"
         "        readOnlyRootFilesystem: true\n"
         "      resources: {limits: {memory: 64Mi}}\n"
         "      livenessProbe: {tcpSocket: {port: 80}}\n"
         "      readinessProbe: {tcpSocket: {port: 80}}\n" +
         std::string(extra_container);
}

TEST(KubernetesRules, FixturesFindExactlyTheAnnotatedFindings) {
  fs::path root = testing::ConfigFixtures() / "k8s";
  ScanResult r = ScanConfig(root, {});
  int files = testing::ExpectAnnotatedFindings(root, r);
  EXPECT_EQ(files, 5);
  EXPECT_EQ(r.files, 5u);
}

TEST(KubernetesRules, MalformedDocumentIsAProblemAndTheNextOneIsStillChecked) {
  fs::path root = testing::ConfigFixtures() / "k8s";
  ScanResult r = ScanConfig(root, {});
  // clean/template.yaml is broken too, but is no manifest: only mixed.yaml is reported.
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, "malformed/mixed.yaml");
  EXPECT_GE(r.problems[0].line, 7);
  EXPECT_LE(r.problems[0].line, 8);
  EXPECT_NE(r.problems[0].message.find("not valid YAML"), std::string::npos);
  EXPECT_FALSE(testing::Found(r, "malformed/mixed.yaml").empty());
}

TEST(KubernetesRules, CleanPodHasNoFindings) {
  ScanResult r = ScanKubernetesYaml(Pod(""), "p.yaml");
  EXPECT_TRUE(r.findings.empty()) << testing::Describe(testing::Found(r, "p.yaml"));
  EXPECT_TRUE(r.problems.empty());
}

TEST(KubernetesRules, PointsAtTheOffendingKeyWithLineAndColumn) {
  ScanResult r = ScanKubernetesYaml(Pod("", "  hostIPC: true\n"), "p.yaml");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].rule, "k8s-host-namespace");
  EXPECT_EQ(r.findings[0].severity, Severity::kHigh);
  EXPECT_EQ(r.findings[0].line, 5);
  EXPECT_EQ(r.findings[0].column, 3);
}

// Inline rather than a fixture: a committed critical finding would fail Steward's own scan.
TEST(KubernetesRules, PrivilegedIsCritical) {
  std::string pod = Pod("");
  pod.replace(pod.find("        runAsNonRoot"), 0, "        privileged: true\n");
  ScanResult r = ScanKubernetesYaml(pod, "p.yaml");
  ASSERT_EQ(r.findings.size(), 1u) << testing::Describe(testing::Found(r, "p.yaml"));
  EXPECT_EQ(r.findings[0].rule, "k8s-privileged");
  EXPECT_EQ(r.findings[0].severity, Severity::kCritical);
  EXPECT_EQ(r.findings[0].line, 9);
  EXPECT_EQ(r.findings[0].column, 9);
}

TEST(KubernetesRules, PodSecurityContextAppliesUnlessTheContainerOverrides) {
  std::string text =
      "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: d, namespace: ops}\n"
      "spec:\n  template:\n    spec:\n"
      "      securityContext: {runAsUser: 1000}\n"  // line 7: a UID, so not root...
      "      containers:\n"
      "        - name: a\n"
      "          image: a:1\n"
      "          securityContext: {runAsUser: 0, allowPrivilegeEscalation: false, "
      "readOnlyRootFilesystem: true}\n"  // ...except where a container says 0
      "          resources: {limits: {cpu: 1}}\n"
      "          livenessProbe: {exec: {command: [true]}}\n"
      "          readinessProbe: {exec: {command: [true]}}\n"
      "        - name: b\n"
      "          image: b:1\n"
      "          securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true}\n"
      "          resources: {limits: {cpu: 1}}\n"
      "          livenessProbe: {exec: {command: [true]}}\n"
      "          readinessProbe: {exec: {command: [true]}}\n";
  ScanResult r = ScanKubernetesYaml(text, "ds.yaml");
  ASSERT_EQ(r.findings.size(), 1u) << testing::Describe(testing::Found(r, "ds.yaml"));
  EXPECT_EQ(r.findings[0].rule, "k8s-run-as-root");
  EXPECT_EQ(r.findings[0].line, 11);
  EXPECT_NE(r.findings[0].message.find("container 'a'"), std::string::npos);
}

TEST(KubernetesRules, SecretValuesNeverReachAnyOutput) {
  const std::string value = "pl41ntext-V4lue-x9";
  ScanResult r = ScanKubernetesYaml(
      Pod("      env:\n        - {name: STRIPE_API_KEY, value: " + value + "}\n"), "p.yaml");
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].rule, "k8s-secret-in-env");
  EXPECT_EQ(r.findings[0].line, 16);
  for (const std::string& out : {FormatTable(r, true), FormatJson(r), FormatSarif(r, "t")}) {
    EXPECT_EQ(out.find(value), std::string::npos) << out;
  }
}

TEST(KubernetesRules, DocumentsKeepTheirLinesInTheFile) {
  std::string pod = Pod("", "  hostNetwork: true\n");
  ScanResult r = ScanKubernetesYaml("# leading comment\n---\n" + pod + "---\n" + pod, "two.yaml");
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].line, 7);
  EXPECT_EQ(r.findings[1].line, 7 + 16);  // after the 15 lines of the pod and the ---
  EXPECT_EQ(r.findings[0].fingerprint, r.findings[1].fingerprint);  // same object, same rule
}

TEST(KubernetesRules, ImageTagsLatestUntaggedPinned) {
  auto image_findings = [](std::string image) {
    std::string pod = Pod("");
    pod.replace(pod.find("app:1.0"), 7, image);
    return ScanKubernetesYaml(pod, "p.yaml").findings.size();
  };
  EXPECT_EQ(image_findings("nginx"), 1u);
  EXPECT_EQ(image_findings("nginx:latest"), 1u);
  EXPECT_EQ(image_findings("localhost:5000/nginx"), 1u);
  EXPECT_EQ(image_findings("localhost:5000/nginx:1.27"), 0u);
  EXPECT_EQ(image_findings(
                "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            0u);
}

TEST(KubernetesRules, DeepNestingIsAProblemNotACrash) {
  std::string flow = "apiVersion: v1\nkind: Pod\nspec: " + std::string(100000, '[') +
                     std::string(100000, ']') + "\n";
  std::string block = "apiVersion: v1\nkind: Pod\nspec:\n";
  for (int i = 1; i < 2000; ++i) block += std::string(i, ' ') + "a:\n";
  for (const std::string& text : {flow, block}) {
    ScanResult r = ScanKubernetesYaml(text, "deep.yaml");
    EXPECT_TRUE(r.findings.empty());
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_GT(r.problems[0].line, 0);
  }
}

TEST(KubernetesRules, NonManifestsAndOtherKindsAreIgnored) {
  EXPECT_TRUE(ScanKubernetesYaml("name: ci\non: [push]\n", "ci.yml").findings.empty());
  ScanResult r =
      ScanKubernetesYaml("apiVersion: v1\nkind: Secret\nstringData: {password: x}\n", "s.yaml");
  EXPECT_TRUE(r.findings.empty());
  EXPECT_TRUE(ScanKubernetesYaml("key: [unclosed\n", "x.yaml").problems.empty());
  ScanResult bad = ScanKubernetesYaml("apiVersion: v1\nkind: Pod\nspec: [unclosed\n", "bad.yaml");
  ASSERT_EQ(bad.problems.size(), 1u);
  EXPECT_EQ(bad.problems[0].path, "bad.yaml");
  EXPECT_GT(bad.problems[0].line, 0);
}

}  // namespace
}  // namespace steward::scan
