#include "scan/deps.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

#include "base/sha256.h"
#include "scan/versions.h"

namespace steward::scan {
namespace {

namespace fs = std::filesystem;

// SHA-256 of the parts, each length-prefixed so ("ab","c") and ("a","bc") differ.
std::string PartsSha256Hex(const std::vector<std::string_view>& parts) {
  Sha256Hasher hash;
  for (std::string_view p : parts) {
    hash.Update(std::to_string(p.size()) + ":");
    hash.Update(p);
  }
  return hash.HexDigest();
}

// The lowest fixed version above `version`: the upgrade that fixes it with the least change.
std::string Upgrade(const Package& p, const std::vector<std::string>& fixed) {
  std::optional<VersionScheme> scheme = SchemeForEcosystem(p.ecosystem);
  std::string best;
  for (const std::string& f : fixed) {
    if (!scheme || CompareVersions(*scheme, f, p.version).value_or(-1) <= 0) continue;
    if (best.empty() || CompareVersions(*scheme, f, best).value_or(0) < 0) best = f;
  }
  return best;
}

Finding MakeFinding(const Package& p, const Advisory& a, const std::vector<size_t>& entries) {
  Finding f;
  f.scanner = "deps";
  f.rule = a.id;
  f.title = a.summary.empty() ? a.id : a.summary;
  f.severity = a.severity;
  f.path = p.path;
  f.line = p.line;
  f.ecosystem = p.ecosystem;
  f.package = p.name;
  f.version = p.version;
  for (size_t e : entries) {
    for (std::string& v : a.FixedVersions(e)) {
      // OSV writes Go versions without the 'v' that go.sum, go.mod and `go get` use.
      if (p.ecosystem == "Go" && !v.empty() && v[0] != 'v') v.insert(0, "v");
      if (std::find(f.fixed.begin(), f.fixed.end(), v) == f.fixed.end()) f.fixed.push_back(v);
    }
  }
  f.aliases = a.aliases;
  f.url = "https://osv.dev/vulnerability/" + a.id;
  std::string message = p.name + " " + p.version + " (" + p.ecosystem + ") is affected by " + a.id;
  if (!a.aliases.empty()) {
    message += " (";
    for (size_t i = 0; i < a.aliases.size(); ++i) message += (i ? ", " : "") + a.aliases[i];
    message += ")";
  }
  if (!a.summary.empty()) message += ": " + a.summary;
  std::string upgrade = Upgrade(p, f.fixed);
  message += upgrade.empty() ? "; no fixed version is known" : "; upgrade to " + upgrade;
  f.message = std::move(message);
  f.fingerprint = PartsSha256Hex({a.id, p.ecosystem, p.name, p.version, p.path});
  return f;
}

// Lockfiles under root, sorted, as paths relative to root.
std::vector<fs::path> FindLockfiles(const fs::path& root, std::vector<Problem>* problems) {
  std::vector<fs::path> found;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {  // a single lockfile given as the root
    if (IsLockfileName(root.filename().string())) found.push_back(root.filename());
    return found;
  }
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
  if (ec) {
    problems->push_back(Problem{root.string(), 0, "cannot list: " + ec.message()});
    return found;
  }
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      problems->push_back(Problem{root.string(), 0, "listing stopped early: " + ec.message()});
      break;
    }
    std::string name = it->path().filename().string();
    if (it->is_directory(ec) && !it->is_symlink(ec)) {
      if (name == ".git" || name == "node_modules") it.disable_recursion_pending();
      continue;
    }
    if (IsLockfileName(name) && it->is_regular_file(ec))
      found.push_back(it->path().lexically_relative(root));
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<Finding> MatchPackages(const std::vector<Package>& packages, const OsvDatabase& db) {
  std::vector<Finding> findings;
  for (const Package& p : packages) {
    for (const Advisory* a : db.Affecting(p)) {
      findings.push_back(MakeFinding(p, *a, db.MatchingEntries(*a, p)));
    }
  }
  return findings;
}

ScanResult ScanDependencies(const fs::path& root, const DependencyScanOptions& o) {
  ScanResult result;
  std::vector<Package> packages;
  bool root_is_file = fs::is_regular_file(root);
  for (const fs::path& rel : FindLockfiles(root, &result.problems)) {
    fs::path full = root_is_file ? root : root / rel;
    std::string path = rel.generic_string();
    std::ifstream in(full, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    if (!in) {
      result.problems.push_back(Problem{path, 0, "cannot read the lockfile"});
      continue;
    }
    std::string text = buffer.str();
    ++result.files;
    result.bytes += text.size();
    LockfileParse parsed = ParseLockfile(path, text);
    std::move(parsed.packages.begin(), parsed.packages.end(), std::back_inserter(packages));
    std::move(parsed.problems.begin(), parsed.problems.end(), std::back_inserter(result.problems));
  }
  if (packages.empty()) return result;
  if (o.osv_db.empty()) {
    result.problems.push_back(Problem{root.string(), 0,
                                      "lockfiles found but no OSV database given; pass "
                                      "--osv-db DIR (osv.dev's all.zip unpacked)"});
    return result;
  }
  OsvLoadOptions load;
  load.only_packages = packages;
  StatusOr<OsvDatabase> db = OsvDatabase::Load(o.osv_db, &result.problems, load);
  if (!db.ok()) {
    result.problems.push_back(Problem{o.osv_db, 0, db.status().message()});
    return result;
  }
  result.findings = MatchPackages(packages, *db);
  return result;
}

}  // namespace steward::scan
