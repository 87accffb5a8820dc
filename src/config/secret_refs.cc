#include "config/secret_refs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace steward::config {
namespace {

constexpr std::string_view kTail = "{secret:";

bool NameChar(char c, bool first) {
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return true;
  return !first && (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-');
}

// The NAME of a reference whose "{secret:" starts at text[at], and the index one past its '}';
// end == 0 when what follows is not a well-formed NAME and '}'.
std::pair<std::string_view, size_t> NameAt(std::string_view text, size_t at) {
  size_t i = at + kTail.size();
  size_t start = i;
  while (i < text.size() && NameChar(text[i], i == start)) ++i;
  if (i == start || i >= text.size() || text[i] != '}') return {{}, 0};
  return {text.substr(start, i - start), i + 1};
}

// Walks a template, calling literal(text) and secret(NAME) in order. Returns the first error
// of `secret`.
template <typename Literal, typename Secret>
Status Walk(std::string_view tmpl, Literal&& literal, Secret&& secret) {
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) {
      literal(tmpl.substr(i));
      return Status::OK();
    }
    literal(tmpl.substr(i, dollar - i));
    size_t run_end = tmpl.find_first_not_of('$', dollar);
    if (run_end == std::string_view::npos) run_end = tmpl.size();
    size_t n = run_end - dollar;
    if (tmpl.compare(run_end, kTail.size(), kTail) != 0) {
      literal(tmpl.substr(dollar, n));
      i = run_end;
      continue;
    }
    literal(std::string(n / 2, '$'));
    auto [name, end] = NameAt(tmpl, run_end);
    if (n % 2 == 1 && end != 0) {
      RETURN_IF_ERROR(secret(name));
      i = end;
    } else {
      // An odd run before a malformed NAME cannot come from the parser; keep its '$' as text.
      if (n % 2 == 1) literal("$");
      literal(kTail);
      i = run_end + kTail.size();
    }
  }
  return Status::OK();
}

void AppendLiteral(std::string& out, std::string_view text, bool secret_follows) {
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '$') {
      out += text[i++];
      continue;
    }
    size_t run_end = text.find_first_not_of('$', i);
    if (run_end == std::string_view::npos) run_end = text.size();
    bool critical =
        run_end == text.size() ? secret_follows : text.compare(run_end, kTail.size(), kTail) == 0;
    out.append((run_end - i) * (critical ? 2 : 1), '$');
    i = run_end;
  }
}

}  // namespace

std::string SecretTemplate(const std::vector<InterpolatedPart>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].secret) {
      out += "${secret:" + parts[i].text + "}";
      continue;
    }
    bool secret_follows = i + 1 < parts.size() && parts[i + 1].secret;
    AppendLiteral(out, parts[i].text, secret_follows);
  }
  return out;
}

std::vector<std::string> TemplateSecrets(std::string_view tmpl) {
  std::vector<std::string> names;
  Walk(
      tmpl, [](std::string_view) {},
      [&names](std::string_view name) {
        if (std::find(names.begin(), names.end(), name) == names.end()) names.emplace_back(name);
        return Status::OK();
      })
      .IgnoreError();
  return names;
}

StatusOr<std::string> ExpandTemplate(std::string_view tmpl, const SecretValueFn& value) {
  std::string out;
  Status st = Walk(
      tmpl, [&out](std::string_view text) { out.append(text); },
      [&](std::string_view name) -> Status {
        StatusOr<std::string> v = value(std::string(name));
        if (!v.ok()) return v.status();
        out += *v;
        return Status::OK();
      });
  if (!st.ok()) return st;
  return out;
}

std::vector<std::string> ServiceSecrets(const Service& service) {
  std::set<std::string> names;
  for (const auto& [key, value] : service.env)
    for (std::string& n : TemplateSecrets(value)) names.insert(std::move(n));
  for (const SecretFile& f : service.secret_files) names.insert(f.secret);
  return {names.begin(), names.end()};
}

std::string MissingSecretMessage(const std::string& name) {
  return fmt::format("secret '{}' does not exist; set it with `steward secret set {}`", name, name);
}

std::vector<Diagnostic> StampSecretVersions(Stack* stack, const SecretVersionFn& version) {
  std::vector<Diagnostic> out;
  for (Service& s : stack->services) {
    std::vector<Diagnostic> more = StampServiceSecretVersions(&s, version);
    out.insert(out.end(), more.begin(), more.end());
  }
  return out;
}

std::vector<Diagnostic> StampServiceSecretVersions(Service* service,
                                                   const SecretVersionFn& version) {
  std::vector<Diagnostic> out;
  Service& s = *service;
  s.secret_versions.clear();
  for (const std::string& name : ServiceSecrets(s)) {
    StatusOr<int64_t> v = version(name);
    if (v.ok()) {
      s.secret_versions[name] = *v;
      continue;
    }
    // Where it is used: the secret_files entry if one names it, else the service (env
    // values keep no location of their own).
    SourceLocation where = s.location;
    std::string key = "env";
    for (size_t i = 0; i < s.secret_files.size(); ++i) {
      if (s.secret_files[i].secret != name) continue;
      if (s.secret_files[i].location.line > 0) where = s.secret_files[i].location;
      key = fmt::format("secret_files[{}]", i);
      break;
    }
    for (const auto& [env_key, value] : s.env) {
      std::vector<std::string> used = TemplateSecrets(value);
      if (std::find(used.begin(), used.end(), name) == used.end()) continue;
      key = "env." + env_key;
      break;
    }
    std::string why = v.status().code() == StatusCode::kNotFound
                          ? MissingSecretMessage(name)
                          : fmt::format("secret '{}': {}", name, v.status().message());
    out.push_back({where, fmt::format("service '{}': {}: {}", s.name, key, why)});
  }
  return out;
}

}  // namespace steward::config
