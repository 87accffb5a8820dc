// libFuzzer entry point for `steward tsdb import` (src/tsdb/importer.h): the OpenMetrics file is
// outside input. Any bytes must give blocks or an error naming the line, never a crash, hang or
// out-of-bounds read. A failed import writes nothing; a successful one writes blocks that open
// and hold exactly the samples and series the summary reports.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "tsdb/block.h"
#include "tsdb/file_util.h"
#include "tsdb/importer.h"

namespace {

using namespace steward::tsdb;

void Check(bool ok) {
  if (!ok) std::abort();
}

// One scratch database for the whole run, in memory when /dev/shm exists.
const std::string& ScratchDir() {
  static const std::string dir = [] {
    std::string tmpl = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/steward-import-fuzz.XXXXXX";
    Check(mkdtemp(tmpl.data()) != nullptr);
    return tmpl;
  }();
  return dir;
}

std::set<std::string> Blocks(const std::string& dir) {
  std::set<std::string> out;
  auto names = ListDir(dir);
  Check(names.ok());
  for (const auto& n : *names)
    if (LooksLikeUlid(n)) out.insert(n);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = ScratchDir();
  ImportOptions options;
  options.dir = dir;
  // Small windows make many blocks from few lines, so block cutting is exercised too.
  options.block_duration_ms = size % 2 == 0 ? 2LL * 3600 * 1000 : 1000;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto sum = ImportOpenMetrics(text, options, "fuzz.om");
  std::set<std::string> written = Blocks(dir);
  if (!sum.ok()) {
    Check(sum.status().code() == steward::StatusCode::kInvalidArgument);
    Check(std::string_view(sum.status().message()).starts_with("fuzz.om: "));
    Check(written.empty());
  } else {
    Check(sum->samples >= 0 && sum->series >= 0 && sum->duplicates >= 0);
    Check(sum->samples == 0 || sum->min_time <= sum->max_time);
    Check(written == std::set<std::string>(sum->blocks.begin(), sum->blocks.end()));
    Check(written.size() == sum->blocks.size());
    int64_t samples = 0;
    for (const auto& id : sum->blocks) {
      auto block = Block::Open(dir + "/" + id);
      Check(block.ok());
      const BlockMeta& meta = (*block)->meta();
      Check(meta.num_series >= 1 && meta.num_series <= sum->series);
      Check(meta.min_time >= sum->min_time && meta.max_time - 1 <= sum->max_time);
      samples += meta.num_samples;
    }
    Check(samples == sum->samples);
  }
  for (const auto& id : written) Check(RemoveAll(dir + "/" + id).ok());
  return 0;
}
