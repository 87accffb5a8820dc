// Just enough of POSIX shell to check RUN lines: the text cut into simple commands at ; & &&
// || | ( ) ` and newlines (outside quotes), each as its words with quotes removed, and which
// commands form one pipeline. Not an interpreter: no expansion, no redirections, no here-docs
// (the Dockerfile parser has taken those out already).
// Thread safety: stateless; safe to call concurrently.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace steward::scan {

struct ShellCommand {
  size_t offset = 0;               // where the command starts in the text
  std::vector<std::string> words;  // quotes removed; a "# comment" is dropped
  int pipeline = 0;                // commands joined by '|' share it

  // The program: the first word after VAR=value assignments and shell keywords (if, then, do,
  // !, …), without its directory ("/usr/bin/apt-get" -> "apt-get"); "" when there is none.
  std::string Program() const;
  // The program once `sudo [options]`, `env [VAR=value]` and `exec` are looked through.
  std::string RealProgram() const;
  bool HasWord(std::initializer_list<std::string_view> any_of) const;
  bool HasWordPrefix(std::string_view prefix) const;
  // apt-get (or apt) with an `install` argument.
  bool IsAptGetInstall() const;
};

std::vector<ShellCommand> SplitShellCommands(std::string_view text);

// Where a download (curl, wget) is handed to a shell: piped (`curl … | sh`, also through tee
// or sudo) or substituted (`sh -c "$(curl …)"`, `bash <(curl …)`); nullopt when nowhere.
std::optional<size_t> FindPipeToShell(std::string_view text);

}  // namespace steward::scan
