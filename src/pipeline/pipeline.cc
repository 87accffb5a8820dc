#include "pipeline/pipeline.h"

namespace steward::pipeline {

const Job* Pipeline::FindJob(const std::string& id) const {
  for (const Job& j : jobs) {
    if (j.id == id) return &j;
  }
  return nullptr;
}

}  // namespace steward::pipeline
