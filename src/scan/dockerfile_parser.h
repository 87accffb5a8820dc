// A Dockerfile as its instructions, the way BuildKit's parser reads it: parser directives at
// the top (only `escape` changes parsing: `# escape=`` makes the backtick the line-continuation
// character, for Windows paths), comment lines dropped (also inside a continued instruction),
// an instruction continued over lines that end in the escape character, heredocs (`RUN <<EOF`
// … `EOF`, `<<-` strips leading tabs) kept as bodies of their instruction instead of being read
// as instructions, JSON (exec) form told apart from shell form, and leading --flags split off.
//
// The parser never stops at a bad line: an unknown instruction, a missing argument or an
// unterminated heredoc becomes an error with its line and parsing goes on with the next line.
// Thread safety: stateless; safe to call concurrently.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace steward::scan {

struct DockerInstruction {
  std::string keyword;                 // upper case: "FROM", "RUN", …
  std::vector<std::string> flags;      // leading "--name=value" as written ("--platform=$X")
  std::string args;                    // the rest, continuation lines joined, trimmed
  bool exec_form = false;              // args is a JSON array of strings
  std::vector<std::string> exec_args;  // its items when exec_form
  std::vector<std::string> heredocs;   // bodies of <<WORD heredocs, in order
  std::vector<int> heredoc_lines;      // the line each body starts on
  int line = 0;                        // 1-based line of the keyword
  int end_line = 0;                    // last line, heredoc bodies included
  // Where each joined source line starts in `args`, to point at the line of a match inside a
  // long continued RUN: (offset in args, line), ascending.
  std::vector<std::pair<size_t, int>> line_starts;

  // The file line that holds args[offset].
  int LineOf(size_t offset) const;
};

struct DockerfileError {
  int line = 0;
  std::string message;
};

struct ParsedDockerfile {
  std::vector<DockerInstruction> instructions;
  std::vector<DockerfileError> errors;
  char escape = '\\';
};

ParsedDockerfile ParseDockerfile(std::string_view text);

// Splits a shell-form argument string into words the way Dockerfile instructions do for ENV,
// ARG, LABEL, EXPOSE, USER, ADD and COPY: whitespace separates, single and double quotes group
// (and are removed), the escape character keeps the next character.
std::vector<std::string> SplitDockerWords(std::string_view text, char escape);

}  // namespace steward::scan
