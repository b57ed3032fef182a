#include "executor_pool.hpp"

#include <stdexcept>

#include "log.hpp"

namespace taskflow {

void ExecutorPoolOptions::Validate() const {
  if (concurrency < 1 || concurrency > kMaxConcurrency) {
    throw std::invalid_argument("concurrency (--concurrency) must be from 1 to " +
                                std::to_string(kMaxConcurrency));
  }
}

ExecutorPool::ExecutorPool(ExecutorPoolOptions options, Completer& completer,
                           std::function<void(int)> on_finished)
    : options_(std::move(options)), completer_(completer), on_finished_(std::move(on_finished)) {
  options_.Validate();
}

ExecutorPool::~ExecutorPool() {
  if (!threads_.empty()) Join(false);
}

void ExecutorPool::Start() {
  for (int i = 0; i < options_.concurrency; ++i) threads_.emplace_back([this] { Loop(); });
}

// One lock for the queue, and at most one wake-up per job (fewer when handler threads are
// already awake).
void ExecutorPool::Submit(std::vector<std::shared_ptr<ActiveJob>> jobs) {
  if (jobs.empty()) return;
  busy_.fetch_add(static_cast<int>(jobs.size()));
  const auto queued_at = Clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& active : jobs) {
      active->queued_at = queued_at;
      ready_.push_back(std::move(active));
    }
  }
  if (jobs.size() >= static_cast<size_t>(options_.concurrency)) {
    work_cv_.notify_all();
  } else {
    for (size_t i = 0; i < jobs.size(); ++i) work_cv_.notify_one();
  }
}

std::vector<std::shared_ptr<ActiveJob>> ExecutorPool::TakeWaiting(Clock::time_point now,
                                                                  Clock::duration max_wait,
                                                                  Clock::time_point* next_due) {
  std::vector<std::shared_ptr<ActiveJob>> taken;
  *next_due = Clock::time_point::max();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    // Jobs wait in FIFO order, so the oldest is at the front.
    while (!ready_.empty() && now - ready_.front()->queued_at >= max_wait) {
      taken.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    if (!ready_.empty()) *next_due = ready_.front()->queued_at + max_wait;
  }
  busy_.fetch_sub(static_cast<int>(taken.size()));
  return taken;
}

std::vector<std::shared_ptr<ActiveJob>> ExecutorPool::TakeNotStarted() {
  std::deque<std::shared_ptr<ActiveJob>> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready.swap(ready_);
  }
  busy_.fetch_sub(static_cast<int>(ready.size()));
  return {std::make_move_iterator(ready.begin()), std::make_move_iterator(ready.end())};
}

bool ExecutorPool::WaitIdle(Clock::time_point until) {
  std::unique_lock<std::mutex> lock(mutex_);
  return idle_cv_.wait_until(lock, until, [this] { return busy_.load() == 0; });
}

void ExecutorPool::Join(bool detach) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exit_ = true;
  }
  work_cv_.notify_all();
  for (auto& thread : threads_) {
    if (detach)
      thread.detach();
    else
      thread.join();
  }
  threads_.clear();
}

void ExecutorPool::Loop() {
  while (true) {
    std::shared_ptr<ActiveJob> active;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [this] { return exit_ || !ready_.empty(); });
      if (ready_.empty()) return;
      active = std::move(ready_.front());
      ready_.pop_front();
    }
    Run(active);
  }
}

Report ExecutorPool::ReportOf(const std::shared_ptr<ActiveJob>& active, Outcome outcome) {
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
    report.error_message = std::move(outcome.error_message);
  } else if (active->ctx.Reason() == StopReason::kShutdown) {
    report.kind = Report::Kind::kRelease;  // not the job's fault: give the attempt back
  } else {
    report.kind = Report::Kind::kFail;
    report.error_type = outcome.error_type.empty() ? "error" : std::move(outcome.error_type);
    report.error_message = std::move(outcome.error_message);
    report.retryable = outcome.kind == Outcome::Kind::kCancelled ? false : outcome.retryable;
  }
  return report;
}

void ExecutorPool::Run(const std::shared_ptr<ActiveJob>& active) {
  active->started_at = Clock::now();
  if (log::Enabled(spdlog::level::debug))
    log::Write(spdlog::level::debug, "job started", log::JobFields(active->job));
  Outcome outcome;
  try {
    outcome = (*active->handler)(active->job, active->ctx);
  } catch (const std::exception& e) {
    outcome = Outcome::Failed("handler_exception", e.what());
  } catch (...) {
    outcome = Outcome::Failed("handler_exception", "the handler threw a non-standard exception");
  }
  active->finished_at = Clock::now();
  Report report = ReportOf(active, std::move(outcome));
  // Logged before the slot is freed: a reader of the debug log (test/t/worker_prefetch.t)
  // counts the jobs a worker holds from its "job acquired" and "job finished" lines.
  if (log::Enabled(spdlog::level::debug)) {
    log::Fields fields = log::JobFields(active->job);
    fields["report"] = KindName(report.kind);
    log::Write(spdlog::level::debug, "job finished", fields);
  }
  completer_.Enqueue(std::move(report));

  handler_us_.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(active->finished_at -
                                                                              active->started_at)
                            .count(),
                        std::memory_order_relaxed);
  finished_.fetch_add(1, std::memory_order_relaxed);
  const int busy = busy_.fetch_sub(1) - 1;
  if (on_finished_) on_finished_(busy);
  if (busy == 0) {
    {
      std::lock_guard<std::mutex> lock(mutex_);  // WaitIdle waits for busy_ == 0 under it
    }
    idle_cv_.notify_all();
  }
}

}  // namespace taskflow
