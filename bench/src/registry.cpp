// The table of scenarios. To add one: write `Measurement Name(Context&)` (see scenarios.hpp),
// then add a row here with the scenario it is compared with and its target ratio.
#include "scenario.hpp"
#include "scenarios.hpp"
#include "http_scenarios.hpp"

namespace taskflow::bench {

const std::vector<Scenario>& Registry() {
  static const std::vector<Scenario> scenarios = {
      {"ceiling-enqueue", "bare SQL: single-row INSERT per transaction, 8 connections", "", 0.0,
       &CeilingEnqueue},
      {"enqueue", "taskflow.schedule, one job per transaction, 8 connections", "ceiling-enqueue",
       0.7, &Enqueue},
      {"ceiling-enqueue-batch", "bare SQL: INSERT ... SELECT FROM jsonb_array_elements, 1,000 rows",
       "", 0.0, &CeilingEnqueueBatch},
      {"enqueue-batch", "taskflow.schedule_many, 1,000 jobs per call, 8 connections",
       "ceiling-enqueue-batch", 0.5, &EnqueueBatch},
      {"ceiling-drain",
       "bare SQL: UPDATE ... FOR UPDATE SKIP LOCKED LIMIT 100 + UPDATE done, 16 connections", "",
       0.0, &CeilingDrain},
      {"drain", "taskflow.acquire(max_jobs => 100) + complete_many, 16 connections",
       "ceiling-drain", 0.5, &Drain},
      {"drain-history", "drain again with --history finished jobs in the table", "drain", 0.8,
       &DrainWithHistory},
      {"drain-deps",
       "drain of groups of 10 (schedule_workflow): nine jobs depend on the group's head, 16 connections",
       "drain", 0.7, &DrainDeps},
      {"drain-deps-chains",
       "drain of chains of 10: every job but the heads has one dependency, a tenth ready at a time",
       "drain", 0.0, &DrainDepsChains},
      {"workflow-10k",
       "one 10,000-node fan-out/fan-in workflow: creation, drain rate, fan-in release", "", 0.0,
       &Workflow10k},
      {"webhook-intake",
       "taskflow.handle_webhook with signature checks, one job per call, 8 connections", "enqueue",
       0.7, &WebhookIntake},
      {"worker-drain",
       "taskflow-worker (noop executor, concurrency 16, prefetch 84) drains the drain backlog",
       "drain", 0.7, &WorkerDrain},
      {"worker-latency",
       "schedule -> handler start with taskflow-worker at a steady 200 jobs/s (p50/p95/p99)", "",
       0.0, &WorkerLatency},
      {"http-enqueue", "POST /jobs to the HTTP API, 8 keep-alive clients, one job per request",
       "enqueue", 0.5, &HttpEnqueue},
      {"drain-tenants",
       "drain over 100 tenants with max_running 32 each and equal backlogs, 16 connections",
       "drain", 0.8, &DrainTenants},
      {"drain-tenants-unlimited", "drain-tenants without the max_running limits (fairness alone)",
       "drain", 0.0, &DrainTenantsUnlimited},
      {"drain-tenants-tight",
       "drain-tenants with max_running 4 each: at most 400 RUNNING, fewer than the drain holds",
       "drain", 0.0, &DrainTenantsTight},
      {"acquire-10k-tenants", "drain with 10,000 registered tenants that have no ready jobs",
       "drain", 0.9, &Acquire10kTenants},
      {"metrics-scrape",
       "taskflow.metrics() with --history finished jobs: median of 20 scrapes (target < 50 ms)", "",
       0.0, &MetricsScrape},
      {"dashboard-api",
       "p95 of each dashboard read with --history finished jobs over 10,000 tenants (target < 50 ms)",
       "", 0.0, &DashboardApi},
      {"drain-dashboard",
       "drain with --history jobs over 10,000 tenants while a client refreshes the dashboard every "
       "second; the ratio to the same drain without it (target >= 0.95) is in the notes",
       "", 0.0, &DrainDashboard},
  };
  return scenarios;
}

const Scenario* FindScenario(const std::string& name) {
  for (const Scenario& s : Registry()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

}  // namespace taskflow::bench
