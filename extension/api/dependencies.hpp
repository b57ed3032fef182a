// Workflows: jobs that wait for other jobs (docs/workflows.md). SPI must be connected.
//
// A job with unfinished dependencies is SCHEDULED with next_run_at = 'infinity' (neither the
// scheduler nor acquire promotes it) and jobs.dependencies_pending > 0. Each finished dependency
// resolves its edge once and decrements that counter in one UPDATE on the dependent's row:
// concurrent finishers serialize on the row lock (taken in ascending id order), and the one whose
// decrement reaches 0 releases the job (Unblock) or, for a failed dependency on a "cancel" edge,
// the first one cancels it. Cancellations spread to the dependents' dependents in rounds (a loop,
// never recursion).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/state_machine.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

struct DependencyCheck {
  std::vector<std::int64_t> ids;          // distinct, ascending
  std::vector<std::string> final_states;  // per id: "" while unfinished, else its final state
  int unresolved = 0;                     // how many are unfinished
  std::string wait_reason;                // "waiting for 2 dependencies: job 5, job 7"
};

// schedule(..., depends_on): reads `ids` (bigint[]), locks each dependency FOR SHARE in ascending
// id order (so it cannot finish between this check and the insert of the edges), and checks
// them: at most taskflow.max_workflow_nodes of them, no NULL, each existing in `tenant` and
// visible to the caller (22023 otherwise, the same message for a missing job and another
// tenant's), none already FAILED/DEAD/CANCELLED under the "cancel" policy (55000).
DependencyCheck CheckDependencies(Datum ids, const std::string& tenant,
                                  core::OnDependencyFailure policy);

// Inserts the edges of a job created with CheckDependencies' result; finished dependencies'
// edges are resolved at once.
void InsertDependencies(std::int64_t job_id, const std::string& tenant,
                        const DependencyCheck& check, core::OnDependencyFailure policy);

// Called (through AfterFinished) when `jobs` reached a final state: resolves their edges,
// releases or cancels their dependents, and continues with the dependents it cancelled until
// none is left. `fire` is called with each round's cancelled jobs (event rules).
void ResolveDependencies(const std::vector<std::int64_t>& jobs,
                         void (*fire)(core::JobState, const std::vector<std::int64_t>&));

// How many of the job's dependencies are unfinished (retry() waits again when > 0).
int UnresolvedDependencies(std::int64_t job_id);

// After retry() moved `job_id` out of FAILED/DEAD/CANCELLED: the dependents it had cancelled
// wait for it again (Rearm), and theirs, transitively. Returns how many jobs were re-armed.
int RearmDependents(std::int64_t job_id);

// What the nodes of a workflow inherit when the spec does not say (a rule's workflow action:
// the firing's correlation id and trace context, and its source job as parent_job_id, which
// also carries the chain depth that stops rule loops).
struct WorkflowDefaults {
  std::optional<std::string> correlation_id;
  std::optional<std::string> traceparent;
  std::optional<std::int64_t> parent_job_id;
};

struct WorkflowCreated {
  Datum answer = 0;                   // {"workflow_id": id, "jobs": {key: id, ...}}
  std::vector<std::int64_t> job_ids;  // in node order
};

// taskflow.schedule_workflow's body. `tenant`, when given, is the workflow's tenant (a rule's
// firing tenant; the spec must then not name tenant_id); otherwise the spec's tenant_id, resolved
// for the caller. Every node still goes through schedule_many's checks, including the caller's
// confinement (api::ResolveTenant).
WorkflowCreated ScheduleWorkflow(Datum spec, const std::string& actor,
                                 const std::optional<std::string>& tenant = std::nullopt,
                                 const WorkflowDefaults& defaults = {});

}  // namespace taskflow::api
