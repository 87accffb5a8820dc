// Node::String (template_internal.h): a node as it would be written, like Go's
// text/template/parse node.go String methods, for error contexts ("at <humanize \"x\">").
#include <fmt/format.h>

#include "alerting/template_internal.h"

namespace steward::alerting::tmpl {
namespace {

void WriteNode(const Node& n, std::string* out);

void WriteArg(const Node& n, std::string* out) {
  if (n.type == NodeType::kPipe) {
    *out += '(';
    WriteNode(n, out);
    *out += ')';
  } else {
    WriteNode(n, out);
  }
}

void WriteControl(const Node& n, const char* keyword, std::string* out) {
  *out += fmt::format("{{{{{} ", keyword);
  WriteNode(*n.pipe, out);
  *out += "}}";
  WriteNode(*n.list, out);
  if (n.else_list) {
    *out += "{{else}}";
    WriteNode(*n.else_list, out);
  }
  *out += "{{end}}";
}

void Join(const std::vector<std::string>& parts, const char* lead, std::string* out) {
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0 || *lead != '\0') *out += '.';
    *out += parts[i];
  }
}

void WriteNode(const Node& n, std::string* out) {
  switch (n.type) {
    case NodeType::kList:
      for (const auto& c : n.nodes) WriteNode(*c, out);
      return;
    case NodeType::kText:
      *out += n.text;
      return;
    case NodeType::kAction:
      *out += "{{";
      WriteNode(*n.pipe, out);
      *out += "}}";
      return;
    case NodeType::kIf:
      WriteControl(n, "if", out);
      return;
    case NodeType::kRange:
      WriteControl(n, "range", out);
      return;
    case NodeType::kWith:
      WriteControl(n, "with", out);
      return;
    case NodeType::kTemplate:
      *out += "{{template " + Quote(n.text);
      if (n.pipe) {
        *out += ' ';
        WriteNode(*n.pipe, out);
      }
      *out += "}}";
      return;
    case NodeType::kBreak:
      *out += "{{break}}";
      return;
    case NodeType::kContinue:
      *out += "{{continue}}";
      return;
    case NodeType::kPipe:
      for (size_t i = 0; i < n.decl.size(); ++i) {
        if (i > 0) *out += ", ";
        WriteNode(*n.decl[i], out);
      }
      if (!n.decl.empty()) *out += " := ";
      for (size_t i = 0; i < n.nodes.size(); ++i) {
        if (i > 0) *out += " | ";
        WriteNode(*n.nodes[i], out);
      }
      return;
    case NodeType::kCommand:
      for (size_t i = 0; i < n.nodes.size(); ++i) {
        if (i > 0) *out += ' ';
        WriteArg(*n.nodes[i], out);
      }
      return;
    case NodeType::kIdentifier:
      *out += n.text;
      return;
    case NodeType::kVariable:
      Join(n.ident, "", out);
      return;
    case NodeType::kField:
      Join(n.ident, ".", out);
      return;
    case NodeType::kChain:
      WriteArg(*n.pipe, out);
      Join(n.ident, ".", out);
      return;
    case NodeType::kDot:
      *out += '.';
      return;
    case NodeType::kNil:
      *out += "nil";
      return;
    case NodeType::kBool:
      *out += n.b ? "true" : "false";
      return;
    case NodeType::kNumber:
    case NodeType::kString:
      *out += n.raw;
      return;
    case NodeType::kEnd:
      *out += "{{end}}";
      return;
    case NodeType::kElse:
      *out += "{{else}}";
      return;
  }
}

}  // namespace

std::string Node::String() const {
  std::string out;
  WriteNode(*this, &out);
  return out;
}

}  // namespace steward::alerting::tmpl
