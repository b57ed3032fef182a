// The scenario functions listed in registry.cpp. Each resets what it uses, does its setup
// untimed, times only the work itself, and verifies the outcome in the database.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "scenario.hpp"

namespace pqxx {
class transaction_base;
}

namespace taskflow::bench {

// TaskFlow (taskflow_scenarios.cpp)
Measurement Enqueue(Context& ctx);
Measurement EnqueueBatch(Context& ctx);
Measurement Drain(Context& ctx);
Measurement DrainWithHistory(Context& ctx);
// workflow_scenarios.cpp
Measurement DrainDeps(Context& ctx);
Measurement DrainDepsChains(Context& ctx);
Measurement Workflow10k(Context& ctx);
// What a drain connection does when acquire finds nothing (RunDrainLoop): `idle` counts the empty
// acquires in a row before this one, `completed` the jobs all connections completed so far.
// Returns false to end the connection; true, after waiting, to acquire again. `tx` has the
// drain's "check" statement prepared.
using EmptyAcquire =
    std::function<bool(pqxx::transaction_base& tx, int idle, std::int64_t completed)>;
// `drain_connections` connections, each looping "acquire up to drain_batch (the statement
// `acquire`), complete_many them" until on_empty ends it; `check` is prepared as "check" for
// on_empty. Every job must be accepted by complete_many, and `expected` jobs completed (`what`
// names the drain in that check).
Measurement RunDrainLoop(Context& ctx, std::int64_t expected, const char* what,
                         const std::string& acquire, const std::string& check,
                         const EmptyAcquire& on_empty);
// The drain loop of `drain` (and, with empty_polls, of the tenancy drains): see the definition.
Measurement RunDrain(Context& ctx, std::int64_t expected,
                     std::atomic<std::int64_t>* empty_polls = nullptr);
// The timed part of enqueue and ceiling-enqueue: `statement` once per job (enqueue_jobs of them,
// on enqueue_connections), with the parameters (queue, job_type, payload '{}').
Measurement RunEnqueue(Context& ctx, const std::string& statement);
// The timed part of enqueue-batch and ceiling-enqueue-batch: batch_jobs jobs in JSON arrays of
// batch_size (JobsArray), `statement` once per array with it as $1, on batch_connections.
Measurement RunEnqueueBatch(Context& ctx, const std::string& statement);
// Finished jobs written into queue `bench` the way drain-history does (--history-fill).
void FillFinishedHistory(Context& ctx, std::int64_t count);
// Restarts the metrics counters (taskflow.reset_stats) and rolls up until the watermark passes
// the last finished job of queue bench, so the roll-up counts a history written directly
// behind it. Returns the seconds it took.
double ResetStatsAndRollUp(Context& ctx);

// Automation (rules_scenarios.cpp)
Measurement WebhookIntake(Context& ctx);

// The real taskflow-worker (worker_scenarios.cpp)
Measurement WorkerDrain(Context& ctx);
Measurement WorkerLatency(Context& ctx);

// Observability (observability_scenarios.cpp)
Measurement MetricsScrape(Context& ctx);

// The dashboard at scale (dashboard_scenarios.cpp)
Measurement DashboardApi(Context& ctx);
Measurement DrainDashboard(Context& ctx);

// Multi-tenancy (tenancy_scenarios.cpp)
Measurement DrainTenants(Context& ctx);
Measurement DrainTenantsUnlimited(Context& ctx);
Measurement DrainTenantsTight(Context& ctx);
Measurement Acquire10kTenants(Context& ctx);

// Bare SQL on bench_ceiling.jobs (ceiling_scenarios.cpp)
Measurement CeilingEnqueue(Context& ctx);
Measurement CeilingEnqueueBatch(Context& ctx);
Measurement CeilingDrain(Context& ctx);

}  // namespace taskflow::bench
