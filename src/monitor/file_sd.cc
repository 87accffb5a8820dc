#include "monitor/file_sd.h"

#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "tsdb/labels.h"

namespace steward::monitor {
namespace {

constexpr char kShape[] =
    "expected a list of target groups: [{\"targets\": [\"host:port\", ...], \"labels\": "
    "{\"name\": \"value\"}}]";

std::string GroupName(size_t i) { return "group " + std::to_string(i + 1); }

Status CheckLabelName(const std::string& where, const std::string& name) {
  if (tsdb::IsValidLabelName(name)) return Status::OK();
  return InvalidArgument(where + ": label name \"" + name +
                         "\" is not valid (use letters, digits and '_', not starting with a "
                         "digit)");
}

// "[json.exception.parse_error.101] parse error at line 2, column 3: ..." → "line 2, column 3: ..."
std::string JsonError(const std::string& what) {
  std::string s = what;
  if (size_t end = s.find("] "); !s.empty() && s[0] == '[' && end != std::string::npos) {
    s = s.substr(end + 2);
  }
  const std::string prefix = "parse error at ";
  if (s.rfind(prefix, 0) == 0) s = s.substr(prefix.size());
  return "invalid JSON: " + s;
}

StatusOr<TargetGroup> GroupFromJson(const nlohmann::json& g, size_t i) {
  const std::string where = GroupName(i);
  if (!g.is_object()) return InvalidArgument(where + ": " + kShape);
  TargetGroup out;
  for (const auto& [key, value] : g.items()) {
    if (key == "targets") {
      if (!value.is_array()) return InvalidArgument(where + ": \"targets\" must be a list");
      for (const auto& t : value) {
        if (!t.is_string()) {
          return InvalidArgument(where + ": targets must be strings (\"host:port\"), got " +
                                 t.dump());
        }
        out.targets.push_back(t.get<std::string>());
      }
    } else if (key == "labels") {
      if (value.is_null()) continue;
      if (!value.is_object()) return InvalidArgument(where + ": \"labels\" must be an object");
      for (const auto& [name, v] : value.items()) {
        RETURN_IF_ERROR(CheckLabelName(where, name));
        if (!v.is_string()) {
          return InvalidArgument(where + ": label \"" + name + "\" must be a string, got " +
                                 v.dump());
        }
        out.labels[name] = v.get<std::string>();
      }
    } else {
      return InvalidArgument(where + ": unknown field \"" + key +
                             "\" (a group has \"targets\" and \"labels\")");
    }
  }
  return out;
}

StatusOr<std::vector<TargetGroup>> ParseJson(std::string_view text) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(JsonError(e.what()));
  }
  if (!doc.is_array()) return InvalidArgument(kShape);
  std::vector<TargetGroup> out;
  for (size_t i = 0; i < doc.size(); ++i) {
    ASSIGN_OR_RETURN(TargetGroup g, GroupFromJson(doc[i], i));
    out.push_back(std::move(g));
  }
  return out;
}

std::string At(const YAML::Node& n) {
  return "line " + std::to_string(n.Mark().line + 1) + ", column " +
         std::to_string(n.Mark().column + 1);
}

StatusOr<TargetGroup> GroupFromYaml(const YAML::Node& g, size_t i) {
  const std::string where = GroupName(i) + " (" + At(g) + ")";
  if (!g.IsMap()) return InvalidArgument(where + ": " + kShape);
  TargetGroup out;
  for (const auto& kv : g) {
    std::string key = kv.first.Scalar();
    const YAML::Node& value = kv.second;
    if (key == "targets") {
      if (value.IsNull()) continue;
      if (!value.IsSequence()) return InvalidArgument(where + ": \"targets\" must be a list");
      for (const auto& t : value) {
        if (!t.IsScalar())
          return InvalidArgument(where + ": targets must be \"host:port\" strings");
        out.targets.push_back(t.Scalar());
      }
    } else if (key == "labels") {
      if (value.IsNull()) continue;
      if (!value.IsMap()) return InvalidArgument(where + ": \"labels\" must be a mapping");
      for (const auto& l : value) {
        std::string name = l.first.Scalar();
        RETURN_IF_ERROR(CheckLabelName(where, name));
        if (!l.second.IsScalar()) {
          return InvalidArgument(where + ": label \"" + name + "\" must be a string");
        }
        out.labels[name] = l.second.Scalar();
      }
    } else {
      return InvalidArgument(where + ": unknown field \"" + key +
                             "\" (a group has \"targets\" and \"labels\")");
    }
  }
  return out;
}

StatusOr<std::vector<TargetGroup>> ParseYaml(std::string_view text) {
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
    if (doc.IsNull()) return std::vector<TargetGroup>{};
    if (!doc.IsSequence()) return InvalidArgument(kShape);
    std::vector<TargetGroup> out;
    for (size_t i = 0; i < doc.size(); ++i) {
      ASSIGN_OR_RETURN(TargetGroup g, GroupFromYaml(doc[i], i));
      out.push_back(std::move(g));
    }
    return out;
  } catch (const YAML::Exception& e) {
    return InvalidArgument("invalid YAML: line " + std::to_string(e.mark.line + 1) + ", column " +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

}  // namespace

StatusOr<std::vector<TargetGroup>> ParseTargetGroups(std::string_view text,
                                                     TargetGroupFormat format) {
  return format == TargetGroupFormat::kJson ? ParseJson(text) : ParseYaml(text);
}

}  // namespace steward::monitor
