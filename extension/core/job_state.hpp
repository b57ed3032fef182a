#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>
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
// Every state, in enum order.
inline constexpr std::array<JobState, kJobStateCount> kAllJobStates = {
    JobState::Pending, JobState::Scheduled, JobState::Running,  JobState::Succeeded,
    JobState::Failed,  JobState::Dead,      JobState::Cancelled};

// The SQL enum label: "PENDING", "SCHEDULED", ...
std::string_view ToString(JobState state) noexcept;
// Exact upper-case labels only; anything else is nullopt.
std::optional<JobState> ParseJobState(std::string_view label) noexcept;

// SUCCEEDED, FAILED, DEAD, CANCELLED: no worker will touch the job again.
bool IsTerminal(JobState state) noexcept;
// PENDING, SCHEDULED, RUNNING: the job still counts for unique keys and queues.
bool IsUnfinished(JobState state) noexcept;

// The two classes as lists, in enum order: what every SQL statement, constraint and index
// predicate that lists "unfinished" or "final" states must say (api::StateListSql renders
// them; taskflow._core_states() hands them to the SQL side and its tests).
std::vector<JobState> UnfinishedStates();  // PENDING, SCHEDULED, RUNNING
std::vector<JobState> FinalStates();       // SUCCEEDED, FAILED, DEAD, CANCELLED
// "unfinished" or "final".
std::string_view StateClassName(JobState state) noexcept;

}  // namespace taskflow::core
