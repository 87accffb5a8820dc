// `steward backup run --service NAME… | --all` (cmd_backup_service.cc): the stack's backup jobs
// run now by the CLI, without the daemon, as the daemon runs them (server/backups.h). Private
// to the backup commands.
#pragma once

#include <string>
#include <vector>

#include "cli/backup_cli.h"

namespace steward::cli::backup_cli {

// Runs the jobs of `services` (or every declared job with `all`), in stack order, with the
// stack's repository and secret unless `a` gives --repo/--password-file/--key-file. Exit code:
// 0, kExitIncomplete when a job skipped files, kExitError when any job failed.
int RunServices(const Context& ctx, const BackupArgs& a, const std::vector<std::string>& services,
                bool all);

}  // namespace steward::cli::backup_cli
