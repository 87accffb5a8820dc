#include "pipeline/records.h"

#include "base/json.h"

namespace steward::pipeline {
namespace {

nlohmann::json Seconds(int64_t from_ms, int64_t to_ms) {
  if (from_ms <= 0 || to_ms <= 0) return nullptr;
  return static_cast<double>(to_ms - from_ms) / 1000.0;
}

}  // namespace

nlohmann::json RunJson(const state::PipelineRunRecord& r) {
  return {{"id", r.id},
          {"pipeline", r.pipeline},
          {"source", r.source},
          {"trigger", r.trigger},
          {"trigger_detail", r.trigger_detail},
          {"commit", r.commit},
          {"branch", r.branch},
          {"commit_message", r.commit_message},
          {"commit_time", JsonTimeOrNull(r.commit_time_ms)},
          {"status", r.status},
          {"created_at", JsonTimeOrNull(r.created_at_ms)},
          {"started_at", JsonTimeOrNull(r.started_at_ms)},
          {"finished_at", JsonTimeOrNull(r.finished_at_ms)},
          {"duration_seconds", Seconds(r.started_at_ms, r.finished_at_ms)},
          {"user", r.user},
          {"host", r.host},
          {"rerun_of", r.rerun_of > 0 ? nlohmann::json(r.rerun_of) : nlohmann::json()},
          {"error", r.error}};
}

nlohmann::json JobJson(const state::PipelineJobRecord& j) {
  auto outputs = nlohmann::json::parse(j.outputs_json, nullptr, /*allow_exceptions=*/false);
  return {{"job", j.job},
          {"status", j.status},
          {"attempts", j.attempts},
          {"exit_code", j.exit_code},
          {"started_at", JsonTimeOrNull(j.started_at_ms)},
          {"finished_at", JsonTimeOrNull(j.finished_at_ms)},
          {"duration_seconds", Seconds(j.started_at_ms, j.finished_at_ms)},
          {"outputs", outputs.is_discarded() ? nlohmann::json::object() : outputs},
          {"cache_key", j.cache_key},
          {"log", j.log_path},
          {"error", j.error}};
}

nlohmann::json RunWithJobsJson(const state::PipelineRunRecord& run,
                               const std::vector<state::PipelineJobRecord>& jobs) {
  nlohmann::json out = RunJson(run);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : jobs) list.push_back(JobJson(j));
  out["jobs"] = std::move(list);
  return out;
}

}  // namespace steward::pipeline
