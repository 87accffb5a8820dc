// Go 1.20's text/template parser (text/template/parse/parse.go and node.go's String methods):
// the same grammar, the same look-ahead and the same errors, so a template is accepted or
// rejected with Go's words. Function names are checked at parse time, as Go does.
#include <fmt/format.h>

#include <cstring>

#include "alerting/template_internal.h"
#include "alerting/template_lex.h"
#include "base/go_float.h"

namespace steward::alerting::tmpl {
namespace {

std::unique_ptr<Node> MakeNode(NodeType type, size_t pos, int line = 1) {
  auto n = std::make_unique<Node>();
  n->type = type;
  n->pos = pos;
  n->line = line;
  return n;
}

std::vector<std::string> SplitDots(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t dot; (dot = s.find('.', start)) != std::string_view::npos; start = dot + 1) {
    out.emplace_back(s.substr(start, dot - start));
  }
  out.emplace_back(s.substr(start));
  return out;
}

// strconv.ParseUint/ParseInt(s, 0, 64): sign (int only), 0x/0o/0b/0 prefixes, '_' between
// digits (base 0 allows them, as Go literals do).
bool ParseGoInteger(std::string_view s, bool is_signed, int64_t* i, uint64_t* u) {
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    if (!is_signed) return false;
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  bool prefixed = false;
  if (s.size() >= 2 && s[0] == '0') {
    char c = static_cast<char>(s[1] | 0x20);
    if (c == 'x' || c == 'o' || c == 'b') {
      base = c == 'x' ? 16 : c == 'o' ? 8 : 2;
      s.remove_prefix(2);
      prefixed = true;
    } else {
      base = 8;
      s.remove_prefix(1);
      prefixed = true;
    }
  }
  if (s.empty() && !(base == 8 && prefixed)) return false;
  uint64_t v = 0;
  bool after_digit = prefixed;  // '_' only between digits, or right after a base prefix
  for (char c : s) {
    if (c == '_') {
      if (!after_digit) return false;
      after_digit = false;
      continue;
    }
    int d = c >= '0' && c <= '9'                     ? c - '0'
            : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10
                                                     : 99;
    if (d >= base) return false;
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return false;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    after_digit = true;
  }
  if (!after_digit && !s.empty()) return false;
  if (!is_signed) {
    *u = v;
    return true;
  }
  if (neg ? v > (uint64_t{1} << 63) : v > static_cast<uint64_t>(INT64_MAX)) return false;
  *i = neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

class Parser {
 public:
  Parser(std::string_view name, std::string_view text, TemplateSet* set)
      : lex_(text), name_(name), set_(set) {}

  void ParseAll();
  // Where an error is: the action it is in, else the innermost control left open (for
  // "unexpected EOF"), else the token.
  size_t error_pos() const {
    if (action_pos_ != SIZE_MAX) return action_pos_;
    return open_.empty() ? token_[0].pos : open_.back();
  }

 private:
  [[noreturn]] void Errorf(const std::string& message) {
    throw TemplateError(fmt::format("template: {}:{}: {}", name_, token_[0].line, message));
  }
  [[noreturn]] void Unexpected(const Item& token, std::string_view context);
  Item Next();
  void Backup() { ++peek_count_; }
  void Backup2(Item t1) {
    token_[1] = std::move(t1);
    peek_count_ = 2;
  }
  void Backup3(Item t2, Item t1) {
    token_[1] = std::move(t1);
    token_[2] = std::move(t2);
    peek_count_ = 3;
  }
  const Item& Peek();
  Item NextNonSpace();
  const Item& PeekNonSpace();
  Item Expect(ItemType type, std::string_view context);

  void AddTree(const std::string& name, std::unique_ptr<Node> root);
  void ParseDefinition();
  std::unique_ptr<Node> ItemList(std::unique_ptr<Node>* end);
  std::unique_ptr<Node> TextOrAction();
  std::unique_ptr<Node> Action();
  std::unique_ptr<Node> Pipeline(std::string_view context, ItemType end);
  void CheckPipeline(const Node& pipe, std::string_view context);
  std::unique_ptr<Node> Control(NodeType type, bool allow_else_if, std::string_view context);
  std::unique_ptr<Node> BreakOrContinue(NodeType type, const Item& token);
  std::unique_ptr<Node> ElseControl();
  std::unique_ptr<Node> BlockControl();
  std::unique_ptr<Node> TemplateControl();
  std::string TemplateName(const Item& token, std::string_view context);
  std::unique_ptr<Node> Command();
  std::unique_ptr<Node> Operand();
  std::unique_ptr<Node> Term();
  std::unique_ptr<Node> UseVar(const Item& token);
  std::unique_ptr<Node> Number(const Item& token);
  void Deeper() {
    if (++depth_ > kMaxParseDepth) Errorf("max expression depth exceeded");
  }

  Lexer lex_;
  std::string name_;
  TemplateSet* set_;
  Item token_[3];
  int peek_count_ = 0;
  std::vector<std::string> vars_{"$"};
  int range_depth_ = 0;
  int depth_ = 0;
  size_t action_pos_ = SIZE_MAX;
  int action_line_ = 0;
  std::vector<size_t> open_;  // the actions of the controls being parsed
};

void Parser::Unexpected(const Item& token, std::string_view context) {
  if (token.type == ItemType::kError) {
    std::string extra;
    if (action_line_ != 0 && action_line_ != token.line) {
      extra = fmt::format(" in action started at {}:{}", name_, action_line_);
      if (token.val.ends_with(" action")) extra = extra.substr(std::strlen(" in action"));
    }
    Errorf(token.String() + extra);
  }
  Errorf(fmt::format("unexpected {} in {}", token.String(), context));
}

Item Parser::Next() {
  if (peek_count_ > 0) {
    --peek_count_;
  } else {
    token_[0] = lex_.Next();
  }
  return token_[peek_count_];
}

const Item& Parser::Peek() {
  if (peek_count_ > 0) return token_[peek_count_ - 1];
  peek_count_ = 1;
  token_[0] = lex_.Next();
  return token_[0];
}

Item Parser::NextNonSpace() {
  Item t;
  do {
    t = Next();
  } while (t.type == ItemType::kSpace);
  return t;
}

const Item& Parser::PeekNonSpace() {
  Item t = NextNonSpace();
  Backup();
  return token_[peek_count_ - 1];
}

Item Parser::Expect(ItemType type, std::string_view context) {
  Item t = NextNonSpace();
  if (t.type != type) Unexpected(t, context);
  return t;
}

void Parser::AddTree(const std::string& name, std::unique_ptr<Node> root) {
  auto it = set_->trees.find(name);
  auto empty = [](const Node& list) {
    for (const auto& n : list.nodes) {
      if (n->type != NodeType::kText || n->text.find_first_not_of(" \t\r\n") != std::string::npos)
        return false;
    }
    return true;
  };
  if (it == set_->trees.end() || empty(*it->second)) {
    set_->trees[name] = std::move(root);
    return;
  }
  if (!empty(*root))
    Errorf(fmt::format("template: multiple definition of template {}", Quote(name)));
}

void Parser::ParseAll() {
  auto root = MakeNode(NodeType::kList, Peek().pos);
  while (Peek().type != ItemType::kEof) {
    if (Peek().type == ItemType::kLeftDelim) {
      Item delim = Next();
      if (NextNonSpace().type == ItemType::kDefine) {
        ParseDefinition();
        continue;
      }
      Backup2(std::move(delim));
    }
    auto n = TextOrAction();
    if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
      Errorf("unexpected " + n->String());
    }
    root->nodes.push_back(std::move(n));
  }
  AddTree(name_, std::move(root));
}

void Parser::ParseDefinition() {
  constexpr std::string_view kContext = "define clause";
  Item name = NextNonSpace();
  if (name.type != ItemType::kString && name.type != ItemType::kRawString) {
    Unexpected(name, kContext);
  }
  auto unquoted = UnquoteLiteral(name.val);
  if (!unquoted.ok()) Errorf(std::string(unquoted.status().message()));
  Expect(ItemType::kRightDelim, kContext);
  std::vector<std::string> saved_vars{"$"};
  saved_vars.swap(vars_);
  std::unique_ptr<Node> end;
  auto root = ItemList(&end);
  if (end->type != NodeType::kEnd)
    Errorf(fmt::format("unexpected {} in {}", end->String(), kContext));
  vars_.swap(saved_vars);
  AddTree(*unquoted, std::move(root));
}

std::unique_ptr<Node> Parser::ItemList(std::unique_ptr<Node>* end) {
  auto list = MakeNode(NodeType::kList, PeekNonSpace().pos);
  while (PeekNonSpace().type != ItemType::kEof) {
    auto n = TextOrAction();
    if (n->type == NodeType::kEnd || n->type == NodeType::kElse) {
      *end = std::move(n);
      return list;
    }
    list->nodes.push_back(std::move(n));
  }
  Errorf("unexpected EOF");
}

std::unique_ptr<Node> Parser::TextOrAction() {
  Item token = NextNonSpace();
  switch (token.type) {
    case ItemType::kText: {
      auto n = MakeNode(NodeType::kText, token.pos, token.line);
      n->text = std::move(token.val);
      return n;
    }
    case ItemType::kLeftDelim: {
      action_line_ = token.line;
      action_pos_ = token.pos;
      auto n = Action();
      action_line_ = 0;
      action_pos_ = SIZE_MAX;
      return n;
    }
    default:
      Unexpected(token, "input");
  }
}

std::unique_ptr<Node> Parser::Action() {
  Item token = NextNonSpace();
  switch (token.type) {
    case ItemType::kBlock:
      return BlockControl();
    case ItemType::kBreak:
      return BreakOrContinue(NodeType::kBreak, token);
    case ItemType::kContinue:
      return BreakOrContinue(NodeType::kContinue, token);
    case ItemType::kElse:
      return ElseControl();
    case ItemType::kEnd:
      return MakeNode(NodeType::kEnd, Expect(ItemType::kRightDelim, "end").pos);
    case ItemType::kIf:
      return Control(NodeType::kIf, true, "if");
    case ItemType::kRange:
      return Control(NodeType::kRange, false, "range");
    case ItemType::kTemplate:
      return TemplateControl();
    case ItemType::kWith:
      return Control(NodeType::kWith, false, "with");
    default:
      break;
  }
  Backup();
  const Item& t = Peek();
  auto n = MakeNode(NodeType::kAction, t.pos, t.line);
  n->pipe = Pipeline("command", ItemType::kRightDelim);  // variables persist until "end"
  return n;
}

std::unique_ptr<Node> Parser::BreakOrContinue(NodeType type, const Item& token) {
  const char* name = type == NodeType::kBreak ? "{{break}}" : "{{continue}}";
  Item t = NextNonSpace();
  if (t.type != ItemType::kRightDelim) Unexpected(t, name);
  if (range_depth_ == 0) Errorf(fmt::format("{} outside {{{{range}}}}", name));
  return MakeNode(type, token.pos, token.line);
}

std::unique_ptr<Node> Parser::Pipeline(std::string_view context, ItemType end) {
  const Item& first = PeekNonSpace();
  auto pipe = MakeNode(NodeType::kPipe, first.pos, first.line);
  for (;;) {  // declarations: "$x :=", "$x =", "$i, $v :=" in range
    if (PeekNonSpace().type != ItemType::kVariable) break;
    Item v = Next();
    Item after = Peek();
    Item next = PeekNonSpace();
    auto declare = [&] {
      auto var = MakeNode(NodeType::kVariable, v.pos, v.line);
      var->ident = SplitDots(v.val);
      pipe->decl.push_back(std::move(var));
      if (vars_.size() >= kMaxVariables)
        Errorf(fmt::format("more than {} variables", kMaxVariables));
      vars_.push_back(v.val);
    };
    if (next.type == ItemType::kAssign || next.type == ItemType::kDeclare) {
      pipe->is_assign = next.type == ItemType::kAssign;
      NextNonSpace();
      declare();
    } else if (next.type == ItemType::kChar && next.val == ",") {
      NextNonSpace();
      declare();
      if (context == "range" && pipe->decl.size() < 2) {
        ItemType t = PeekNonSpace().type;
        if (t == ItemType::kVariable || t == ItemType::kRightDelim || t == ItemType::kRightParen) {
          continue;
        }
        Errorf("range can only initialize variables");
      }
      Errorf(fmt::format("too many declarations in {}", context));
    } else if (after.type == ItemType::kSpace) {
      Backup3(std::move(v), std::move(after));
    } else {
      Backup2(std::move(v));
    }
    break;
  }
  for (;;) {
    Item token = NextNonSpace();
    if (token.type == end) {
      CheckPipeline(*pipe, context);
      return pipe;
    }
    switch (token.type) {
      case ItemType::kBool:
      case ItemType::kCharConstant:
      case ItemType::kComplex:
      case ItemType::kDot:
      case ItemType::kField:
      case ItemType::kIdentifier:
      case ItemType::kNumber:
      case ItemType::kNil:
      case ItemType::kRawString:
      case ItemType::kString:
      case ItemType::kVariable:
      case ItemType::kLeftParen:
        Backup();
        pipe->nodes.push_back(Command());
        break;
      default:
        Unexpected(token, context);
    }
  }
}

void Parser::CheckPipeline(const Node& pipe, std::string_view context) {
  if (pipe.nodes.empty()) Errorf(fmt::format("missing value for {}", context));
  for (size_t i = 1; i < pipe.nodes.size(); ++i) {
    switch (pipe.nodes[i]->nodes[0]->type) {
      case NodeType::kBool:
      case NodeType::kDot:
      case NodeType::kNil:
      case NodeType::kNumber:
      case NodeType::kString:
        Errorf(fmt::format("non executable command in pipeline stage {}", i + 1));
      default:
        break;
    }
  }
}

std::unique_ptr<Node> Parser::Control(NodeType type, bool allow_else_if, std::string_view context) {
  Deeper();
  open_.push_back(action_pos_ != SIZE_MAX ? action_pos_ : token_[0].pos);
  const size_t vars_mark = vars_.size();
  auto pipe = Pipeline(context, ItemType::kRightDelim);
  auto n = MakeNode(type, pipe->pos, pipe->line);
  if (type == NodeType::kRange) ++range_depth_;
  std::unique_ptr<Node> next;
  n->list = ItemList(&next);
  if (type == NodeType::kRange) --range_depth_;
  if (next->type == NodeType::kElse) {
    if (allow_else_if && Peek().type == ItemType::kIf) {
      // {{else if b}} is {{else}}{{if b}}..{{end}}; the one {{end}} closes both.
      Next();
      n->else_list = MakeNode(NodeType::kList, next->pos);
      n->else_list->nodes.push_back(Control(NodeType::kIf, true, "if"));
    } else {
      n->else_list = ItemList(&next);
      if (next->type != NodeType::kEnd) Errorf("expected end; found " + next->String());
    }
  }
  n->pipe = std::move(pipe);
  vars_.resize(vars_mark);
  open_.pop_back();
  --depth_;
  return n;
}

std::unique_ptr<Node> Parser::ElseControl() {
  const Item& peek = PeekNonSpace();
  if (peek.type == ItemType::kIf) return MakeNode(NodeType::kElse, peek.pos, peek.line);
  Item token = Expect(ItemType::kRightDelim, "else");
  return MakeNode(NodeType::kElse, token.pos, token.line);
}

std::string Parser::TemplateName(const Item& token, std::string_view context) {
  if (token.type != ItemType::kString && token.type != ItemType::kRawString) {
    Unexpected(token, context);
  }
  auto s = UnquoteLiteral(token.val);
  if (!s.ok()) Errorf(std::string(s.status().message()));
  return *s;
}

std::unique_ptr<Node> Parser::BlockControl() {
  constexpr std::string_view kContext = "block clause";
  Deeper();
  Item token = NextNonSpace();
  std::string name = TemplateName(token, kContext);
  auto pipe = Pipeline(kContext, ItemType::kRightDelim);
  std::vector<std::string> saved_vars{"$"};
  saved_vars.swap(vars_);
  const int saved_range = range_depth_;
  range_depth_ = 0;
  std::unique_ptr<Node> end;
  auto root = ItemList(&end);
  if (end->type != NodeType::kEnd)
    Errorf(fmt::format("unexpected {} in {}", end->String(), kContext));
  vars_.swap(saved_vars);
  range_depth_ = saved_range;
  AddTree(name, std::move(root));
  auto n = MakeNode(NodeType::kTemplate, token.pos, token.line);
  n->text = name;
  n->pipe = std::move(pipe);
  --depth_;
  return n;
}

std::unique_ptr<Node> Parser::TemplateControl() {
  Item token = NextNonSpace();
  auto n = MakeNode(NodeType::kTemplate, token.pos, token.line);
  n->text = TemplateName(token, "template clause");
  if (NextNonSpace().type != ItemType::kRightDelim) {
    Backup();
    n->pipe = Pipeline("template clause", ItemType::kRightDelim);
  }
  return n;
}

std::unique_ptr<Node> Parser::Command() {
  auto cmd = MakeNode(NodeType::kCommand, PeekNonSpace().pos);
  for (;;) {
    PeekNonSpace();
    if (auto operand = Operand()) cmd->nodes.push_back(std::move(operand));
    Item token = Next();
    if (token.type == ItemType::kSpace) continue;
    if (token.type == ItemType::kRightDelim || token.type == ItemType::kRightParen) {
      Backup();
    } else if (token.type != ItemType::kPipe) {
      Unexpected(token, "operand");
    }
    break;
  }
  if (cmd->nodes.empty()) Errorf("empty command");
  return cmd;
}

std::unique_ptr<Node> Parser::Operand() {
  auto node = Term();
  if (node == nullptr || Peek().type != ItemType::kField) return node;
  auto chain = MakeNode(NodeType::kChain, Peek().pos);
  while (Peek().type == ItemType::kField) {
    Item f = Next();
    for (auto& part : SplitDots(std::string_view(f.val).substr(1))) chain->ident.push_back(part);
  }
  switch (node->type) {
    case NodeType::kField:
    case NodeType::kVariable: {
      for (auto& part : chain->ident) node->ident.push_back(std::move(part));
      node->pos = chain->pos;
      return node;
    }
    case NodeType::kBool:
    case NodeType::kString:
    case NodeType::kNumber:
    case NodeType::kNil:
    case NodeType::kDot:
      Errorf(fmt::format("unexpected . after term {}", Quote(node->String())));
    default:
      chain->pipe = std::move(node);
      return chain;
  }
}

std::unique_ptr<Node> Parser::Term() {
  Item token = NextNonSpace();
  switch (token.type) {
    case ItemType::kIdentifier: {
      if (!HasFunction(token.val)) Errorf(fmt::format("function {} not defined", Quote(token.val)));
      auto n = MakeNode(NodeType::kIdentifier, token.pos, token.line);
      n->text = token.val;
      return n;
    }
    case ItemType::kDot:
      return MakeNode(NodeType::kDot, token.pos, token.line);
    case ItemType::kNil:
      return MakeNode(NodeType::kNil, token.pos, token.line);
    case ItemType::kVariable:
      return UseVar(token);
    case ItemType::kField: {
      auto n = MakeNode(NodeType::kField, token.pos, token.line);
      n->ident = SplitDots(std::string_view(token.val).substr(1));
      return n;
    }
    case ItemType::kBool: {
      auto n = MakeNode(NodeType::kBool, token.pos, token.line);
      n->b = token.val == "true";
      return n;
    }
    case ItemType::kCharConstant:
    case ItemType::kComplex:
    case ItemType::kNumber:
      return Number(token);
    case ItemType::kLeftParen: {
      Deeper();
      auto p = Pipeline("parenthesized pipeline", ItemType::kRightParen);
      --depth_;
      return p;
    }
    case ItemType::kString:
    case ItemType::kRawString: {
      auto s = UnquoteLiteral(token.val);
      if (!s.ok()) Errorf(std::string(s.status().message()));
      auto n = MakeNode(NodeType::kString, token.pos, token.line);
      n->raw = token.val;
      n->text = std::move(*s);
      return n;
    }
    default:
      Backup();
      return nullptr;
  }
}

std::unique_ptr<Node> Parser::UseVar(const Item& token) {
  auto v = MakeNode(NodeType::kVariable, token.pos, token.line);
  v->ident = SplitDots(token.val);
  for (const std::string& name : vars_) {
    if (name == v->ident[0]) return v;
  }
  Errorf(fmt::format("undefined variable {}", Quote(v->ident[0])));
}

std::unique_ptr<Node> Parser::Number(const Item& token) {
  auto n = MakeNode(NodeType::kNumber, token.pos, token.line);
  const std::string& text = token.val;
  n->raw = text;
  if (token.type == ItemType::kCharConstant) {
    // strconv.UnquoteChar with quote '\'': \' is an escape, \" is not, a bare " is a rune.
    std::string body = text.substr(1, text.size() - 2);
    if (body == "\\\"") Errorf("invalid syntax");
    if (body == "\\'") body = "'";
    auto s = UnquoteLiteral("\"" + (body == "\"" ? std::string("\\\"") : body) + "\"");
    size_t w = 1;
    if (!s.ok() || s->empty())
      Errorf(s.ok() ? "invalid syntax" : std::string(s.status().message()));
    uint32_t r = DecodeRune(*s, 0, &w);
    if (w != s->size()) Errorf("malformed character constant: " + text);
    n->is_int = n->is_uint = n->is_float = true;
    n->i = r;
    n->f = r;
    return n;
  }
  if (token.type == ItemType::kComplex || (!text.empty() && text.back() == 'i')) {
    n->is_float = false;  // complex: parsed, refused at execution
    n->b = true;
    return n;
  }
  uint64_t u = 0;
  int64_t i = 0;
  n->is_uint = ParseGoInteger(text, false, &i, &u);
  n->is_int = ParseGoInteger(text, true, &i, &u);
  if (n->is_int) {
    n->i = i;
    n->is_float = true;
    n->f = static_cast<double>(i);
  } else if (n->is_uint) {
    n->is_float = true;
    n->f = static_cast<double>(u);
  } else {
    GoFloatResult f = GoParseFloat(text);
    if (f.ok()) {
      if (text.find_first_of(".eEpP") == std::string::npos) {
        Errorf(fmt::format("integer overflow: {}", Quote(text)));
      }
      n->is_float = true;
      n->f = f.value;
      if (f.value >= -9.2e18 && f.value <= 9.2e18 &&
          static_cast<double>(static_cast<int64_t>(f.value)) == f.value) {
        n->is_int = true;
        n->i = static_cast<int64_t>(f.value);
      }
    }
  }
  if (!n->is_int && !n->is_uint && !n->is_float) {
    Errorf(fmt::format("illegal number syntax: {}", Quote(text)));
  }
  return n;
}

}  // namespace

StatusOr<std::unique_ptr<TemplateSet>> Parse(std::string_view name, std::string_view text,
                                             size_t* error_pos) {
  auto set = std::make_unique<TemplateSet>();
  set->name = std::string(name);
  set->text = std::string(text);
  if (text.size() > kMaxTextBytes) {
    if (error_pos != nullptr) *error_pos = 0;
    return InvalidArgument(
        fmt::format("template: {}: template is longer than {} bytes", name, kMaxTextBytes));
  }
  Parser parser(name, set->text, set.get());
  try {
    parser.ParseAll();
  } catch (const TemplateError& e) {
    if (error_pos != nullptr) *error_pos = parser.error_pos();
    return InvalidArgument(e.what());
  }
  return set;
}

}  // namespace steward::alerting::tmpl
