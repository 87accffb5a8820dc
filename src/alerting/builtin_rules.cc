#include "alerting/builtin_rules.h"

#include <utility>

namespace steward::alerting {

const std::string& BuiltinRulesText() {
  // `for` durations are short enough for a runbook to act within seconds of a crash loop, and
  // long enough that a rolling update's not-yet-ready replica does not page.
  static const std::string kText = R"yaml(groups:
  - name: steward:builtin
    rules:
      - alert: StewardReplicaDown
        expr: steward_replica_ready{job="steward"} == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: 'Replica {{ $labels.replica }} of {{ $labels.service }} is not ready'
          description: 'The replica has failed its health check or is not running for more than a minute.'
      - alert: StewardCrashLooping
        expr: increase(steward_replica_restarts_total{job="steward"}[5m]) >= 3
        labels:
          severity: critical
        annotations:
          summary: '{{ $labels.service }} is crash looping'
          description: '{{ $value | humanize }} restarts of {{ $labels.service }} in the last 5 minutes.'
      - alert: StewardHealthCheckFailing
        expr: sum by (job, instance, service) (increase(steward_health_checks_total{job="steward",result="failure"}[2m])) > 0
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: 'Health checks of {{ $labels.service }} are failing'
          description: '{{ $value | humanize }} failed health checks of {{ $labels.service }} in the last 2 minutes.'
      - alert: StewardProbeFailing
        expr: probe_success{job="monitor"} == 0
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: 'Probe {{ $labels.monitor }} is failing'
          description: 'The {{ $labels.kind }} probe of {{ $labels.instance }} has failed for more than a minute.'
      - alert: StewardDiskNearlyFull
        expr: |
          steward_filesystem_avail_bytes{job="steward"} / steward_filesystem_size_bytes{job="steward"} < 0.10
          or
          node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs|squashfs|overlay"} < 0.10
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: 'Less than 10% disk space left on {{ $labels.instance }} ({{ $labels.mountpoint }}{{ $labels.path }})'
          description: '{{ $value | humanizePercentage }} of the filesystem is free.'
      - alert: StewardBackupLate
        expr: time() - steward_backup_last_success_timestamp_seconds > 2 * steward_backup_interval_seconds
        labels:
          severity: warning
        annotations:
          summary: 'The backup of {{ $labels.service }} is late'
          description: 'The last successful backup is {{ $value | humanizeDuration }} old, more than twice its schedule.'
      - alert: StewardCertificateExpiringSoon
        expr: probe_tls_days_left{job="monitor"} < 14 and probe_tls_days_left{job="monitor"} >= 3
        for: 10m
        labels:
          severity: warning
        annotations:
          summary: 'The TLS certificate of {{ $labels.instance }} expires in {{ $value | humanize }} days'
          description: 'Monitor {{ $labels.monitor }} sees a certificate that expires in less than 14 days; renew it.'
      - alert: StewardCertificateExpiringSoon
        expr: probe_tls_days_left{job="monitor"} < 3
        for: 10m
        labels:
          severity: critical
        annotations:
          summary: 'The TLS certificate of {{ $labels.instance }} expires in {{ $value | humanize }} days'
          description: 'Monitor {{ $labels.monitor }} sees a certificate that expires in less than 3 days (or has expired); renew it now.'
)yaml";
  return kText;
}

std::vector<config::Runbook> DefaultRunbooks() {
  auto make = [](const char* alert, config::RunbookAction action, const char* what) {
    config::Runbook r;
    r.name = std::string("default-") + alert;
    r.alert = alert;
    r.action = action;
    r.description = what;
    return r;
  };
  return {
      make("StewardReplicaDown", config::RunbookAction::kRestart,
           "Steward's default: restart the replica that is not ready"),
      make("StewardHealthCheckFailing", config::RunbookAction::kRestart,
           "Steward's default: restart the replicas whose health checks fail"),
      make("StewardCrashLooping", config::RunbookAction::kRollback,
           "Steward's default: roll the crash-looping service back to its previous release"),
  };
}

std::vector<config::Runbook> WithDefaultRunbooks(std::vector<config::Runbook> declared) {
  for (config::Runbook& d : DefaultRunbooks()) {
    bool taken = false;
    for (const config::Runbook& r : declared) taken |= r.alert == d.alert;
    if (!taken) declared.push_back(std::move(d));
  }
  return declared;
}

}  // namespace steward::alerting
