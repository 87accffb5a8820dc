#include "backup/tree.h"

#include <algorithm>

#include <nlohmann/json.hpp>
#include <sodium.h>

#include "backup/json_fields.h"
#include "backup/repository.h"

namespace steward::backup {

using nlohmann::json;

namespace {

constexpr std::string_view kTypeNames[] = {"file", "dir", "symlink", "dev", "chardev", "fifo",
                                           "socket"};

bool IsUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = s[i];
    size_t extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 4;
    if (extra == 4 || i + extra >= s.size()) return false;  // bad lead byte or cut short
    for (size_t k = 1; k <= extra; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 2) return false;
    i += extra + 1;
  }
  return true;
}

std::string Base64(std::string_view raw) {
  std::string out(sodium_base64_ENCODED_LEN(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

bool FromBase64(std::string_view text, std::string* raw) {
  raw->assign(text.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw->data()), raw->size(), text.data(),
                        text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) != 0)
    return false;
  raw->resize(len);
  return true;
}

// A string that may not be UTF-8: as itself when it is, else under "<key>_b64".
void PutBytes(json& j, const char* key, std::string_view value) {
  if (IsUtf8(value))
    j[key] = value;
  else
    j[std::string(key) + "_b64"] = Base64(value);
}

bool GetBytes(const json& j, const char* key, std::string* out) {
  auto it = j.find(key);
  if (it != j.end() && it->is_string()) {
    *out = it->get<std::string>();
    return true;
  }
  it = j.find(std::string(key) + "_b64");
  if (it != j.end() && it->is_string()) return FromBase64(it->get<std::string>(), out);
  out->clear();
  return false;
}

json NodeJson(const Node& n) {
  json j = json::object();
  PutBytes(j, "name", n.name);
  j["type"] = NodeTypeName(n.type);
  j["mode"] = n.mode;
  j["uid"] = n.uid;
  j["gid"] = n.gid;
  if (!n.user.empty()) PutBytes(j, "user", n.user);
  if (!n.group.empty()) PutBytes(j, "group", n.group);
  j["mtime_ns"] = n.mtime_ns;
  j["atime_ns"] = n.atime_ns;
  j["ctime_ns"] = n.ctime_ns;
  j["inode"] = n.inode;
  j["device_id"] = n.device_id;
  j["links"] = n.links;
  if (n.type == NodeType::kFile) {
    j["size"] = n.size;
    json content = json::array();
    for (const Id& id : n.content) content.push_back(id.Hex());
    j["content"] = std::move(content);
  }
  if (n.type == NodeType::kDevice || n.type == NodeType::kCharDevice) j["rdev"] = n.rdev;
  if (n.type == NodeType::kSymlink) PutBytes(j, "link_target", n.link_target);
  if (n.subtree) j["subtree"] = n.subtree->Hex();
  if (!n.xattrs.empty()) {
    json x = json::array();
    for (const auto& [name, value] : n.xattrs) {
      json e = json::object();
      PutBytes(e, "name", name);
      e["value_b64"] = Base64(value);
      x.push_back(std::move(e));
    }
    j["xattrs"] = std::move(x);
  }
  return j;
}

StatusOr<Node> NodeFromJson(const json& j) {
  if (!j.is_object()) return Corruption("tree node is not an object");
  Node n;
  if (!GetBytes(j, "name", &n.name) || n.name.empty() || n.name == "." || n.name == ".." ||
      n.name.find('/') != std::string::npos || n.name.find('\0') != std::string::npos)
    return Corruption("tree node has no valid name");
  std::string type = j.value("type", "");
  auto it = std::find(std::begin(kTypeNames), std::end(kTypeNames), type);
  if (it == std::end(kTypeNames)) return Corruption("node " + n.name + ": unknown type '" + type + "'");
  n.type = static_cast<NodeType>(it - std::begin(kTypeNames));
  n.mode = JsonIntOr<uint32_t>(j, "mode", 0) & 07777;
  n.uid = JsonIntOr<uint32_t>(j, "uid", 0);
  n.gid = JsonIntOr<uint32_t>(j, "gid", 0);
  GetBytes(j, "user", &n.user);
  GetBytes(j, "group", &n.group);
  n.mtime_ns = JsonIntOr<int64_t>(j, "mtime_ns", 0);
  n.atime_ns = JsonIntOr<int64_t>(j, "atime_ns", 0);
  n.ctime_ns = JsonIntOr<int64_t>(j, "ctime_ns", 0);
  n.inode = JsonIntOr<uint64_t>(j, "inode", 0);
  n.device_id = JsonIntOr<uint64_t>(j, "device_id", 0);
  n.links = JsonIntOr<uint64_t>(j, "links", 1);
  n.size = JsonIntOr<uint64_t>(j, "size", 0);
  n.rdev = JsonIntOr<uint64_t>(j, "rdev", 0);
  GetBytes(j, "link_target", &n.link_target);
  if (auto c = j.find("content"); c != j.end()) {
    if (!c->is_array()) return Corruption("node " + n.name + ": content is not a list");
    for (const json& e : *c) {
      auto id = e.is_string() ? Id::FromHex(e.get<std::string>()) : std::nullopt;
      if (!id) return Corruption("node " + n.name + ": content id is not 64 hex digits");
      n.content.push_back(*id);
    }
  }
  if (auto s = j.find("subtree"); s != j.end()) {
    auto id = s->is_string() ? Id::FromHex(s->get<std::string>()) : std::nullopt;
    if (!id) return Corruption("node " + n.name + ": subtree is not 64 hex digits");
    n.subtree = *id;
  }
  if (n.type == NodeType::kDir && !n.subtree)
    return Corruption("directory " + n.name + " has no subtree");
  if (auto x = j.find("xattrs"); x != j.end() && x->is_array()) {
    for (const json& e : *x) {
      std::string name, value;
      if (!e.is_object() || !GetBytes(e, "name", &name) ||
          !FromBase64(e.value("value_b64", ""), &value))
        return Corruption("node " + n.name + ": bad xattr");
      n.xattrs.emplace_back(std::move(name), std::move(value));
    }
  }
  return n;
}

}  // namespace

std::string_view NodeTypeName(NodeType type) { return kTypeNames[static_cast<int>(type)]; }

std::string EncodeTree(const Tree& tree) {
  const Tree* sorted = &tree;
  Tree copy;
  auto by_name = [](const Node& a, const Node& b) { return a.name < b.name; };
  if (!std::is_sorted(tree.nodes.begin(), tree.nodes.end(), by_name)) {
    copy = tree;
    std::sort(copy.nodes.begin(), copy.nodes.end(), by_name);
    sorted = &copy;
  }
  json nodes = json::array();
  for (const Node& n : sorted->nodes) nodes.push_back(NodeJson(n));
  return json{{"nodes", std::move(nodes)}}.dump();
}

StatusOr<Tree> DecodeTree(std::string_view bytes) {
  json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("nodes") || !j["nodes"].is_array())
    return Corruption("tree blob is not a JSON object with a node list");
  Tree tree;
  try {
    for (const json& e : j["nodes"]) {
      ASSIGN_OR_RETURN(Node node, NodeFromJson(e));
      if (!tree.nodes.empty() && !(tree.nodes.back().name < node.name))
        return Corruption("tree nodes are not sorted or not unique at '" + node.name + "'");
      tree.nodes.push_back(std::move(node));
    }
  } catch (const json::exception& e) {
    return Corruption(std::string("tree: ") + e.what());
  }
  return tree;
}

StatusOr<Tree> LoadTree(BlobStore* store, const Id& id) {
  std::string bytes;
  RETURN_IF_ERROR(store->LoadBlob(BlobType::kTree, id, &bytes).Annotate("tree " + id.Short()));
  auto tree = DecodeTree(bytes);
  if (!tree.ok()) return tree.status().Annotate("tree " + id.Short());
  return tree;
}

namespace {

Status Walk(BlobStore* store, const Id& id, const std::string& prefix, int depth,
            const std::function<Status(const std::string&, const Node&)>& fn) {
  if (depth > 4096) return Corruption("tree " + id.Short() + " nests deeper than 4096 levels");
  ASSIGN_OR_RETURN(Tree tree, LoadTree(store, id));
  for (const Node& node : tree.nodes) {
    std::string path = prefix + "/" + node.name;
    RETURN_IF_ERROR(fn(path, node));
    if (node.type == NodeType::kDir) RETURN_IF_ERROR(Walk(store, *node.subtree, path, depth + 1, fn));
  }
  return Status::OK();
}

}  // namespace

Status WalkTree(BlobStore* store, const Id& root,
                const std::function<Status(const std::string& path, const Node& node)>& fn) {
  return Walk(store, root, "", 0, fn);
}

}  // namespace steward::backup
