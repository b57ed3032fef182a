#include "job_state.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

static_assert(static_cast<int>(JobState::Cancelled) + 1 == kJobStateCount,
              "kJobStateCount must match the JobState enum");

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
  for (int i = 0; i < kJobStateCount; ++i) {
    const auto state = static_cast<JobState>(i);
    if (ToString(state) == label) return state;
  }
  return std::nullopt;
}

bool IsTerminal(JobState state) noexcept {
  switch (state) {
    case JobState::Succeeded:
    case JobState::Failed:
    case JobState::Dead:
    case JobState::Cancelled:
      return true;
    case JobState::Pending:
    case JobState::Scheduled:
    case JobState::Running:
      return false;
  }
  return false;
}

bool IsUnfinished(JobState state) noexcept {
  switch (state) {
    case JobState::Pending:
    case JobState::Scheduled:
    case JobState::Running:
      return true;
    case JobState::Succeeded:
    case JobState::Failed:
    case JobState::Dead:
    case JobState::Cancelled:
      return false;
  }
  return false;
}

}  // namespace taskflow::core
