// libFuzzer entry point for Glob (src/pipeline/glob.cc): cache inputs and outputs and artifact
// paths come from pipeline files, including GitHub workflows from other people's repositories.
// The input is a list of patterns, one per line, matched against a small fixed tree. Glob must
// answer OK or InvalidArgument — never crash or hang — and an answer must be sorted, unique,
// relative, without '..', and name only files that exist below the root.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "pipeline/cache.h"

namespace {

char g_root[64];  // plain storage: still valid when the atexit handler removes the tree

void RemoveRoot() { std::filesystem::remove_all(g_root); }

const std::string& Root() {
  static const std::string root = [] {
    char tmpl[] = "/tmp/steward-glob-fuzz-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) std::abort();
    std::string r = tmpl;
    std::snprintf(g_root, sizeof g_root, "%s", tmpl);
    std::atexit(RemoveRoot);
    for (const char* dir : {"/src", "/src/deep", "/src/deep/er", "/.git", "/dist", "/[x]"}) {
      mkdir((r + dir).c_str(), 0755);
    }
    for (const char* f : {"/a.cc", "/b.h", "/.hidden", "/src/main.cc", "/src/deep/x.cc",
                          "/src/deep/er/y.txt", "/.git/HEAD", "/dist/app.js", "/[x]/q*?"}) {
      std::ofstream(r + f) << f;
    }
    symlink("/etc", (r + "/escape").c_str());
    symlink("a.cc", (r + "/alias").c_str());
    return r;
  }();
  return root;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  std::string in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> patterns;
  size_t start = 0;
  while (start <= in.size() && patterns.size() < 16) {
    size_t nl = in.find('\n', start);
    if (nl == std::string::npos) nl = in.size();
    patterns.push_back(in.substr(start, nl - start));
    start = nl + 1;
  }
  auto files = steward::pipeline::Glob(Root(), patterns);
  if (!files.ok()) {
    if (files.status().code() != steward::StatusCode::kInvalidArgument) std::abort();
    return 0;
  }
  if (!std::is_sorted(files->begin(), files->end())) std::abort();
  if (std::adjacent_find(files->begin(), files->end()) != files->end()) std::abort();
  for (const std::string& f : *files) {
    if (f.empty() || f[0] == '/' || f.find("..") != std::string::npos) std::abort();
    struct stat st;
    if (lstat((Root() + "/" + f).c_str(), &st) != 0 || S_ISDIR(st.st_mode)) std::abort();
  }
  return 0;
}
