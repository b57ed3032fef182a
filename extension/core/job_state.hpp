#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// The job lifecycle states, in the order of the SQL enum taskflow.job_state.
enum class JobState : std::uint8_t {
  Pending,
  Scheduled,
  Running,
  Succeeded,
  Failed,
  Dead,
  Cancelled,
};
inline constexpr int kJobStateCount = 7;

// The SQL enum label: "PENDING", "SCHEDULED", ...
std::string_view ToString(JobState state) noexcept;
// Exact upper-case labels only; anything else is nullopt.
std::optional<JobState> ParseJobState(std::string_view label) noexcept;

// SUCCEEDED, FAILED, DEAD, CANCELLED: no worker will touch the job again.
bool IsTerminal(JobState state) noexcept;
// PENDING, SCHEDULED, RUNNING: the job still counts for unique keys and queues.
bool IsUnfinished(JobState state) noexcept;

}  // namespace taskflow::core
