#include "scan/dockerfile_shell.h"

#include <algorithm>
#include <cctype>

namespace steward::scan {
namespace {

bool IsAssignment(std::string_view word) {
  size_t eq = word.find('=');
  if (eq == 0 || eq == std::string_view::npos) return false;
  for (size_t i = 0; i < eq; ++i) {
    char c = word[i];
    bool ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsShellKeyword(std::string_view word) {
  for (std::string_view k :
       {"if", "then", "do", "else", "elif", "while", "until", "!", "{", "time"}) {
    if (word == k) return true;
  }
  return false;
}

std::string Basename(std::string_view word) {
  size_t slash = word.rfind('/');
  return std::string(slash == std::string_view::npos ? word : word.substr(slash + 1));
}

bool IsShell(std::string_view program) {
  for (std::string_view s : {"sh", "bash", "zsh", "dash", "ash", "ksh"}) {
    if (program == s) return true;
  }
  return false;
}

// Index of the program word: after assignments and keywords; words.size() when none.
size_t ProgramIndex(const std::vector<std::string>& words) {
  size_t i = 0;
  while (i < words.size() && (IsAssignment(words[i]) || IsShellKeyword(words[i]))) ++i;
  return i;
}

class Splitter {
 public:
  explicit Splitter(std::string_view text) : text_(text) {}

  std::vector<ShellCommand> Run() {
    for (size_t i = 0; i < text_.size(); ++i) i = Step(i);
    EndCommand(false);
    return std::move(out_);
  }

 private:
  // Consumes the character at i (and any it belongs with); returns the last index consumed.
  size_t Step(size_t i) {
    char c = text_[i];
    char next = i + 1 < text_.size() ? text_[i + 1] : '\0';
    if (quote_ == '\'') {
      if (c == '\'')
        quote_ = 0;
      else
        word_ += c;
      return i;
    }
    if (quote_ == '"') {
      if (c == '\\' && next != '\0') {
        word_ += next;
        return i + 1;
      }
      if (c == '"')
        quote_ = 0;
      else
        word_ += c;
      return i;
    }
    switch (c) {
      case '\\':
        if (next == '\n') return i + 1;  // line continuation
        Start(i);
        if (next != '\0') word_ += next;
        return i + 1;
      case '\'':
      case '"':
        Start(i);
        quote_ = c;
        return i;
      case '#':
        if (in_word_) break;
        while (i + 1 < text_.size() && text_[i + 1] != '\n') ++i;  // a comment
        return i;
      case ' ':
      case '\t':
      case '\r':
        EndWord();
        return i;
      case '(':
        if (in_word_ && !word_.empty() && word_.back() == '$') word_.pop_back();
        EndCommand(false);
        return i;
      case '\n':
      case ';':
      case ')':
      case '`':
        EndCommand(false);
        return i;
      case '&':
        EndCommand(false);
        return next == '&' ? i + 1 : i;
      case '|':
        EndCommand(next != '|');
        return next == '|' ? i + 1 : i;
      default:
        break;
    }
    Start(i);
    word_ += c;
    return i;
  }

  void Start(size_t i) {
    if (!started_) {
      current_.offset = i;
      started_ = true;
    }
    in_word_ = true;
  }

  void EndWord() {
    if (in_word_) current_.words.push_back(std::move(word_));
    word_.clear();
    in_word_ = false;
  }

  void EndCommand(bool pipe) {
    EndWord();
    if (!current_.words.empty()) {
      current_.pipeline = pipeline_;
      out_.push_back(std::move(current_));
    }
    current_ = ShellCommand();
    started_ = false;
    if (!pipe) ++pipeline_;
  }

  std::string_view text_;
  std::vector<ShellCommand> out_;
  ShellCommand current_;
  std::string word_;
  bool in_word_ = false;
  bool started_ = false;
  char quote_ = 0;
  int pipeline_ = 0;
};

constexpr size_t kMaxCommandBytes = 4096;

// `sh -c "$(curl …)"`, `bash <(curl …)`: a $( or <( whose command is curl or wget, with a
// shell earlier in the same command (up to the last newline, ;, | or &). Also inside double
// quotes, which the splitter keeps whole. Returns where the shell word starts.
std::optional<size_t> FindSubstitutedDownload(std::string_view text) {
  for (size_t at = text.find('('); at != std::string_view::npos; at = text.find('(', at + 1)) {
    if (at == 0 || (text[at - 1] != '$' && text[at - 1] != '<')) continue;
    size_t i = at + 1;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t word_end = i;
    while (word_end < text.size() && std::isalnum(static_cast<unsigned char>(text[word_end]))) {
      ++word_end;
    }
    std::string_view program = text.substr(i, word_end - i);
    if (program != "curl" && program != "wget") continue;
    size_t start = text.find_last_of("\n;|&", at - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    start = std::max(start, at > kMaxCommandBytes ? at - kMaxCommandBytes : 0);  // bound the work
    for (const ShellCommand& c : SplitShellCommands(text.substr(start, at - 1 - start))) {
      if (IsShell(c.RealProgram())) return start + c.offset;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string ShellCommand::Program() const {
  size_t i = ProgramIndex(words);
  return i < words.size() ? Basename(words[i]) : "";
}

std::string ShellCommand::RealProgram() const {
  size_t i = ProgramIndex(words);
  while (i < words.size()) {
    std::string program = Basename(words[i]);
    if (program == "sudo") {
      ++i;
      while (i < words.size() && words[i].rfind('-', 0) == 0) {
        bool takes_value = words[i] == "-u" || words[i] == "-g" || words[i] == "-C" ||
                           words[i] == "-D" || words[i] == "-h";
        i += takes_value ? 2 : 1;
      }
    } else if (program == "env") {
      ++i;
      while (i < words.size() && (IsAssignment(words[i]) || words[i].rfind('-', 0) == 0)) ++i;
    } else if (program == "exec" || program == "nohup" || program == "command") {
      ++i;
    } else {
      return program;
    }
  }
  return "";
}

bool ShellCommand::HasWord(std::initializer_list<std::string_view> any_of) const {
  return std::any_of(words.begin(), words.end(), [&](const std::string& w) {
    return std::find(any_of.begin(), any_of.end(), w) != any_of.end();
  });
}

bool ShellCommand::HasWordPrefix(std::string_view prefix) const {
  return std::any_of(words.begin(), words.end(),
                     [&](const std::string& w) { return w.rfind(prefix, 0) == 0; });
}

bool ShellCommand::IsAptGetInstall() const {
  std::string program = RealProgram();
  return (program == "apt-get" || program == "apt") && HasWord({"install"});
}

std::vector<ShellCommand> SplitShellCommands(std::string_view text) { return Splitter(text).Run(); }

std::optional<size_t> FindPipeToShell(std::string_view text) {
  std::vector<ShellCommand> commands = SplitShellCommands(text);
  for (size_t j = 0; j < commands.size(); ++j) {
    if (!IsShell(commands[j].RealProgram())) continue;
    for (size_t i = 0; i < j; ++i) {
      std::string program = commands[i].RealProgram();
      if (commands[i].pipeline == commands[j].pipeline &&
          (program == "curl" || program == "wget")) {
        return commands[i].offset;
      }
    }
  }
  return FindSubstitutedDownload(text);
}

}  // namespace steward::scan
