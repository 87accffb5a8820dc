#include "scan/baseline.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <utility>

#include <nlohmann/json.hpp>

#include "base/fd.h"
#include "base/json.h"

namespace steward::scan {

namespace {

constexpr int kVersion = 1;

// "line L, column C" of a byte offset, for JSON syntax errors.
std::string LineColumn(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(offset), '\n'));
  size_t nl = offset == 0 ? std::string_view::npos : text.rfind('\n', offset - 1);
  size_t col = nl == std::string_view::npos ? offset + 1 : offset - nl;
  return std::to_string(line) + ":" + std::to_string(col);
}

bool IsLowerHex(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

}  // namespace

StatusOr<Baseline> ParseBaseline(std::string_view text, std::string_view name) {
  std::string where(name);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts the byte that failed, 1-based.
    size_t at = e.byte > 0 ? e.byte - 1 : 0;
    return Corruption(where + ":" + LineColumn(text, at) +
                      ": not valid JSON (the format: docs/formats/scan-baseline.md)");
  } catch (const nlohmann::json::exception&) {
    // A number too large for any JSON type (out_of_range 406) is thrown as another kind.
    return Corruption(where + ": not valid JSON: a number is out of range (the format: "
                      "docs/formats/scan-baseline.md)");
  }
  if (!j.is_object()) return Corruption(where + ": not a JSON object");
  auto v = j.find("version");
  if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() != kVersion) {
    return Corruption(where + ": \"version\" must be " + std::to_string(kVersion));
  }
  auto f = j.find("findings");
  if (f == j.end() || !f->is_array()) {
    return Corruption(where + ": \"findings\" must be an array");
  }
  Baseline b;
  for (size_t i = 0; i < f->size(); ++i) {
    const nlohmann::json& e = (*f)[i];
    std::string at = where + ": findings[" + std::to_string(i) + "]";
    if (!e.is_object()) return Corruption(at + ": must be an object");
    auto fp = e.find("fingerprint");
    if (fp == e.end() || !fp->is_string() || !IsLowerHex(fp->get<std::string>())) {
      return Corruption(at + ": \"fingerprint\" must be a lowercase hex string");
    }
    b.fingerprints.insert(fp->get<std::string>());
  }
  return b;
}

StatusOr<Baseline> LoadBaseline(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ErrnoError("baseline " + path, errno);
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return ErrnoError("baseline " + path, errno);
  return ParseBaseline(ss.str(), path);
}

Status WriteBaseline(const std::string& path, const ScanResult& r) {
  // Sorted by fingerprint and without duplicates: the file diffs well in review.
  std::vector<const Finding*> list;
  for (const Finding& f : r.findings) list.push_back(&f);
  std::sort(list.begin(), list.end(), [](const Finding* a, const Finding* b) {
    return a->fingerprint < b->fingerprint;
  });
  list.erase(std::unique(list.begin(), list.end(),
                         [](const Finding* a, const Finding* b) {
                           return a->fingerprint == b->fingerprint;
                         }),
             list.end());
  nlohmann::json findings = nlohmann::json::array();
  for (const Finding* f : list) {
    if (f->fingerprint.empty()) continue;
    nlohmann::json e = {{"fingerprint", f->fingerprint},
                        {"scanner", f->scanner},
                        {"rule", f->rule},
                        {"path", f->path},
                        {"line", f->line}};
    if (!f->commit.empty()) e["commit"] = f->commit;
    findings.push_back(std::move(e));
  }
  nlohmann::json doc = {{"version", kVersion}, {"findings", std::move(findings)}};
  std::string text = doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";

  std::string tmpl = path + ".tmp-XXXXXX";
  Fd fd(mkstemp(tmpl.data()));
  if (fd.get() < 0) return ErrnoError("baseline " + path + ": create temporary file", errno);
  auto fail = [&](std::string_view what) {
    Status st = ErrnoError("baseline " + path + ": " + std::string(what), errno);
    unlink(tmpl.c_str());
    return st;
  };
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = write(fd.get(), text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd.get(), 0644) != 0) return fail("chmod");
  if (fsync(fd.get()) != 0) return fail("fsync");
  if (rename(tmpl.c_str(), path.c_str()) != 0) return fail("rename");
  return Status::OK();
}

size_t ApplyBaseline(const Baseline& b, ScanResult* r) {
  auto known = [&](const Finding& f) { return b.fingerprints.count(f.fingerprint) > 0; };
  size_t before = r->findings.size();
  r->findings.erase(std::remove_if(r->findings.begin(), r->findings.end(), known),
                    r->findings.end());
  return before - r->findings.size();
}

}  // namespace steward::scan
