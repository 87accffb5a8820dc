// libFuzzer entry point for what a backup repository holds once decrypted: trees (directory
// listings), snapshots, index files and pack headers. A repository on disk is outside input — damaged, or written by a
// newer or hostile writer — so any bytes must decode or fail with kCorruption, and whatever
// decodes must encode and decode to the same tree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "backup/repository_format.h"
#include "backup/snapshot.h"
#include "backup/tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace steward;
  using namespace steward::backup;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto tree = DecodeTree(text);
  if (!tree.ok()) {
    if (tree.status().code() != StatusCode::kCorruption) std::abort();
  } else {
    std::string again = EncodeTree(*tree);
    auto back = DecodeTree(again);
    if (!back.ok() || EncodeTree(*back) != again) std::abort();
  }
  auto snapshot = SnapshotFromJson(text);
  if (!snapshot.ok() && snapshot.status().code() != StatusCode::kCorruption) std::abort();
  if (snapshot.ok()) {
    auto back = SnapshotFromJson(SnapshotToJson(*snapshot));
    if (!back.ok() || back->tree != snapshot->tree || back->paths != snapshot->paths) std::abort();
  }
  std::vector<PackEntry> entries;
  Status index = DecodeIndexJson(text, &entries);
  if (!index.ok() && index.code() != StatusCode::kCorruption) std::abort();
  if (index.ok()) {
    std::vector<PackEntry> again;
    if (!DecodeIndexJson(EncodeIndexJson(entries), &again).ok() || again.size() != entries.size())
      std::abort();
  }
  entries.clear();
  Id pack;
  Status header = DecodePackHeader(pack, text, /*blobs_end=*/size * 4, &entries);
  if (!header.ok() && header.code() != StatusCode::kCorruption) std::abort();
  return 0;
}
