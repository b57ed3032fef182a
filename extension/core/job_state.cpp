#include "job_state.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

static_assert(static_cast<int>(JobState::Cancelled) + 1 == kJobStateCount,
              "kJobStateCount must match the JobState enum");
static_assert(kAllJobStates[kJobStateCount - 1] == JobState::Cancelled,
              "kAllJobStates must list every state in enum order");

std::string_view ToString(JobState state) noexcept {
  switch (state) {
    case JobState::Pending: return "PENDING";
    case JobState::Scheduled: return "SCHEDULED";
    case JobState::Running: return "RUNNING";
    case JobState::Succeeded: return "SUCCEEDED";
    case JobState::Failed: return "FAILED";
    case JobState::Dead: return "DEAD";
    case JobState::Cancelled: return "CANCELLED";
  }
  return "UNKNOWN";
}

std::optional<JobState> ParseJobState(std::string_view label) noexcept {
  for (JobState state : kAllJobStates) {
    if (ToString(state) == label) return state;
  }
  return std::nullopt;
}

bool IsTerminal(JobState state) noexcept {
  switch (state) {
    case JobState::Succeeded:
    case JobState::Failed:
    case JobState::Dead:
    case JobState::Cancelled: return true;
    case JobState::Pending:
    case JobState::Scheduled:
    case JobState::Running: return false;
  }
  return false;
}

bool IsUnfinished(JobState state) noexcept {
  switch (state) {
    case JobState::Pending:
    case JobState::Scheduled:
    case JobState::Running: return true;
    case JobState::Succeeded:
    case JobState::Failed:
    case JobState::Dead:
    case JobState::Cancelled: return false;
  }
  return false;
}

std::vector<JobState> UnfinishedStates() {
  std::vector<JobState> out;
  for (JobState state : kAllJobStates) {
    if (IsUnfinished(state)) out.push_back(state);
  }
  return out;
}

std::vector<JobState> FinalStates() {
  std::vector<JobState> out;
  for (JobState state : kAllJobStates) {
    if (IsTerminal(state)) out.push_back(state);
  }
  return out;
}

std::string_view StateClassName(JobState state) noexcept {
  return IsUnfinished(state) ? "unfinished" : "final";
}

}  // namespace taskflow::core
