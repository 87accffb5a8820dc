// Matcher (declared in tsdb.h) and Sample's bitwise equality.
#include <re2/re2.h>

#include <bit>

#include "metrics/registry.h"
#include "tsdb/go_regexp.h"
#include "tsdb/tsdb.h"

namespace steward::tsdb {

bool Sample::operator==(const Sample& o) const {
  return t == o.t && std::bit_cast<uint64_t>(v) == std::bit_cast<uint64_t>(o.v);
}

StatusOr<Matcher> Matcher::Make(Type type, std::string name, std::string value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::move(name);
  m.value_ = std::move(value);
  if (type == Type::kRegexMatch || type == Type::kRegexNoMatch) {
    StatusOr<std::unique_ptr<RE2>> re = CompileGoRegexp(m.value_);
    if (!re.ok()) {
      return InvalidArgument("invalid regex \"" + m.value_ + "\" for label " + m.name_ + ": " +
                             re.status().message());
    }
    m.re_ = std::move(re).value();
  }
  return m;
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case Type::kEqual:
      return v == value_;
    case Type::kNotEqual:
      return v != value_;
    case Type::kRegexMatch:
      return RE2::FullMatch(v, *re_);
    case Type::kRegexNoMatch:
      return !RE2::FullMatch(v, *re_);
  }
  return false;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  return name_ + kOps[static_cast<int>(type_)] + "\"" + metrics::EscapeLabelValue(value_) + "\"";
}

}  // namespace steward::tsdb
