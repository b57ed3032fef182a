// Worker scenarios (issue 3): the real taskflow-worker binary with the `noop` executor.
//  worker-drain:   50,000 ready jobs drained by one worker at concurrency 16, compared with
//                  `drain` (the engine driven directly by the bench) in the same run.
//  worker-latency: jobs scheduled at a steady 200/s while the worker idles between them;
//                  the latency from schedule to handler start is the job's started_at (set by
//                  the acquire that hands it to a handler) minus its created_at (the schedule
//                  call), on the database clock; p50/p95/p99 are reported.
// The worker binary: $TASKFLOW_WORKER_BIN, else build/worker/taskflow-worker.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "context.hpp"
#include "scenarios.hpp"

extern char** environ;

namespace taskflow::bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string WorkerBinary() {
  const char* env = std::getenv("TASKFLOW_WORKER_BIN");
  if (env != nullptr && *env != '\0') return env;
  return "build/worker/taskflow-worker";
}

// A taskflow-worker process for the length of a scenario.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& db, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {WorkerBinary(),
                                     "--db",
                                     db,
                                     "--queue",
                                     kQueue,
                                     "--handler",
                                     std::string(kJobType) + "=noop",
                                     "--log-level",
                                     "warn",
                                     "--worker-id",
                                     "bench-worker"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      throw std::runtime_error("cannot start " + args[0] + " (set TASKFLOW_WORKER_BIN)");
    }
  }
  ~WorkerProcess() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  bool Alive() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

// Waits until the worker has connected and is waiting for jobs (its LISTEN is in place).
void WaitForWorker(Context& ctx, WorkerProcess& worker) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (Clock::now() < deadline) {
    if (!worker.Alive()) throw std::runtime_error("taskflow-worker exited at start");
    if (ctx.QueryInt("SELECT count(*) FROM pg_catalog.pg_stat_activity "
                     "WHERE query LIKE '%LISTEN%taskflow_bench%' OR "
                     "(application_name LIKE 'taskflow-worker%' AND state = 'idle')") > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  throw std::runtime_error("taskflow-worker did not become ready within 20 s");
}

// Waits until `n` jobs SUCCEEDED (the worker exiting first is an error, `during` says in what):
// the time since `start` and the n jobs.
Measurement WaitForSucceeded(Context& ctx, WorkerProcess& worker, std::int64_t n,
                             Clock::time_point start, const std::string& during) {
  while (ctx.CountJobs("SUCCEEDED") < n) {
    if (!worker.Alive()) throw std::runtime_error("taskflow-worker exited during " + during);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Measurement m;
  m.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  m.jobs = n;
  return m;
}

}  // namespace

Measurement WorkerDrain(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const std::int64_t n = ctx.sizes().drain_jobs;
  // One worker, 16 handler threads, acquiring up to 100 jobs per call (as `drain` does).
  WorkerProcess worker(ctx.db(), {"--concurrency", "16", "--prefetch", "84"});
  WaitForWorker(ctx, worker);
  // The backlog appears at once (one transaction), so the worker drains a full queue.
  const std::int64_t batch = 5'000;
  ctx.Exec("BEGIN");
  for (std::int64_t done = 0; done < n; done += batch) {
    ctx.Exec("SELECT count(*) FROM taskflow.schedule_many('" +
             JobsArray(std::min(batch, n - done)) + "'::jsonb)");
  }
  const auto start = Clock::now();
  ctx.Exec("COMMIT");
  Measurement m = WaitForSucceeded(ctx, worker, n, start, "the drain");
  Expect("SUCCEEDED jobs after worker drain", n, ctx.CountJobs("SUCCEEDED"));
  Expect("attempts per job (each ran once)", n,
         ctx.QueryInt("SELECT count(*) FROM taskflow.job_attempts a JOIN taskflow.jobs j "
                      "ON j.id = a.job_id WHERE j.queue = 'bench'"));
  return m;
}

Measurement WorkerLatency(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const std::int64_t n = std::max<std::int64_t>(200, ctx.sizes().enqueue_jobs / 10);
  const double rate = 200.0;  // jobs per second, one per transaction
  WorkerProcess worker(ctx.db(), {"--concurrency", "16"});
  WaitForWorker(ctx, worker);
  pqxx::connection client(ctx.db());
  client.prepare("schedule", "SELECT taskflow.schedule(job_type => $1, queue => $2)");
  const auto start = Clock::now();
  for (std::int64_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        start + std::chrono::microseconds(static_cast<std::int64_t>(i * 1e6 / rate)));
    pqxx::nontransaction tx(client);
    tx.exec_prepared1("schedule", kJobType, kQueue);
  }
  Measurement m = WaitForSucceeded(ctx, worker, n, start, "the run");
  pqxx::result r = ctx.Exec(
      "SELECT round(percentile_cont(0.50) WITHIN GROUP (ORDER BY ms)::numeric, 2), "
      "round(percentile_cont(0.95) WITHIN GROUP (ORDER BY ms)::numeric, 2), "
      "round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM ("
      "  SELECT extract(epoch FROM a.started_at - j.created_at) * 1000 AS ms "
      "  FROM taskflow.jobs j JOIN taskflow.job_attempts a ON a.job_id = j.id AND a.attempt = 1 "
      "  WHERE j.queue = 'bench') x");
  m.notes.emplace_back("latency schedule -> handler start",
                       "p50 " + r[0][0].as<std::string>() + " ms, p95 " +
                           r[0][1].as<std::string>() + " ms, p99 " + r[0][2].as<std::string>() +
                           " ms (targets: p50 <= 0.7 ms, p99 <= 4 ms) at " +
                           std::to_string(static_cast<int>(rate)) + " jobs/s");
  return m;
}

}  // namespace taskflow::bench
