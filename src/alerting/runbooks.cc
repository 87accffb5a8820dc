// RunbookEngine (runbooks.h): decisions under one mutex, actions on the worker (or the caller of
// RunQueued) outside it, reports to the recorder after the lock is released.
#include "alerting/runbooks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <tuple>
#include <utility>

namespace steward::alerting {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;
// Alerts remembered for the check before a run; past this, those whose firing lapsed go.
constexpr size_t kMaxKnown = 10000;

std::string Bounded(std::string s) {
  if (s.size() <= RunbookEngine::kMaxOutput) return s;
  s.resize(RunbookEngine::kMaxOutput - 3);
  return s + "...";
}

tsdb::Matcher::Type MatcherType(config::LabelMatcher::Op op) {
  switch (op) {
    case config::LabelMatcher::Op::kEqual:
      return tsdb::Matcher::Type::kEqual;
    case config::LabelMatcher::Op::kNotEqual:
      return tsdb::Matcher::Type::kNotEqual;
    case config::LabelMatcher::Op::kRegex:
      return tsdb::Matcher::Type::kRegexMatch;
    case config::LabelMatcher::Op::kNotRegex:
      return tsdb::Matcher::Type::kRegexNoMatch;
  }
  return tsdb::Matcher::Type::kEqual;
}

// The replica to restart: the runbook's, else the alert's `replica` label, else -1 (all).
int ReplicaOf(const config::Runbook& rb, const Alert& alert) {
  if (rb.replica >= 0) return rb.replica;
  std::string_view v = alert.labels.Get("replica");
  int n = -1;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 0) return -1;
  return n;
}

// STEWARD_ALERT_<LABEL> for each of the alert's labels, plus the runbook and service.
std::map<std::string, std::string> CommandEnv(const config::Runbook& rb, const Alert& alert,
                                              const std::string& service) {
  std::map<std::string, std::string> env;
  for (const tsdb::Label& l : alert.labels.items()) {
    if (l.name.starts_with("__")) continue;
    std::string name = "STEWARD_ALERT_";
    for (char c : l.name) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env[name] = l.value;
  }
  env["STEWARD_RUNBOOK"] = rb.name;
  env["STEWARD_SERVICE"] = service;
  return env;
}

std::string Argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    bool plain = !a.empty() && a.find_first_of(" \t\"'\\$") == std::string::npos;
    out += (out.empty() ? "" : " ") + (plain ? a : fmt::format("'{}'", a));
  }
  return out;
}

}  // namespace

RunbookEngine::RunbookEngine(RunbookEngineOptions options) : opt_(std::move(options)) {
  if (opt_.metrics != nullptr) {
    runs_total_ = &opt_.metrics->AddCounter(
        "steward_runbook_runs_total",
        "Runbook decisions by runbook, action and result (success, failed, dry_run, cancelled, "
        "skipped_*).",
        {"runbook", "action", "result"});
  }
}

RunbookEngine::~RunbookEngine() { Stop(); }

Status RunbookEngine::SetRunbooks(std::vector<config::Runbook> runbooks, std::string dir) {
  std::vector<Compiled> compiled;
  for (config::Runbook& rb : runbooks) {
    Compiled c;
    for (const config::LabelMatcher& m : rb.matchers) {
      StatusOr<tsdb::Matcher> tm = tsdb::Matcher::Make(MatcherType(m.op), m.name, m.value);
      if (!tm.ok()) return tm.status().Annotate("runbook '" + rb.name + "'");
      c.matchers.push_back(*std::move(tm));
    }
    c.spec = std::move(rb);
    compiled.push_back(std::move(c));
  }
  std::lock_guard<std::mutex> l(mu_);
  runbooks_ = std::move(compiled);
  dir_ = std::move(dir);
  return Status::OK();
}

std::vector<config::Runbook> RunbookEngine::Runbooks() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<config::Runbook> out;
  for (const Compiled& c : runbooks_) out.push_back(c.spec);
  return out;
}

bool RunbookEngine::Matches(const Compiled& rb, const Alert& alert) {
  if (alert.Name() != rb.spec.alert) return false;
  return std::all_of(rb.matchers.begin(), rb.matchers.end(),
                     [&](const tsdb::Matcher& m) { return m.Matches(alert.labels.Get(m.name())); });
}

void RunbookEngine::OnAlerts(const std::vector<Alert>& alerts, int64_t now_ms) {
  std::vector<RunbookRun> reports;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const Alert& alert : alerts) {
      uint64_t fp = alert.Fingerprint();
      if (alert.ResolvedAt(now_ms)) {
        ResolveLocked(fp, &reports);
        continue;
      }
      known_[fp] = Known{true, alert.ends_at_ms};
      for (const Compiled& rb : runbooks_) {
        if (Matches(rb, alert)) DecideLocked(rb, alert, now_ms, &reports);
      }
    }
    if (known_.size() > kMaxKnown)
      std::erase_if(known_, [&](const auto& kv) {
        return kv.second.ends_at_ms != 0 && kv.second.ends_at_ms <= now_ms;
      });
  }
  cv_.notify_all();
  Report(std::move(reports));
}

void RunbookEngine::DecideLocked(const Compiled& rb, const Alert& alert, int64_t now_ms,
                                 std::vector<RunbookRun>* out) {
  const config::Runbook& spec = rb.spec;
  std::string service =
      spec.service.empty() ? std::string(alert.labels.Get("service")) : spec.service;
  uint64_t fp = alert.Fingerprint();
  if (service.empty()) {
    if (SkipOnceLocked(spec, fp, "skipped_no_service")) {
      out->push_back(NewRun(spec, alert, service, "skipped_no_service",
                            "the alert has no 'service' label and the runbook names no service",
                            now_ms));
    }
    return;
  }
  Key key{spec.name, service};
  if (busy_.count(key)) return;  // one at a time; this match is the same trouble
  std::deque<int64_t>& runs = history_[key];
  while (!runs.empty() && runs.front() <= now_ms - kHourMs) runs.pop_front();
  if (static_cast<int>(runs.size()) >= spec.max_runs_per_hour) {
    if (SkipOnceLocked(spec, fp, "skipped_max_runs")) {
      out->push_back(NewRun(
          spec, alert, service, "skipped_max_runs",
          fmt::format("ran {} time(s) for {} in the last hour (max_runs_per_hour {}); a person "
                      "should look",
                      runs.size(), service, spec.max_runs_per_hour),
          now_ms));
    }
    return;
  }
  if (!runs.empty() && now_ms - runs.back() < spec.cooldown.count()) {
    if (SkipOnceLocked(spec, fp, "skipped_cooldown")) {
      out->push_back(NewRun(spec, alert, service, "skipped_cooldown",
                            fmt::format("last run for {} was {} ago (cooldown {})", service,
                                        FormatDuration(Duration(now_ms - runs.back())),
                                        FormatDuration(spec.cooldown)),
                            now_ms));
    }
    return;
  }
  runs.push_back(now_ms);
  busy_.insert(key);
  // A new run: skips after it are news again.
  for (auto it = skipped_.begin(); it != skipped_.end();) {
    it = std::get<0>(*it) == spec.name && std::get<1>(*it) == fp ? skipped_.erase(it) : ++it;
  }
  queue_.push_back(Job{rb, alert, service, now_ms});
}

bool RunbookEngine::SkipOnceLocked(const config::Runbook& rb, uint64_t fingerprint,
                                   const std::string& reason) {
  return skipped_.emplace(rb.name, fingerprint, reason).second;
}

void RunbookEngine::ResolveLocked(uint64_t fingerprint, std::vector<RunbookRun>* out) {
  known_.erase(fingerprint);
  for (auto it = skipped_.begin(); it != skipped_.end();) {
    it = std::get<1>(*it) == fingerprint ? skipped_.erase(it) : ++it;
  }
  int64_t now_ms = ToUnixMillis(opt_.clock->WallNow());
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->alert.Fingerprint() != fingerprint || !it->rb.spec.only_while_firing) {
      ++it;
      continue;
    }
    out->push_back(NewRun(it->rb.spec, it->alert, it->service, "cancelled",
                          "the alert resolved before the run started", now_ms));
    Uncount(*it);
    it = queue_.erase(it);
  }
}

void RunbookEngine::Uncount(const Job& job) {
  Key key{job.rb.spec.name, job.service};
  busy_.erase(key);
  std::deque<int64_t>& runs = history_[key];
  auto at = std::find(runs.begin(), runs.end(), job.counted_at_ms);
  if (at != runs.end()) runs.erase(at);
}

bool RunbookEngine::StillFiringLocked(uint64_t fingerprint, int64_t now_ms) const {
  auto it = known_.find(fingerprint);
  if (it == known_.end() || !it->second.firing) return false;
  return it->second.ends_at_ms == 0 || it->second.ends_at_ms > now_ms;
}

RunbookRun RunbookEngine::NewRun(const config::Runbook& rb, const Alert& alert,
                                 const std::string& service, std::string result, std::string output,
                                 int64_t now_ms) const {
  RunbookRun run;
  run.runbook = rb.name;
  run.action = std::string(config::RunbookActionName(rb.action));
  run.service = service;
  run.fingerprint = alert.Fingerprint();
  for (const tsdb::Label& l : alert.labels.items()) run.labels[l.name] = l.value;
  run.result = std::move(result);
  run.output = Bounded(std::move(output));
  run.dry_run = rb.dry_run;
  run.started_at_ms = run.ended_at_ms = now_ms;
  return run;
}

bool RunbookEngine::NextJobLocked(Job* job, std::vector<RunbookRun>* out) {
  while (!queue_.empty()) {
    Job next = std::move(queue_.front());
    queue_.pop_front();
    int64_t now_ms = ToUnixMillis(opt_.clock->WallNow());
    if (next.rb.spec.only_while_firing && !StillFiringLocked(next.alert.Fingerprint(), now_ms)) {
      out->push_back(NewRun(next.rb.spec, next.alert, next.service, "cancelled",
                            "the alert no longer fires", now_ms));
      Uncount(next);
      continue;
    }
    *job = std::move(next);
    return true;
  }
  return false;
}

size_t RunbookEngine::RunQueued() {
  size_t ran = 0;
  while (true) {
    Job job;
    std::vector<RunbookRun> reports;
    bool have;
    {
      std::lock_guard<std::mutex> l(mu_);
      have = !stop_ && NextJobLocked(&job, &reports);
    }
    if (have) {
      reports.push_back(Execute(job));
      std::lock_guard<std::mutex> l(mu_);
      busy_.erase(Key{job.rb.spec.name, job.service});
      ++ran;
    }
    Report(std::move(reports));
    if (!have) return ran;
  }
}

RunbookRun RunbookEngine::Execute(const Job& job) {
  int64_t start = ToUnixMillis(opt_.clock->WallNow());
  RunbookRun run = NewRun(job.rb.spec, job.alert, job.service, "success", "", start);
  ExecuteAction(job, &run);
  run.output = Bounded(std::move(run.output));
  run.ended_at_ms = ToUnixMillis(opt_.clock->WallNow());
  return run;
}

void RunbookEngine::ExecuteAction(const Job& job, RunbookRun* run) {
  const config::Runbook& rb = job.rb.spec;
  RemediationActions* act = opt_.actions;
  std::string what;
  Status st;
  switch (rb.action) {
    case config::RunbookAction::kRestart: {
      int replica = ReplicaOf(rb, job.alert);
      what = replica >= 0 ? fmt::format("restart {}/{}", job.service, replica)
                          : fmt::format("restart every replica of {}, one by one", job.service);
      if (!rb.dry_run) st = act->Restart(job.service, replica);
      break;
    }
    case config::RunbookAction::kRollback:
      what = fmt::format("roll {} back to its previous release", job.service);
      if (!rb.dry_run) st = act->Rollback(job.service);
      break;
    case config::RunbookAction::kScale:
      return ExecuteScale(job, run);
    case config::RunbookAction::kCommand:
      return ExecuteCommand(job, run);
  }
  if (rb.dry_run) {
    run->result = "dry_run";
    run->output = "would " + what;
  } else if (st.ok()) {
    run->output = what + ": done";
  } else {
    run->result = "failed";
    run->output = what + ": " + st.message();
  }
}

void RunbookEngine::ExecuteScale(const Job& job, RunbookRun* run) {
  const config::Runbook& rb = job.rb.spec;
  StatusOr<int> current = opt_.actions->Replicas(job.service);
  if (!current.ok()) {
    run->result = "failed";
    run->output = fmt::format("scale {}: {}", job.service, current.status().message());
    return;
  }
  int target = rb.replicas_relative ? *current + rb.replicas : rb.replicas;
  target = std::clamp(target, 1, std::max(1, rb.max_replicas));
  std::string what =
      fmt::format("scale {} from {} to {} replica(s)", job.service, *current, target);
  if (target == *current) {
    run->result = "skipped_at_limit";
    run->output = fmt::format(
        "{} already has {} replica(s); {} with max_replicas {} changes "
        "nothing",
        job.service, *current, config::ScaleText(rb), rb.max_replicas);
  } else if (rb.dry_run) {
    run->result = "dry_run";
    run->output = "would " + what;
  } else if (Status st = opt_.actions->Scale(job.service, target); !st.ok()) {
    run->result = "failed";
    run->output = what + ": " + st.message();
  } else {
    run->output = what + ": done";
  }
}

void RunbookEngine::ExecuteCommand(const Job& job, RunbookRun* run) {
  const config::Runbook& rb = job.rb.spec;
  std::string dir;
  {
    std::lock_guard<std::mutex> l(mu_);
    dir = dir_;
  }
  std::string what = "run " + Argv(rb.command);
  if (rb.dry_run) {
    run->result = "dry_run";
    run->output = "would " + what;
    return;
  }
  StatusOr<CommandResult> r =
      opt_.actions->RunCommand(rb.command, CommandEnv(rb, job.alert, job.service), dir, rb.timeout);
  if (!r.ok()) {
    run->result = "failed";
    run->output = what + ": " + r.status().message();
    return;
  }
  run->result = r->ok ? "success" : "failed";
  run->output = what + ": " + r->detail;
}

void RunbookEngine::Report(std::vector<RunbookRun> runs) {
  if (runs.empty()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (RunbookRun& run : runs) {
      run.id = next_id_++;
      recent_.push_back(run);
      if (recent_.size() > kKeepRuns) recent_.pop_front();
    }
  }
  for (const RunbookRun& run : runs) {
    if (runs_total_ != nullptr)
      runs_total_->WithLabels({run.runbook, run.action, run.result}).Inc();
    if (opt_.recorder) opt_.recorder(run);
  }
}

std::vector<RunbookRun> RunbookEngine::RecentRuns(size_t limit, const std::string& runbook) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<RunbookRun> out;
  for (auto it = recent_.rbegin(); it != recent_.rend() && out.size() < limit; ++it) {
    if (runbook.empty() || it->runbook == runbook) out.push_back(*it);
  }
  return out;
}

void RunbookEngine::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (worker_.joinable()) return;
  stop_ = false;
  worker_ = std::thread([this] { Loop(); });
}

void RunbookEngine::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void RunbookEngine::Loop() {
  while (true) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
    }
    RunQueued();
  }
}

}  // namespace steward::alerting
