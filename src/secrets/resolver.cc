#include "secrets/resolver.h"

#include <algorithm>
#include <cctype>

namespace steward::secrets {
namespace {

constexpr std::string_view kOpen = "${secret:";

bool NameChar(char c, bool first) {
  if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') return true;
  return !first && (std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '-');
}

// The reference starting at text[at] (which begins with kOpen): its name and its end (one past
// '}'); end == 0 when it is not a well-formed reference.
std::pair<std::string_view, size_t> ReferenceAt(std::string_view text, size_t at) {
  size_t i = at + kOpen.size();
  size_t start = i;
  while (i < text.size() && NameChar(text[i], i == start)) ++i;
  if (i == start || i >= text.size() || text[i] != '}') return {{}, 0};
  return {text.substr(start, i - start), i + 1};
}

}  // namespace

std::vector<std::string> SecretReferences(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    auto [name, end] = ReferenceAt(text, at);
    if (end == 0) continue;
    if (std::find(out.begin(), out.end(), name) == out.end()) out.emplace_back(name);
  }
  return out;
}

StatusOr<std::string> ResolveReferences(std::string_view text, SecretResolver& resolver) {
  std::string out;
  size_t done = 0;
  for (size_t at = text.find(kOpen); at != std::string_view::npos; at = text.find(kOpen, at + 1)) {
    auto [name, end] = ReferenceAt(text, at);
    if (end == 0) continue;
    StatusOr<ResolvedSecret> s = resolver.Resolve(std::string(name));
    if (!s.ok()) return s.status();
    out.append(text.substr(done, at - done));
    out.append(s->value);
    done = end;
    at = end - 1;
  }
  out.append(text.substr(done));
  return out;
}

std::string MaskValues(std::string_view text, const std::vector<std::string>& values) {
  std::vector<std::string_view> sorted;
  for (const std::string& v : values) {
    if (v.size() >= 4) sorted.push_back(v);
  }
  if (sorted.empty()) return std::string(text);
  std::sort(sorted.begin(), sorted.end(),
            [](std::string_view a, std::string_view b) { return a.size() > b.size(); });
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    bool hit = false;
    for (std::string_view v : sorted) {
      if (text.compare(i, v.size(), v) == 0) {
        out += "***";
        i += v.size();
        hit = true;
        break;
      }
    }
    if (!hit) out += text[i++];
  }
  return out;
}

}  // namespace steward::secrets
