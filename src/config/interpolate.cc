#include "config/interpolate.h"

#include <cctype>

namespace steward::config {
namespace {

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

StatusOr<std::string> Interpolate(std::string_view text, const LookupFn& lookup) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (c != '$' || i + 1 == text.size()) {
      out += c;
      ++i;
      continue;
    }
    char next = text[i + 1];
    if (next == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next != '{') {
      out += c;
      ++i;
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated '${' in '" + std::string(text) +
                             "': close it with '}', or write '$$' for a literal '$'");
    }
    ASSIGN_OR_RETURN(std::string value, Expand(text.substr(i + 2, close - i - 2), lookup));
    out += value;
    i = close + 1;
  }
  return out;
}

}  // namespace steward::config
