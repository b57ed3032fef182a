// TaskFlow scenarios: the SQL API exactly as a client (schedule, schedule_many) and a worker
// (acquire, complete_many) call it, each statement in its own autocommit transaction.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "context.hpp"
#include "parallel.hpp"
#include "scenarios.hpp"

namespace taskflow::bench {

namespace {

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f s", s);
  return buf;
}

}  // namespace

Measurement RunDrainLoop(Context& ctx, std::int64_t expected, const char* what,
                         const std::string& acquire, const std::string& check,
                         const EmptyAcquire& on_empty) {
  const Sizes& s = ctx.sizes();
  std::atomic<std::int64_t> completed{0};
  ParallelRun run;
  run.connections = s.drain_connections;
  run.prepare = [&](pqxx::connection& c) {
    c.prepare("acquire", acquire);
    c.prepare("complete", "SELECT taskflow.complete_many($1::bigint[], $2::uuid[])");
    c.prepare("check", check);
  };
  run.body = [&](pqxx::connection& c, int index, WorkQueue& work) {
    const std::string worker = "bench-" + std::to_string(index);
    const std::string queues = std::string("{") + kQueue + "}";
    pqxx::nontransaction tx(c);
    std::vector<std::string> ids, tokens;
    int idle = 0;  // empty acquires in a row
    while (!work.Failed()) {
      const pqxx::result jobs = tx.exec_prepared("acquire", worker, queues, s.drain_batch);
      if (jobs.empty()) {
        if (!on_empty(tx, idle++, completed.load())) return;
        continue;
      }
      idle = 0;
      ids.clear();
      tokens.clear();
      for (const auto& job : jobs) {
        ids.emplace_back(job["job_id"].c_str());
        tokens.emplace_back(job["lease_token"].c_str());
      }
      const auto accepted =
          tx.exec_prepared1("complete", ArrayLiteral(ids), ArrayLiteral(tokens))[0]
              .as<std::int64_t>();
      Expect("complete_many accepted", static_cast<std::int64_t>(jobs.size()), accepted);
      completed += accepted;
    }
  };
  Measurement m;
  m.seconds = RunParallel(ctx.db(), run);
  m.jobs = completed.load();
  Expect(std::string("jobs completed by the ") + what, expected, m.jobs);
  return m;
}

// Without `empty_polls` a connection stops when acquire finds nothing. With it (tenant limits:
// every ready tenant may be at its limit for a moment), an empty acquire stops the connection
// only when no ready job is left; otherwise it is counted, and the connection waits 1 ms and
// tries again, as a polling worker would.
Measurement RunDrain(Context& ctx, std::int64_t expected, std::atomic<std::int64_t>* empty_polls) {
  return RunDrainLoop(ctx, expected, "drain", "SELECT * FROM taskflow.acquire($1, $2::text[], $3)",
                      std::string("SELECT EXISTS (SELECT FROM taskflow.jobs WHERE queue = '") +
                          kQueue + "' AND state = 'PENDING')",
                      [empty_polls](pqxx::transaction_base& tx, int, std::int64_t) {
                        if (empty_polls == nullptr || !tx.exec_prepared1("check")[0].as<bool>())
                          return false;
                        ++*empty_polls;
                        std::this_thread::sleep_for(std::chrono::milliseconds(1));
                        return true;
                      });
}

namespace {

// Finished jobs through the real protocol: units of 1,000 scheduled, acquired and completed on
// two connections, then a sweep on one for whatever a race left behind.
void FillHistoryViaApi(Context& ctx, std::int64_t count) {
  constexpr std::int64_t kUnit = 1'000;
  ParallelRun run;
  run.connections = 2;
  run.units = (count + kUnit - 1) / kUnit;
  run.prepare = [](pqxx::connection& c) {
    c.prepare("schedule_many", "SELECT count(*) FROM taskflow.schedule_many($1::jsonb)");
    c.prepare("acquire", "SELECT job_id, lease_token FROM taskflow.acquire($1, $2::text[], $3)");
    c.prepare("complete", "SELECT taskflow.complete_many($1::bigint[], $2::uuid[])");
  };
  auto acquire_complete = [](pqxx::transaction_base& tx, const std::string& worker,
                             std::int64_t max) -> std::int64_t {
    const pqxx::result jobs =
        tx.exec_prepared("acquire", worker, std::string("{") + kQueue + "}", max);
    std::vector<std::string> ids, tokens;
    for (const auto& job : jobs) {
      ids.emplace_back(job["job_id"].c_str());
      tokens.emplace_back(job["lease_token"].c_str());
    }
    if (!jobs.empty()) tx.exec_prepared1("complete", ArrayLiteral(ids), ArrayLiteral(tokens));
    return static_cast<std::int64_t>(jobs.size());
  };
  run.body = [&](pqxx::connection& c, int index, WorkQueue& work) {
    const std::string worker = "bench-history-" + std::to_string(index);
    pqxx::nontransaction tx(c);
    std::int64_t unit;
    while (work.Next(&unit)) {
      const std::int64_t n = std::min(kUnit, count - unit * kUnit);
      tx.exec_prepared1("schedule_many", JobsArray(n));
      for (std::int64_t got = 0; got < n;) {
        const std::int64_t k = acquire_complete(tx, worker, n - got);
        if (k == 0) break;
        got += k;
      }
    }
  };
  RunParallel(ctx.db(), run);
  pqxx::connection sweep(ctx.db());
  run.prepare(sweep);
  pqxx::nontransaction tx(sweep);
  while (acquire_complete(tx, "bench-history-sweep", kUnit) > 0) {
  }
}

// Finished jobs written directly, the way the engine leaves them after acquire + complete: per
// row of generate_series one SUCCEEDED job, its one succeeded attempt (same lease token) and its
// three events (created PENDING, PENDING -> RUNNING, RUNNING -> SUCCEEDED), finished over the
// last hours (inside taskflow.retention, so the Cleaner keeps them). One statement. Needs the
// rights of the owner of the taskflow tables (the bench runs as superuser on a throwaway cluster).
void FillHistoryViaSql(Context& ctx, std::int64_t count) {
  ctx.Exec(std::string(R"(
    WITH j AS (
      INSERT INTO taskflow.jobs (job_type, queue, tenant_id, state, payload, priority, attempts,
                                 max_attempts, next_run_at, created_at, started_at, finished_at,
                                 worker_id, lease_token, lease_expires_at, lease_duration)
      SELECT ')") +
           kJobType + "', '" + kQueue + R"(', 'default', 'SUCCEEDED', '{}', 0, 1, 5,
             t, t, t, t + interval '1 millisecond', 'bench-history', gen_random_uuid(),
             t + interval '30 seconds', interval '30 seconds'
      FROM generate_series(1, )" +
           std::to_string(count) + R"() AS g,
           LATERAL (SELECT now() - interval '3 hours' + g * (interval '3 hours' / )" +
           std::to_string(count + 1) + R"() AS t) AS ts
      RETURNING id, worker_id, lease_token, started_at, finished_at),
    a AS (
      INSERT INTO taskflow.job_attempts (job_id, attempt, worker_id, lease_token, started_at,
                                         finished_at, outcome)
      SELECT id, 1, worker_id, lease_token, started_at, finished_at, 'succeeded' FROM j)
    INSERT INTO taskflow.job_events (job_id, from_state, to_state, at, actor)
    SELECT j.id, e.from_state::taskflow.job_state, e.to_state::taskflow.job_state,
           CASE e.n WHEN 3 THEN j.finished_at ELSE j.started_at END, e.actor
    FROM j, (VALUES (1, NULL, 'PENDING', 'bench'),
                    (2, 'PENDING', 'RUNNING', 'bench-history'),
                    (3, 'RUNNING', 'SUCCEEDED', 'bench-history')) AS e(n, from_state, to_state, actor)
    ORDER BY j.id, e.n)");
}

void FillHistory(Context& ctx, std::int64_t count) {
  switch (ctx.history_fill()) {
    case HistoryFill::Api: FillHistoryViaApi(ctx, count); break;
    case HistoryFill::Sql: FillHistoryViaSql(ctx, count); break;
  }
  ctx.VacuumTaskflow();
}

}  // namespace

void FillFinishedHistory(Context& ctx, std::int64_t count) { FillHistory(ctx, count); }

double ResetStatsAndRollUp(Context& ctx) {
  const auto start = std::chrono::steady_clock::now();
  ctx.Exec("SELECT taskflow.reset_stats()");
  // The maintenance worker rolls up too; whoever holds the watermark does the work.
  while (ctx.QueryText(std::string("SELECT ((SELECT rolled_up_to FROM taskflow.stats_watermark) > "
                                   "(SELECT max(finished_at) FROM taskflow.jobs WHERE queue = '") +
                       kQueue + "'))::text") != "true") {
    if (ctx.QueryInt("SELECT taskflow._rollup(200000)") == 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Measurement RunEnqueue(Context& ctx, const std::string& statement) {
  const Sizes& s = ctx.sizes();
  ParallelRun run;
  run.connections = s.enqueue_connections;
  run.units = s.enqueue_jobs;
  run.prepare = [statement](pqxx::connection& c) { c.prepare("enqueue", statement); };
  run.body = ExecPreparedPerUnit("enqueue", kQueue, kJobType, "{}");
  Measurement m;
  m.seconds = RunParallel(ctx.db(), run);
  m.jobs = s.enqueue_jobs;
  return m;
}

Measurement RunEnqueueBatch(Context& ctx, const std::string& statement) {
  const Sizes& s = ctx.sizes();
  const std::int64_t batches = (s.batch_jobs + s.batch_size - 1) / s.batch_size;
  const std::string full = JobsArray(s.batch_size);
  const std::string last = JobsArray(s.batch_jobs - (batches - 1) * s.batch_size);
  ParallelRun run;
  run.connections = s.batch_connections;
  run.units = batches;
  run.prepare = [statement](pqxx::connection& c) { c.prepare("enqueue_batch", statement); };
  run.body = [&](pqxx::connection& c, int, WorkQueue& work) {
    pqxx::nontransaction tx(c);
    std::int64_t unit;
    while (work.Next(&unit)) tx.exec_prepared1("enqueue_batch", unit == batches - 1 ? last : full);
  };
  Measurement m;
  m.seconds = RunParallel(ctx.db(), run);
  m.jobs = s.batch_jobs;
  return m;
}

Measurement Enqueue(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Measurement m = RunEnqueue(
      ctx, "SELECT taskflow.schedule(queue => $1, job_type => $2, payload => $3::jsonb)");
  Expect("PENDING jobs after enqueue", m.jobs, ctx.CountJobs("PENDING"));
  return m;
}

Measurement EnqueueBatch(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Measurement m =
      RunEnqueueBatch(ctx, "SELECT count(*) FROM taskflow.schedule_many($1::jsonb)");
  Expect("PENDING jobs after enqueue batch", m.jobs, ctx.CountJobs("PENDING"));
  return m;
}

Measurement Drain(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Sizes& s = ctx.sizes();
  ctx.FillReadyJobs(s.drain_jobs);
  ctx.VacuumTaskflow();
  Measurement m = RunDrain(ctx, s.drain_jobs);
  Expect("SUCCEEDED jobs after drain", s.drain_jobs, ctx.CountJobs("SUCCEEDED"));
  Expect("jobs of queue bench after drain", s.drain_jobs, ctx.CountJobs());
  return m;
}

Measurement DrainWithHistory(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Sizes& s = ctx.sizes();
  const auto fill_start = std::chrono::steady_clock::now();
  FillHistory(ctx, s.history_jobs);
  const double fill_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - fill_start).count();
  Expect("finished jobs in history", s.history_jobs, ctx.CountJobs("SUCCEEDED"));
  ctx.FillReadyJobs(s.drain_jobs);
  ctx.VacuumTaskflow();
  Measurement m = RunDrain(ctx, s.drain_jobs);
  Expect("SUCCEEDED jobs after drain with history", s.history_jobs + s.drain_jobs,
         ctx.CountJobs("SUCCEEDED"));
  m.notes.emplace_back("history", std::to_string(s.history_jobs) + " SUCCEEDED jobs, filled in " +
                                      Seconds(fill_seconds));
  // Leave no million-row history behind for whatever runs next.
  ctx.ResetTaskflow();
  return m;
}

}  // namespace taskflow::bench
