// Workflow scenarios (issue 13, docs/workflows.md): drains where every job but the group heads
// has one dependency (fan-outs of 10, and chains of 10), against the plain drain; and one
// 10,000-node fan-out/fan-in workflow created in one call (creation time, drain rate,
// whether the fan-in is released in the transaction of its last parent).
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

std::string Fixed(double v, const char* unit) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.3f %s", v, unit);
  return buf;
}

// Workflow edges are cleaned with the jobs they belong to.
void ResetWorkflows(Context& ctx) {
  const std::string bench_ids =
      std::string("(SELECT id FROM taskflow.jobs WHERE queue = '") + kQueue + "')";
  ctx.Exec("DELETE FROM taskflow.job_dependencies WHERE job_id IN " + bench_ids);
  ctx.Exec("DELETE FROM taskflow.workflow_nodes WHERE job_id IN " + bench_ids);
  ctx.Exec(
      "DELETE FROM taskflow.workflows w WHERE NOT EXISTS "
      "(SELECT FROM taskflow.workflow_nodes n WHERE n.workflow_id = w.id)");
  ctx.ResetTaskflow();
}

// Like RunDrain, but a connection that finds nothing stops only when no job of the queue is
// unfinished: waiting jobs are released by the other connections' completes.
Measurement RunDependencyDrain(Context& ctx, std::int64_t expected) {
  return RunDrainLoop(
      ctx, expected, "dependency drain",
      "SELECT job_id, lease_token FROM taskflow.acquire($1, $2::text[], $3)",
      std::string("SELECT EXISTS (SELECT FROM taskflow.jobs WHERE queue = '") + kQueue +
          "' AND state IN ('PENDING', 'SCHEDULED', 'RUNNING'))",
      [expected](pqxx::transaction_base& tx, int idle, std::int64_t completed) {
        // Done when every job was completed: the bench knows how many there are. Asking the
        // table ("any job of the queue unfinished?") on every empty poll is a sequential scan
        // of the queue's rows (no index covers it; 170 pages at 5,000 finished jobs), repeated
        // by each idle connection: work the plain drain does not do. The table is asked only
        // at every 32nd empty poll in a row (about half a second), so the run still ends when
        // jobs end without this drain completing them (cancelled: the count check reports it).
        if (completed >= expected) return false;
        if (idle % 32 == 31 && !tx.exec_prepared1("check")[0].as<bool>()) return false;
        // Back off as a worker does between empty polls (1, 2, 4, 8, 16 ms): only about one
        // job in ten is ready at a time here, and connections polling every millisecond
        // took the CPU from the ones completing (and releasing) jobs.
        std::this_thread::sleep_for(std::chrono::milliseconds(1 << std::min(idle, 4)));
        return true;
      });
}

}  // namespace

namespace {

// drain_jobs jobs in groups of 10 (one workflow per 10,000 jobs): every job but the group heads
// has exactly one dependency. `chain`: each job depends on the one before it (a tenth of the
// jobs is ready at a time); else each depends on its group's head (a fan-out: the nine are
// ready as soon as their head finishes).
Measurement DependencyDrain(Context& ctx, bool chain) {
  ctx.EnsureQueue();
  ResetWorkflows(ctx);
  const std::int64_t total = ctx.sizes().drain_jobs;
  const std::int64_t per_workflow = 10000, group = 10;
  const std::string g = std::to_string(group);
  const std::string parent =
      chain ? "'n' || (i - 1)" : "'n' || (((i - 1) / " + g + ") * " + g + " + 1)";
  for (std::int64_t done = 0; done < total; done += per_workflow) {
    const std::int64_t n = std::min(per_workflow, total - done);
    ctx.Exec(
        "SELECT taskflow.schedule_workflow(jsonb_build_object("
        "'nodes', (SELECT jsonb_agg(jsonb_build_object('key', 'n' || i, 'job_type', 'bench', "
        "  'queue', '" +
        std::string(kQueue) + "')) FROM generate_series(1, " + std::to_string(n) +
        ") i), "
        "'edges', COALESCE((SELECT jsonb_agg(jsonb_build_object('from', " +
        parent +
        ", 'to', 'n' || i)) "
        "  FROM generate_series(1, " +
        std::to_string(n) + ") i WHERE (i - 1) % " + g + " <> 0), '[]')))");
  }
  ctx.VacuumTaskflow();
  Measurement m = RunDependencyDrain(ctx, total);
  Expect("SUCCEEDED jobs after the dependency drain", total, ctx.CountJobs("SUCCEEDED"));
  m.notes.emplace_back("jobs with one dependency",
                       std::to_string(total - (total + group - 1) / group));
  return m;
}

}  // namespace

Measurement DrainDeps(Context& ctx) { return DependencyDrain(ctx, false); }

Measurement DrainDepsChains(Context& ctx) { return DependencyDrain(ctx, true); }

// One workflow: root -> 9,998 middles -> sink (10,000 nodes, 19,996 edges), created in one
// schedule_workflow call, then drained.
Measurement Workflow10k(Context& ctx) {
  ctx.EnsureQueue();
  ResetWorkflows(ctx);
  const int nodes = 10000;
  const std::string q = kQueue;
  const std::string spec =
      "SELECT taskflow.schedule_workflow(jsonb_build_object('name', 'fan-10k', "
      "'nodes', jsonb_build_array(jsonb_build_object('key', 'root', 'job_type', 'bench', 'queue', '" +
      q +
      "'), "
      "  jsonb_build_object('key', 'sink', 'job_type', 'bench', 'queue', '" +
      q +
      "')) || "
      "  (SELECT jsonb_agg(jsonb_build_object('key', 'm' || i, 'job_type', 'bench', 'queue', '" +
      q +
      "')) "
      "   FROM generate_series(1, " +
      std::to_string(nodes - 2) +
      ") i), "
      "'edges', (SELECT jsonb_agg(e) FROM ("
      "  SELECT jsonb_build_object('from', 'root', 'to', 'm' || i) e FROM generate_series(1, " +
      std::to_string(nodes - 2) +
      ") i "
      "  UNION ALL SELECT jsonb_build_object('from', 'm' || i, 'to', 'sink') FROM generate_series(1, " +
      std::to_string(nodes - 2) +
      ") i) x)"
      ")) ->> 'workflow_id'";
  const auto t0 = std::chrono::steady_clock::now();
  const std::string workflow = ctx.QueryText(spec);
  const double create_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Measurement m = RunDependencyDrain(ctx, nodes);
  Expect("SUCCEEDED nodes of the 10k workflow", nodes, ctx.CountJobs("SUCCEEDED"));
  const std::string sink =
      "(SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = " + workflow +
      " AND node_key = 'sink')";
  // The release is part of the transaction that completes the last middle: its PENDING event
  // and that middle's SUCCEEDED event share one xmin. Comparing their timestamps would compare
  // two transactions' now() (start times) and can come out negative.
  const std::string released_with = ctx.QueryText(
      "SELECT CASE WHEN EXISTS (SELECT 1 FROM taskflow.job_events s JOIN taskflow.job_events e "
      "ON e.xmin = s.xmin AND e.to_state = 'SUCCEEDED' JOIN taskflow.workflow_nodes n ON n.job_id = e.job_id "
      "AND n.workflow_id = " +
      workflow + " AND n.node_key LIKE 'm%' WHERE s.job_id = " + sink +
      " AND s.to_state = 'PENDING') THEN 'the transaction that completed the last middle' "
      "ELSE 'a later transaction' END");
  const std::string start_delay = ctx.QueryText(
      "SELECT round(extract(epoch FROM (SELECT started_at FROM taskflow.jobs WHERE id = " + sink +
      ") - (SELECT at FROM taskflow.job_events WHERE job_id = " + sink +
      " AND to_state = 'PENDING')) * 1000, 3)");
  m.notes.emplace_back("creation (one schedule_workflow call)", Fixed(create_s, "s"));
  m.notes.emplace_back("fan-in release (sink PENDING) in", released_with);
  m.notes.emplace_back("sink PENDING -> acquired", start_delay + " ms");
  return m;
}

}  // namespace taskflow::bench
