#include "state_machine.hpp"

#include <string>
#include <utility>

#include "errors.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {
namespace {

struct Rule {
  JobEvent event;
  JobState from;
  JobState to;
};

// THE transition table. Any (from, event) pair not listed is forbidden.
constexpr Rule kRules[] = {
    {JobEvent::Acquire, JobState::Pending, JobState::Running},
    {JobEvent::Acquire, JobState::Scheduled, JobState::Running},
    {JobEvent::Complete, JobState::Running, JobState::Succeeded},
    {JobEvent::FailRetry, JobState::Running, JobState::Scheduled},
    {JobEvent::FailExhausted, JobState::Running, JobState::Dead},
    {JobEvent::FailPermanent, JobState::Running, JobState::Failed},
    {JobEvent::Release, JobState::Running, JobState::Pending},
    {JobEvent::Cancel, JobState::Pending, JobState::Cancelled},
    {JobEvent::Cancel, JobState::Scheduled, JobState::Cancelled},
    {JobEvent::Cancel, JobState::Running, JobState::Cancelled},
    {JobEvent::Retry, JobState::Failed, JobState::Pending},
    {JobEvent::Retry, JobState::Dead, JobState::Pending},
    {JobEvent::Retry, JobState::Cancelled, JobState::Pending},
    {JobEvent::Promote, JobState::Scheduled, JobState::Pending},
    {JobEvent::Snooze, JobState::Running, JobState::Scheduled},
    {JobEvent::Unblock, JobState::Scheduled, JobState::Pending},
    {JobEvent::Rearm, JobState::Failed, JobState::Scheduled},
    {JobEvent::Rearm, JobState::Dead, JobState::Scheduled},
    {JobEvent::Rearm, JobState::Cancelled, JobState::Scheduled},
};

// The verb a user sees in "cannot <verb> job ...": the three fail events are
// one user action (fail), the table only splits them by outcome.
std::string_view Verb(JobEvent event) noexcept {
  switch (event) {
    case JobEvent::FailRetry:
    case JobEvent::FailExhausted:
    case JobEvent::FailPermanent: return "fail";
    default: return ToString(event);
  }
}

// "PENDING", "PENDING or SCHEDULED", "FAILED, DEAD or CANCELLED".
std::string JoinStates(const std::vector<JobState>& states) {
  std::string out;
  for (std::size_t i = 0; i < states.size(); ++i) {
    if (i > 0) out += (i + 1 == states.size()) ? " or " : ", ";
    out += ToString(states[i]);
  }
  return out;
}

}  // namespace

std::string_view ToString(JobEvent event) noexcept {
  switch (event) {
    case JobEvent::Acquire: return "acquire";
    case JobEvent::Complete: return "complete";
    case JobEvent::FailRetry: return "fail_retry";
    case JobEvent::FailExhausted: return "fail_exhausted";
    case JobEvent::FailPermanent: return "fail_permanent";
    case JobEvent::Release: return "release";
    case JobEvent::Cancel: return "cancel";
    case JobEvent::Retry: return "retry";
    case JobEvent::Promote: return "promote";
    case JobEvent::Snooze: return "snooze";
    case JobEvent::Unblock: return "unblock";
    case JobEvent::Rearm: return "rearm";
  }
  return "unknown";
}

std::optional<JobState> Transition(JobState from, JobEvent event) noexcept {
  for (const Rule& rule : kRules) {
    if (rule.event == event && rule.from == from) return rule.to;
  }
  return std::nullopt;
}

JobState RequireTransition(JobState from, JobEvent event, std::int64_t job_id) {
  if (auto to = Transition(from, event)) return *to;
  std::string message = "cannot ";
  message += Verb(event);
  message += " job " + std::to_string(job_id) + ": it is ";
  message += ToString(from);
  std::string hint = "The " + std::string(Verb(event)) + " step applies only to jobs that are " +
                     JoinStates(SourcesOf(event)) + ".";
  throw DomainError(ErrorCode::ObjectNotInPrerequisiteState, std::move(message), std::move(hint));
}

std::vector<JobState> SourcesOf(JobEvent event) {
  std::vector<JobState> sources;
  for (int i = 0; i < kJobStateCount; ++i) {
    const auto state = static_cast<JobState>(i);
    if (Transition(state, event)) sources.push_back(state);
  }
  return sources;
}

JobEvent DecideFailure(const FailureInput& input) noexcept {
  if (input.cancel_requested) return JobEvent::Cancel;
  if (!input.retryable) return JobEvent::FailPermanent;
  if (input.attempt >= input.max_attempts) return JobEvent::FailExhausted;
  return JobEvent::FailRetry;
}

JobState InitialState(std::optional<std::int64_t> run_at_us, std::int64_t now_us) noexcept {
  return (run_at_us && *run_at_us > now_us) ? JobState::Scheduled : JobState::Pending;
}

JobState InitialState(std::optional<std::int64_t> run_at_us, std::int64_t now_us,
                      int unresolved_dependencies) noexcept {
  if (unresolved_dependencies > 0) return JobState::Scheduled;
  return InitialState(run_at_us, now_us);
}

std::optional<OnDependencyFailure> ParseOnDependencyFailure(std::string_view text) noexcept {
  if (text == "cancel") return OnDependencyFailure::Cancel;
  if (text == "run") return OnDependencyFailure::Run;
  return std::nullopt;
}

std::string_view ToString(OnDependencyFailure policy) noexcept {
  return policy == OnDependencyFailure::Run ? "run" : "cancel";
}

bool DependencyCancels(JobState parent_final, OnDependencyFailure policy) noexcept {
  return IsTerminal(parent_final) && parent_final != JobState::Succeeded &&
         policy == OnDependencyFailure::Cancel;
}

JobEvent DecideRetry(int unresolved_dependencies) noexcept {
  return unresolved_dependencies > 0 ? JobEvent::Rearm : JobEvent::Retry;
}

JobEvent DecideRelease(bool cancel_requested) noexcept {
  return cancel_requested ? JobEvent::Cancel : JobEvent::Release;
}

JobEvent DecideSnooze(bool cancel_requested) noexcept {
  return cancel_requested ? JobEvent::Cancel : JobEvent::Snooze;
}

}  // namespace taskflow::core
