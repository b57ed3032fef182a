// The scenario functions listed in registry.cpp. Each resets what it uses, does its setup
// untimed, times only the work itself, and verifies the outcome in the database.
#pragma once

#include <atomic>
#include <cstdint>

#include "scenario.hpp"

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
// The drain loop of `drain` (and, with empty_polls, of the tenancy drains): see the definition.
Measurement RunDrain(Context& ctx, std::int64_t expected,
                     std::atomic<std::int64_t>* empty_polls = nullptr);
// Finished jobs written into queue `bench` the way drain-history does (--history-fill).
void FillFinishedHistory(Context& ctx, std::int64_t count);

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
