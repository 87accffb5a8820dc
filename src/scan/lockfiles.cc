#include "scan/lockfiles.h"

#include <set>
#include <utility>

#include "scan/deps_json.h"
#include "scan/lockfiles_formats.h"

namespace steward::scan {
namespace lockfiles {

void AddProblem(LockfileParse* out, const std::string& path, int line, std::string message) {
  out->problems.push_back(Problem{path, line, std::move(message)});
}

void AddPackage(LockfileParse* out, std::string ecosystem, std::string name, std::string version,
                const std::string& path, int line) {
  out->packages.push_back(
      Package{std::move(ecosystem), std::move(name), std::move(version), path, line});
}

namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// A JSON lockfile's syntax error, reported where it is; entries before it are still read.
bool JsonRoot(const JsonDoc& doc, const std::string& path, LockfileParse* out) {
  if (!doc.ok()) {
    AddProblem(out, path, doc.error_line(),
               "column " + std::to_string(doc.error_column()) + ": " + doc.error() +
                   " (not valid JSON; entries after this point were not read)");
  }
  if (!doc.root().is_object()) {
    if (doc.ok()) AddProblem(out, path, 1, "expected a JSON object at the top");
    return false;
  }
  return true;
}

// npm writes versions of packages that did not come from the registry as URLs or paths
// ("git+ssh://…", "file:../lib", "github:user/repo#sha").
bool FromRegistry(std::string_view version, std::string_view resolved) {
  if (version.find(':') != std::string_view::npos || version.find('/') != std::string_view::npos)
    return false;
  return !StartsWith(resolved, "git+") && !StartsWith(resolved, "file:");
}

// "npm:real-name@1.2.3" is an alias install of real-name.
void AddNpm(LockfileParse* out, std::string name, std::string version, const std::string& path,
            int line, std::string_view resolved) {
  if (StartsWith(version, "npm:")) {
    std::string spec = version.substr(4);
    size_t at = spec.find('@', 1);
    if (at == std::string::npos) return;
    name = spec.substr(0, at);
    version = spec.substr(at + 1);
  }
  if (!FromRegistry(version, resolved)) return;
  AddPackage(out, "npm", std::move(name), std::move(version), path, line);
}

void WalkNpmV1(const JsonDoc::Value& deps, const std::string& path, LockfileParse* out) {
  deps.ForEach([&](const JsonDoc::Value& key, const JsonDoc::Value& entry) {
    if (!entry.complete()) return;
    std::string name = key.String();
    if (!entry.is_object()) {
      AddProblem(out, path, key.line(), "dependency \"" + name + "\" is not an object");
      return;
    }
    JsonDoc::Value version = entry.Get("version");
    if (!version.is_string()) {
      AddProblem(out, path, key.line(), "dependency \"" + name + "\" has no \"version\" string");
    } else {
      AddNpm(out, name, version.String(), path, key.line(), entry.Get("resolved").String());
    }
    WalkNpmV1(entry.Get("dependencies"), path, out);
  });
}

}  // namespace

void ParsePackageLock(const std::string& path, std::string_view text, LockfileParse* out) {
  JsonDoc doc = JsonDoc::Parse(text);
  if (!JsonRoot(doc, path, out)) return;
  JsonDoc::Value packages = doc.root().Get("packages");
  if (!packages.is_object()) {  // lockfileVersion 1
    WalkNpmV1(doc.root().Get("dependencies"), path, out);
    return;
  }
  packages.ForEach([&](const JsonDoc::Value& key, const JsonDoc::Value& entry) {
    if (!entry.complete()) return;
    std::string location = key.String();
    // "" is the project itself, other keys without node_modules/ are workspace folders.
    size_t nm = location.rfind("node_modules/");
    if (nm == std::string::npos) return;
    if (!entry.is_object()) {
      AddProblem(out, path, key.line(), "package \"" + location + "\" is not an object");
      return;
    }
    // A link points at a workspace folder listed under its own key.
    if (entry.Get("link").is_true()) return;
    JsonDoc::Value version = entry.Get("version");
    if (!version.is_string()) {
      AddProblem(out, path, key.line(), "package \"" + location + "\" has no \"version\" string");
      return;
    }
    JsonDoc::Value name = entry.Get("name");
    AddNpm(out, name.is_string() ? name.String() : location.substr(nm + 13), version.String(), path,
           key.line(), entry.Get("resolved").String());
  });
}

void ParseComposerLock(const std::string& path, std::string_view text, LockfileParse* out) {
  JsonDoc doc = JsonDoc::Parse(text);
  if (!JsonRoot(doc, path, out)) return;
  for (const char* section : {"packages", "packages-dev"}) {
    JsonDoc::Value list = doc.root().Get(section);
    if (!list.exists() || (list.type() == JsonDoc::Type::kNull)) continue;
    if (!list.is_array()) {
      AddProblem(out, path, list.line(), std::string("\"") + section + "\" is not an array");
      continue;
    }
    list.ForEach([&](const JsonDoc::Value&, const JsonDoc::Value& entry) {
      if (!entry.complete()) return;
      JsonDoc::Value name = entry.Get("name");
      JsonDoc::Value version = entry.Get("version");
      if (!name.is_string() || !version.is_string()) {
        AddProblem(
            out, path, entry.line(),
            std::string("an entry of \"") + section + "\" lacks \"name\" or \"version\" strings");
        return;
      }
      AddPackage(out, "Packagist", name.String(), version.String(), path, name.line());
    });
  }
}

}  // namespace lockfiles

namespace {

std::string_view BaseName(std::string_view path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool IsLockfileName(std::string_view f) {
  if (f == "package-lock.json" || f == "npm-shrinkwrap.json" || f == "yarn.lock" ||
      f == "poetry.lock" || f == "go.sum" || f == "Cargo.lock" || f == "Gemfile.lock" ||
      f == "gems.locked" || f == "composer.lock")
    return true;
  // requirements.txt, requirements-dev.txt, requirements_test.txt
  return f.size() >= 16 && f.substr(0, 12) == "requirements" && f.substr(f.size() - 4) == ".txt" &&
         (f.size() == 16 || f[12] == '-' || f[12] == '_' || f[12] == '.');
}

LockfileParse ParseLockfile(const std::string& path, std::string_view text) {
  using namespace lockfiles;
  LockfileParse out;
  std::string_view f = BaseName(path);
  if (!IsLockfileName(f)) return out;
  if (f == "package-lock.json" || f == "npm-shrinkwrap.json")
    ParsePackageLock(path, text, &out);
  else if (f == "composer.lock")
    ParseComposerLock(path, text, &out);
  else if (f == "yarn.lock")
    ParseYarnLock(path, text, &out);
  else if (f == "poetry.lock")
    ParsePoetryLock(path, text, &out);
  else if (f == "Cargo.lock")
    ParseCargoLock(path, text, &out);
  else if (f == "go.sum")
    ParseGoSum(path, text, &out);
  else if (f == "Gemfile.lock" || f == "gems.locked")
    ParseGemfileLock(path, text, &out);
  else
    ParseRequirements(path, text, &out);
  // The same version installed at several places of a tree is one dependency.
  std::set<std::pair<std::string, std::string>> seen;
  std::vector<Package> unique;
  for (Package& p : out.packages) {
    if (p.name.empty() || p.version.empty()) continue;
    if (seen.insert({p.name, p.version}).second) unique.push_back(std::move(p));
  }
  out.packages = std::move(unique);
  return out;
}

}  // namespace steward::scan
