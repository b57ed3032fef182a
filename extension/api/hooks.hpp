// Extension points called inside the transaction of a state transition, after the job rows
// changed. Automation rules with event triggers (job_succeeded, job_failed, job_dead,
// job_cancelled) hang off AfterFinished, so follow-up jobs commit together with the finished
// job or not at all. SPI must be connected.
#pragma once

#include <cstdint>
#include <vector>

#include "core/job_state.hpp"

namespace taskflow::api {

// `jobs` just moved into the terminal state `to` (SUCCEEDED, FAILED, DEAD or CANCELLED).
void AfterFinished(core::JobState to, const std::vector<std::int64_t>& jobs);

}  // namespace taskflow::api
