// The daemon's backup jobs (server/backups.h): started with the daemon, listed and run by the
// API.
#include <cstdlib>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "server/backups.h"
#include "server/http_internal.h"
#include "server/prom_internal.h"

namespace steward::server {

void Daemon::StartBackups() {
  BackupServiceOptions bo;
  bo.state_dir = opt_.state_dir;
  bo.store = store_.get();
  bo.metrics = &metrics_;
  // Tests only: a cron minute lasts this many ms (backups.h).
  if (const char* tick = std::getenv("STEWARD_BACKUP_TICK_MS")) {
    long ms = std::strtol(tick, nullptr, 10);
    if (ms > 0 && ms <= 60000) bo.time_scale = 60000.0 / static_cast<double>(ms);
  }
  backups_ = std::make_unique<BackupService>(bo);
  backups_->Start();
}

void InstallBackupRoutes(httplib::Server& svr, Daemon* daemon) {
  svr.Get("/api/v1/backups", [daemon](const httplib::Request&, httplib::Response& res) {
    JsonAnswer(res, {{"status", "success"}, {"data", daemon->backups()->BackupsJson()}});
  });
  svr.Post(R"(/api/v1/backups/([a-z0-9][a-z0-9-]{0,127})/run)",
           [daemon](const httplib::Request& req, httplib::Response& res) {
             std::string service = req.matches[1];
             if (Status st = daemon->backups()->RunNow(service); !st.ok())
               return StatusError(res, st);
             JsonAnswer(res, {{"status", "success"}, {"data", {{"service", service}}}}, 202);
           });
}

}  // namespace steward::server
