// Ceilings: the same row work as the TaskFlow scenarios, done by bare SQL on one plain table
// (bench_ceiling.jobs) with the same connections, batch sizes and autocommit statements, and
// nothing else: no audit rows, no validation, no notifications. What TaskFlow is compared with.
#include <atomic>
#include <string>
#include <vector>

#include "context.hpp"
#include "parallel.hpp"
#include "scenarios.hpp"

namespace taskflow::bench {

namespace {

std::string Table() { return std::string(kCeilingSchema) + ".jobs"; }

}  // namespace

Measurement CeilingEnqueue(Context& ctx) {
  ctx.ResetCeiling();
  const Measurement m =
      RunEnqueue(ctx, "INSERT INTO " + Table() +
                          " (queue, job_type, payload) VALUES ($1, $2, $3::jsonb) RETURNING id");
  Expect("ready rows after ceiling enqueue", m.jobs, ctx.CountCeiling("ready"));
  return m;
}

Measurement CeilingEnqueueBatch(Context& ctx) {
  ctx.ResetCeiling();
  // The same JSON array schedule_many gets, unpacked in input order; ids come back like
  // schedule_many's.
  const Measurement m = RunEnqueueBatch(
      ctx, "WITH ins AS (INSERT INTO " + Table() +
               " (queue, job_type, payload)"
               " SELECT e->>'queue', e->>'job_type', coalesce(e->'payload', '{}')"
               " FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS a(e, n) ORDER BY n"
               " RETURNING id) SELECT count(*) FROM ins");
  Expect("ready rows after ceiling enqueue batch", m.jobs, ctx.CountCeiling("ready"));
  return m;
}

Measurement CeilingDrain(Context& ctx) {
  ctx.ResetCeiling();
  const Sizes& s = ctx.sizes();
  ctx.FillCeiling(s.drain_jobs);
  std::atomic<std::int64_t> completed{0};
  ParallelRun run;
  run.connections = s.drain_connections;
  run.prepare = [](pqxx::connection& c) {
    c.prepare("claim", "UPDATE " + Table() +
                           " SET state = 'running', locked_by = $1, locked_at = now(),"
                           " attempts = attempts + 1"
                           " WHERE id IN (SELECT id FROM " +
                           Table() +
                           " WHERE state = 'ready' ORDER BY priority DESC, run_at, id"
                           " FOR UPDATE SKIP LOCKED LIMIT $2)"
                           " RETURNING id, job_type, payload");
    c.prepare("finish", "UPDATE " + Table() +
                            " SET state = 'done', finished_at = now(), locked_by = NULL"
                            " WHERE id = ANY($1::bigint[]) AND state = 'running'");
  };
  run.body = [&](pqxx::connection& c, int index, WorkQueue& work) {
    const std::string worker = "bench-" + std::to_string(index);
    pqxx::nontransaction tx(c);
    std::vector<std::string> ids;
    while (!work.Failed()) {
      const pqxx::result jobs = tx.exec_prepared("claim", worker, s.drain_batch);
      if (jobs.empty()) return;
      ids.clear();
      for (const auto& job : jobs) ids.emplace_back(job["id"].c_str());
      const pqxx::result done = tx.exec_prepared("finish", ArrayLiteral(ids));
      Expect("rows finished", static_cast<std::int64_t>(jobs.size()), done.affected_rows());
      completed += done.affected_rows();
    }
  };
  Measurement m;
  m.seconds = RunParallel(ctx.db(), run);
  m.jobs = completed.load();
  Expect("rows drained", s.drain_jobs, m.jobs);
  Expect("done rows after ceiling drain", s.drain_jobs, ctx.CountCeiling("done"));
  return m;
}

}  // namespace taskflow::bench
