// Private to the server room: the HTTP server object behind Daemon::Http.
#pragma once

#include <httplib.h>

#include <algorithm>
#include <memory>

#include "server/auth.h"
#include "server/daemon.h"

namespace steward::server {

// Queries inside the QueryGate (running or waiting) at most: each holds an HTTP worker.
inline int QueryQueueCap(int max_concurrency) { return 4 * std::max(1, max_concurrency); }
// HTTP workers beyond those queries may hold: for the control API, /metrics and the rest.
inline constexpr int kOtherWorkers = 8;

struct Daemon::Http {
  std::unique_ptr<httplib::Server> server;  // an httplib::SSLServer with --tls-cert
  httplib::Server& svr() { return *server; }
  // The access checks of every /api/ call (auth.h); made before the server listens.
  std::unique_ptr<TokenAuthenticator> auth;
  std::unique_ptr<FailureLimiter> failures;
  CorsPolicy cors;
};

}  // namespace steward::server

namespace steward::server {

// prom_api.cc: the Prometheus-compatible read API over the daemon's monitoring.
void InstallPrometheusRoutes(httplib::Server& svr, Daemon* daemon);
// alert_api.cc: Alertmanager's /api/v2 (alerts in and out, silences, status) and
// /api/v1/notifications over the daemon's notifier (503 without one); posted alerts go where
// the rules' alerts go (Daemon::ReceiveAlerts).
void InstallAlertRoutes(httplib::Server& svr, Daemon* daemon);
// incident_api.cc: /api/v1/incidents (the token is checked before routing, as for every /api/).
void InstallIncidentRoutes(httplib::Server& svr, alerting::IncidentManager* incidents);
// runbook_api.cc: /api/v1/runbooks (list, runs) and the Markdown pages under /runbooks, behind
// the token like every /api/ path.
void InstallRunbookRoutes(httplib::Server& svr, Daemon* daemon);
// pipeline_api.cc: /api/v1/pipelines, /api/v1/runs (token required) and the webhook receiver
// POST /hooks/<pipeline> (HMAC-verified instead of the token).
void InstallPipelineRoutes(httplib::Server& svr, Daemon* daemon);
// backup_api.cc: GET /api/v1/backups and POST /api/v1/backups/{service}/run (token required).
void InstallBackupRoutes(httplib::Server& svr, Daemon* daemon);
// Unix seconds (with fraction) or RFC 3339, as Prometheus' API accepts times; returns unix ms.
StatusOr<int64_t> ParsePromTime(const std::string& s);

}  // namespace steward::server
