#include "backup/snapshot.h"

#include <nlohmann/json.hpp>

#include "backup/json_fields.h"
#include "base/json.h"

namespace steward::backup {

using nlohmann::json;

std::string SnapshotToJson(const Snapshot& s) {
  json j = {{"time_ns", s.time_ns}, {"host", s.host},   {"user", s.user},
            {"paths", s.paths},     {"tags", s.tags},   {"tree", s.tree.Hex()},
            {"service", s.service}};
  if (s.parent) j["parent"] = s.parent->Hex();
  const SnapshotSummary& m = s.summary;
  j["summary"] = {{"files_new", m.files_new},         {"files_changed", m.files_changed},
                  {"files_unmodified", m.files_unmodified}, {"dirs", m.dirs},
                  {"bytes_processed", m.bytes_processed},   {"bytes_added", m.bytes_added},
                  {"bytes_stored", m.bytes_stored},         {"blobs_added", m.blobs_added},
                  {"seconds", m.seconds}};
  return JsonText(j);
}

StatusOr<Snapshot> SnapshotFromJson(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Corruption("snapshot is not a JSON object");
  Snapshot s;
  try {
    s.time_ns = JsonIntAt<int64_t>(j, "time_ns");
    s.host = j.value("host", "");
    s.user = j.value("user", "");
    s.paths = j.value("paths", std::vector<std::string>{});
    s.tags = j.value("tags", std::vector<std::string>{});
    s.service = j.value("service", "");
    auto tree = Id::FromHex(j.at("tree").get<std::string>());
    if (!tree) return Corruption("snapshot: tree is not a 64-digit hex id");
    s.tree = *tree;
    if (j.contains("parent")) {
      auto parent = Id::FromHex(j["parent"].get<std::string>());
      if (!parent) return Corruption("snapshot: parent is not a 64-digit hex id");
      s.parent = *parent;
    }
    if (j.contains("summary")) {
      const json& m = j["summary"];
      SnapshotSummary& o = s.summary;
      o.files_new = JsonIntOr<uint64_t>(m, "files_new", 0);
      o.files_changed = JsonIntOr<uint64_t>(m, "files_changed", 0);
      o.files_unmodified = JsonIntOr<uint64_t>(m, "files_unmodified", 0);
      o.dirs = JsonIntOr<uint64_t>(m, "dirs", 0);
      o.bytes_processed = JsonIntOr<uint64_t>(m, "bytes_processed", 0);
      o.bytes_added = JsonIntOr<uint64_t>(m, "bytes_added", 0);
      o.bytes_stored = JsonIntOr<uint64_t>(m, "bytes_stored", 0);
      o.blobs_added = JsonIntOr<uint64_t>(m, "blobs_added", 0);
      o.seconds = m.value("seconds", 0.0);
    }
  } catch (const json::exception& e) {
    return Corruption(std::string("snapshot: ") + e.what());
  }
  return s;
}

}  // namespace steward::backup
