// libFuzzer entry point for what the secret and configuration scanners read from a checkout:
// any file's bytes (the secret matcher, and the findings built from its hits), Dockerfiles,
// Kubernetes manifests, and the allowlist and baseline files a team keeps beside its tree.
//
// Input: the first byte picks the reader ('0' secret matcher on the bytes, '1' Dockerfile,
// '2' Kubernetes YAML, '3' allowlist, '4' baseline); the rest is the text. Nothing may crash or
// hang; every finding must have a rule and a line inside the text, every hit a byte range
// inside it, and a parse error must name the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "scan/baseline.h"
#include "scan/dockerfile_rules.h"
#include "scan/k8s_rules.h"
#include "scan/secret_rules.h"
#include "scan/secrets.h"

namespace {

using namespace steward::scan;

size_t Lines(std::string_view text) {
  size_t n = 1;
  for (char c : text) n += c == '\n';
  return n;
}

void CheckFindings(const ScanResult& r, std::string_view text) {
  for (const Finding& f : r.findings) {
    if (f.rule.empty() || f.line < 0 || static_cast<size_t>(f.line) > Lines(text)) std::abort();
  }
}

void Secrets(std::string_view text) {
  static std::unique_ptr<SecretMatcher> matcher = [] {
    auto m = SecretMatcher::Create(4.0);
    if (!m.ok()) std::abort();
    return std::move(*m);
  }();
  auto scratch = matcher->NewScratch();
  if (!scratch.ok()) std::abort();
  std::vector<SecretHit> hits;
  if (!matcher->Find(text, &*scratch, &hits).ok()) return;
  std::vector<Finding> findings;
  AppendSecretFindings(text, hits, "fuzz.txt",
                       [](const SecretHit&, std::string_view) { return true; }, &findings);
  for (const SecretHit& h : hits) {
    if (h.begin > text.size() || h.size > text.size() - h.begin) std::abort();
    if (h.rule >= SecretRules().size()) std::abort();
  }
  for (const Finding& f : findings) {
    if (f.rule.empty() || f.line < 1 || static_cast<size_t>(f.line) > Lines(text)) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case '0':
      Secrets(text);
      break;
    case '1':
      CheckFindings(ScanDockerfile(text, "Dockerfile"), text);
      break;
    case '2':
      CheckFindings(ScanKubernetesYaml(text, "deploy.yaml"), text);
      break;
    case '3': {
      auto a = ParseSecretAllowlist(text, "allow.txt");
      if (!a.ok() && a.status().message().find("allow.txt") == std::string::npos) std::abort();
      break;
    }
    case '4': {
      auto b = ParseBaseline(text, "baseline.json");
      if (!b.ok() && b.status().message().find("baseline.json") == std::string::npos) std::abort();
      break;
    }
    default:
      break;
  }
  return 0;
}
