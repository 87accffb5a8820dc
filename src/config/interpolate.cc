#include "config/interpolate.h"

#include <cctype>

namespace steward::config {
namespace {

constexpr std::string_view kSecretPrefix = "secret:";

// As secrets::SecretReferences reads names: [A-Za-z_][A-Za-z0-9_.-]*.
bool IsSecretName(std::string_view name) {
  if (name.empty()) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  }
  return true;
}

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  if (std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

// Expands the body of one "${...}" (without the braces).
StatusOr<std::string> Expand(std::string_view body, const LookupFn& lookup) {
  size_t sep = body.find(":-");
  std::string_view name = body.substr(0, sep);
  if (!IsValidName(name)) {
    return InvalidArgument("bad variable name '" + std::string(name) + "' in '${" +
                           std::string(body) +
                           "}': use letters, digits and '_', e.g. ${LOG_LEVEL}");
  }
  std::optional<std::string> value = lookup ? lookup(std::string(name)) : std::nullopt;
  if (sep != std::string_view::npos) {
    if (value && !value->empty()) return *value;
    return std::string(body.substr(sep + 2));
  }
  if (!value) {
    std::string n(name);
    return InvalidArgument("variable '" + n +
                           "' is not set; export it, define it under "
                           "environments.<env>.vars, or give a default: ${" +
                           n + ":-value}");
  }
  return *value;
}

}  // namespace

StatusOr<std::vector<InterpolatedPart>> InterpolateParts(std::string_view text,
                                                         const LookupFn& lookup) {
  std::vector<InterpolatedPart> parts;
  auto literal = [&parts]() -> std::string& {
    if (parts.empty() || parts.back().secret) parts.push_back({});
    return parts.back().text;
  };
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      literal() += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      literal() += '$';
      i += 2;
      continue;
    }
    if (next != '{') {
      literal() += c;
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated '${' in '" + std::string(text) +
                             "': close it with '}', or write '$$' for a literal '$'");
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    if (body.starts_with(kSecretPrefix)) {
      std::string_view name = body.substr(kSecretPrefix.size());
      if (!IsSecretName(name)) {
        return InvalidArgument("bad secret name '" + std::string(name) + "' in '${" +
                               std::string(body) +
                               "}': use letters, digits, '_', '.' and '-', starting with a "
                               "letter or '_', e.g. ${secret:db_password}");
      }
      parts.push_back({true, std::string(name)});
    } else {
      ASSIGN_OR_RETURN(std::string value, Expand(body, lookup));
      literal() += value;
    }
    i = close + 1;
  }
  return parts;
}

StatusOr<std::string> Interpolate(std::string_view text, const LookupFn& lookup) {
  ASSIGN_OR_RETURN(std::vector<InterpolatedPart> parts, InterpolateParts(text, lookup));
  std::string out;
  out.reserve(text.size());
  for (const InterpolatedPart& p : parts) out += p.secret ? "${secret:" + p.text + "}" : p.text;
  return out;
}

}  // namespace steward::config
