// ExecutorPool: `concurrency` handler threads and the queue of jobs handed to them (the
// prefetch buffer while every thread is busy). A thread takes the oldest job, runs its handler,
// turns the Outcome into a Report for the Completer and tells the Producer (on_finished), which
// decides whether to acquire again. The pool counts as busy every job handed to it whose handler
// has not returned, started or not: the Producer's slots.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "active_job.hpp"
#include "completer.hpp"

namespace taskflow {

struct ExecutorPoolOptions {
  // Handler threads: jobs run at once (WorkerOptions::concurrency, --concurrency), 1 to 4096.
  int concurrency = 10;
  static constexpr int kMaxConcurrency = 4096;

  // Throws std::invalid_argument naming the option when a value is out of range.
  void Validate() const;
};

class ExecutorPool {
 public:
  // on_finished(busy): a handler returned and its outcome is queued; `busy` jobs are left.
  ExecutorPool(ExecutorPoolOptions options, Completer& completer,
               std::function<void(int busy)> on_finished);
  ~ExecutorPool();
  ExecutorPool(const ExecutorPool&) = delete;
  ExecutorPool& operator=(const ExecutorPool&) = delete;

  void Start();
  int concurrency() const { return options_.concurrency; }

  // Queues jobs whose handler is set; they count as busy at once.
  void Submit(std::vector<std::shared_ptr<ActiveJob>> jobs);
  int busy() const { return busy_.load(); }
  // Handlers returned so far, and their run time summed (for the adaptive prefetch).
  long finished() const { return finished_.load(std::memory_order_relaxed); }
  long long handler_microseconds() const { return handler_us_.load(std::memory_order_relaxed); }

  // Takes the queued jobs (not started) that waited at least `max_wait` at `now`, oldest first;
  // *next_due: when the next one will have (max() when none waits). They are no longer busy.
  std::vector<std::shared_ptr<ActiveJob>> TakeWaiting(Clock::time_point now,
                                                      Clock::duration max_wait,
                                                      Clock::time_point* next_due);
  // Takes every queued job (not started). They are no longer busy.
  std::vector<std::shared_ptr<ActiveJob>> TakeNotStarted();
  // Waits until no job is busy or `until`; true when none is.
  bool WaitIdle(Clock::time_point until);
  // Ends the threads once their handlers return; detach: leave them behind (a handler that
  // ignores its stop request), they then still use this pool.
  void Join(bool detach);

  // The Report of a handler's Outcome: a handler stopped by the shutdown releases its job.
  static Report ReportOf(const std::shared_ptr<ActiveJob>& active, Outcome outcome);

 private:
  void Loop();
  void Run(const std::shared_ptr<ActiveJob>& active);

  const ExecutorPoolOptions options_;
  Completer& completer_;
  const std::function<void(int)> on_finished_;
  mutable std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::shared_ptr<ActiveJob>> ready_;
  bool exit_ = false;
  std::atomic<int> busy_{0};
  std::atomic<long> finished_{0};
  std::atomic<long long> handler_us_{0};
  std::vector<std::thread> threads_;
};

}  // namespace taskflow
