// Go 1.20's text/template executor (text/template/exec.go) over the values of
// template_internal.h, with Prometheus' option missingkey=zero: the same evaluation order, the
// same argument checks and the same error texts ("template: N:1:115: executing \"N\" at
// <humanize \"x\">: error calling humanize: ..."). Bounded by kMaxSteps, kMaxOutputBytes and
// kMaxTemplateDepth.
#include <fmt/format.h>

#include <span>

#include "alerting/template_internal.h"

namespace steward::alerting::tmpl {
namespace {

using Args = std::span<const std::unique_ptr<Node>>;

std::string KindTypeName(char kind) {
  switch (kind) {
    case 's':
      return "string";
    case 'q':
      return "template.queryResult";
    case 'p':
      return "*template.sample";
    case 'r':
      return "reflect.Value";
    default:
      return "interface {}";
  }
}

class Executor {
 public:
  Executor(const TemplateSet& set, const TemplateData& data) : set_(set) {
    ctx_.data = &data;
    labels_.type = external_labels_.type = Value::Type::kLabels;
    labels_.labels = std::make_shared<const std::map<std::string, std::string>>(data.labels);
    external_labels_.labels =
        std::make_shared<const std::map<std::string, std::string>>(data.external_labels);
  }
  std::string Run(const Value& dot);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  [[noreturn]] void Errorf(const std::string& message) const;
  void At(const Node* n) { node_ = n; }
  void Step() {
    if (++steps_ > kMaxSteps) Errorf(fmt::format("execution exceeded {} steps", kMaxSteps));
  }
  void Write(std::string_view s) {
    if (out_.size() + s.size() > kMaxOutputBytes) {
      Errorf(fmt::format("output exceeds {} bytes", kMaxOutputBytes));
    }
    out_.append(s);
  }
  size_t Mark() const { return vars_.size(); }
  void Pop(size_t mark) { vars_.resize(mark); }
  void SetVar(const std::string& name, const Value& v);
  const Value& VarValue(const std::string& name);

  Flow Walk(const Value& dot, const Node& n);
  Flow WalkIfOrWith(const Value& dot, const Node& n);
  Flow WalkRange(const Value& dot, const Node& n);
  void WalkTemplate(const Value& dot, const Node& n);
  Value EvalPipeline(const Value& dot, const Node* pipe);
  Value EvalCommand(const Value& dot, const Node& cmd, const Value* final);
  void NotAFunction(Args args, const Value* final);
  Value EvalFieldNode(const Value& dot, const Node& field, Args args, const Value* final);
  Value EvalChainNode(const Value& dot, const Node& chain, Args args, const Value* final);
  Value EvalVariableNode(const Value& dot, const Node& var, Args args, const Value* final);
  Value EvalFieldChain(const Value& dot, Value receiver, const Node& node,
                       std::span<const std::string> ident, Args args, const Value* final);
  Value EvalField(const Value& dot, const std::string& name, const Node& node, Args args,
                  const Value* final, const Value& receiver);
  Value EvalFunction(const Value& dot, const Node& ident, const Node& cmd, Args args,
                     const Value* final);
  Value EvalCall(const Value& dot, const std::string& name, const char* sig, const Node& node,
                 Args args, const Value* final, bool method, const Value& receiver);
  Value EvalArg(const Value& dot, char kind, const Node& n);
  Value Validate(const Value& v, char kind);
  Value IdealConstant(const Node& n);
  void PrintValue(const Node& n, const Value& v);

  const TemplateSet& set_;
  Value labels_, external_labels_;  // .Labels and .ExternalLabels of the data, made once
  CallContext ctx_;
  std::string name_;  // the template being executed
  const Node* node_ = nullptr;
  std::vector<std::pair<std::string, Value>> vars_;
  std::string out_;
  int64_t steps_ = 0;
  int depth_ = 0;
};

void Executor::Errorf(const std::string& message) const {
  if (node_ == nullptr) throw TemplateError(fmt::format("template: {}: {}", name_, message));
  std::string_view text = set_.text;
  size_t pos = std::min(node_->pos, text.size());
  std::string_view before = text.substr(0, pos);
  size_t nl = before.rfind('\n');
  size_t col = nl == std::string_view::npos ? pos : pos - (nl + 1);
  int line = 1 + static_cast<int>(std::count(before.begin(), before.end(), '\n'));
  std::string context = node_->String();
  throw TemplateError(fmt::format("template: {}:{}:{}: executing {} at <{}>: {}", set_.name, line,
                                  col, Quote(name_), context, message));
}

void Executor::SetVar(const std::string& name, const Value& v) {
  for (size_t i = vars_.size(); i-- > 0;) {
    if (vars_[i].first == name) {
      vars_[i].second = v;
      return;
    }
  }
  Errorf(fmt::format("undefined variable: {}", name));
}

const Value& Executor::VarValue(const std::string& name) {
  for (size_t i = vars_.size(); i-- > 0;) {
    if (vars_[i].first == name) return vars_[i].second;
  }
  Errorf(fmt::format("undefined variable: {}", name));
}

std::string Executor::Run(const Value& dot) {
  name_ = set_.name;
  vars_ = {{"$", dot}};
  auto it = set_.trees.find(set_.name);
  if (it == set_.trees.end()) Errorf(Quote(set_.name) + " is an incomplete or empty template");
  Walk(dot, *it->second);
  return std::move(out_);
}

Executor::Flow Executor::Walk(const Value& dot, const Node& n) {
  Step();
  At(&n);
  switch (n.type) {
    case NodeType::kAction: {
      Value v = EvalPipeline(dot, n.pipe.get());
      if (n.pipe->decl.empty()) PrintValue(n, v);
      return Flow::kNormal;
    }
    case NodeType::kBreak:
      return Flow::kBreak;
    case NodeType::kContinue:
      return Flow::kContinue;
    case NodeType::kIf:
    case NodeType::kWith:
      return WalkIfOrWith(dot, n);
    case NodeType::kList:
      for (const auto& c : n.nodes) {
        Flow f = Walk(dot, *c);
        if (f != Flow::kNormal) return f;
      }
      return Flow::kNormal;
    case NodeType::kRange:
      return WalkRange(dot, n);
    case NodeType::kTemplate:
      WalkTemplate(dot, n);
      return Flow::kNormal;
    case NodeType::kText:
      Write(n.text);
      return Flow::kNormal;
    default:
      Errorf("unknown node: " + n.String());
  }
}

Executor::Flow Executor::WalkIfOrWith(const Value& dot, const Node& n) {
  size_t mark = Mark();
  Value v = EvalPipeline(dot, n.pipe.get());
  Flow f = Flow::kNormal;
  if (IsTrue(v)) {
    f = Walk(n.type == NodeType::kWith ? v : dot, *n.list);
  } else if (n.else_list) {
    f = Walk(dot, *n.else_list);
  }
  Pop(mark);
  return f;
}

Executor::Flow Executor::WalkRange(const Value& dot, const Node& n) {
  At(&n);
  size_t outer = Mark();
  Value val = EvalPipeline(dot, n.pipe.get());
  size_t mark = Mark();
  const Node& pipe = *n.pipe;
  bool stop = false;
  auto one = [&](const Value& index, const Value& elem) {
    Step();
    if (!pipe.decl.empty()) {
      if (pipe.is_assign) {
        SetVar(pipe.decl[0]->ident[0], pipe.decl.size() > 1 ? index : elem);
      } else {
        vars_[vars_.size() - 1].second = elem;
      }
    }
    if (pipe.decl.size() > 1) {
      if (pipe.is_assign) {
        SetVar(pipe.decl[1]->ident[0], elem);
      } else {
        vars_[vars_.size() - 2].second = index;
      }
    }
    Flow f = Walk(elem, *n.list);
    Pop(mark);
    if (f == Flow::kBreak) stop = true;
  };
  bool empty = true;
  switch (val.type) {
    case Value::Type::kLabels:
      for (const auto& [k, v] : *val.labels) {
        empty = false;
        one(Value::String(k), Value::String(v));
        if (stop) break;
      }
      break;
    case Value::Type::kAnyMap:
      for (const auto& [k, v] : *val.any) {
        empty = false;
        one(Value::String(k), v);
        if (stop) break;
      }
      break;
    case Value::Type::kSamples:
      for (size_t i = 0; val.samples && i < val.samples->size(); ++i) {
        empty = false;
        Value elem;
        elem.type = Value::Type::kSample;
        elem.sample = (*val.samples)[i];
        one(Value::Int(static_cast<int64_t>(i)), elem);
        if (stop) break;
      }
      break;
    case Value::Type::kInvalid:
    case Value::Type::kNil:
      break;
    default:
      At(&n);
      Errorf("range can't iterate over " + FormatValue(val));
  }
  if (empty && n.else_list) {
    Pop(mark);
    Walk(dot, *n.else_list);
  }
  Pop(outer);
  return Flow::kNormal;
}

void Executor::WalkTemplate(const Value& dot, const Node& n) {
  At(&n);
  auto it = set_.trees.find(n.text);
  if (it == set_.trees.end()) Errorf(fmt::format("template {} not defined", Quote(n.text)));
  if (depth_ >= kMaxTemplateDepth) {
    Errorf(fmt::format("exceeded maximum template depth ({})", kMaxTemplateDepth));
  }
  Value new_dot = EvalPipeline(dot, n.pipe.get());
  std::vector<std::pair<std::string, Value>> saved_vars{{"$", new_dot}};
  saved_vars.swap(vars_);
  std::string saved_name = n.text;
  saved_name.swap(name_);
  ++depth_;
  Walk(new_dot, *it->second);
  --depth_;
  saved_name.swap(name_);
  saved_vars.swap(vars_);
}

Value Executor::EvalPipeline(const Value& dot, const Node* pipe) {
  if (pipe == nullptr) return Value();
  At(pipe);
  Value value;
  bool have = false;
  for (const auto& cmd : pipe->nodes) {
    value = EvalCommand(dot, *cmd, have ? &value : nullptr);
    if (value.type == Value::Type::kNil) value = Value();  // an empty interface{} is no value
    have = true;
  }
  for (const auto& var : pipe->decl) {
    if (pipe->is_assign) {
      SetVar(var->ident[0], value);
    } else {
      vars_.emplace_back(var->ident[0], value);
    }
  }
  return value;
}

void Executor::NotAFunction(Args args, const Value* final) {
  if (args.size() > 1 || final != nullptr) {
    Errorf("can't give argument to non-function " + args[0]->String());
  }
}

Value Executor::EvalCommand(const Value& dot, const Node& cmd, const Value* final) {
  Step();
  const Node& first = *cmd.nodes[0];
  Args args(cmd.nodes);
  switch (first.type) {
    case NodeType::kField:
      return EvalFieldNode(dot, first, args, final);
    case NodeType::kChain:
      return EvalChainNode(dot, first, args, final);
    case NodeType::kIdentifier:
      return EvalFunction(dot, first, cmd, args, final);
    case NodeType::kPipe:
      NotAFunction(args, final);
      return EvalPipeline(dot, &first);
    case NodeType::kVariable:
      return EvalVariableNode(dot, first, args, final);
    default:
      break;
  }
  At(&first);
  NotAFunction(args, final);
  switch (first.type) {
    case NodeType::kBool:
      return Value::Bool(first.b);
    case NodeType::kDot:
      return dot;
    case NodeType::kNil:
      Errorf("nil is not a command");
    case NodeType::kNumber:
      return IdealConstant(first);
    case NodeType::kString:
      return Value::String(first.text);
    default:
      Errorf(fmt::format("can't evaluate command {}", Quote(first.String())));
  }
}

Value Executor::EvalFieldNode(const Value& dot, const Node& field, Args args, const Value* final) {
  At(&field);
  return EvalFieldChain(dot, dot, field, field.ident, args, final);
}

Value Executor::EvalChainNode(const Value& dot, const Node& chain, Args args, const Value* final) {
  At(&chain);
  if (chain.pipe->type == NodeType::kNil) {
    Errorf("indirection through explicit nil in " + chain.String());
  }
  Value pipe = EvalArg(dot, 'r', *chain.pipe);
  return EvalFieldChain(dot, pipe, chain, chain.ident, args, final);
}

Value Executor::EvalVariableNode(const Value& dot, const Node& var, Args args, const Value* final) {
  At(&var);
  Value value = VarValue(var.ident[0]);
  if (var.ident.size() == 1) {
    NotAFunction(args, final);
    return value;
  }
  return EvalFieldChain(dot, value, var, std::span(var.ident).subspan(1), args, final);
}

Value Executor::EvalFieldChain(const Value& dot, Value receiver, const Node& node,
                               std::span<const std::string> ident, Args args, const Value* final) {
  for (size_t i = 0; i + 1 < ident.size(); ++i) {
    receiver = EvalField(dot, ident[i], node, {}, nullptr, receiver);
  }
  return EvalField(dot, ident.back(), node, args, final, receiver);
}

Value Executor::EvalField(const Value& dot, const std::string& name, const Node& node, Args args,
                          const Value* final, const Value& receiver) {
  using T = Value::Type;
  if (!receiver.valid()) return Value();
  const bool has_args = args.size() > 1 || final != nullptr;
  const std::string type = TypeName(receiver);
  auto no_args = [&] {
    if (has_args) Errorf(name + " has arguments but cannot be invoked as function");
  };
  switch (receiver.type) {
    case T::kNil:
      Errorf(fmt::format("nil pointer evaluating interface {{}}.{}", name));
    case T::kData:
      if (name == "Labels" || name == "ExternalLabels") {
        no_args();
        return name == "Labels" ? labels_ : external_labels_;
      }
      if (name == "ExternalURL") return no_args(), Value::String(receiver.data->external_url);
      if (name == "Value") return no_args(), Value::Float(receiver.data->value);
      break;
    case T::kLabels: {
      if (has_args) Errorf(name + " is not a method but has arguments");
      auto it = receiver.labels->find(name);
      return Value::String(it == receiver.labels->end() ? std::string() : it->second);
    }
    case T::kAnyMap: {
      if (has_args) Errorf(name + " is not a method but has arguments");
      auto it = receiver.any->find(name);
      if (it != receiver.any->end()) return it->second;
      Value nil;
      nil.type = T::kNil;
      return nil;
    }
    case T::kSample:
      if (name == "Labels" || name == "Value") {
        if (!receiver.sample) Errorf(fmt::format("nil pointer evaluating {}.{}", type, name));
        no_args();
        if (name == "Value") return Value::Float(receiver.sample->value);
        Value v;
        v.type = T::kLabels;
        v.labels =
            std::make_shared<const std::map<std::string, std::string>>(receiver.sample->labels);
        return v;
      }
      break;
    case T::kTime:
      if (name == "Unix" || name == "UnixMilli" || name == "UnixNano" || name == "String") {
        return EvalCall(dot, name, "", node, args, final, true, receiver);
      }
      break;
    default:
      break;
  }
  Errorf(fmt::format("can't evaluate field {} in type {}", name, type));
}

Value Executor::EvalFunction(const Value& dot, const Node& ident, const Node& cmd, Args args,
                             const Value* final) {
  At(&ident);
  const char* sig = Signature(ident.text);
  if (sig == nullptr) Errorf(fmt::format("{} is not a defined function", Quote(ident.text)));
  return EvalCall(dot, ident.text, sig, cmd, args, final, false, Value());
}

Value Executor::EvalCall(const Value& dot, const std::string& name, const char* sig,
                         const Node& node, Args args, const Value* final, bool method,
                         const Value& receiver) {
  if (!args.empty()) args = args.subspan(1);
  std::string_view s(sig);
  const bool variadic = s.ends_with('*');
  const size_t num_params = variadic ? s.size() - 1 : s.size();
  const size_t num_in = args.size() + (final != nullptr ? 1 : 0);
  size_t num_fixed = args.size();
  if (variadic) {
    num_fixed = num_params - 1;
    if (num_in < num_fixed) {
      Errorf(fmt::format("wrong number of args for {}: want at least {} got {}", name, num_fixed,
                         args.size()));
    }
  } else if (num_in != num_params) {
    Errorf(fmt::format("wrong number of args for {}: want {} got {}", name, num_params, num_in));
  }
  auto kind_at = [&](size_t i) { return i < num_params ? s[i] : s[num_params - 1]; };
  if (name == "and" || name == "or") {  // short-circuit, returning the deciding value
    Value v;
    for (const auto& arg : args) {
      v = EvalArg(dot, 'r', *arg);
      if (IsTrue(v) == (name == "or")) return v;
    }
    if (final != nullptr) v = *final;
    return v;
  }
  std::vector<Value> argv;
  argv.reserve(num_in);
  for (size_t i = 0; i < args.size(); ++i) argv.push_back(EvalArg(dot, kind_at(i), *args[i]));
  if (final != nullptr) argv.push_back(Validate(*final, kind_at(num_in - 1)));
  try {
    Value result;
    if (method) {
      int64_t ns = receiver.i;
      result =
          name == "Unix" ? Value::Int(ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000))
          : name == "UnixMilli" ? Value::Int(ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000))
          : name == "UnixNano"  ? Value::Int(ns)
                                : Value::String(GoTimeString(ns));
    } else if (IsBuiltin(name)) {
      result = CallBuiltin(name, argv, ctx_);
    } else {
      result = CallPrometheus(name, argv, ctx_);
    }
    if (result.s.size() > kMaxOutputBytes) {
      throw TemplateError(fmt::format("result exceeds {} bytes", kMaxOutputBytes));
    }
    return result;
  } catch (const TemplateError& e) {
    At(&node);
    Errorf(fmt::format("error calling {}: {}", name, e.what()));
  }
}

Value Executor::EvalArg(const Value& dot, char kind, const Node& n) {
  At(&n);
  switch (n.type) {
    case NodeType::kDot:
      return Validate(dot, kind);
    case NodeType::kNil:
      if (kind == 'a' || kind == 'q' || kind == 'p') {
        Value v;
        v.type = kind == 'a'   ? Value::Type::kNil
                 : kind == 'q' ? Value::Type::kSamples
                               : Value::Type::kSample;
        return v;
      }
      Errorf("cannot assign nil to " + KindTypeName(kind));
    case NodeType::kField:
      return Validate(EvalFieldNode(dot, n, {}, nullptr), kind);
    case NodeType::kVariable:
      return Validate(EvalVariableNode(dot, n, {}, nullptr), kind);
    case NodeType::kPipe:
      return Validate(EvalPipeline(dot, &n), kind);
    case NodeType::kIdentifier:
      return Validate(EvalFunction(dot, n, n, {}, nullptr), kind);
    case NodeType::kChain:
      return Validate(EvalChainNode(dot, n, {}, nullptr), kind);
    default:
      break;
  }
  if (kind == 's') {
    if (n.type != NodeType::kString) Errorf("expected string; found " + n.String());
    return Value::String(n.text);
  }
  if (kind == 'a' || kind == 'r') {
    switch (n.type) {
      case NodeType::kBool:
        return Value::Bool(n.b);
      case NodeType::kNumber:
        return IdealConstant(n);
      case NodeType::kString:
        return Value::String(n.text);
      default:
        break;
    }
  }
  Errorf(fmt::format("can't handle {} for arg of type {}", n.String(), KindTypeName(kind)));
}

Value Executor::Validate(const Value& v, char kind) {
  using T = Value::Type;
  if (kind == 'r') return v;
  if (!v.valid() || v.type == T::kNil) {
    if (kind == 'a' || kind == 'q' || kind == 'p') {
      Value zero;
      zero.type = kind == 'a' ? T::kNil : kind == 'q' ? T::kSamples : T::kSample;
      return zero;
    }
    Errorf("invalid value; expected " + KindTypeName(kind));
  }
  bool ok = kind == 'a' || (kind == 's' && v.type == T::kString) ||
            (kind == 'q' && v.type == T::kSamples) || (kind == 'p' && v.type == T::kSample);
  if (!ok) {
    Errorf(
        fmt::format("wrong type for value; expected {}; got {}", KindTypeName(kind), TypeName(v)));
  }
  return v;
}

Value Executor::IdealConstant(const Node& n) {
  At(&n);
  const std::string& text = n.raw;
  if (n.b && !n.is_float) Errorf("complex number constants are not supported: " + text);
  bool hex_int = text.size() > 2 && text[0] == '0' && (text[1] | 0x20) == 'x' &&
                 text.find_first_of("pP") == std::string::npos;
  bool rune_int = !text.empty() && text[0] == '\'';
  if (n.is_float && !hex_int && !rune_int && text.find_first_of(".eEpP") != std::string::npos) {
    return Value::Float(n.f);
  }
  if (n.is_int) return Value::Int(n.i);
  if (n.is_uint) Errorf(text + " overflows int");
  return Value();
}

void Executor::PrintValue(const Node& n, const Value& v) {
  At(&n);
  if (!v.valid()) {
    Write("<no value>");
  } else if (v.type == Value::Type::kSample && !v.sample) {
    Write("<nil>");
  } else if (v.type == Value::Type::kSample) {
    Write(std::string_view(FormatValue(v)).substr(1));  // printed through the pointer: no '&'
  } else {
    Write(FormatValue(v));
  }
}

}  // namespace

StatusOr<std::string> Execute(const TemplateSet& set, const Value& dot, const TemplateData& data) {
  Executor ex(set, data);
  try {
    return ex.Run(dot);
  } catch (const TemplateError& e) {
    return InvalidArgument(e.what());
  }
}

}  // namespace steward::alerting::tmpl
