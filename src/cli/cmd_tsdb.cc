// tsdb import: backfill an OpenMetrics file (promtool's create-blocks-from openmetrics input)
// into a TSDB directory as blocks. See tsdb/importer.h.
#include <filesystem>
#include <iostream>
#include <limits>
#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "tsdb/importer.h"

namespace steward::cli {
namespace {

std::string When(int64_t ms) { return FormatRfc3339Millis(FromUnixMillis(ms)); }

// The retention a daemon applies to <state>/tsdb: the stack's monitoring.retention when the stack
// file parses, else the default. It follows the wall clock, so imported history older than it
// would be deleted at the daemon's next compaction.
Duration DaemonRetention(const Context& ctx) {
  if (std::filesystem::exists(ctx.g.file)) {
    config::ParseOptions popt;
    popt.environment = ctx.g.env;
    auto parsed = config::ParseStackFile(ctx.g.file, popt);
    if (parsed.ok() && parsed.stack) return parsed.stack->monitoring.retention;
  }
  return config::Monitoring{}.retention;
}

int RunImport(Context& ctx, const std::string& file, const std::string& data_dir) {
  tsdb::ImportOptions opt;
  opt.dir = data_dir.empty() ? ctx.StateDir() + "/tsdb"
                             : std::filesystem::absolute(data_dir).lexically_normal().string();
  Duration retention = data_dir.empty() ? DaemonRetention(ctx) : Duration(0);
  if (retention.count() > 0)
    opt.retention_horizon_ms = ToUnixMillis(RealClock::Get()->WallNow()) - retention.count();
  if (!ctx.g.json) {
    std::cerr << "importing " << file << " into " << opt.dir << "\n";
    opt.on_block = [](const std::string& ulid, int64_t samples, int64_t series) {
      std::cerr << "  block " << ulid << ": " << samples << " samples, " << series << " series\n";
    };
  }
  auto sum = tsdb::ImportOpenMetricsFile(file, opt);
  if (!sum.ok() && sum.status().code() == StatusCode::kFailedPrecondition &&
      opt.retention_horizon_ms != std::numeric_limits<int64_t>::min() &&
      sum.status().message().find("retention") != std::string::npos)
    return Fail(Status(sum.status().code(),
                       sum.status().message() +
                           ". The daemon's metrics store keeps monitoring.retention (" +
                           config::FormatDuration(retention) +
                           "); import history into a directory of its own with --data-dir DIR "
                           "and serve it with `steward serve --data-dir DIR`, which deletes "
                           "nothing"));
  if (!sum.ok()) return Fail(sum.status());
  if (ctx.g.json) {
    nlohmann::json j = {{"dir", opt.dir},
                        {"series", sum->series},
                        {"samples", sum->samples},
                        {"duplicates", sum->duplicates},
                        {"min_time", sum->min_time},
                        {"max_time", sum->max_time},
                        {"blocks", sum->blocks}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << "Imported " << sum->samples << " samples of " << sum->series << " series into "
            << sum->blocks.size() << " block(s) in " << opt.dir << "\n";
  if (sum->samples > 0)
    std::cout << "Time range: " << When(sum->min_time) << " to " << When(sum->max_time) << "\n";
  if (sum->duplicates > 0)
    std::cout << "Skipped " << sum->duplicates << " repeated sample(s) (same series, time and "
              << "value)\n";
  return kExitOk;
}

}  // namespace

void AddTsdb(CLI::App& app, Context& ctx, int& rc) {
  auto* tsdb = app.add_subcommand("tsdb", "Tools for the metrics store");
  tsdb->require_subcommand(1);
  auto* imp = tsdb->add_subcommand(
      "import", "Load an OpenMetrics file (timestamps in seconds, # EOF) into 2 h blocks");
  static std::string file, data_dir;
  imp->add_option("file", file, "OpenMetrics text file, as promtool's create-blocks-from reads")
      ->required();
  imp->add_option("--data-dir", data_dir,
                  "TSDB directory (default: <state-dir>/tsdb); must not be open in a daemon");
  imp->add_flag("--json", ctx.g.json, "Print the summary as JSON");
  imp->callback([&] { rc = RunImport(ctx, file, data_dir); });
}

}  // namespace steward::cli
