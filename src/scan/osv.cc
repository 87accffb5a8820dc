#include "scan/osv.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>
#include <unordered_set>

#include "base/fd.h"
#include "scan/deps_json.h"
#include "scan/versions.h"

namespace steward::scan {
namespace {

using Value = JsonDoc::Value;

// --- CVSS ---

using Metrics = std::map<std::string_view, std::string_view, std::less<>>;

bool SplitMetrics(std::string_view v, Metrics* m) {
  while (!v.empty()) {
    size_t slash = v.find('/');
    std::string_view part = v.substr(0, slash);
    size_t colon = part.find(':');
    if (colon == std::string_view::npos) return false;
    (*m)[part.substr(0, colon)] = part.substr(colon + 1);
    if (slash == std::string_view::npos) break;
    v.remove_prefix(slash + 1);
  }
  return true;
}

// Looks up m[key] in a table of (value, weight); nullopt when missing or unknown.
std::optional<double> Weight(const Metrics& m, std::string_view key,
                             std::initializer_list<std::pair<std::string_view, double>> table) {
  auto it = m.find(key);
  if (it == m.end()) return std::nullopt;
  for (const auto& [name, weight] : table) {
    if (it->second == name) return weight;
  }
  return std::nullopt;
}

// CVSS v3.1's Roundup: the smallest one-decimal number >= x, robust to float error.
double Roundup(double x) {
  long long i = std::llround(x * 100000);
  if (i % 10000 == 0) return static_cast<double>(i) / 100000.0;
  return (std::floor(static_cast<double>(i) / 10000.0) + 1) / 10.0;
}

std::optional<double> CvssV3(const Metrics& m) {
  auto scope = m.find("S");
  if (scope == m.end() || (scope->second != "U" && scope->second != "C")) return std::nullopt;
  bool changed = scope->second == "C";
  auto av = Weight(m, "AV", {{"N", 0.85}, {"A", 0.62}, {"L", 0.55}, {"P", 0.2}});
  auto ac = Weight(m, "AC", {{"L", 0.77}, {"H", 0.44}});
  auto pr =
      Weight(m, "PR", {{"N", 0.85}, {"L", changed ? 0.68 : 0.62}, {"H", changed ? 0.5 : 0.27}});
  auto ui = Weight(m, "UI", {{"N", 0.85}, {"R", 0.62}});
  auto c = Weight(m, "C", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  auto i = Weight(m, "I", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  auto a = Weight(m, "A", {{"H", 0.56}, {"L", 0.22}, {"N", 0}});
  if (!av || !ac || !pr || !ui || !c || !i || !a) return std::nullopt;
  double iss = 1 - (1 - *c) * (1 - *i) * (1 - *a);
  double impact = changed ? 7.52 * (iss - 0.029) - 3.25 * std::pow(iss - 0.02, 15) : 6.42 * iss;
  double exploitability = 8.22 * *av * *ac * *pr * *ui;
  if (impact <= 0) return 0.0;
  return Roundup(
      std::min(changed ? 1.08 * (impact + exploitability) : impact + exploitability, 10.0));
}

std::optional<double> CvssV2(const Metrics& m) {
  auto av = Weight(m, "AV", {{"L", 0.395}, {"A", 0.646}, {"N", 1.0}});
  auto ac = Weight(m, "AC", {{"H", 0.35}, {"M", 0.61}, {"L", 0.71}});
  auto au = Weight(m, "Au", {{"M", 0.45}, {"S", 0.56}, {"N", 0.704}});
  auto c = Weight(m, "C", {{"N", 0}, {"P", 0.275}, {"C", 0.660}});
  auto i = Weight(m, "I", {{"N", 0}, {"P", 0.275}, {"C", 0.660}});
  auto a = Weight(m, "A", {{"N", 0}, {"P", 0.275}, {"C", 0.660}});
  if (!av || !ac || !au || !c || !i || !a) return std::nullopt;
  double impact = 10.41 * (1 - (1 - *c) * (1 - *i) * (1 - *a));
  double exploitability = 20 * *av * *ac * *au;
  double base = (0.6 * impact + 0.4 * exploitability - 1.5) * (impact == 0 ? 0 : 1.176);
  return std::round(base * 10) / 10;
}

Severity FromScore(double score) {
  if (score >= 9) return Severity::kCritical;
  if (score >= 7) return Severity::kHigh;
  if (score >= 4) return Severity::kMedium;
  if (score > 0) return Severity::kLow;
  return Severity::kInfo;
}

// --- OSV documents ---

std::string IndexKey(std::string_view ecosystem, std::string_view name) {
  std::string key(ecosystem);
  key += '\0';
  key += NormalizePackageName(ecosystem, name);
  return key;
}

class AdvisoryReader {
 public:
  AdvisoryReader(const std::string& path, std::vector<Problem>* problems,
                 const std::unordered_set<std::string>* wanted)
      : path_(path), problems_(problems), wanted_(wanted) {}

  std::optional<Advisory> Read(std::string_view text) {
    // One document per thread, reused: loading a database parses 100,000 of them.
    thread_local JsonDoc doc;
    doc.Reparse(text);
    if (!doc.ok()) {
      Report(doc.error_line(), "column " + std::to_string(doc.error_column()) + ": " + doc.error() +
                                   " (not valid JSON)");
      return std::nullopt;
    }
    Value root = doc.root();
    if (!root.is_object()) {
      Report(root.line(), "expected an OSV advisory (a JSON object)");
      return std::nullopt;
    }
    if (wanted_ != nullptr && !Wanted(root)) return std::nullopt;
    Advisory a;
    a.path = path_;
    Value id = root.Get("id");
    if (!id.is_string() || id.String().empty()) {
      Report(root.line(), "advisory has no \"id\" string");
      return std::nullopt;
    }
    a.id = id.String();
    a.summary = root.Get("summary").String();
    a.details = root.Get("details").String();
    a.withdrawn = root.Get("withdrawn").is_string();
    root.Get("aliases").ForEach([&](const Value&, const Value& alias) {
      if (alias.is_string()) a.aliases.push_back(alias.String());
    });
    ReadSeverity(root, &a);
    Value affected = root.Get("affected");
    if (affected.exists() && !affected.is_array()) {
      Report(affected.line(), a.id + ": \"affected\" is not an array");
    }
    affected.ForEach([&](const Value&, const Value& entry) { ReadAffected(a.id, entry, &a); });
    return a;
  }

 private:
  void Report(int line, std::string message) {
    problems_->push_back(scan::Problem{path_, line, std::move(message)});
  }

  bool Wanted(const Value& root) const {
    bool wanted = false;
    root.Get("affected").ForEach([&](const Value&, const Value& entry) {
      Value package = entry.Get("package");
      if (!wanted &&
          wanted_->count(IndexKey(package.Get("ecosystem").String(), package.Get("name").String())))
        wanted = true;
    });
    return wanted;
  }

  void ReadSeverity(const Value& root, Advisory* a) {
    std::optional<double> v3, v2;
    root.Get("severity").ForEach([&](const Value&, const Value& s) {
      std::string type = s.Get("type").String();
      std::string score = s.Get("score").String();
      Metrics m;
      if (type == "CVSS_V3" && score.starts_with("CVSS:3.") && !v3) {
        if (SplitMetrics(std::string_view(score).substr(score.find('/') + 1), &m)) v3 = CvssV3(m);
        if (!v3) Report(s.line(), a->id + ": CVSS_V3 vector \"" + score + "\" is incomplete");
      } else if (type == "CVSS_V2" && !v2) {
        if (SplitMetrics(score, &m)) v2 = CvssV2(m);
      }
    });
    std::optional<Severity> stated =
        ParseSeverity(root.Get("database_specific").Get("severity").String());
    if (v3) {
      a->cvss_score = v3;
      a->severity = FromScore(*v3);
    } else if (stated) {
      a->severity = *stated;
    } else if (v2) {
      a->cvss_score = v2;
      a->severity = FromScore(*v2);
    }
  }

  void ReadAffected(const std::string& id, const Value& entry, Advisory* a) {
    Value package = entry.Get("package");
    OsvAffected af;
    af.ecosystem = package.Get("ecosystem").String();
    af.name = package.Get("name").String();
    if (af.ecosystem.empty() || af.name.empty()) {
      Report(entry.line(), id + ": affected entry without package.ecosystem and package.name");
      return;
    }
    std::optional<VersionScheme> scheme = SchemeForEcosystem(af.ecosystem);
    entry.Get("versions").ForEach([&](const Value&, const Value& v) {
      if (v.is_string()) af.versions.push_back(v.String());
    });
    entry.Get("ranges").ForEach([&](const Value&, const Value& r) {
      std::string type = r.Get("type").String();
      OsvRange range;
      std::optional<VersionScheme> range_scheme = scheme;
      if (type == "SEMVER") {
        range.type = OsvRange::Type::kSemver;
        if (scheme != VersionScheme::kGo) range_scheme = VersionScheme::kSemver;
      } else if (type == "ECOSYSTEM") {
        range.type = OsvRange::Type::kEcosystem;
      } else if (type == "GIT") {
        range.type = OsvRange::Type::kGit;
      } else {
        Report(r.line(), id + ": range type \"" + type + "\" is not SEMVER, ECOSYSTEM or GIT");
        return;
      }
      bool valid = true;
      r.Get("events").ForEach([&](const Value&, const Value& e) {
        static constexpr std::pair<const char*, OsvEvent::Kind> kKinds[] = {
            {"introduced", OsvEvent::Kind::kIntroduced},
            {"fixed", OsvEvent::Kind::kFixed},
            {"last_affected", OsvEvent::Kind::kLastAffected},
            {"limit", OsvEvent::Kind::kLimit}};
        for (const auto& [key, kind] : kKinds) {
          Value v = e.Get(key);
          if (!v.is_string()) continue;
          std::string version = v.String();
          bool special = (kind == OsvEvent::Kind::kIntroduced && version == "0") ||
                         (kind == OsvEvent::Kind::kLimit && version == "*");
          if (range.type != OsvRange::Type::kGit && range_scheme && !special &&
              !IsValidVersion(*range_scheme, version)) {
            Report(v.line(), id + ": \"" + version + "\" is not a " +
                                 std::string(SchemeName(*range_scheme)) + " version");
            valid = false;
          }
          range.events.push_back(OsvEvent{kind, std::move(version)});
          return;
        }
        Report(e.line(), id + ": event without introduced, fixed, last_affected or limit");
      });
      if (valid) af.ranges.push_back(std::move(range));
    });
    a->affected.push_back(std::move(af));
  }

  const std::string& path_;
  std::vector<Problem>* problems_;
  const std::unordered_set<std::string>* wanted_;
};

std::optional<VersionScheme> RangeScheme(const OsvAffected& af, const OsvRange& r) {
  std::optional<VersionScheme> scheme = SchemeForEcosystem(af.ecosystem);
  if (r.type == OsvRange::Type::kSemver && scheme != VersionScheme::kGo)
    return VersionScheme::kSemver;
  return scheme;
}

bool InRange(const OsvRange& r, VersionScheme scheme, std::string_view version) {
  auto is_zero = [](const OsvEvent& e) {
    return e.kind == OsvEvent::Kind::kIntroduced && e.version == "0";
  };
  std::vector<const OsvEvent*> events;
  std::vector<const OsvEvent*> limits;
  for (const OsvEvent& e : r.events) {
    if (e.kind == OsvEvent::Kind::kLimit) {
      if (e.version != "*") limits.push_back(&e);
    } else if (is_zero(e) || IsValidVersion(scheme, e.version)) {
      events.push_back(&e);
    }
  }
  std::stable_sort(events.begin(), events.end(), [&](const OsvEvent* a, const OsvEvent* b) {
    if (is_zero(*a) || is_zero(*b)) return is_zero(*a) && !is_zero(*b);
    return CompareVersions(scheme, a->version, b->version).value_or(0) < 0;
  });
  bool affected = false;
  for (const OsvEvent* e : events) {
    int c = is_zero(*e) ? 1 : CompareVersions(scheme, version, e->version).value_or(0);
    switch (e->kind) {
      case OsvEvent::Kind::kIntroduced:
        if (c >= 0) affected = true;
        break;
      case OsvEvent::Kind::kFixed:
        if (c >= 0) affected = false;
        break;
      case OsvEvent::Kind::kLastAffected:
        if (c > 0) affected = false;
        break;
      case OsvEvent::Kind::kLimit:
        break;
    }
  }
  if (affected && !limits.empty()) {
    affected = std::any_of(limits.begin(), limits.end(), [&](const OsvEvent* l) {
      return CompareVersions(scheme, version, l->version).value_or(1) < 0;
    });
  }
  return affected;
}

// Reads a whole file; false with errno-based text in *error.
bool ReadWholeFile(const std::string& path, std::string* out, std::string* error) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    *error = std::strerror(errno);
    return false;
  }
  // Reads the size fstat gave and stops there: one read() per file, no extra one for EOF.
  out->resize(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out->size()) {
    ssize_t n = ::read(fd.get(), out->data() + done, out->size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      *error = std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out->resize(done);
  return true;
}

}  // namespace

std::optional<double> CvssBaseScore(std::string_view vector) {
  Metrics m;
  if (vector.starts_with("CVSS:3.")) {
    size_t slash = vector.find('/');
    if (slash == std::string_view::npos || !SplitMetrics(vector.substr(slash + 1), &m))
      return std::nullopt;
    return CvssV3(m);
  }
  if (vector.starts_with("(") && vector.ends_with(")"))
    vector = vector.substr(1, vector.size() - 2);
  if (!SplitMetrics(vector, &m)) return std::nullopt;
  return CvssV2(m);
}

std::string NormalizePackageName(std::string_view ecosystem, std::string_view name) {
  std::string out;
  out.reserve(name.size());
  if (ecosystem == "PyPI") {
    for (char c : name) {
      if (c == '-' || c == '_' || c == '.') {
        if (out.empty() || out.back() != '-') out += '-';
      } else {
        out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    return out;
  }
  if (ecosystem == "Packagist") {
    for (char c : name) out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  }
  return std::string(name);
}

std::optional<Advisory> ParseAdvisory(const std::string& path, std::string_view text,
                                      std::vector<Problem>* problems) {
  return AdvisoryReader(path, problems, nullptr).Read(text);
}

bool Advisory::Affects(size_t index, std::string_view version) const {
  if (index >= affected.size()) return false;
  const OsvAffected& af = affected[index];
  std::optional<VersionScheme> scheme = SchemeForEcosystem(af.ecosystem);
  for (const std::string& v : af.versions) {
    if (v == version || (scheme && CompareVersions(*scheme, v, version) == 0)) return true;
  }
  for (const OsvRange& r : af.ranges) {
    if (r.type == OsvRange::Type::kGit) continue;
    std::optional<VersionScheme> s = RangeScheme(af, r);
    if (s && IsValidVersion(*s, version) && InRange(r, *s, version)) return true;
  }
  return false;
}

std::vector<std::string> Advisory::FixedVersions(size_t index) const {
  std::vector<std::string> fixed;
  if (index >= affected.size()) return fixed;
  for (const OsvRange& r : affected[index].ranges) {
    if (r.type == OsvRange::Type::kGit) continue;
    for (const OsvEvent& e : r.events) {
      if (e.kind == OsvEvent::Kind::kFixed &&
          std::find(fixed.begin(), fixed.end(), e.version) == fixed.end())
        fixed.push_back(e.version);
    }
  }
  return fixed;
}

OsvDatabase OsvDatabase::FromAdvisories(std::vector<Advisory> advisories) {
  OsvDatabase db;
  db.advisories_ = std::move(advisories);
  db.BuildIndex();
  return db;
}

void OsvDatabase::BuildIndex() {
  index_.clear();
  for (uint32_t a = 0; a < advisories_.size(); ++a) {
    if (advisories_[a].withdrawn) continue;
    const std::vector<OsvAffected>& affected = advisories_[a].affected;
    for (uint32_t e = 0; e < affected.size(); ++e) {
      index_[IndexKey(affected[e].ecosystem, affected[e].name)].emplace_back(a, e);
    }
  }
}

StatusOr<OsvDatabase> OsvDatabase::Load(const std::string& dir, std::vector<Problem>* problems,
                                        const OsvLoadOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return InvalidArgument("OSV database " + dir +
                           ": not a directory; expected a directory of OSV JSON files "
                           "(such as osv.dev's all.zip unpacked)");
  }
  std::vector<std::string> files;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return IOError("OSV database " + dir + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      problems->push_back(Problem{dir, 0, "listing stopped early: " + ec.message()});
      break;
    }
    if (it->path().extension() == ".json" && it->is_regular_file(ec)) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  std::unordered_set<std::string> wanted;
  for (const Package& p : options.only_packages) wanted.insert(IndexKey(p.ecosystem, p.name));
  const std::unordered_set<std::string>* filter = wanted.empty() ? nullptr : &wanted;

  // Reading and parsing dominate; a few threads hide the open/read latency and use the cores.
  unsigned threads = std::clamp(std::thread::hardware_concurrency(), 2u, 8u);
  threads = std::min<unsigned>(threads, static_cast<unsigned>(files.size() / 64 + 1));
  struct Part {
    std::vector<Advisory> advisories;
    std::vector<Problem> problems;
  };
  std::vector<Part> parts(threads);
  std::atomic<size_t> next{0};
  auto work = [&](Part* part) {
    std::string text, error;
    for (size_t i = next++; i < files.size(); i = next++) {
      if (!ReadWholeFile(files[i], &text, &error)) {
        part->problems.push_back(Problem{files[i], 0, "cannot read: " + error});
        continue;
      }
      std::optional<Advisory> a = AdvisoryReader(files[i], &part->problems, filter).Read(text);
      if (a) part->advisories.push_back(std::move(*a));
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work, &parts[t]);
  work(&parts[0]);
  for (std::thread& t : pool) t.join();

  OsvDatabase db;
  size_t total = 0;
  for (Part& p : parts) total += p.advisories.size();
  db.advisories_.reserve(total);
  for (Part& p : parts) {
    std::move(p.advisories.begin(), p.advisories.end(), std::back_inserter(db.advisories_));
    std::move(p.problems.begin(), p.problems.end(), std::back_inserter(*problems));
  }
  db.BuildIndex();
  return db;
}

std::vector<size_t> OsvDatabase::MatchingEntries(const Advisory& a, const Package& p) const {
  std::vector<size_t> out;
  std::string name = NormalizePackageName(p.ecosystem, p.name);
  for (size_t e = 0; e < a.affected.size(); ++e) {
    const OsvAffected& af = a.affected[e];
    if (af.ecosystem == p.ecosystem && NormalizePackageName(af.ecosystem, af.name) == name &&
        a.Affects(e, p.version))
      out.push_back(e);
  }
  return out;
}

std::vector<const Advisory*> OsvDatabase::Affecting(const Package& p) const {
  std::vector<const Advisory*> out;
  auto it = index_.find(IndexKey(p.ecosystem, p.name));
  if (it == index_.end()) return out;
  for (const auto& [a, e] : it->second) {
    const Advisory* advisory = &advisories_[a];
    if ((out.empty() || out.back() != advisory) && advisory->Affects(e, p.version))
      out.push_back(advisory);
  }
  std::sort(out.begin(), out.end(),
            [](const Advisory* x, const Advisory* y) { return x->id < y->id; });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace steward::scan
