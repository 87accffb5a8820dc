#include "tsdb/labels.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstring>

#include "metrics/registry.h"

namespace steward::tsdb {
namespace {

constexpr uint64_t kStaleNaNBits = 0x7ff0000000000002ull;
constexpr uint64_t kPrime1 = 0x9E3779B185EBCA87ull;
constexpr uint64_t kPrime2 = 0xC2B2AE3D27D4EB4Full;

// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
uint64_t Fmix64(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  k ^= k >> 33;
  k *= 0xc4ceb9fe1a85ec53ull;
  k ^= k >> 33;
  return k;
}

// Folds bytes into h, 8 at a time (little-endian loads, so the result is the same everywhere).
uint64_t MixBytes(uint64_t h, std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t k = 0;
    for (int b = 7; b >= 0; --b) k = (k << 8) | static_cast<unsigned char>(s[i + b]);
    h = std::rotl(h ^ (k * kPrime2), 31) * kPrime1;
  }
  uint64_t tail = 0;
  for (size_t b = s.size(); b > i; --b) tail = (tail << 8) | static_cast<unsigned char>(s[b - 1]);
  h = std::rotl(h ^ ((tail ^ (s.size() - i)) * kPrime2), 27) * kPrime1;
  return h;
}

bool IsNameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

bool IsNameChar(char c, bool colon) { return IsNameStart(c, colon) || (c >= '0' && c <= '9'); }

bool IsValidName(std::string_view name, bool colon) {
  if (name.empty() || !IsNameStart(name[0], colon)) return false;
  return std::all_of(name.begin() + 1, name.end(), [&](char c) { return IsNameChar(c, colon); });
}

}  // namespace

StatusOr<Labels> Labels::FromUnsorted(std::vector<Label> labels) {
  std::erase_if(labels, [](const Label& l) { return l.value.empty(); });
  std::sort(labels.begin(), labels.end(),
            [](const Label& a, const Label& b) { return a.name < b.name; });
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i].name.empty()) return InvalidArgument("label with an empty name");
    if (i > 0 && labels[i].name == labels[i - 1].name) {
      return InvalidArgument("duplicate label name \"" + labels[i].name + "\"");
    }
  }
  return Labels(std::move(labels));
}

Labels Labels::FromSorted(std::vector<Label> labels) {
#ifndef NDEBUG
  for (size_t i = 0; i < labels.size(); ++i) {
    assert(!labels[i].name.empty() && !labels[i].value.empty());
    assert(i == 0 || labels[i - 1].name < labels[i].name);
  }
#endif
  return Labels(std::move(labels));
}

std::string_view Labels::Get(std::string_view name) const {
  for (const Label& l : items_) {
    if (l.name == name) return l.value;
  }
  return {};
}

bool Labels::Has(std::string_view name) const { return !Get(name).empty(); }

Labels Labels::With(std::string_view name, std::string_view value) const {
  std::vector<Label> out;
  out.reserve(items_.size() + 1);
  bool placed = value.empty();
  for (const Label& l : items_) {
    if (!placed && l.name >= name) {
      out.push_back({std::string(name), std::string(value)});
      placed = true;
    }
    if (l.name != name) out.push_back(l);
  }
  if (!placed) out.push_back({std::string(name), std::string(value)});
  return Labels(std::move(out));
}

Labels Labels::Without(std::string_view name) const& {
  std::vector<Label> out;
  out.reserve(items_.size());
  for (const Label& l : items_) {
    if (l.name != name) out.push_back(l);
  }
  return Labels(std::move(out));
}

Labels Labels::Without(std::string_view name) && {
  std::erase_if(items_, [&](const Label& l) { return l.name == name; });
  return Labels(std::move(items_));
}

uint64_t Labels::Hash() const {
  uint64_t h = 0x27D4EB2F165667C5ull ^ (items_.size() * kPrime1);
  for (const Label& l : items_) {
    h = MixBytes(h, l.name);
    h = MixBytes(h, l.value);
  }
  return Fmix64(h);
}

std::string Labels::ToString() const {
  std::string out(MetricName());
  std::string inner;
  for (const Label& l : items_) {
    if (l.name == kMetricName) continue;
    if (!inner.empty()) inner += ", ";
    inner += l.name + "=\"" + metrics::EscapeLabelValue(l.value) + "\"";
  }
  if (!inner.empty() || out.empty()) out += "{" + inner + "}";
  return out;
}

bool IsValidMetricName(std::string_view name) { return IsValidName(name, true); }
bool IsValidLabelName(std::string_view name) { return IsValidName(name, false); }

double StaleNaN() { return std::bit_cast<double>(kStaleNaNBits); }
bool IsStaleNaN(double v) { return std::bit_cast<uint64_t>(v) == kStaleNaNBits; }

}  // namespace steward::tsdb
