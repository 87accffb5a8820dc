// The JSON shape of recorded pipeline runs and jobs, shared by `steward runs --json`,
// `steward run show N --json` and the daemon's /api/v1/runs (docs/api.md). Times are RFC 3339
// (null while unset); durations are seconds.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

#include "state/state_store.h"

namespace steward::pipeline {

nlohmann::json RunJson(const state::PipelineRunRecord& run);
nlohmann::json JobJson(const state::PipelineJobRecord& job);
// The run with its jobs under "jobs".
nlohmann::json RunWithJobsJson(const state::PipelineRunRecord& run,
                               const std::vector<state::PipelineJobRecord>& jobs);

}  // namespace steward::pipeline
