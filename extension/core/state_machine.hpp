#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "job_state.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// Everything that can happen to a job. The transition table in
// state_machine.cpp is the only place that decides what may move where.
enum class JobEvent : std::uint8_t {
  Acquire,        // PENDING|SCHEDULED -> RUNNING
  Complete,       // RUNNING -> SUCCEEDED
  FailRetry,      // RUNNING -> SCHEDULED (attempts left: wait for the backoff)
  FailExhausted,  // RUNNING -> DEAD (attempt budget used up)
  FailPermanent,  // RUNNING -> FAILED (error marked not retryable)
  Release,        // RUNNING -> PENDING (worker hands the job back)
  Cancel,         // PENDING|SCHEDULED|RUNNING -> CANCELLED
  Retry,          // FAILED|DEAD|CANCELLED -> PENDING (fresh attempt budget)
  Promote,        // SCHEDULED -> PENDING (its next_run_at has come)
  Snooze,         // RUNNING -> SCHEDULED (the handler asks to run again later; attempt not counted)
  // Workflows (docs/workflows.md): a job with unfinished dependencies waits SCHEDULED.
  Unblock,  // SCHEDULED -> PENDING (its last dependency finished; run_at has come)
  Rearm,    // FAILED|DEAD|CANCELLED -> SCHEDULED (waits for its dependencies again:
            // retried while a dependency is unfinished, or re-armed by a retried one)
};
inline constexpr int kJobEventCount = 12;

// "acquire", "complete", "fail_retry", "fail_exhausted", "fail_permanent",
// "release", "cancel", "retry", "promote", "snooze", "unblock", "rearm".
std::string_view ToString(JobEvent event) noexcept;

// The target state, or nullopt when the table forbids `event` in `from`.
std::optional<JobState> Transition(JobState from, JobEvent event) noexcept;

// Like Transition, but a forbidden move throws
// DomainError(ObjectNotInPrerequisiteState,
//             "cannot <verb> job <id>: it is <STATE>", hint).
JobState RequireTransition(JobState from, JobEvent event, std::int64_t job_id);

// The states from which `event` is allowed, in enum order.
std::vector<JobState> SourcesOf(JobEvent event);

struct FailureInput {
  int attempt;       // number of the attempt that just failed (1-based)
  int max_attempts;  // the job's attempt budget
  bool retryable;    // the worker's verdict on the error
  bool cancel_requested;
};

// Which event a failed attempt causes. A pending cancel wins over everything
// (the user asked for the job to stop), then a permanent error, then the
// attempt budget.
JobEvent DecideFailure(const FailureInput& input) noexcept;

// Which event a released job causes: Cancel if a cancel is pending, else Release.
JobEvent DecideRelease(bool cancel_requested) noexcept;

// Which event a snoozed job causes: Cancel if a cancel is pending (the user asked for the job
// to stop; running it again later would ignore that), else Snooze.
JobEvent DecideSnooze(bool cancel_requested) noexcept;

// The state of a new job: SCHEDULED when run_at lies in the future, PENDING otherwise
// (no run_at, or run_at not after now). Times are microseconds on the database clock.
JobState InitialState(std::optional<std::int64_t> run_at_us, std::int64_t now_us) noexcept;
// The same for a job created with dependencies: SCHEDULED (waiting) while any of them is
// unfinished (`unresolved_dependencies` > 0), else as above.
JobState InitialState(std::optional<std::int64_t> run_at_us, std::int64_t now_us,
                      int unresolved_dependencies) noexcept;

// What a dependency's final state does to the job waiting for it, by the edge's policy.
enum class OnDependencyFailure : std::uint8_t {
  Cancel,  // default: a FAILED, DEAD or CANCELLED dependency cancels the dependent
  Run,     // "run anyway": the dependent runs and sees the failure in its dependencies
};
// "cancel" or "run"; anything else is nullopt.
std::optional<OnDependencyFailure> ParseOnDependencyFailure(std::string_view text) noexcept;
std::string_view ToString(OnDependencyFailure policy) noexcept;
// Whether a dependency that ended in `parent_final` cancels its dependent under `policy`:
// only a final state other than SUCCEEDED with the Cancel policy does.
bool DependencyCancels(JobState parent_final, OnDependencyFailure policy) noexcept;

// Which event retry() applies: Rearm when the job still has unfinished dependencies (it waits
// for them again), else Retry.
JobEvent DecideRetry(int unresolved_dependencies) noexcept;

}  // namespace taskflow::core
