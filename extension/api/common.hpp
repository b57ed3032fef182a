// Helpers shared by the SQL entry points: queue lookup, retry policy, wake-ups, arrays.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/retry_policy.hpp"
#include "core/state_machine.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

// The one place that renders job states into SQL text: every statement of api/ and bgw/ names
// a state through these (test/lint.sh fails on a state name written as an SQL literal there).
// They only build strings (no PostgreSQL call), so a statement's text can be built at first use
// or at static initialisation and prepared once, as before.
//
// SQL literal of one state, e.g. "'RUNNING'".
std::string StateSql(core::JobState state);
// SQL list literal of states, in the given order, e.g. "('PENDING','SCHEDULED','RUNNING')" for
// core::UnfinishedStates(). For `state IN <list>` (and ON CONFLICT ... WHERE, whose predicate
// must match the partial unique index on the unfinished states).
std::string StateListSql(const std::vector<core::JobState>& states);
// SQL list literal of the states an event may start from, taken from the core transition
// table, e.g. "('PENDING','SCHEDULED')". Used to build the set-based statements.
std::string SourceStatesSql(core::JobEvent event);
// SQL literal of the state an event leads to from `from`, e.g. "'RUNNING'".
std::string TargetStateSql(core::JobState from, core::JobEvent event);

struct QueueInfo {
  std::string name;
  int priority = 0;
  bool paused = false;
  core::RetryPolicy policy;
};

// Looks up a queue (SPI must be connected). Throws 42704 with a hint when it does not exist.
QueueInfo RequireQueue(const std::string& name);
// The retry policy from queue columns (NULL columns take the default policy's values), read
// from `row` starting at column `first` in the order max_attempts, strategy, base_delay,
// max_delay, jitter.
core::RetryPolicy PolicyFromRow(const pg::ResultRow& row, int first);

// Wakes the queue's workers (NOTIFY on channel `taskflow_<queue>`) once this transaction
// commits; at most one per queue per transaction (see bgw/wakeup.hpp for why it is deferred).
void NotifyQueue(const std::string& queue);

// The role that called us: the session's current role outside SECURITY DEFINER.
std::string CallerName();

// Transaction start time (now()) in microseconds.
std::int64_t NowMicros();
// A uniform random number in [0, 1) for retry jitter.
double UnitRandom();

Datum Int64ArrayDatum(const std::vector<std::int64_t>& values);
Datum Int32ArrayDatum(const std::vector<std::int32_t>& values);
Datum Float8ArrayDatum(const std::vector<double>& values);
Datum BoolArrayDatum(const std::vector<bool>& values);
Datum TextArrayDatum(const std::vector<std::string>& values);

// Refuses (22023) a jsonb value nesting arrays and objects deeper than core::kMaxJsonDepth;
// `what` names it in the message ("payload", "result", "jobs[3]: payload", ...). The depth is
// counted iteratively, so any depth PostgreSQL could build is safe to check. Every untrusted
// jsonb input of the SQL API passes here before anything walks it.
void CheckJsonDepth(Datum jsonb, const std::string& what);
// The same for every non-NULL element of a jsonb[] (complete_many's results), naming
// "what[i]".
void CheckJsonArrayDepth(Datum jsonb_array, const std::string& what);
// The same for JSON text (a webhook body), without parsing it.
void CheckJsonTextDepth(std::string_view json, const std::string& what);

// The enum Datum of a job state (for RETURNS taskflow.job_state).
Datum JobStateDatum(core::JobState state);

// Whether the schema is 0.2.0's: taskflow.jobs has the columns 0.2.0 added (traceparent and the
// workflow columns dependency_count, dependencies_pending, wait_run_at; the update adds them,
// taskflow.job_dependencies and the workflow tables in one transaction, so two columns stand for
// all). The library is always the newest and runs against the schema of an older release
// between the package upgrade and ALTER EXTENSION taskflow UPDATE (docs/releasing.md): the
// statements that name those columns or tables have a variant without them, or are skipped (a
// 0.1.0 schema has no dependencies to resolve). Catalog cache lookups, no query; not cached,
// so an update (or a re-created extension) takes effect at the next call.
bool SchemaIs0_2();

}  // namespace taskflow::api
