// The YAML examples of docs/stack-reference.md must parse: whole stacks as they are, and
// fragments that start with a top-level section (services, monitoring, scrape_configs,
// monitors) inside a minimal stack. Other fragments (a lone `restart:` value) are skipped.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "unit/config/parse_helpers.h"

namespace steward::config {
namespace {

std::vector<std::string> YamlBlocks(const std::string& markdown) {
  std::vector<std::string> blocks;
  std::istringstream in(markdown);
  std::string line;
  std::string block;
  bool inside = false;
  while (std::getline(in, line)) {
    if (!inside && line == "```yaml") {
      inside = true;
      block.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(block);
    } else if (inside) {
      block += line + "\n";
    }
  }
  return blocks;
}

// The stack to parse for an example, or "" when it is a fragment of something smaller.
std::string AsStack(const std::string& block) {
  if (block.starts_with("project:")) return block;
  if (block.starts_with("services:")) return "project: p\n" + block;
  for (const char* section : {"monitoring:", "scrape_configs:", "monitors:"}) {
    if (block.starts_with(section)) return "project: p\nservices: {}\n" + block;
  }
  return "";
}

TEST(DocsExamples, StackReferenceExamplesParse) {
  std::ifstream in(STEWARD_DOCS_DIR "/stack-reference.md");
  ASSERT_TRUE(in) << "cannot read " STEWARD_DOCS_DIR "/stack-reference.md";
  std::stringstream text;
  text << in.rdbuf();
  int parsed = 0;
  for (const std::string& block : YamlBlocks(text.str())) {
    std::string stack = AsStack(block);
    if (stack.empty()) continue;
    ParseResult r = testing::Parse(stack, {{"LOG_LEVEL", "info"}});
    EXPECT_TRUE(r.ok()) << block << "\n" << testing::Errors(r);
    ++parsed;
  }
  EXPECT_GE(parsed, 5);  // the top example, metrics, monitoring, scrape configs, monitors
}

}  // namespace
}  // namespace steward::config
