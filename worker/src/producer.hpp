// Producer: acquires jobs for the ExecutorPool, never more than its free slots. It LISTENs on
// each queue's channel and acquires when a NOTIFY arrived, the previous batch was full, a slot
// freed after a full batch, or poll_interval passed (NOTIFY is only a hint). Slots are handler
// threads plus the prefetch buffer: fixed, or (the default) adapted to the measured throughput,
// with prefetched jobs that wait too long released for other workers. It hands acquired jobs
// to the pool, or fails those no handler here can run (no handler, a payload nested too deeply)
// through the Completer. Its own database session; after a lost connection it reconnects with
// capped exponential backoff. River's producer fetches the same way (up to its free slots).
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "active_job.hpp"
#include "adaptive_prefetch.hpp"
#include "completer.hpp"
#include "executor_pool.hpp"
#include "job_store.hpp"

namespace taskflow {

struct ProducerOptions {
  std::vector<std::string> queues{"default"};  // at least one (--queue)
  std::string worker_id;             // recorded on each attempt; empty: host:pid (--worker-id)
  Milliseconds lease{30000};         // requested per acquisition (--lease)
  Milliseconds poll_interval{1000};  // acquire at least this often without NOTIFY (--poll-interval)
  int acquire_batch = 0;             // most jobs per acquire; 0: the free slots (--batch)
  // Jobs acquired ahead of a free handler thread: kPrefetchAuto (adaptive, the default), 0 (none)
  // or a fixed number up to kMaxPrefetch (--prefetch).
  static constexpr int kPrefetchAuto = -1;
  static constexpr int kMaxPrefetch = 100000;
  int prefetch = kPrefetchAuto;
  int prefetch_max = 0;  // auto's ceiling; 0: 8 x concurrency, at most 1000 (--prefetch-max)
  Milliseconds prefetch_max_wait{
      100};  // auto: a prefetched job waits at most this long (--prefetch-max-wait)
  // Acquisitions wait for the WAL flush (synchronous_commit on in the Producer's session).
  // false (the default): they do not; a server crash can forget the last moments'
  // acquisitions, whose jobs then run again (--durable-acquire).
  bool durable_acquire = false;
  Milliseconds reconnect_min{100};   // reconnect backoff: first delay
  Milliseconds reconnect_max{5000};  // reconnect backoff: cap

  // auto's ceiling for a pool of `concurrency` threads.
  int PrefetchCeiling(int concurrency) const;
  // Throws std::invalid_argument naming the option when a value is out of range.
  void Validate() const;
};

class Producer {
 public:
  // The handler of a job type, or nullptr when there is none here.
  using HandlerLookup = std::function<const Handler*(const std::string& job_type)>;

  // job_types: what acquire() asks for; nullopt: every type (catch-all). sql_provider: the
  // JobContext::Sql() of each job (nullptr: none).
  Producer(ProducerOptions options, std::optional<std::vector<std::string>> job_types,
           ExecutorPool& pool, Completer& completer, ActiveJobs& jobs, HandlerLookup handlers,
           JobContext::SqlProvider sql_provider);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Acquires until Stop(), on `store` (connected and LISTENing), reconnecting with `connect`
  // after a lost connection. Throws StartupError when the first acquire is refused (e.g. an
  // unknown queue).
  void Run(std::unique_ptr<JobStore> store, const StoreFactory& connect);
  // Thread-safe; Run() returns soon after.
  void Stop();
  bool stopping() const { return stopping_.load(); }
  // The flag a store's Listen() sets on a NOTIFY (for the first store, made before Run()).
  std::atomic<bool>& notified() { return notified_; }
  // The pool's on_finished: wakes Run() when this slot makes it want jobs again.
  void OnHandlerFinished(int busy);

  // Slots: handler threads plus the prefetch buffer (fixed, or the adaptive target).
  int Slots() const { return pool_.concurrency() + prefetch_now_.load(std::memory_order_relaxed); }
  // Whether to acquire with `busy` slots taken: at once when a handler thread would otherwise
  // idle, else once half the slots are free (with a prefetch buffer; so a busy worker acquires
  // in batches instead of one job per finished handler).
  bool WantsJobs(int busy) const;

 private:
  static int RefillFree(int slots, int concurrency) {
    return slots > concurrency ? std::max(1, slots / 2) : 1;
  }
  void Wake();
  void WaitForWake(int socket, int timeout_ms);
  void SleepUnlessStopping(Milliseconds duration);
  Clock::time_point ReleaseStalled(Clock::time_point now);
  void Dispatch(std::vector<Job> jobs);

  const ProducerOptions options_;
  const std::optional<std::vector<std::string>> job_types_;
  ExecutorPool& pool_;
  Completer& completer_;
  ActiveJobs& jobs_;
  const HandlerLookup handlers_;
  const JobContext::SqlProvider sql_provider_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> notified_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  int wake_fd_ = -1;

  const bool adaptive_;
  std::atomic<int> prefetch_now_{0};  // the prefetch in force: fixed, or the adaptive target
  std::unique_ptr<AdaptivePrefetch> prefetch_control_;  // Run()'s thread only
  long seen_finished_ = 0;  // ReleaseStalled's last look (Run()'s thread only)
  long long seen_handler_us_ = 0;
  double mean_handler_us_ = 0;  // handlers' usual run time, averaged
};

}  // namespace taskflow
