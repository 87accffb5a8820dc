// Line-oriented lockfiles: yarn.lock, requirements.txt, go.sum, Gemfile.lock.
#include <cctype>
#include <functional>
#include <unordered_map>
#include <vector>

#include "scan/lockfiles_formats.h"
#include "scan/versions.h"

namespace steward::scan::lockfiles {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Calls f(line_number, line) for each line, without its "\n" or "\r\n".
void ForEachLine(std::string_view text, const std::function<void(int, std::string_view)>& f) {
  int number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(++number, line);
    start = end + 1;
  }
}

std::string_view Unquote(std::string_view s) {
  s = Trim(s);
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

size_t Indent(std::string_view line) {
  size_t n = 0;
  while (n < line.size() && line[n] == ' ') ++n;
  return n;
}

// --- yarn.lock ---

struct YarnEntry {
  bool open = false;
  bool skip = false;
  int line = 0;
  std::string name;
  std::string version;
  std::string resolution;
};

// Installs from anywhere but the registry ("file:", "link:", "workspace:", git, URLs).
bool NonRegistryRange(std::string_view range) {
  for (std::string_view p : {"file:", "link:", "workspace:", "portal:", "patch:", "exec:", "git",
                             "http:", "https:", "github:"}) {
    if (StartsWith(range, p)) return true;
  }
  return false;
}

void FlushYarn(YarnEntry* e, const std::string& path, LockfileParse* out) {
  if (!e->open || e->skip) {
    *e = YarnEntry();
    return;
  }
  std::string name = e->name, version = e->version;
  if (!e->resolution.empty()) {  // berry: "name@npm:1.2.3" says what was installed
    size_t at = e->resolution.find("@npm:", 1);
    if (at == std::string::npos) {
      *e = YarnEntry();
      return;
    }
    name = e->resolution.substr(0, at);
    version = e->resolution.substr(at + 5);
  }
  if (version.empty()) {
    AddProblem(out, path, e->line, "entry for \"" + e->name + "\" has no version");
  } else {
    AddPackage(out, "npm", name, version, path, e->line);
  }
  *e = YarnEntry();
}

}  // namespace

void ParseYarnLock(const std::string& path, std::string_view text, LockfileParse* out) {
  bool berry = StartsWith(text, "__metadata:") || text.find("\n__metadata:") != text.npos;
  YarnEntry e;
  ForEachLine(text, [&](int n, std::string_view line) {
    if (Trim(line).empty() || line[0] == '#') return;
    if (line[0] != ' ') {
      FlushYarn(&e, path, out);
      std::string_view header = Trim(line);
      if (header.back() != ':') {
        AddProblem(out, path, n,
                   "expected an entry header such as \"name@^1.0.0:\" (ending in ':')");
        return;
      }
      header.remove_suffix(1);
      e.open = true;
      e.line = n;
      if (header == "__metadata") {
        e.skip = true;
        return;
      }
      std::string_view spec = Unquote(header.substr(0, header.find(',')));
      size_t at = spec.find('@', 1);
      if (at == std::string_view::npos) {
        AddProblem(out, path, n,
                   "entry \"" + std::string(spec) + "\" names no range; expected name@range");
        e.skip = true;
        return;
      }
      std::string_view name = spec.substr(0, at), range = spec.substr(at + 1);
      if (StartsWith(range, "npm:")) {  // an alias, or berry's explicit protocol
        std::string_view real = range.substr(4);
        size_t real_at = real.find('@', 1);
        if (real_at != std::string_view::npos) name = real.substr(0, real_at);
      } else if (NonRegistryRange(range)) {
        e.skip = true;
      }
      e.name = std::string(name);
      return;
    }
    if (!e.open || Indent(line) != 2) return;
    std::string_view body = Trim(line);
    if (berry) {
      if (StartsWith(body, "version:")) e.version = std::string(Unquote(body.substr(8)));
      if (StartsWith(body, "resolution:")) e.resolution = std::string(Unquote(body.substr(11)));
    } else if (StartsWith(body, "version ")) {
      e.version = std::string(Unquote(body.substr(8)));
    }
  });
  FlushYarn(&e, path, out);
}

// --- requirements.txt ---

namespace {

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

void ParseRequirement(const std::string& path, int n, std::string_view line, LockfileParse* out) {
  // A comment starts at '#' at the line's start or after whitespace ("pkg#egg" is a URL).
  for (size_t i = 0; i < line.size(); ++i) {
    if (line[i] == '#' && (i == 0 || std::isspace(static_cast<unsigned char>(line[i - 1])))) {
      line = line.substr(0, i);
      break;
    }
  }
  line = Trim(line);
  if (line.empty() || line[0] == '-') return;  // options: -r, -c, -e, --index-url, --hash
  if (line.find("://") != line.npos || line[0] == '.' || line[0] == '/' ||
      line.find(" @ ") != line.npos || line.find('@') != line.npos)
    return;  // URLs and paths pin no registry version
  size_t option = line.find(" --");
  if (option != line.npos) line = Trim(line.substr(0, option));
  line = Trim(line.substr(0, line.find(';')));  // environment markers
  size_t i = 0;
  while (i < line.size() && IsNameChar(line[i])) ++i;
  if (i == 0 || !std::isalnum(static_cast<unsigned char>(line[0]))) {
    AddProblem(out, path, n,
               "expected a package name (letters, digits, '.', '_', '-') such as requests==2.31.0");
    return;
  }
  std::string name(line.substr(0, i));
  std::string_view rest = Trim(line.substr(i));
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == rest.npos) {
      AddProblem(out, path, n, "unclosed '[' of extras; expected name[extra]==version");
      return;
    }
    rest = Trim(rest.substr(close + 1));
  }
  if (rest.empty()) return;  // not pinned
  std::string_view version;
  if (StartsWith(rest, "===")) {
    version = rest.substr(3);
  } else if (StartsWith(rest, "==")) {
    version = rest.substr(2);
  } else {
    for (std::string_view op : {"~=", "!=", "<=", ">=", "<", ">"}) {
      if (StartsWith(rest, op)) return;  // a range, not a pin
    }
    AddProblem(out, path, n,
               "unexpected \"" + std::string(rest) + "\" after \"" + name +
                   "\"; expected a version specifier such as ==1.2.3");
    return;
  }
  version = Trim(version.substr(0, version.find(',')));
  if (version.find('*') != version.npos) return;  // ==1.* is a range
  if (version.empty()) {
    AddProblem(out, path, n, "\"==\" without a version after \"" + name + "\"");
    return;
  }
  if (!IsValidVersion(VersionScheme::kPep440, version)) {
    AddProblem(out, path, n,
               "\"" + std::string(version) + "\" is not a PEP 440 version (such as 1.2.3)");
    return;
  }
  AddPackage(out, "PyPI", std::move(name), std::string(version), path, n);
}

}  // namespace

void ParseRequirements(const std::string& path, std::string_view text, LockfileParse* out) {
  std::string joined;  // a line ending in '\' continues on the next one
  int first = 0;
  ForEachLine(text, [&](int n, std::string_view line) {
    if (joined.empty() && first == 0) first = n;
    if (!line.empty() && line.back() == '\\') {
      joined.append(line.substr(0, line.size() - 1));
      joined += ' ';
      return;
    }
    joined.append(line);
    ParseRequirement(path, first, joined, out);
    joined.clear();
    first = 0;
  });
  if (first != 0) ParseRequirement(path, first, joined, out);
}

// --- go.sum ---

// go.sum holds "module version hash" lines, and "module version/go.mod hash" ones. Go records
// only the go.mod hash of modules it consulted for the module graph but did not build (older
// versions MVS passed over), so a version with no line of its own was never compiled in and
// cannot be vulnerable in this build.
void ParseGoSum(const std::string& path, std::string_view text, LockfileParse* out) {
  struct Seen {
    std::string module, version;
    int line = 0;
    bool built = false;
  };
  std::vector<Seen> seen;
  std::unordered_map<std::string, size_t> index;
  ForEachLine(text, [&](int n, std::string_view line) {
    line = Trim(line);
    if (line.empty()) return;
    std::vector<std::string_view> fields;
    size_t i = 0;
    while (i < line.size()) {
      while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      size_t start = i;
      while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
      if (i > start) fields.push_back(line.substr(start, i - start));
    }
    if (fields.size() != 3) {
      AddProblem(out, path, n,
                 "expected \"module version hash\" (three fields), found " +
                     std::to_string(fields.size()));
      return;
    }
    std::string_view version = fields[1];
    bool gomod = version.size() > 7 && version.substr(version.size() - 7) == "/go.mod";
    if (gomod) version.remove_suffix(7);
    if (version.empty() || version[0] != 'v' || !IsValidVersion(VersionScheme::kGo, version)) {
      AddProblem(out, path, n,
                 "\"" + std::string(fields[1]) + "\" is not a Go module version such as v1.2.3");
      return;
    }
    std::string key = std::string(fields[0]) + "@" + std::string(version);
    auto [it, inserted] = index.emplace(key, seen.size());
    if (inserted) seen.push_back(Seen{std::string(fields[0]), std::string(version), n, false});
    Seen& s = seen[it->second];
    if (!gomod && !s.built) {
      s.built = true;
      s.line = n;
    }
  });
  for (Seen& s : seen) {
    if (s.built) AddPackage(out, "Go", std::move(s.module), std::move(s.version), path, s.line);
  }
}

// --- Gemfile.lock ---

// Bundler's format: sections at column 0 (GEM, GIT, PATH, PLATFORMS, DEPENDENCIES...); in GEM,
// "  specs:" lists gems at four spaces as "name (version[-platform])" and their own
// dependencies at six. GIT and PATH gems come from elsewhere and are left out.
void ParseGemfileLock(const std::string& path, std::string_view text, LockfileParse* out) {
  std::string_view section;
  bool in_specs = false;
  ForEachLine(text, [&](int n, std::string_view line) {
    if (Trim(line).empty()) return;
    if (line[0] != ' ') {
      section = Trim(line);
      in_specs = false;
      return;
    }
    if (section != "GEM") return;
    size_t indent = Indent(line);
    if (indent == 2) {
      in_specs = Trim(line) == "specs:";
      return;
    }
    if (indent != 4 || !in_specs) return;
    std::string_view spec = Trim(line);
    size_t open = spec.find(" (");
    if (open == spec.npos || spec.back() != ')') {
      AddProblem(out, path, n, "expected a gem spec such as \"    rack (2.2.3)\"");
      return;
    }
    std::string_view version = spec.substr(open + 2, spec.size() - open - 3);
    version = version.substr(0, version.find('-'));  // "1.13.10-x86_64-linux": a platform
    if (version.empty()) {
      AddProblem(out, path, n, "gem spec has an empty version");
      return;
    }
    AddPackage(out, "RubyGems", std::string(spec.substr(0, open)), std::string(version), path, n);
  });
}

}  // namespace steward::scan::lockfiles
