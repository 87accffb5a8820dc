#include "scan/dockerfile_parser.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>

namespace steward::scan {
namespace {

constexpr std::array<std::string_view, 18> kKeywords = {
    "ADD",    "ARG",   "CMD",         "COPY",  "ENTRYPOINT", "ENV",
    "EXPOSE", "FROM",  "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
    "RUN",    "SHELL", "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view TrimLeft(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view TrimRight(std::string_view s) {
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  if (!lines.empty() && lines.back().empty()) lines.pop_back();  // the final newline
  return lines;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

bool IsKeyword(std::string_view upper) {
  return std::find(kKeywords.begin(), kKeywords.end(), upper) != kKeywords.end();
}

std::string UnknownInstruction(std::string_view word) {
  std::string upper = Upper(word);
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view k : kKeywords) {
    size_t d = EditDistance(upper, k);
    if (d < best_distance) best = k, best_distance = d;
  }
  std::string message = fmt::format("unknown instruction '{}'", word);
  if (!best.empty()) message += fmt::format("; did you mean {}?", best);
  return message;
}

bool IsWordStart(char c) { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

bool IsWordChar(char c) { return IsWordStart(c) || (c >= '0' && c <= '9'); }

// `# name=value` before anything else; returns false for any other line. (Hand-written rather
// than std::regex, whose recursion overflows the stack on a long line.)
bool ParseDirective(std::string_view line, std::string* name, std::string* value) {
  std::string_view t = TrimLeft(line);
  if (t.empty() || t.front() != '#') return false;
  t = TrimLeft(t.substr(1));
  size_t end = 0;
  while (end < t.size() && (IsWordChar(t[end]) || t[end] == '-')) ++end;
  if (end == 0 || !IsWordStart(t[0])) return false;
  std::string_view rest = TrimLeft(t.substr(end));
  if (rest.empty() || rest.front() != '=') return false;
  *name = Upper(t.substr(0, end));
  *value = std::string(TrimRight(TrimLeft(rest.substr(1))));
  return true;
}

struct Heredoc {
  bool strip_tabs = false;
  std::string word;
};

// <<EOF, <<-EOF, <<"EOF", <<'EOF' in args, in order; "<<<" (a here-string) is not one.
std::vector<Heredoc> FindHeredocs(std::string_view args) {
  std::vector<Heredoc> found;
  for (size_t at = args.find("<<"); at != std::string_view::npos; at = args.find("<<", at + 2)) {
    if ((at > 0 && args[at - 1] == '<') || (at + 2 < args.size() && args[at + 2] == '<')) {
      while (at + 2 < args.size() && args[at + 2] == '<') ++at;  // skip the whole <<<
      continue;
    }
    size_t i = at + 2;
    Heredoc h;
    if (i < args.size() && args[i] == '-') {
      h.strip_tabs = true;
      ++i;
    }
    char quote = (i < args.size() && (args[i] == '\'' || args[i] == '"')) ? args[i++] : 0;
    size_t start = i;
    if (i >= args.size() || !IsWordStart(args[i])) continue;
    while (i < args.size() && IsWordChar(args[i])) ++i;
    if (quote != 0 && (i >= args.size() || args[i] != quote)) continue;
    h.word = std::string(args.substr(start, i - start));
    found.push_back(std::move(h));
  }
  return found;
}

bool TakesFlags(std::string_view keyword) {
  return keyword == "FROM" || keyword == "RUN" || keyword == "COPY" || keyword == "ADD" ||
         keyword == "HEALTHCHECK";
}

bool TakesExecForm(std::string_view keyword) {
  return keyword == "RUN" || keyword == "CMD" || keyword == "ENTRYPOINT" || keyword == "SHELL" ||
         keyword == "COPY" || keyword == "ADD" || keyword == "VOLUME";
}

bool TakesHeredocs(std::string_view keyword) {
  return keyword == "RUN" || keyword == "COPY" || keyword == "ADD";
}

// Drops `n` bytes from the front of in->args and moves the line offsets with them.
void DropPrefix(DockerInstruction* in, size_t n) {
  in->args.erase(0, n);
  for (auto& [offset, line] : in->line_starts) offset = offset > n ? offset - n : 0;
}

void SplitFlags(DockerInstruction* in) {
  while (in->args.rfind("--", 0) == 0) {
    size_t end = 0;
    while (end < in->args.size() && !IsSpace(in->args[end])) ++end;
    in->flags.push_back(in->args.substr(0, end));
    while (end < in->args.size() && IsSpace(in->args[end])) ++end;
    DropPrefix(in, end);
  }
}

void ReadExecForm(DockerInstruction* in) {
  if (in->args.empty() || in->args.front() != '[') return;
  nlohmann::json j = nlohmann::json::parse(in->args, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return;  // not JSON: BuildKit reads it as shell form too
  std::vector<std::string> items;
  for (const auto& item : j) {
    if (!item.is_string()) return;
    items.push_back(item.get<std::string>());
  }
  in->exec_form = true;
  in->exec_args = std::move(items);
}

class Parser {
 public:
  explicit Parser(std::string_view text) : lines_(SplitLines(text)) {}

  ParsedDockerfile Run() {
    ReadDirectives();
    while (next_ < lines_.size()) {
      std::string_view t = TrimLeft(lines_[next_]);
      if (t.empty() || t.front() == '#') {
        ++next_;
        continue;
      }
      ReadInstruction();
    }
    CheckStages();
    return std::move(out_);
  }

 private:
  void Error(int line, std::string message) {
    out_.errors.push_back(DockerfileError{line, std::move(message)});
  }

  void ReadDirectives() {
    std::string name, value;
    while (next_ < lines_.size() && ParseDirective(lines_[next_], &name, &value)) {
      if (name == "ESCAPE") {
        if (value == "`" || value == "\\") {
          out_.escape = value.front();
        } else {
          Error(static_cast<int>(next_) + 1,
                fmt::format("escape directive must be \\ or `, got '{}'", value));
        }
      }
      ++next_;
    }
  }

  // Joins the instruction starting at next_ with its continuation lines.
  DockerInstruction JoinLines() {
    DockerInstruction in;
    in.line = static_cast<int>(next_) + 1;
    std::string text;
    bool first = true;
    while (next_ < lines_.size()) {
      std::string_view line = lines_[next_++];
      std::string_view t = TrimLeft(line);
      // Inside a continued instruction, comment and empty lines are dropped, as BuildKit does.
      if (!first && (t.empty() || t.front() == '#')) continue;
      std::string_view body = TrimRight(first ? t : line);
      bool more = !body.empty() && body.back() == out_.escape;
      if (more) body.remove_suffix(1);
      in.line_starts.emplace_back(text.size(), static_cast<int>(next_));
      text.append(body);
      in.end_line = static_cast<int>(next_);
      first = false;
      if (!more) break;
    }
    in.args = std::move(text);
    return in;
  }

  void ReadInstruction() {
    DockerInstruction in = JoinLines();
    size_t word_end = 0;
    while (word_end < in.args.size() && !IsSpace(in.args[word_end])) ++word_end;
    std::string word = in.args.substr(0, word_end);
    size_t args_start = word_end;
    while (args_start < in.args.size() && IsSpace(in.args[args_start])) ++args_start;
    DropPrefix(&in, args_start);
    in.args = std::string(TrimRight(in.args));
    in.keyword = Upper(word);
    if (TakesFlags(in.keyword)) SplitFlags(&in);
    if (TakesHeredocs(in.keyword)) ReadHeredocs(&in);
    if (!IsKeyword(in.keyword)) {
      Error(in.line, UnknownInstruction(word));
      return;
    }
    if (in.args.empty()) {
      Error(in.line, fmt::format("{} needs an argument", in.keyword));
      return;
    }
    if (TakesExecForm(in.keyword)) ReadExecForm(&in);
    out_.instructions.push_back(std::move(in));
  }

  void ReadHeredocs(DockerInstruction* in) {
    for (const Heredoc& h : FindHeredocs(in->args)) {
      std::string body;
      bool closed = false;
      in->heredoc_lines.push_back(static_cast<int>(next_) + 1);
      while (next_ < lines_.size()) {
        std::string_view line = lines_[next_++];
        std::string_view candidate = line;
        if (h.strip_tabs) {
          while (!candidate.empty() && candidate.front() == '\t') candidate.remove_prefix(1);
        }
        if (candidate == h.word) {
          closed = true;
          break;
        }
        body.append(line).push_back('\n');
      }
      in->end_line = static_cast<int>(next_);
      if (!closed) {
        Error(in->line, fmt::format("heredoc <<{0} is not closed; end it with a line holding "
                                    "only {0}",
                                    h.word));
      }
      in->heredocs.push_back(std::move(body));
    }
  }

  // Instructions other than ARG need a FROM before them; a Dockerfile needs a FROM.
  void CheckStages() {
    bool seen_from = false;
    for (const DockerInstruction& in : out_.instructions) {
      if (in.keyword == "FROM") {
        seen_from = true;
      } else if (!seen_from && in.keyword != "ARG") {
        Error(in.line,
              fmt::format("{} before the first FROM; only ARG may come before FROM", in.keyword));
        seen_from = true;  // one error is enough
      }
    }
    if (!seen_from) Error(1, "no FROM instruction; a Dockerfile starts with FROM image:tag");
  }

  std::vector<std::string_view> lines_;
  size_t next_ = 0;
  ParsedDockerfile out_;
};

}  // namespace

int DockerInstruction::LineOf(size_t offset) const {
  int line = this->line;
  for (const auto& [start, at] : line_starts) {
    if (start > offset) break;
    line = at;
  }
  return line;
}

ParsedDockerfile ParseDockerfile(std::string_view text) { return Parser(text).Run(); }

std::vector<std::string> SplitDockerWords(std::string_view text, char escape) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quote == 0 && IsSpace(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == escape && quote != '\'' && i + 1 < text.size()) {
      word.push_back(text[++i]);
    } else if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
    } else if (c == quote) {
      quote = 0;
    } else {
      word.push_back(c);
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

}  // namespace steward::scan
