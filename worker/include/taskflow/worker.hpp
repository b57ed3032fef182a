// taskflow/worker.hpp: embed a TaskFlow worker in a C++ service.
//
//   taskflow::WorkerOptions options;
//   options.queues = {"default"};
//   taskflow::Worker worker(options);
//   worker.On("send_email", [](const taskflow::Job& job, taskflow::JobContext& ctx) {
//     ...
//     return taskflow::Outcome::Succeeded({{"sent", true}});
//   });
//   worker.Run();  // until Stop()
//
// The worker is thin: it acquires jobs through the taskflow.* SQL API, runs the
// handler registered for the job's type and reports the outcome. Every decision
// about states, retries and leases stays in the extension.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace taskflow {

using Milliseconds = std::chrono::milliseconds;

// One acquired attempt of a job, as returned by taskflow.acquire().
struct Job {
  std::int64_t id = 0;
  int attempt = 0;
  std::string lease_token;
  std::string type;
  nlohmann::json payload = nlohmann::json::object();
  std::string queue;
  std::string tenant_id;
  std::string correlation_id;           // empty when the job has none
  std::string traceparent;              // W3C trace context of the job, empty when it has none
  std::optional<Milliseconds> timeout;  // the job's own timeout, if it has one
  // The jobs this one depends on with their outcome and result (taskflow.acquire()'s
  // `dependencies`, docs/workflows.md): what a fan-in handler aggregates. null without any.
  nlohmann::json dependencies;
  // Why the payload could not be given to a handler (it nests deeper than kMaxJsonDepth,
  // taskflow/json_limits.hpp), else empty. The worker fails such a job without running a handler;
  // `payload` is then an empty object.
  std::string payload_error;
};

// What a handler reports. The worker turns it into complete(), fail(), snooze() or, on
// shutdown, release().
struct Outcome {
  enum class Kind { kSucceeded, kFailed, kCancelled, kSnoozed };

  Kind kind = Kind::kSucceeded;
  nlohmann::json result;  // null: no result
  std::string error_type;
  std::string error_message;
  bool retryable = true;
  Milliseconds snooze_for{0};  // kSnoozed: how long until the job may run again

  static Outcome Succeeded(nlohmann::json result = nullptr);
  static Outcome Failed(std::string error_type, std::string error_message, bool retryable = true);
  // Run the job again after `delay` without using up an attempt (taskflow.snooze): the job
  // cannot run yet (an upstream rate limit, a resource not ready). The delay is clamped to
  // what the extension accepts: 0 to 100 years.
  static Outcome Snooze(Milliseconds delay);
  // The handler stopped because JobContext asked it to (cancel, lost lease, shutdown).
  static Outcome Cancelled(std::string message);
  // Not now: the job runs again after `delay` without using up an attempt (taskflow.snooze).
  // `reason` is logged (e.g. "HTTP 429, Retry-After: 30").
  static Outcome Snoozed(Milliseconds delay, std::string reason = {});
};

// Why a running handler is asked to stop.
enum class StopReason {
  kNone,
  kCancelRequested,  // taskflow.cancel() on the running job; heartbeat said so
  kLeaseLost,        // heartbeat said `lost`: another attempt owns the job now
  kShutdown,         // the worker's shutdown grace period ran out
};

const char* ToString(StopReason reason);

// Raised by SqlSession::Execute.
class SqlError : public std::runtime_error {
 public:
  enum class Kind {
    kConnectionLost,  // the connection broke (the session reopens it for the next call)
    kCommitInDoubt,   // the connection broke during COMMIT: applied or not, unknown
    kStatement,       // the server refused the statement: sqlstate() says why
  };
  SqlError(Kind kind, std::string sqlstate, const std::string& message);
  Kind kind() const noexcept { return kind_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }  // empty unless kStatement

 private:
  Kind kind_;
  std::string sqlstate_;
};

// A handler's way to the worker's database: the calling pool thread's own connection (the
// worker's database_url), opened on first use. The `sql` executor runs on it. Use it from the
// handler's thread; Cancel() may be called from any thread (e.g. a JobContext::OnStop callback).
// The header needs no client library: a handler that wants its own driver opens its own
// connection.
class SqlSession {
 public:
  virtual ~SqlSession() = default;
  // Runs `statement` in a transaction of its own with `params` as $1, $2, ... (text; cast them
  // in the statement) and commits. `timeout`: the transaction's statement_timeout. Returns
  // {"rows": [{"column": value, ...}, ...]} (json and jsonb parsed, booleans and numbers typed,
  // the rest text), or {"affected_rows": n} for a statement that returns no columns. Throws
  // SqlError.
  virtual nlohmann::json Execute(const std::string& statement,
                                 const std::vector<std::string>& params = {},
                                 std::optional<Milliseconds> timeout = std::nullopt) = 0;
  // As Execute, with each (name, value) of `settings` set for that transaction first
  // (set_config(name, value, true)): how the `sql` executor hands a statement the job's
  // dependencies (taskflow_job.dependencies, docs/worker.md). This default runs Execute when
  // there are none and refuses otherwise (SqlError 0A000): a session of its own that should
  // pass them overrides it.
  virtual nlohmann::json ExecuteWithSettings(
      const std::string& statement, const std::vector<std::string>& params,
      std::optional<Milliseconds> timeout,
      const std::vector<std::pair<std::string, std::string>>& settings) {
    if (!settings.empty()) {
      throw SqlError(SqlError::Kind::kStatement, "0A000",
                     "this SqlSession cannot set transaction settings");
    }
    return Execute(statement, params, timeout);
  }
  // Cancels the statement Execute() runs now, if any.
  virtual void Cancel() noexcept = 0;
};

// Per-attempt context handed to a handler. Thread-safe.
class JobContext {
 public:
  using SqlProvider = std::function<SqlSession&()>;

  explicit JobContext(SqlProvider sql_provider = nullptr);
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  bool StopRequested() const noexcept { return reason_.load() != StopReason::kNone; }
  StopReason Reason() const noexcept { return reason_.load(); }

  // Sleeps up to `duration`; returns false as soon as a stop is requested.
  bool SleepFor(Milliseconds duration);

  // Runs `callback` (from the thread that requests the stop) when a stop is
  // requested, e.g. to abort a blocking call. If a stop was already requested,
  // runs it at once. Cleared by ClearOnStop() or the next OnStop().
  void OnStop(std::function<void()> callback);
  void ClearOnStop();

  // The calling pool thread's own database session (see SqlSession). Throws std::logic_error
  // when this context has none (a JobContext made without one, e.g. in a test).
  SqlSession& Sql();

  // Used by the worker (and tests): asks the handler to stop. The first reason wins.
  void RequestStop(StopReason reason);

 private:
  std::atomic<StopReason> reason_{StopReason::kNone};
  std::mutex mutex_;
  std::condition_variable stopped_;
  std::function<void()> on_stop_;
  SqlProvider sql_provider_;
};

using Handler = std::function<Outcome(const Job&, JobContext&)>;

struct WorkerOptions {
  std::string database_url;  // empty: the libpq environment (PGHOST, ...)
  std::vector<std::string> queues{"default"};
  int concurrency = 10;                // handlers running at once
  std::string worker_id;               // empty: host:pid
  Milliseconds lease{30000};           // requested lease per acquisition
  Milliseconds heartbeat_interval{0};  // 0: lease / 3
  Milliseconds poll_interval{1000};    // acquire at least this often without NOTIFY
  Milliseconds shutdown_grace{30000};  // how long running jobs may finish on Stop()
  int acquire_batch = 0;               // most jobs per acquire; 0: concurrency + prefetch
  // Jobs acquired ahead, waiting for a free handler thread. kPrefetchAuto (the default): as many
  // as the handler threads finish during two acquire round trips, at most prefetch_max, and a
  // prefetched job that waits longer than prefetch_max_wait is released for other workers.
  // 0: none; N > 0: always N (they wait however long the running jobs take).
  static constexpr int kPrefetchAuto = -1;
  int prefetch = kPrefetchAuto;
  int prefetch_max = 0;                 // auto's ceiling; 0: 8 x concurrency, at most 1000
  Milliseconds prefetch_max_wait{100};  // auto: a prefetched job waits at most this long
  // The Completer waits this long after the first outcome of a batch for others, then reports
  // them together (completions in one complete_many). 0: report at once.
  Milliseconds completion_flush_interval{2};
  bool catch_all = false;  // acquire every job type, not just handled ones
  // true: each acquisition waits for the WAL flush before its jobs run. false (the default):
  // it does not, so a job starts one flush sooner; a server crash can then forget the
  // acquisitions of its last moments, and those jobs run again (docs/worker.md).
  bool durable_acquire = false;
  Milliseconds reconnect_min{100};   // reconnect backoff: first delay
  Milliseconds reconnect_max{5000};  // reconnect backoff: cap

  // Throws std::invalid_argument naming the option (and its taskflow-worker flag) when a value
  // is out of range: concurrency 1 to 4096, at least one queue, lease > 0, a heartbeat interval
  // shorter than the lease, ... Worker::Run() calls it (a StartupError then), and so does
  // taskflow-worker for its flags: one set of rules (docs/worker.md, "The parts").
  void Validate() const;
};

// Raised by Worker::Run() when the worker cannot start: no database, no
// extension, no queue. Exit code 3 in taskflow-worker.
class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A worker: registers handlers, then Run() until Stop().
class Worker {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers the handler of one job type. Call before Run().
  Worker& On(const std::string& job_type, Handler handler);
  // Handler of every job type without its own handler; implies catch_all.
  Worker& OnAny(Handler handler);

  // Runs until Stop() and the shutdown that follows are done. Returns true when
  // every outcome was reported, false when some could not be (their leases
  // expire and the extension's Rescuer retries them). Throws StartupError.
  bool Run();

  // Graceful stop: no more acquiring, running jobs get the grace period, the
  // rest are released. Thread-safe; returns at once.
  void Stop();

  const WorkerOptions& options() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Kills the process group of every child process the command executor is
// running (SIGKILL). For an immediate exit.
void KillAllChildProcesses() noexcept;

}  // namespace taskflow
