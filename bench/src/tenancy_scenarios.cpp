// Multi-tenancy scenarios (issue 5): what fairness and limits cost.
//  drain-tenants: the drain of `drain` spread over 100 tenants, each limited to 32 RUNNING jobs,
//    with an equal backlog each; compared with `drain` of the same run (target >= 0.8). Every
//    acquire enforces the limits (slot reservations, counts when a tenant nears its limit), and
//    the limits add up to 3,200, more than the 16 connections x 100 jobs the drain holds at
//    once: the figure is what enforcing limits costs, not the limits themselves holding the
//    drain back.
//  drain-tenants-unlimited: the same without the limits (what the weighted round robin alone
//    costs); compared with `drain`, no target.
//  drain-tenants-tight: max_running 4 each, at most 400 RUNNING, a quarter of what the drain
//    holds at once: the limits bound the throughput (a job counts against its tenant from
//    acquire until complete_many commits), no target; shows that limits hold under pressure
//    and what the empty polls cost.
//  acquire-10k-tenants: `drain` again with 10,000 registered tenants that have no ready jobs
//    (weights and limits set, each having run one job, so each also has a fairness entry);
//    the acquire cost must not grow with them (target >= 0.9 of `drain`). Also notes the
//    median latency of one acquire(1) + complete on one connection without, with, and again
//    without them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "context.hpp"
#include "parallel.hpp"
#include "scenarios.hpp"

namespace taskflow::bench {

namespace {

constexpr int kDrainTenants = 100;
constexpr int kTenantMaxRunning = 32;
constexpr int kTightMaxRunning = 4;
constexpr int kIdleTenants = 10'000;
constexpr int kLatencyCalls = 1'000;
constexpr const char* kTenantPrefix = "bench-t";

std::string TenantName(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%05d", kTenantPrefix, i);
  return buf;
}

std::string Milliseconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f ms", s * 1000.0);
  return buf;
}

// The JSON array for schedule_many: `count` jobs of queue bench for one tenant.
std::string TenantJobsArray(const std::string& tenant, std::int64_t count) {
  const std::string job = std::string(R"({"job_type":")") + kJobType + R"(","queue":")" + kQueue +
                          R"(","tenant_id":")" + tenant + R"(","payload":{}})";
  std::string out = "[";
  for (std::int64_t i = 0; i < count; ++i) {
    if (i) out += ',';
    out += job;
  }
  return out + "]";
}

// Removes the tenants the scenarios registered (and their rate limits, if any).
void ResetTenants(Context& ctx) {
  ctx.Exec(std::string("DELETE FROM taskflow.tenants WHERE id LIKE '") + kTenantPrefix + "%'");
  ctx.Exec(std::string("DELETE FROM taskflow.rate_limits WHERE scope = 'tenant' AND name LIKE '") +
           kTenantPrefix + "%'");
}

// Median seconds of one acquire(max_jobs => 1) + complete on one connection, over n calls.
double AcquireLatency(Context& ctx, int n) {
  pqxx::connection c(ctx.db());
  c.prepare("acquire",
            "SELECT job_id, lease_token FROM taskflow.acquire('bench-latency', $1::text[], 1)");
  c.prepare("complete", "SELECT taskflow.complete($1, $2::uuid)");
  pqxx::nontransaction tx(c);
  const std::string queues = std::string("{") + kQueue + "}";
  std::vector<double> times;
  for (int i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const pqxx::result r = tx.exec_prepared("acquire", queues);
    if (r.empty())
      throw std::runtime_error("acquire-10k-tenants: the latency probe ran out of jobs");
    tx.exec_prepared("complete", r[0][0].as<std::int64_t>(), r[0][1].c_str());
    times.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

namespace {

// 100 tenants with equal backlogs, each limited to `max_running` (0: no limit), drained.
Measurement DrainOverTenants(Context& ctx, int max_running) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  ResetTenants(ctx);
  const Sizes& s = ctx.sizes();
  const std::int64_t per_tenant = std::max<std::int64_t>(1, s.drain_jobs / kDrainTenants);
  const std::int64_t total = per_tenant * kDrainTenants;
  {
    pqxx::nontransaction tx(ctx.admin());
    for (int t = 0; t < kDrainTenants; ++t) {
      const std::string tenant = TenantName(t);
      if (max_running > 0)
        tx.exec_params("SELECT taskflow.set_tenant_limit($1, $2)", tenant, max_running);
      for (std::int64_t done = 0; done < per_tenant; done += s.batch_size) {
        const std::int64_t n = std::min<std::int64_t>(s.batch_size, per_tenant - done);
        tx.exec_params("SELECT count(*) FROM taskflow.schedule_many($1::jsonb)",
                       TenantJobsArray(tenant, n));
      }
    }
  }
  Expect("ready jobs of 100 tenants", total, ctx.CountJobs("PENDING"));
  ctx.VacuumTaskflow();
  std::atomic<std::int64_t> empty_polls{0};
  Measurement m = RunDrain(ctx, total, &empty_polls);
  Expect("SUCCEEDED jobs after drain-tenants", total, ctx.CountJobs("SUCCEEDED"));
  m.notes.emplace_back(
      "tenants",
      std::to_string(kDrainTenants) + " x " + std::to_string(per_tenant) + " jobs, " +
          (max_running > 0 ? "max_running " + std::to_string(max_running) + " each (at most " +
                                 std::to_string(kDrainTenants * max_running) + " RUNNING)"
                           : std::string("no limits")));
  m.notes.emplace_back(
      "empty acquires",
      std::to_string(empty_polls.load()) +
          " (ready jobs left but none handed out: tenants at their limit or locked by another acquirer; 1 ms pause each)");
  ctx.ResetTaskflow();
  ResetTenants(ctx);
  return m;
}

// 10,000 idle tenants: weights 1..3, every other one with a limit, each has run one job (so each
// has its fairness entry too); their jobs are deleted. Returns the seconds it took.
double RegisterIdleTenants(Context& ctx) {
  const auto setup_start = std::chrono::steady_clock::now();
  const std::string tenants = std::string("FROM generate_series(1, ") +
                              std::to_string(kIdleTenants) + ") g, LATERAL (SELECT '" +
                              kTenantPrefix + "' || lpad(g::text, 5, '0') AS t) n";
  ctx.Exec("SELECT count(taskflow.set_tenant_weight(t, 1 + g % 3)) " + tenants);
  ctx.Exec("SELECT count(taskflow.set_tenant_limit(t, 10)) " + tenants + " WHERE g % 2 = 0");
  ctx.Exec(std::string(
               "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object("
               "'job_type', '") +
           kJobType + "', 'queue', '" + kQueue +
           "', 'tenant_id', id)) FROM taskflow.tenants WHERE id LIKE '" + kTenantPrefix + "%'))");
  for (;;) {  // one job each, acquired and completed, leaves each tenant idle
    const std::int64_t n = ctx.QueryInt(
        std::string("WITH a AS (SELECT array_agg(job_id) i, array_agg(lease_token) t FROM "
                    "taskflow.acquire('bench-setup', ARRAY['") +
        kQueue +
        "'], 1000)) "
        "SELECT CASE WHEN i IS NULL THEN 0 ELSE taskflow.complete_many(i, t) END FROM a");
    if (n == 0) break;
  }
  Expect("registered idle tenants", kIdleTenants,
         ctx.QueryInt(std::string("SELECT count(*) FROM taskflow.tenants WHERE id LIKE '") +
                      kTenantPrefix + "%'"));
  Expect("ready jobs of the idle tenants", 0, ctx.CountJobs("PENDING"));
  const double setup_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setup_start).count();
  ctx.Exec(
      std::string(
          "DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '") +
      kQueue + "')");
  ctx.Exec(
      std::string(
          "DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '") +
      kQueue + "')");
  ctx.Exec(std::string("DELETE FROM taskflow.jobs WHERE queue = '") + kQueue + "'");
  return setup_seconds;
}

}  // namespace

Measurement DrainTenants(Context& ctx) { return DrainOverTenants(ctx, kTenantMaxRunning); }

Measurement DrainTenantsUnlimited(Context& ctx) { return DrainOverTenants(ctx, 0); }

Measurement DrainTenantsTight(Context& ctx) { return DrainOverTenants(ctx, kTightMaxRunning); }

Measurement Acquire10kTenants(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  ResetTenants(ctx);
  const Sizes& s = ctx.sizes();

  // Latency without registered tenants first (the probe jobs are default-tenant jobs).
  ctx.FillReadyJobs(kLatencyCalls);
  ctx.VacuumTaskflow();
  const double latency_without = AcquireLatency(ctx, kLatencyCalls);
  ctx.ResetTaskflow();

  const double setup_seconds = RegisterIdleTenants(ctx);

  // The timed part: the plain drain, with the 10,000 idle tenants registered.
  ctx.FillReadyJobs(s.drain_jobs);
  ctx.VacuumTaskflow();
  std::atomic<std::int64_t> empty_polls{0};
  Measurement m = RunDrain(ctx, s.drain_jobs, &empty_polls);
  Expect("SUCCEEDED jobs after acquire-10k-tenants", s.drain_jobs, ctx.CountJobs("SUCCEEDED"));
  ctx.ResetTaskflow();

  ctx.FillReadyJobs(kLatencyCalls);
  ctx.VacuumTaskflow();
  const double latency_with = AcquireLatency(ctx, kLatencyCalls);
  m.notes.emplace_back(
      "idle tenants",
      std::to_string(kIdleTenants) +
          " registered (weights 1-3, half with max_running), each ran one job; set up in " +
          Milliseconds(setup_seconds));
  ctx.ResetTaskflow();

  // Latency without the tenants again: background work after the setup (the maintenance
  // worker's roll-up, autovacuum) must not pass for a cost of the tenants.
  ResetTenants(ctx);
  ctx.Exec("VACUUM ANALYZE taskflow.tenants");
  ctx.FillReadyJobs(kLatencyCalls);
  ctx.VacuumTaskflow();
  const double latency_after = AcquireLatency(ctx, kLatencyCalls);
  m.notes.emplace_back(
      "acquire(1) + complete, 1 connection, median of " + std::to_string(kLatencyCalls),
      Milliseconds(latency_without) + " without registered tenants, " + Milliseconds(latency_with) +
          " with 10,000, " + Milliseconds(latency_after) + " without them again");
  ctx.ResetTaskflow();
  return m;
}

}  // namespace taskflow::bench
