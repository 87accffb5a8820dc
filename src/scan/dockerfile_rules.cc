#include "scan/dockerfile_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "scan/config_scan.h"
#include "scan/dockerfile_parser.h"
#include "scan/dockerfile_shell.h"

namespace steward::scan {
namespace {

using internal::MakeConfigFinding;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool IsNameStart(char c) { return c == '_' || std::isalpha(static_cast<unsigned char>(c)); }
bool IsNameChar(char c) { return c == '_' || std::isalnum(static_cast<unsigned char>(c)); }

// Replaces $NAME, ${NAME}, ${NAME:-word} and ${NAME-word} from `vars`; nullopt when a
// variable has no value there (the image is then unknown, not unpinned) or is malformed.
std::optional<std::string> Expand(std::string_view s,
                                  const std::map<std::string, std::string>& vars) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '$' || i + 1 >= s.size()) {
      out += s[i];
      continue;
    }
    bool braced = s[i + 1] == '{';
    size_t start = i + (braced ? 2 : 1), end = start;
    while (end < s.size() && IsNameChar(s[end])) ++end;
    if (end == start || !IsNameStart(s[start])) return std::nullopt;
    std::optional<std::string> fallback;
    size_t close = end;
    if (braced) {
      close = s.find('}', end);
      if (close == std::string_view::npos) return std::nullopt;
      std::string_view op = s.substr(end, close - end);
      if (op.rfind(":-", 0) == 0)
        fallback = std::string(op.substr(2));
      else if (op.rfind('-', 0) == 0)
        fallback = std::string(op.substr(1));
      else if (!op.empty())
        return std::nullopt;
      ++close;
    }
    auto v = vars.find(std::string(s.substr(start, end - start)));
    if (v != vars.end() && !v->second.empty()) {
      out += v->second;
    } else if (fallback) {
      out += *fallback;
    } else {
      return std::nullopt;
    }
    i = close - 1;
  }
  return out;
}

bool IsArchive(std::string_view source) {
  std::string s = Lower(source);
  for (std::string_view ext : {".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz",
                               ".txz", ".tar.zst", ".gz", ".bz2", ".xz"}) {
    if (EndsWith(s, ext)) return true;
  }
  return false;
}

bool IsRemote(std::string_view source) {
  std::string s = Lower(source);
  return s.rfind("http://", 0) == 0 || s.rfind("https://", 0) == 0 || s.rfind("ftp://", 0) == 0 ||
         s.rfind("git@", 0) == 0;
}

bool HasFlag(const DockerInstruction& in, std::string_view name) {
  for (const std::string& f : in.flags) {
    if (f == name || f.rfind(std::string(name) + "=", 0) == 0) return true;
  }
  return false;
}

struct Stage {
  size_t from = 0;           // index of its FROM in the instructions
  std::string alias;         // lower case; "" without AS
  int base = -1;             // index of the stage it is built on, -1 for an image
  std::vector<size_t> body;  // indexes of its other instructions
};

class DockerfileScan {
 public:
  DockerfileScan(const ParsedDockerfile& df, const std::string& path) : df_(df), path_(path) {}

  ScanResult Run() {
    for (const DockerfileError& e : df_.errors) {
      out_.problems.push_back(Problem{path_, e.line, e.message});
    }
    for (size_t i = 0; i < df_.instructions.size(); ++i) Visit(i);
    if (!stages_.empty()) CheckFinalStage();
    return std::move(out_);
  }

 private:
  const DockerInstruction& At(size_t i) const { return df_.instructions[i]; }

  void Add(std::string_view rule, int line, std::string message, std::string snippet,
           std::string key) {
    out_.findings.push_back(
        MakeConfigFinding(rule, path_, line, 0, std::move(message), std::move(snippet), key));
  }

  // The instruction as written on one line, for the snippet.
  static std::string Snippet(const DockerInstruction& in) {
    std::string s = in.keyword;
    for (const std::string& f : in.flags) s += " " + f;
    s += " " + in.args;
    if (s.size() > 160) s = s.substr(0, 157) + "...";
    return s;
  }

  std::string StageKey() const {
    return fmt::format("stage {}", stages_.empty() ? 0 : stages_.size() - 1);
  }

  void Visit(size_t i) {
    const DockerInstruction& in = At(i);
    if (in.keyword == "FROM") return From(i);
    if (stages_.empty()) {
      if (in.keyword == "ARG") GlobalArg(in);
    } else {
      stages_.back().body.push_back(i);
    }
    if (in.keyword == "ENV" || in.keyword == "ARG") SecretVars(in);
    if (in.keyword == "ADD") AddInstruction(in);
    if (in.keyword == "ADD" || in.keyword == "COPY") CopyChmod(in);
    if (in.keyword == "RUN") Run(in);
    if (in.keyword == "EXPOSE") Expose(in);
  }

  void GlobalArg(const DockerInstruction& in) {
    for (const std::string& word : SplitDockerWords(in.args, df_.escape)) {
      size_t eq = word.find('=');
      if (eq == std::string::npos) {
        global_args_.emplace(word, "");
      } else {
        global_args_[word.substr(0, eq)] = word.substr(eq + 1);
      }
    }
  }

  int FindStage(std::string_view name) const {
    std::string lower = Lower(name);
    for (size_t s = 0; s < stages_.size(); ++s) {
      if (!stages_[s].alias.empty() && stages_[s].alias == lower) return static_cast<int>(s);
    }
    return -1;
  }

  void From(size_t i) {
    const DockerInstruction& in = At(i);
    std::vector<std::string> words = SplitDockerWords(in.args, df_.escape);
    Stage stage;
    stage.from = i;
    if (words.size() >= 3 && Lower(words[1]) == "as") stage.alias = Lower(words[2]);
    std::string image = words.empty() ? "" : words[0];
    std::optional<std::string> resolved = Expand(image, global_args_);
    if (resolved) stage.base = FindStage(*resolved);
    stages_.push_back(std::move(stage));
    if (!resolved || stages_.back().base >= 0 || Lower(*resolved) == "scratch") return;
    std::string reason = internal::UnpinnedImageReason(*resolved);
    if (reason.empty()) return;
    Add("dockerfile-latest-tag", in.line,
        fmt::format("base image '{}' {}; pin a version tag or a digest (image:1.2.3@sha256:…) "
                    "so rebuilds get the image that was tested",
                    *resolved, reason),
        Snippet(in), StageKey() + " " + *resolved);
  }

  void SecretVars(const DockerInstruction& in) {
    std::vector<std::string> words = SplitDockerWords(in.args, df_.escape);
    std::vector<std::pair<std::string, std::string>> vars;
    if (in.keyword == "ENV" && !words.empty() && words[0].find('=') == std::string::npos) {
      // Legacy `ENV NAME value with spaces`.
      std::string value;
      for (size_t w = 1; w < words.size(); ++w) value += (w > 1 ? " " : "") + words[w];
      vars.emplace_back(words[0], value);
    } else {
      for (const std::string& word : words) {
        size_t eq = word.find('=');
        if (eq != std::string::npos) vars.emplace_back(word.substr(0, eq), word.substr(eq + 1));
      }
    }
    for (const auto& [name, value] : vars) {
      if (!LooksLikeSecretName(name) || value.empty() || value.find('$') != std::string::npos) {
        continue;
      }
      bool env = in.keyword == "ENV";
      size_t at = in.args.find(name);
      Add(env ? "dockerfile-secret-env" : "dockerfile-secret-arg",
          in.LineOf(at == std::string::npos ? 0 : at),
          env ? fmt::format("ENV {} holds a literal secret, which stays readable in every layer "
                            "and in `docker inspect`; pass it at run time from a secret store",
                            name)
              : fmt::format("ARG {} has a literal secret as its default, which stays in the "
                            "image history; use RUN --mount=type=secret instead",
                            name),
          fmt::format("{} {}=***", in.keyword, name), StageKey() + " " + name);
    }
  }

  // Sources of ADD/COPY: every word but the destination.
  std::vector<std::string> Sources(const DockerInstruction& in) const {
    std::vector<std::string> words =
        in.exec_form ? in.exec_args : SplitDockerWords(in.args, df_.escape);
    if (!words.empty()) words.pop_back();
    return words;
  }

  void AddInstruction(const DockerInstruction& in) {
    if (!in.heredocs.empty()) return;  // ADD <<EOF writes inline content: nothing to fetch
    std::vector<std::string> sources = Sources(in);
    bool remote = std::any_of(sources.begin(), sources.end(), IsRemote);
    if (remote) {
      if (HasFlag(in, "--checksum")) return;  // verified download
      Add("dockerfile-add-url", in.line,
          "ADD downloads from a URL without verifying what arrives; use RUN curl -fsSL with a "
          "checksum check (sha256sum -c), or ADD --checksum=sha256:…",
          Snippet(in), StageKey() + " add-url " + in.args);
      return;
    }
    if (sources.empty() || std::any_of(sources.begin(), sources.end(), IsArchive)) return;
    Add("dockerfile-add-instead-of-copy", in.line,
        "ADD of local files; use COPY, which does only that (ADD also unpacks archives and "
        "fetches URLs, which surprises readers)",
        Snippet(in), StageKey() + " add " + in.args);
  }

  void CopyChmod(const DockerInstruction& in) {
    for (const std::string& f : in.flags) {
      if (f == "--chmod=777" || f == "--chmod=0777") {
        Add("dockerfile-chmod-777", in.line,
            fmt::format("{} {} makes the files writable by every user in the container; grant "
                        "only what the process needs (e.g. --chmod=755 or 644)",
                        in.keyword, f),
            Snippet(in), StageKey() + " " + in.keyword + " " + in.args);
      }
    }
  }

  // The shell text a RUN executes: shell form plus heredoc bodies (each after a "\n"), or the
  // exec form's argv; and where each heredoc body starts in it, for LineAt.
  struct RunScript {
    std::string text;
    std::vector<size_t> body_starts;
  };
  static RunScript RunText(const DockerInstruction& in) {
    RunScript run;
    if (in.exec_form) {
      for (const std::string& a : in.exec_args) run.text += (run.text.empty() ? "" : " ") + a;
      return run;
    }
    run.text = in.args;
    for (const std::string& body : in.heredocs) {
      run.text += "\n";
      run.body_starts.push_back(run.text.size());
      run.text += body;
    }
    return run;
  }

  // The file line of run.text[offset]: in the joined lines, or in a heredoc body.
  static int LineAt(const DockerInstruction& in, const RunScript& run, size_t offset) {
    if (in.exec_form) return in.line;
    if (offset < in.args.size()) return in.LineOf(offset);
    for (size_t h = run.body_starts.size(); h-- > 0;) {
      if (offset < run.body_starts[h] || h >= in.heredoc_lines.size()) continue;
      const char* body = run.text.data() + run.body_starts[h];
      return in.heredoc_lines[h] +
             static_cast<int>(std::count(body, run.text.data() + offset, '\n'));
    }
    return in.line;
  }

  void Run(const DockerInstruction& in) {
    const RunScript run = RunText(in);
    const std::string& text = run.text;
    std::string key = StageKey() + " run " + in.args;
    if (std::optional<size_t> at = FindPipeToShell(text)) {
      Add("dockerfile-curl-pipe-shell", LineAt(in, run, *at),
          "a download is piped into a shell, which runs whatever the server sends; download to "
          "a file, verify its checksum or signature, then run it",
          Snippet(in), key + " curl|sh");
    }
    bool apt_cache_mount = false;
    for (const std::string& f : in.flags) {
      if (f.rfind("--mount=", 0) == 0 && f.find("type=cache") != std::string::npos &&
          f.find("/var/lib/apt") != std::string::npos) {
        apt_cache_mount = true;
      }
    }
    for (const ShellCommand& c : SplitShellCommands(text)) {
      if (c.Program() == "sudo") {
        Add("dockerfile-sudo", LineAt(in, run, c.offset),
            "sudo in RUN: build steps already run as the current USER; switch with USER root "
            "… USER app around the steps that need root, and keep sudo out of the image",
            Snippet(in), key + " sudo");
      }
      if (c.Program() == "chmod" && c.HasWord({"777", "0777", "a+rwx", "ugo+rwx"})) {
        Add("dockerfile-chmod-777", LineAt(in, run, c.offset),
            "chmod 777 makes the files writable by every user in the container; grant only what "
            "the process needs (e.g. 755 for programs, 644 for files)",
            Snippet(in), key + " chmod");
      }
      if (c.IsAptGetInstall() && !c.HasWord({"--no-install-recommends"}) &&
          !c.HasWordPrefix("APT::Install-Recommends=")) {
        Add("dockerfile-apt-install-recommends", LineAt(in, run, c.offset),
            "apt-get install without --no-install-recommends pulls in packages nobody asked "
            "for; add --no-install-recommends",
            Snippet(in), key + " recommends");
      }
    }
    if (!apt_cache_mount && HasAptInstall(text) && !RemovesAptLists(text)) {
      apt_without_cleanup_.push_back(&in);
    }
  }

  static bool HasAptInstall(const std::string& text) {
    for (const ShellCommand& c : SplitShellCommands(text)) {
      if (c.IsAptGetInstall()) return true;
    }
    return false;
  }

  static bool RemovesAptLists(const std::string& text) {
    for (const ShellCommand& c : SplitShellCommands(text)) {
      if (c.Program() != "rm") continue;
      for (const std::string& w : c.words) {
        if (w.rfind("/var/lib/apt/lists", 0) == 0) return true;
      }
    }
    return false;
  }

  void Expose(const DockerInstruction& in) {
    for (const std::string& word : SplitDockerWords(in.args, df_.escape)) {
      if (word == "22" || word == "22/tcp") {
        Add("dockerfile-expose-ssh", in.line,
            "EXPOSE 22: an SSH server in a container is one more door to guard; use `docker "
            "exec` or `kubectl exec` to get a shell",
            Snippet(in), StageKey() + " expose 22");
      }
    }
  }

  // The last `keyword` instruction of `stage` or, if it has none, of the stages it is built on.
  const DockerInstruction* LastInherited(size_t stage, std::string_view keyword) const {
    for (int s = static_cast<int>(stage), hops = 0;
         s >= 0 && hops <= static_cast<int>(stages_.size()); s = stages_[s].base, ++hops) {
      const std::vector<size_t>& body = stages_[s].body;
      for (auto it = body.rbegin(); it != body.rend(); ++it) {
        if (At(*it).keyword == keyword) return &At(*it);
      }
    }
    return nullptr;
  }

  void CheckFinalStage() {
    size_t last = stages_.size() - 1;
    const DockerInstruction& from = At(stages_[last].from);
    std::string key = StageKey();
    const DockerInstruction* user = LastInherited(last, "USER");
    if (user == nullptr) {
      Add("dockerfile-root-user", from.line,
          "the final stage sets no USER, so the container runs as root; add a user and USER "
          "it (e.g. RUN useradd -r app, then USER app)",
          Snippet(from), key + " no user");
    } else {
      std::vector<std::string> words = SplitDockerWords(user->args, df_.escape);
      std::string name = words.empty() ? "" : words[0].substr(0, words[0].find(':'));
      if (name == "root" || name == "0") {
        Add("dockerfile-root-user", user->line,
            "the final stage's last USER is root, so the container runs as root; end with USER "
            "of an unprivileged user",
            Snippet(*user), key + " root user");
      }
    }
    if (LastInherited(last, "HEALTHCHECK") == nullptr) {
      Add("dockerfile-no-healthcheck", from.line,
          "the final stage has no HEALTHCHECK, so a hung process looks healthy to Docker; add "
          "HEALTHCHECK CMD with a cheap probe (or HEALTHCHECK NONE to say it is deliberate)",
          Snippet(from), key + " healthcheck");
    }
    // Only the final stage's layers ship; a builder stage's apt lists do not bloat the image.
    for (const DockerInstruction* in : apt_without_cleanup_) {
      if (in->line < from.line) continue;
      Add("dockerfile-apt-no-cleanup", in->line,
          "apt-get install without removing /var/lib/apt/lists in the same RUN leaves the "
          "package lists in the layer; end the RUN with && rm -rf /var/lib/apt/lists/*",
          Snippet(*in), key + " apt cleanup " + in->args);
    }
  }

  const ParsedDockerfile& df_;
  const std::string& path_;
  ScanResult out_;
  std::map<std::string, std::string> global_args_;
  std::vector<Stage> stages_;
  std::vector<const DockerInstruction*> apt_without_cleanup_;
};

}  // namespace

ScanResult ScanDockerfile(std::string_view text, const std::string& path) {
  ParsedDockerfile df = ParseDockerfile(text);
  return DockerfileScan(df, path).Run();
}

bool IsDockerfileName(std::string_view filename) {
  std::string name = Lower(filename);
  if (name == "dockerfile" || name == "containerfile") return true;
  if (EndsWith(name, ".dockerfile") || EndsWith(name, ".containerfile")) return true;
  if (EndsWith(name, "ignore")) return false;  // Dockerfile.dockerignore
  return name.rfind("dockerfile.", 0) == 0 || name.rfind("containerfile.", 0) == 0;
}

}  // namespace steward::scan
