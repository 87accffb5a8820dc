#include "scan/k8s_rules.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "scan/config_scan.h"

namespace steward::scan {
namespace {

using internal::MakeConfigFinding;

// One YAML document of a file and the 0-based line it starts on.
struct Document {
  std::string text;
  int first_line = 0;
};

bool IsMarker(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r';
}

// Cuts at "---" and "..." lines, keeping each document's place in the file. A document that
// starts on the marker's line ("--- {a: 1}") keeps that line with the marker blanked.
std::vector<Document> SplitDocuments(std::string_view text) {
  std::vector<Document> docs(1);
  int line = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(start, end - start);
    if (IsMarker(l, "---")) {
      docs.push_back(Document{"", line});
      std::string rest(l);
      rest.replace(0, 3, "   ");
      docs.back().text.append(rest).push_back('\n');
    } else if (IsMarker(l, "...")) {
      docs.push_back(Document{"", line + 1});
    } else {
      docs.back().text.append(l).push_back('\n');
    }
    start = end + 1;
    ++line;
  }
  return docs;
}

// A top-level `apiVersion:` and `kind:` line (keys may be quoted), by text: cheap enough to
// skip the parse of YAML that cannot hold a manifest (lockfiles, OpenAPI specs, CI configs).
bool LooksLikeManifest(std::string_view text) {
  auto has_key = [&](std::string_view key) {
    for (size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
      size_t begin = at;
      if (begin > 0 && (text[begin - 1] == '"' || text[begin - 1] == '\'')) --begin;
      if (begin > 0 && text[begin - 1] != '\n') continue;
      size_t i = at + key.size();
      if (i < text.size() && (text[i] == '"' || text[i] == '\'')) ++i;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (i < text.size() && text[i] == ':') return true;
    }
    return false;
  };
  return has_key("apiVersion") && has_key("kind");
}

bool IsTrue(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  return s == "true" || s == "True" || s == "TRUE" || s == "yes" || s == "on";
}

bool IsFalse(const YAML::Node& n) {
  if (!n.IsScalar()) return false;
  const std::string& s = n.Scalar();
  return s == "false" || s == "False" || s == "FALSE" || s == "no" || s == "off";
}

// A key of a map with its node, for the key's line.
struct Field {
  YAML::Node key;
  YAML::Node value;
};

std::optional<Field> Get(const YAML::Node& map, std::string_view name) {
  if (!map.IsMap()) return std::nullopt;
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == name) return Field{it->first, it->second};
  }
  return std::nullopt;
}

YAML::Node Value(const YAML::Node& map, std::string_view name) {
  std::optional<Field> f = Get(map, name);
  return f ? f->value : YAML::Node(YAML::NodeType::Undefined);
}

std::string ScalarOr(const YAML::Node& n, std::string fallback) {
  return n.IsScalar() ? n.Scalar() : std::move(fallback);
}

bool IsJobKind(std::string_view kind) { return kind == "Job" || kind == "CronJob"; }

// The pod spec of a workload, undefined for other kinds.
YAML::Node PodSpec(const YAML::Node& doc, std::string_view kind) {
  YAML::Node spec = Value(doc, "spec");
  if (kind == "Pod") return spec;
  if (kind == "Deployment" || kind == "StatefulSet" || kind == "DaemonSet" ||
      kind == "ReplicaSet" || kind == "Job") {
    return Value(Value(spec, "template"), "spec");
  }
  if (kind == "CronJob") {
    return Value(Value(Value(Value(spec, "jobTemplate"), "spec"), "template"), "spec");
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

class ManifestScan {
 public:
  ManifestScan(const std::string& path, int first_line, ScanResult* out)
      : path_(path), first_line_(first_line), out_(out) {}

  void Run(const YAML::Node& doc) {
    kind_ = ScalarOr(Value(doc, "kind"), "");
    YAML::Node pod = PodSpec(doc, kind_);
    if (!pod.IsMap()) return;
    YAML::Node metadata = Value(doc, "metadata");
    name_ = kind_ + "/" + ScalarOr(Value(metadata, "name"), "?");
    Namespace(doc, metadata);
    PodLevel(pod);
    for (const char* list : {"initContainers", "containers"}) {
      YAML::Node containers = Value(pod, list);
      if (!containers.IsSequence()) continue;
      for (const YAML::Node& c : containers) {
        if (c.IsMap()) Container(pod, c, std::string_view(list) == "initContainers");
      }
    }
  }

 private:
  int Line(const YAML::Node& n) const { return first_line_ + n.Mark().line + 1; }
  int Column(const YAML::Node& n) const { return n.Mark().column + 1; }

  void Add(std::string_view rule, const YAML::Node& at, std::string message, std::string snippet,
           const std::string& key) {
    out_->findings.push_back(MakeConfigFinding(rule, path_, Line(at), Column(at),
                                               std::move(message), std::move(snippet),
                                               name_ + " " + key));
  }

  void Namespace(const YAML::Node& doc, const YAML::Node& metadata) {
    std::optional<Field> ns = Get(metadata, "namespace");
    if (ns && ScalarOr(ns->value, "default") != "default") return;
    std::optional<Field> at = ns ? ns : Get(doc, "metadata");
    if (!at) at = Get(doc, "kind");
    Add("k8s-default-namespace", at->key,
        fmt::format("{} {}; set metadata.namespace to the application's own namespace so its "
                    "policies and quotas apply",
                    name_,
                    ns ? "is in the default namespace"
                       : "names no namespace, so it lands "
                         "in the default one"),
        ns ? "namespace: default" : "metadata:", "namespace");
  }

  void PodLevel(const YAML::Node& pod) {
    for (const char* host : {"hostNetwork", "hostPID", "hostIPC"}) {
      std::optional<Field> f = Get(pod, host);
      if (!f || !IsTrue(f->value)) continue;
      Add("k8s-host-namespace", f->key,
          fmt::format("{} sets {}: true, sharing the node's namespace with the pod; remove it",
                      name_, host),
          fmt::format("{}: true", host), host);
    }
    YAML::Node volumes = Value(pod, "volumes");
    if (!volumes.IsSequence()) return;
    for (const YAML::Node& v : volumes) {
      std::optional<Field> host = Get(v, "hostPath");
      if (!host) continue;
      std::string volume = ScalarOr(Value(v, "name"), "?");
      std::string dir = ScalarOr(Value(host->value, "path"), "?");
      Add("k8s-host-path", host->key,
          fmt::format("{} mounts the node's {} (volume '{}'); use a PersistentVolumeClaim, "
                      "emptyDir or ConfigMap instead",
                      name_, dir, volume),
          fmt::format("hostPath: {{path: {}}}", dir), "volume " + volume);
    }
  }

  // A container's security setting, else the pod's (container settings win in Kubernetes).
  static std::optional<Field> Effective(const YAML::Node& pod, const YAML::Node& sc,
                                        std::string_view name) {
    std::optional<Field> f = Get(sc, name);
    return f ? f : Get(Value(pod, "securityContext"), name);
  }

  void Container(const YAML::Node& pod, const YAML::Node& c, bool init) {
    std::string who = fmt::format("{} {} '{}'", name_, init ? "init container" : "container",
                                  ScalarOr(Value(c, "name"), "?"));
    std::string key = (init ? "init " : "container ") + ScalarOr(Value(c, "name"), "?");
    Image(c, who, key);
    YAML::Node sc = Value(c, "securityContext");
    Privileges(c, sc, who, key);
    User(pod, c, sc, who, key);
    Resources(c, who, key);
    if (!init && !IsJobKind(kind_)) Probes(c, who, key);
    Env(c, who, key);
  }

  void Image(const YAML::Node& c, const std::string& who, const std::string& key) {
    std::optional<Field> image = Get(c, "image");
    if (!image || !image->value.IsScalar()) return;
    std::string reason = internal::UnpinnedImageReason(image->value.Scalar());
    if (reason.empty()) return;
    Add("k8s-latest-tag", image->key,
        fmt::format("{}: image '{}' {}; pin a version tag or a digest so every node runs the "
                    "image that was tested",
                    who, image->value.Scalar(), reason),
        "image: " + image->value.Scalar(), key + " image");
  }

  void Privileges(const YAML::Node& c, const YAML::Node& sc, const std::string& who,
                  const std::string& key) {
    if (std::optional<Field> f = Get(sc, "privileged"); f && IsTrue(f->value)) {
      Add("k8s-privileged", f->key,
          fmt::format("{} is privileged: it has every capability and the node's devices; "
                      "remove privileged: true and add only the capabilities it needs",
                      who),
          "privileged: true", key + " privileged");
    }
    std::optional<Field> escalation = Get(sc, "allowPrivilegeEscalation");
    if (!escalation || !IsFalse(escalation->value)) {
      Add("k8s-privilege-escalation", escalation ? escalation->key : c,
          fmt::format("{} {}; set securityContext.allowPrivilegeEscalation: false", who,
                      escalation ? "allows privilege escalation"
                                 : "does not forbid privilege escalation (setuid binaries can "
                                   "gain root)"),
          escalation ? "allowPrivilegeEscalation: " + ScalarOr(escalation->value, "")
                     : "securityContext.allowPrivilegeEscalation unset",
          key + " escalation");
    }
    std::optional<Field> read_only = Get(sc, "readOnlyRootFilesystem");
    if (!read_only || !IsTrue(read_only->value)) {
      Add("k8s-writable-root-fs", read_only ? read_only->key : c,
          fmt::format("{} has a writable root filesystem; set securityContext."
                      "readOnlyRootFilesystem: true and mount an emptyDir where it must write",
                      who),
          "readOnlyRootFilesystem unset or false", key + " rootfs");
    }
    YAML::Node add = Value(Value(sc, "capabilities"), "add");
    if (!add.IsSequence()) return;
    for (const YAML::Node& cap : add) {
      std::string name = ScalarOr(cap, "");
      if (name.rfind("CAP_", 0) == 0) name = name.substr(4);
      if (name != "SYS_ADMIN" && name != "NET_ADMIN" && name != "ALL") continue;
      Add("k8s-dangerous-capabilities", cap,
          fmt::format("{} adds capability {}, which is close to root on the node; drop it and "
                      "add only narrow capabilities (e.g. NET_BIND_SERVICE)",
                      who, name),
          "capabilities.add: " + name, key + " cap " + name);
    }
  }

  void User(const YAML::Node& pod, const YAML::Node& c, const YAML::Node& sc,
            const std::string& who, const std::string& key) {
    std::optional<Field> user = Effective(pod, sc, "runAsUser");
    if (user && ScalarOr(user->value, "") == "0") {
      Add("k8s-run-as-root", user->key,
          fmt::format("{} runs as UID 0 (root); set runAsUser to an unprivileged UID and "
                      "runAsNonRoot: true",
                      who),
          "runAsUser: 0", key + " root");
      return;
    }
    std::optional<Field> non_root = Effective(pod, sc, "runAsNonRoot");
    if (non_root && IsTrue(non_root->value)) return;
    if (user && user->value.IsScalar()) return;  // an explicit non-zero UID is not root
    Add("k8s-run-as-root", non_root ? non_root->key : c,
        fmt::format("{} may run as root: neither runAsNonRoot: true nor a non-zero runAsUser "
                    "is set; set securityContext.runAsNonRoot: true",
                    who),
        non_root ? "runAsNonRoot: " + ScalarOr(non_root->value, "") : "runAsNonRoot unset",
        key + " root");
  }

  void Resources(const YAML::Node& c, const std::string& who, const std::string& key) {
    std::optional<Field> resources = Get(c, "resources");
    YAML::Node limits = resources ? Value(resources->value, "limits") : YAML::Node();
    if (limits.IsMap() && limits.size() > 0) return;
    Add("k8s-no-resource-limits", resources ? resources->key : c,
        fmt::format("{} has no resources.limits, so one runaway replica can starve the node; "
                    "set limits for memory and cpu",
                    who),
        "resources.limits unset", key + " limits");
  }

  void Probes(const YAML::Node& c, const std::string& who, const std::string& key) {
    if (!Get(c, "livenessProbe")) {
      Add("k8s-no-liveness-probe", c,
          fmt::format("{} has no livenessProbe, so a hung process is never restarted; add one",
                      who),
          "livenessProbe unset", key + " liveness");
    }
    if (!Get(c, "readinessProbe")) {
      Add("k8s-no-readiness-probe", c,
          fmt::format("{} has no readinessProbe, so traffic reaches it before it is ready; add "
                      "one",
                      who),
          "readinessProbe unset", key + " readiness");
    }
  }

  void Env(const YAML::Node& c, const std::string& who, const std::string& key) {
    YAML::Node env = Value(c, "env");
    if (!env.IsSequence()) return;
    for (const YAML::Node& var : env) {
      std::string name = ScalarOr(Value(var, "name"), "");
      std::optional<Field> value = Get(var, "value");
      if (!value || !value->value.IsScalar() || !LooksLikeSecretName(name)) continue;
      const std::string& v = value->value.Scalar();
      // $(VAR) is Kubernetes' own reference; ${VAR} and {{ … }} are placeholders of envsubst,
      // kustomize or Helm, filled in before the manifest is applied: no secret is in the file.
      if (v.empty() || v.find("$(") != std::string::npos || v.find("${") != std::string::npos ||
          v.find("{{") != std::string::npos) {
        continue;
      }
      Add("k8s-secret-in-env", value->key,
          fmt::format("{}: env {} holds a literal secret in the manifest; use valueFrom."
                      "secretKeyRef with a Secret",
                      who, name),
          fmt::format("name: {}, value: ***", name), key + " env " + name);
    }
  }

  const std::string& path_;
  int first_line_;
  ScanResult* out_;
  std::string kind_;
  std::string name_;
};

}  // namespace

ScanResult ScanKubernetesYaml(std::string_view text, const std::string& path) {
  ScanResult out;
  if (!LooksLikeManifest(text)) return out;
  for (const Document& d : SplitDocuments(text)) {
    YAML::Node doc;
    try {
      doc = YAML::Load(d.text);
    } catch (const YAML::Exception& e) {
      if (LooksLikeManifest(d.text)) {
        int line = e.mark.line >= 0 ? d.first_line + e.mark.line + 1 : d.first_line + 1;
        out.problems.push_back(Problem{path, line, "not valid YAML: " + e.msg});
      }
      continue;
    }
    if (!doc.IsMap() || !Value(doc, "apiVersion").IsScalar() || !Value(doc, "kind").IsScalar()) {
      continue;
    }
    ManifestScan(path, d.first_line, &out).Run(doc);
  }
  return out;
}

}  // namespace steward::scan
