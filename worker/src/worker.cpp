// Worker: the Producer (acquire + LISTEN, main thread), a bounded pool of
// handler threads, the Completer (batched outcomes) and the Heartbeater
// (batched lease extension, cancel detection). Each thread that talks to the
// database owns its connection: pqxx connections are not thread-safe.
#include <taskflow/worker.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <thread>
#include <unordered_map>

#include <pqxx/pqxx>

#include "adaptive_prefetch.hpp"
#include "backoff.hpp"
#include "log.hpp"
#include "pg_array.hpp"
#include "sql_api.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kFlushBatch = 1000;  // most outcomes per Completer round
using spdlog::level::debug;
using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

std::string DefaultWorkerId() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(getpid());
}

long long MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<Milliseconds>(to - from).count();
}

// A server going away shows up as broken_connection, or as an sql_error of
// class 08 (connection exception) or 57P (operator intervention: shutdown).
bool IsConnectionLoss(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) || dynamic_cast<const pqxx::in_doubt_error*>(&e)) return true;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    return state.rfind("08", 0) == 0 || state.rfind("57P", 0) == 0;
  }
  return false;
}

// A deadlock or serialization failure: the statement did nothing and may simply be sent again.
// (A Completer's complete_many and the Heartbeater's heartbeat_many lock the same running jobs.)
bool IsTransient(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    return sql->sqlstate() == "40P01" || sql->sqlstate() == "40001";
  }
  return false;
}

std::string OneLine(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

// The pool thread's own connection for handlers that use the database (sql executor).
pqxx::connection_base& ThreadConnection(const std::string& database_url, bool reset) {
  thread_local std::unique_ptr<pqxx::connection> connection;
  if (reset) connection.reset();
  if (!connection || !connection->is_open()) connection = std::make_unique<pqxx::connection>(database_url);
  return *connection;
}

// A job from acquisition until its outcome is committed (or given up).
struct ActiveJob {
  ActiveJob(Job j, JobContext::ConnectionProvider provider) : job(std::move(j)), ctx(std::move(provider)) {}
  Job job;
  JobContext ctx;
  const Handler* handler = nullptr;
  Clock::time_point acquired_at = Clock::now();
  Clock::time_point queued_at{};  // handed to the pool (the prefetch buffer until a thread takes it)
  Clock::time_point started_at{};
  Clock::time_point finished_at{};
  std::atomic<bool> reported{false};  // an outcome (or a release) is queued: at most one per attempt
};

struct Report {
  enum class Kind { kComplete, kFail, kRelease, kSnooze };
  Kind kind = Kind::kComplete;
  Milliseconds snooze_for{0};
  std::shared_ptr<ActiveJob> active;
  std::optional<std::string> result;
  std::string error_type;
  std::string error_message;
  bool retryable = true;
  bool done = false;
};

const char* KindName(Report::Kind kind) {
  switch (kind) {
    case Report::Kind::kComplete: return "complete";
    case Report::Kind::kFail: return "fail";
    case Report::Kind::kRelease: return "release";
    case Report::Kind::kSnooze: return "snooze";
  }
  return "?";
}

}  // namespace

class Worker::Impl {
 public:
  explicit Impl(WorkerOptions options) : options_(std::move(options)) {
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~Impl() { close(wake_fd_); }

  WorkerOptions options_;
  std::map<std::string, Handler> handlers_;
  Handler any_handler_;

  bool Run();
  void Stop() {
    stopping_.store(true);
    {
      std::lock_guard<std::mutex> lock(stop_mu_);
    }
    stop_cv_.notify_all();
    Wake();
  }
  bool detached_threads() const { return detached_threads_; }

 private:
  void Wake() {
    const std::uint64_t one = 1;
    ssize_t ignored = write(wake_fd_, &one, sizeof one);
    (void)ignored;
  }
  void SleepUnlessStopping(Milliseconds duration) {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
  }
  void WaitForWake(int socket, int timeout_ms);

  void ProducerLoop(std::unique_ptr<SqlApi>& api);
  // Slots: handler threads plus the prefetch buffer (fixed, or the adaptive target).
  int Slots() const { return options_.concurrency + prefetch_now_.load(std::memory_order_relaxed); }
  // Free slots that make a busy worker acquire again: with a prefetch buffer, half the slots,
  // so a busy worker acquires in batches instead of one job per finished handler.
  static int RefillFree(int slots, int concurrency) { return slots > concurrency ? std::max(1, slots / 2) : 1; }
  // Whether the producer should acquire with `busy` slots taken: at once when a handler
  // thread would otherwise idle, else once RefillFree slots are free.
  bool WantsJobs(int busy) const {
    const int slots = Slots();
    return busy < options_.concurrency || slots - busy >= RefillFree(slots, options_.concurrency);
  }
  // Adaptive prefetch: prefetched jobs that waited longer than prefetch_max_wait go back to
  // the queue (release) for another worker; returns when the next one would be due.
  Clock::time_point ReleaseStalled(Clock::time_point now);
  void Dispatch(std::vector<Job> jobs);
  void PoolLoop();
  void RunJob(const std::shared_ptr<ActiveJob>& active);
  void EnqueueReport(Report report);
  void CompleterLoop();
  void Flush(SqlApi& api, std::vector<Report>& batch, bool in_doubt);
  void Finish(Report& report, const std::optional<std::string>& state, bool in_doubt);
  void HeartbeatLoop();
  bool Shutdown();
  std::vector<std::shared_ptr<ActiveJob>> ActiveSnapshot();

  std::optional<std::vector<std::string>> job_types_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> notified_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  int wake_fd_ = -1;
  bool detached_threads_ = false;
  bool adaptive_ = false;                   // prefetch == kPrefetchAuto
  std::atomic<int> prefetch_now_{0};        // the prefetch in force: fixed, or the adaptive target
  std::unique_ptr<AdaptivePrefetch> prefetch_control_;  // the producer's thread only
  std::atomic<long> finished_{0};           // handlers returned, for the adaptive rate
  std::atomic<long long> handler_us_{0};    // their run time, summed (microseconds)
  long seen_finished_ = 0;                  // ReleaseStalled's last look (producer thread only)
  long long seen_handler_us_ = 0;
  double mean_handler_us_ = 0;              // handlers' usual run time, averaged
  int acquire_cap_ = 0;                     // most jobs per acquire; 0: the free slots

  // Dispatch to the pool. busy_ counts jobs handed to the pool whose handler has not returned.
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::shared_ptr<ActiveJob>> ready_;
  bool pool_exit_ = false;
  std::atomic<int> busy_{0};
  std::vector<std::thread> pool_threads_;

  std::mutex active_mu_;
  std::unordered_map<std::int64_t, std::shared_ptr<ActiveJob>> active_;

  std::mutex report_mu_;
  std::condition_variable report_cv_;
  std::deque<Report> reports_;
  bool completer_exit_ = false;
  Clock::time_point report_deadline_ = Clock::time_point::max();
  std::atomic<long> unreported_{0};
  std::thread completer_;

  std::mutex heartbeat_mu_;
  std::condition_variable heartbeat_cv_;
  bool heartbeat_exit_ = false;
  std::thread heartbeater_;
};

bool Worker::Impl::Run() {
  auto& o = options_;
  if (o.concurrency < 1) throw StartupError("concurrency must be at least 1");
  if (o.queues.empty()) throw StartupError("at least one queue is needed");
  if (o.lease.count() <= 0) throw StartupError("the lease must be greater than zero");
  if (o.poll_interval.count() <= 0) throw StartupError("the poll interval must be greater than zero");
  if (o.worker_id.empty()) o.worker_id = DefaultWorkerId();
  log::SetWorkerId(o.worker_id);  // on every job line
  if (o.heartbeat_interval.count() <= 0) o.heartbeat_interval = std::max(Milliseconds(100), o.lease / 3);
  if (o.heartbeat_interval >= o.lease) {
    throw StartupError("the heartbeat interval must be shorter than the lease, or leases expire between heartbeats");
  }
  if (o.prefetch < WorkerOptions::kPrefetchAuto) throw StartupError("prefetch must not be negative (or auto)");
  if (o.prefetch_max < 0) throw StartupError("prefetch_max must not be negative");
  if (o.prefetch_max_wait.count() <= 0) throw StartupError("prefetch_max_wait must be greater than zero");
  if (o.completion_flush_interval.count() < 0) throw StartupError("the completion flush interval must not be negative");
  adaptive_ = o.prefetch == WorkerOptions::kPrefetchAuto;
  if (adaptive_) {
    const int max = o.prefetch_max > 0 ? o.prefetch_max : std::min(1000, 8 * o.concurrency);
    prefetch_control_ = std::make_unique<AdaptivePrefetch>(max);
    prefetch_now_.store(0);
  } else {
    prefetch_now_.store(o.prefetch);
  }
  acquire_cap_ = o.acquire_batch > 0 ? o.acquire_batch : 0;
  if (any_handler_) o.catch_all = true;
  if (handlers_.empty() && !o.catch_all) throw StartupError("no handlers: register one with On() or use catch-all");
  if (!o.catch_all) {
    job_types_.emplace();
    for (const auto& entry : handlers_) job_types_->push_back(entry.first);
  }

  std::unique_ptr<SqlApi> api;
  try {
    api = std::make_unique<SqlApi>(o.database_url);
    api->CheckExtension();
    api->Listen(o.queues, notified_);
  } catch (const StartupError&) {
    throw;
  } catch (const std::exception& e) {
    throw StartupError("cannot connect to the database: " + OneLine(e.what()));
  }

  log::Fields fields = log::Fields::object();
  fields["worker_id"] = o.worker_id;
  fields["queues"] = o.queues;
  fields["concurrency"] = o.concurrency;
  if (adaptive_) fields["prefetch"] = "auto";
  else if (o.prefetch > 0) fields["prefetch"] = o.prefetch;
  fields["lease_ms"] = o.lease.count();
  fields["job_types"] = job_types_ ? log::Fields(*job_types_) : log::Fields("*");
  log::Write(info, "worker started", fields);

  for (int i = 0; i < o.concurrency; ++i) pool_threads_.emplace_back([this] { PoolLoop(); });
  completer_ = std::thread([this] { CompleterLoop(); });
  heartbeater_ = std::thread([this] { HeartbeatLoop(); });

  try {
    ProducerLoop(api);
  } catch (const StartupError&) {
    api.reset();
    stopping_.store(true);
    Shutdown();
    throw;
  }
  api.reset();
  return Shutdown();
}

void Worker::Impl::WaitForWake(int socket, int timeout_ms) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const int ready = poll(fds, socket >= 0 ? 2 : 1, std::max(0, timeout_ms));
  if (ready > 0 && (fds[0].revents & POLLIN)) {
    std::uint64_t value;
    ssize_t ignored = read(wake_fd_, &value, sizeof value);
    (void)ignored;
  }
}

// Producer: acquire up to the free slots whenever there may be work (a NOTIFY,
// a full previous batch) and at least every poll_interval, as long as WantsJobs().
// Handler threads Wake() it only when WantsJobs() becomes true (see RunJob).
void Worker::Impl::ProducerLoop(std::unique_ptr<SqlApi>& api) {
  Backoff backoff(options_.reconnect_min, options_.reconnect_max);
  bool maybe_more = true;
  bool acquired_once = false;
  auto next_poll = Clock::now();
  while (!stopping_.load()) {
    try {
      if (!api) {
        api = std::make_unique<SqlApi>(options_.database_url);
        api->Listen(options_.queues, notified_);
        log::Write(info, "database connection restored", {{"component", "producer"}});
        backoff.Reset();
        maybe_more = true;
      }
      if (notified_.exchange(false)) maybe_more = true;
      auto now = Clock::now();
      Clock::time_point stall_due = Clock::time_point::max();
      if (adaptive_) {
        stall_due = ReleaseStalled(now);
        prefetch_control_->Observe(finished_.load(), now);
        prefetch_now_.store(prefetch_control_->Target(), std::memory_order_relaxed);
      }
      // Slots: handler threads plus the prefetch buffer; busy_ counts both.
      const int busy = busy_.load();
      const bool wants = WantsJobs(busy);
      if (wants && (maybe_more || now >= next_poll)) {
        int want = Slots() - busy;
        if (acquire_cap_ > 0) want = std::min(want, acquire_cap_);
        const auto asked_at = Clock::now();
        std::vector<Job> jobs = api->Acquire(options_.worker_id, options_.queues, want, options_.lease, job_types_);
        if (adaptive_) prefetch_control_->OnAcquire(Clock::now() - asked_at);
        acquired_once = true;
        backoff.Reset();
        next_poll = Clock::now() + options_.poll_interval;
        maybe_more = static_cast<int>(jobs.size()) == want;
        if (!jobs.empty()) Dispatch(std::move(jobs));
        continue;
      }
      long long timeout_ms = wants ? std::max<long long>(0, MillisecondsBetween(now, next_poll)) + 1
                                   : options_.poll_interval.count();
      if (stall_due != Clock::time_point::max()) {
        timeout_ms = std::min(timeout_ms, std::max<long long>(0, MillisecondsBetween(now, stall_due)) + 1);
      }
      // Adaptive: look at the rate again soon while handlers run, so the target follows it.
      if (adaptive_ && busy > 0) timeout_ms = std::min<long long>(timeout_ms, 50);
      WaitForWake(api->Socket(), static_cast<int>(timeout_ms));
      api->ReadNotifications();
    } catch (const StartupError&) {
      throw;
    } catch (const std::exception& e) {
      const bool connection_lost = !api || IsConnectionLoss(e);
      if (!acquired_once && !connection_lost) {
        throw StartupError("taskflow.acquire failed: " + OneLine(e.what()));
      }
      api.reset();
      const Milliseconds delay = backoff.Next();
      log::Write(connection_lost ? warn : err,
                 connection_lost ? "database connection lost; reconnecting" : "acquire failed; retrying",
                 {{"component", "producer"}, {"error", OneLine(e.what())}, {"retry_in_ms", delay.count()}});
      SleepUnlessStopping(delay);
    }
  }
}

Clock::time_point Worker::Impl::ReleaseStalled(Clock::time_point now) {
  // A buffer sized for two acquire round trips makes a prefetched job wait about that long
  // anyway (an idle worker would need a round trip to get it too), so the limit is never less
  // than four of them: on a slow or busy server the guard does not fire on ordinary waits.
  const auto round_trips = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(4 * prefetch_control_->RoundTripSeconds()));
  // Nor less than twice the handlers' usual run time: when every job here takes a second, a
  // job waiting half a second for a thread is the normal turn, not a stall.
  const long finished = finished_.load();
  const long long handler_us = handler_us_.load();
  if (finished > seen_finished_) {
    const double mean = static_cast<double>(handler_us - seen_handler_us_) / (finished - seen_finished_);
    mean_handler_us_ = seen_finished_ == 0 ? mean : 0.7 * mean_handler_us_ + 0.3 * mean;
    seen_finished_ = finished;
    seen_handler_us_ = handler_us;
  }
  const auto usual = std::chrono::microseconds(static_cast<long long>(2 * mean_handler_us_));
  const Clock::duration max_wait =
      std::max<Clock::duration>({Clock::duration(options_.prefetch_max_wait), round_trips, usual});
  std::vector<std::shared_ptr<ActiveJob>> stalled;
  Clock::time_point next_due = Clock::time_point::max();
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    // Jobs wait in FIFO order, so the oldest is at the front.
    while (!ready_.empty() && now - ready_.front()->queued_at >= max_wait) {
      stalled.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    if (!ready_.empty()) next_due = ready_.front()->queued_at + max_wait;
  }
  if (stalled.empty()) return next_due;
  // Every handler thread is busy (else one would have taken them): hand them back so another
  // worker runs them now, and prefetch nothing until jobs finish here again.
  prefetch_control_->OnStall(finished_.load(), now);
  prefetch_now_.store(0, std::memory_order_relaxed);
  log::Write(info, "prefetched jobs waited too long behind running jobs; releasing them for other workers",
             {{"component", "producer"}, {"released", stalled.size()},
              {"waited_ms", std::chrono::duration_cast<Milliseconds>(max_wait).count()}});
  for (auto& active : stalled) {
    Report report;
    report.kind = Report::Kind::kRelease;
    report.active = active;
    EnqueueReport(std::move(report));
  }
  busy_.fetch_sub(static_cast<int>(stalled.size()));
  return next_due;
}

// Hands one acquired batch to the pool: one lock for the active table and one for the
// queue, and at most one wake-up per job (fewer when handler threads are already awake).
void Worker::Impl::Dispatch(std::vector<Job> jobs) {
  std::vector<std::shared_ptr<ActiveJob>> batch;
  batch.reserve(jobs.size());
  for (auto& job : jobs) {
    // The sql executor's connection; Impl outlives every job (see ~Worker).
    batch.push_back(std::make_shared<ActiveJob>(
        std::move(job), [this](bool reset) -> pqxx::connection_base& {
          return ThreadConnection(options_.database_url, reset);
        }));
  }
  {
    std::lock_guard<std::mutex> lock(active_mu_);
    for (const auto& active : batch) active_[active->job.id] = active;
  }

  std::vector<std::shared_ptr<ActiveJob>> runnable;
  runnable.reserve(batch.size());
  for (auto& active : batch) {
    if (log::Enabled(debug)) log::Write(debug, "job acquired", log::JobFields(active->job));
    const auto found = handlers_.find(active->job.type);
    active->handler = found != handlers_.end() ? &found->second : (any_handler_ ? &any_handler_ : nullptr);
    if (active->handler != nullptr && active->job.payload_error.empty()) {
      runnable.push_back(std::move(active));
      continue;
    }
    // Catch-all without a handler for this type: the job cannot run here, and
    // retrying it on this worker would not help.
    Report report;
    report.kind = Report::Kind::kFail;
    report.active = active;
    if (!active->job.payload_error.empty()) {
      // A payload no handler can be given (nested too deeply): retrying would not help.
      report.error_type = "payload_too_deep";
      report.error_message = active->job.payload_error;
    } else {
      report.error_type = "no_handler";
      report.error_message = "no handler for job type '" + active->job.type + "' on worker " + options_.worker_id;
    }
    report.retryable = false;
    active->started_at = active->finished_at = Clock::now();
    EnqueueReport(std::move(report));
  }
  if (runnable.empty()) return;
  busy_.fetch_add(static_cast<int>(runnable.size()));
  const auto queued_at = Clock::now();
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (auto& active : runnable) {
      active->queued_at = queued_at;
      ready_.push_back(std::move(active));
    }
  }
  if (runnable.size() >= pool_threads_.size()) {
    pool_cv_.notify_all();
  } else {
    for (size_t i = 0; i < runnable.size(); ++i) pool_cv_.notify_one();
  }
}

void Worker::Impl::PoolLoop() {
  while (true) {
    std::shared_ptr<ActiveJob> active;
    {
      std::unique_lock<std::mutex> lock(pool_mu_);
      pool_cv_.wait(lock, [this] { return pool_exit_ || !ready_.empty(); });
      if (ready_.empty()) return;
      active = std::move(ready_.front());
      ready_.pop_front();
    }
    RunJob(active);
  }
}

void Worker::Impl::RunJob(const std::shared_ptr<ActiveJob>& active) {
  active->started_at = Clock::now();
  if (log::Enabled(debug)) log::Write(debug, "job started", log::JobFields(active->job));
  Outcome outcome;
  try {
    outcome = (*active->handler)(active->job, active->ctx);
  } catch (const std::exception& e) {
    outcome = Outcome::Failed("handler_exception", e.what());
  } catch (...) {
    outcome = Outcome::Failed("handler_exception", "the handler threw a non-standard exception");
  }
  active->finished_at = Clock::now();

  Report report;
  report.active = active;
  if (outcome.kind == Outcome::Kind::kSucceeded) {
    report.kind = Report::Kind::kComplete;
    if (!outcome.result.is_null()) {
      report.result = outcome.result.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
  } else if (outcome.kind == Outcome::Kind::kSnoozed) {
    report.kind = Report::Kind::kSnooze;  // not now: again after the delay, the attempt not counted
    report.snooze_for = outcome.snooze_for;
    report.error_message = outcome.error_message;
  } else if (active->ctx.Reason() == StopReason::kShutdown) {
    report.kind = Report::Kind::kRelease;  // not the job's fault: give the attempt back
  } else {
    report.kind = Report::Kind::kFail;
    report.error_type = outcome.error_type.empty() ? "error" : outcome.error_type;
    report.error_message = outcome.error_message;
    report.retryable = outcome.kind == Outcome::Kind::kCancelled ? false : outcome.retryable;
  }
  EnqueueReport(std::move(report));

  // Wake the producer only when this slot makes WantsJobs() true: a handler thread would
  // idle, or (with prefetch) half the slots are free. busy_ falls by one per finished job,
  // so each of those thresholds is crossed by exactly one decrement; the producer checks
  // WantsJobs() itself before it waits.
  handler_us_.fetch_add(
      std::chrono::duration_cast<std::chrono::microseconds>(active->finished_at - active->started_at).count(),
      std::memory_order_relaxed);
  finished_.fetch_add(1, std::memory_order_relaxed);
  const int busy = busy_.fetch_sub(1) - 1;
  const int slots = Slots();
  if (busy == options_.concurrency - 1 || slots - busy == RefillFree(slots, options_.concurrency)) Wake();
  if (busy == 0) {
    {
      std::lock_guard<std::mutex> lock(pool_mu_);  // Shutdown waits for busy_ == 0 under it
    }
    idle_cv_.notify_all();
  }
}

void Worker::Impl::EnqueueReport(Report report) {
  if (report.active->reported.exchange(true)) return;  // already released at shutdown
  bool notify;
  {
    std::lock_guard<std::mutex> lock(report_mu_);
    reports_.push_back(std::move(report));
    // The Completer sleeps on an empty queue, or gathers until the batch is full.
    notify = reports_.size() == 1 || reports_.size() == kFlushBatch;
  }
  if (notify) report_cv_.notify_one();
}

// Completer: takes everything queued, reports it (completions in one
// complete_many), and retries with the same lease tokens after a lost connection.
void Worker::Impl::CompleterLoop() {
  std::unique_ptr<SqlApi> api;
  Backoff backoff(options_.reconnect_min, options_.reconnect_max);
  while (true) {
    std::vector<Report> batch;
    {
      std::unique_lock<std::mutex> lock(report_mu_);
      report_cv_.wait(lock, [this] { return completer_exit_ || !reports_.empty(); });
      if (reports_.empty()) return;
      // A short wait gathers the outcomes of jobs finishing at about the same time into one
      // statement (and one commit); not while stopping.
      if (options_.completion_flush_interval.count() > 0 && !completer_exit_) {
        report_cv_.wait_for(lock, options_.completion_flush_interval,
                            [this] { return completer_exit_ || reports_.size() >= kFlushBatch; });
      }
      while (!reports_.empty() && batch.size() < kFlushBatch) {
        batch.push_back(std::move(reports_.front()));
        reports_.pop_front();
      }
    }
    bool in_doubt = false;
    while (!batch.empty()) {
      try {
        if (!api) {
          api = std::make_unique<SqlApi>(options_.database_url);
          if (in_doubt) log::Write(info, "database connection restored", {{"component", "completer"}});
        }
        Flush(*api, batch, in_doubt);
        backoff.Reset();
      } catch (const std::exception& e) {
        if (IsTransient(e) && api) {
          // Nothing was applied: send the same outcomes again (the done ones are skipped).
          const Milliseconds delay = backoff.Next();
          log::Write(info, "outcome report hit a deadlock; sending it again",
                     {{"component", "completer"}, {"error", OneLine(e.what())}, {"retry_in_ms", delay.count()}});
          std::this_thread::sleep_for(delay);
          continue;
        }
        if (!IsConnectionLoss(e) && api) {
          // The engine refused a statement: report the rest one by one so one
          // bad item cannot block the others.
          auto bad = std::find_if(batch.begin(), batch.end(), [](const Report& r) { return !r.done; });
          if (bad != batch.end()) {
            log::Fields fields = log::JobFields(bad->active->job);
            fields["report"] = KindName(bad->kind);
            fields["error"] = OneLine(e.what());
            log::Write(err, "outcome rejected by the database; dropping it", fields);
            std::lock_guard<std::mutex> lock(active_mu_);
            active_.erase(bad->active->job.id);
            batch.erase(bad);
            unreported_.fetch_add(1);
          }
          continue;
        }
        api.reset();
        in_doubt = true;
        bool give_up;
        {
          std::lock_guard<std::mutex> lock(report_mu_);
          give_up = Clock::now() >= report_deadline_;
        }
        if (give_up) {
          for (auto& report : batch) {
            log::Fields fields = log::JobFields(report.active->job);
            fields["report"] = KindName(report.kind);
            log::Write(err, "could not report the outcome before exit; the lease will expire and the job be retried",
                       fields);
          }
          unreported_.fetch_add(static_cast<long>(batch.size()));
          batch.clear();
          break;
        }
        const Milliseconds delay = backoff.Next();
        log::Write(warn, "database connection lost; retrying the report with the same lease tokens",
                   {{"component", "completer"}, {"error", OneLine(e.what())}, {"retry_in_ms", delay.count()},
                    {"pending", batch.size()}});
        std::this_thread::sleep_for(delay);
      }
    }
  }
}

void Worker::Impl::Flush(SqlApi& api, std::vector<Report>& batch, bool in_doubt) {
  std::vector<Report*> completes;
  for (auto& report : batch) {
    if (!report.done && report.kind == Report::Kind::kComplete) completes.push_back(&report);
  }
  if (completes.size() > 1) {
    std::vector<Lease> leases;
    std::vector<std::optional<std::string>> results;
    for (Report* report : completes) {
      leases.push_back({report->active->job.id, report->active->job.lease_token});
      results.push_back(report->result);
    }
    long accepted = -1;
    try {
      accepted = api.CompleteMany(leases, results);
    } catch (const pqxx::sql_error& e) {
      if (IsConnectionLoss(e) || IsTransient(e)) throw;
      // One bad result refuses the whole batch: fall back to one by one below.
    }
    if (accepted == static_cast<long>(completes.size())) {
      for (Report* report : completes) Finish(*report, std::string("SUCCEEDED"), in_doubt);
      completes.clear();
    }
    // Otherwise some tokens were stale: ask one by one which. A repeated complete
    // with an accepted token answers SUCCEEDED again, so this changes nothing.
  }
  for (Report* report : completes) {
    const Lease lease{report->active->job.id, report->active->job.lease_token};
    Finish(*report, api.Complete(lease, report->result), in_doubt);
  }
  for (auto& report : batch) {
    if (report.done) continue;
    const Lease lease{report.active->job.id, report.active->job.lease_token};
    if (report.kind == Report::Kind::kFail) {
      Finish(report,
             api.Fail(lease, ValidUtf8(report.error_type), ValidUtf8(report.error_message), report.retryable),
             in_doubt);
    } else if (report.kind == Report::Kind::kRelease) {
      Finish(report, api.Release(lease), in_doubt);
    } else if (report.kind == Report::Kind::kSnooze) {
      Finish(report, api.Snooze(lease, report.snooze_for, ValidUtf8(report.error_message)), in_doubt);
    }
  }
  batch.clear();
}

void Worker::Impl::Finish(Report& report, const std::optional<std::string>& state, bool in_doubt) {
  report.done = true;
  auto& active = *report.active;
  {
    std::lock_guard<std::mutex> lock(active_mu_);
    active_.erase(active.job.id);
  }
  // The job's line; its fields are built only when the level is logged (busy workers run
  // with --log-level warn, and this is the Completer's per-job work).
  spdlog::level::level_enum level;
  const char* message;
  if (!state) {
    const bool unconfirmed = in_doubt && report.kind != Report::Kind::kComplete;
    level = unconfirmed ? info : warn;
    message = unconfirmed ? "outcome not confirmed after reconnecting (the first try was most likely applied)"
                          : "outcome refused: the lease is no longer valid (expired, or another attempt owns the job)";
  } else if (report.kind == Report::Kind::kComplete) {
    level = info;
    message = "job succeeded";
  } else if (report.kind == Report::Kind::kRelease) {
    level = info;
    message = "job released";
  } else if (report.kind == Report::Kind::kSnooze && *state == "SCHEDULED") {
    level = info;
    message = "job snoozed";
  } else {
    const bool cancelled = *state == "CANCELLED";
    level = cancelled ? info : warn;
    message = cancelled ? "job cancelled" : "job failed";
  }
  if (!log::Enabled(level)) return;
  log::Fields fields = log::JobFields(active.job);
  fields["duration_ms"] = active.started_at == Clock::time_point{} ? 0
                                                                   : MillisecondsBetween(active.started_at,
                                                                                         active.finished_at);
  if (!state) {
    fields["report"] = KindName(report.kind);
  } else {
    fields["state"] = *state;
    if (report.kind == Report::Kind::kSnooze) {
      fields["snooze_ms"] = report.snooze_for.count();
      fields["reason"] = report.error_message;
    }
    if (report.kind == Report::Kind::kFail) {
      fields["error_type"] = report.error_type;
      fields["error_message"] = report.error_message;
      fields["retryable"] = report.retryable;
    }
  }
  log::Write(level, message, fields);
}

std::vector<std::shared_ptr<ActiveJob>> Worker::Impl::ActiveSnapshot() {
  std::lock_guard<std::mutex> lock(active_mu_);
  std::vector<std::shared_ptr<ActiveJob>> out;
  out.reserve(active_.size());
  for (const auto& entry : active_) out.push_back(entry.second);
  return out;
}

// Heartbeater: every interval, one statement extends every running job's lease
// and tells which were cancelled or lost.
void Worker::Impl::HeartbeatLoop() {
  std::unique_ptr<SqlApi> api;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(heartbeat_mu_);
      if (heartbeat_cv_.wait_for(lock, options_.heartbeat_interval, [this] { return heartbeat_exit_; })) return;
    }
    std::vector<std::shared_ptr<ActiveJob>> running;
    for (auto& active : ActiveSnapshot()) {
      if (!active->reported.load()) running.push_back(std::move(active));
    }
    if (running.empty()) continue;
    std::vector<Lease> leases;
    std::unordered_map<std::int64_t, std::shared_ptr<ActiveJob>> by_id;
    for (auto& active : running) {
      leases.push_back({active->job.id, active->job.lease_token});
      by_id[active->job.id] = active;
    }
    try {
      if (!api) api = std::make_unique<SqlApi>(options_.database_url);
      for (const auto& [job_id, answer] : api->Heartbeat(leases, options_.lease)) {
        const auto found = by_id.find(job_id);
        if (found == by_id.end() || answer == "ok") continue;
        ActiveJob& active = *found->second;
        if (active.reported.load() || active.ctx.StopRequested()) continue;
        log::Fields fields = log::JobFields(active.job);
        if (answer == "cancel_requested") {
          log::Write(info, "cancel requested; stopping the handler", fields);
          active.ctx.RequestStop(StopReason::kCancelRequested);
        } else {
          log::Write(warn, "lease lost; stopping the handler", fields);
          active.ctx.RequestStop(StopReason::kLeaseLost);
        }
      }
    } catch (const std::exception& e) {
      if (IsConnectionLoss(e) || !api) api.reset();
      log::Write(warn, "heartbeat failed", {{"component", "heartbeater"}, {"error", OneLine(e.what())}});
    }
  }
}

bool Worker::Impl::Shutdown() {
  // Jobs handed to the pool but not started: give them back at once.
  std::deque<std::shared_ptr<ActiveJob>> not_started;
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    not_started.swap(ready_);
  }
  for (auto& active : not_started) {
    Report report;
    report.kind = Report::Kind::kRelease;
    report.active = active;
    EnqueueReport(std::move(report));
    busy_.fetch_sub(1);
  }

  const auto grace_end = Clock::now() + options_.shutdown_grace;
  if (busy_.load() > 0) {
    log::Write(info, "stopping: waiting for running jobs",
               {{"running", busy_.load()}, {"grace_ms", options_.shutdown_grace.count()}});
  }
  {
    std::unique_lock<std::mutex> lock(pool_mu_);
    idle_cv_.wait_until(lock, grace_end, [this] { return busy_.load() == 0; });
  }
  if (busy_.load() > 0) {
    log::Write(warn, "grace period over: stopping the running jobs and releasing them", {{"running", busy_.load()}});
    for (auto& active : ActiveSnapshot()) {
      if (!active->reported.load()) active->ctx.RequestStop(StopReason::kShutdown);
    }
    // Handlers honour a stop quickly; a command gets its SIGTERM -> SIGKILL grace.
    std::unique_lock<std::mutex> lock(pool_mu_);
    idle_cv_.wait_for(lock, Milliseconds(10000), [this] { return busy_.load() == 0; });
  }
  if (busy_.load() > 0) {
    // A handler that ignores stop requests: release its job anyway, leave its thread behind.
    for (auto& active : ActiveSnapshot()) {
      Report report;
      report.kind = Report::Kind::kRelease;
      report.active = active;
      EnqueueReport(std::move(report));
    }
    detached_threads_ = true;
  }

  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_exit_ = true;
  }
  pool_cv_.notify_all();
  for (auto& thread : pool_threads_) {
    if (detached_threads_) thread.detach();
    else thread.join();
  }
  pool_threads_.clear();

  {
    std::lock_guard<std::mutex> lock(report_mu_);
    completer_exit_ = true;
    report_deadline_ = Clock::now() + std::max(options_.shutdown_grace, Milliseconds(10000));
  }
  report_cv_.notify_all();
  if (completer_.joinable()) completer_.join();
  {
    std::lock_guard<std::mutex> lock(heartbeat_mu_);
    heartbeat_exit_ = true;
  }
  heartbeat_cv_.notify_all();
  if (heartbeater_.joinable()) heartbeater_.join();

  const long unreported = unreported_.load();
  log::Write(info, "worker stopped", {{"unreported", unreported}});
  return unreported == 0;
}

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Worker::~Worker() {
  // Threads stuck in a handler that ignored its stop request still use Impl.
  if (impl_ && impl_->detached_threads()) impl_.release();
}

Worker& Worker::On(const std::string& job_type, Handler handler) {
  impl_->handlers_[job_type] = std::move(handler);
  return *this;
}

Worker& Worker::OnAny(Handler handler) {
  impl_->any_handler_ = std::move(handler);
  return *this;
}

bool Worker::Run() { return impl_->Run(); }

void Worker::Stop() { impl_->Stop(); }

const WorkerOptions& Worker::options() const { return impl_->options_; }

}  // namespace taskflow
