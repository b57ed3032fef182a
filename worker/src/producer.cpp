#include "producer.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>
#include <system_error>

#include "backoff.hpp"
#include "log.hpp"

namespace taskflow {
namespace {

using spdlog::level::debug;
using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

}  // namespace

int ProducerOptions::PrefetchCeiling(int concurrency) const {
  return prefetch_max > 0 ? prefetch_max : std::min(1000, 8 * concurrency);
}

void ProducerOptions::Validate() const {
  if (queues.empty()) throw std::invalid_argument("queues (--queue): at least one queue is needed");
  for (const auto& queue : queues) {
    if (queue.empty())
      throw std::invalid_argument("queues (--queue): a queue name must not be empty");
  }
  if (lease.count() <= 0) throw std::invalid_argument("lease (--lease) must be greater than zero");
  if (poll_interval.count() <= 0)
    throw std::invalid_argument("poll_interval (--poll-interval) must be greater than zero");
  if (acquire_batch < 0)
    throw std::invalid_argument("acquire_batch (--batch) must not be negative (0: the free slots)");
  if (prefetch < kPrefetchAuto || prefetch > kMaxPrefetch) {
    throw std::invalid_argument("prefetch (--prefetch) must be auto or a number from 0 to " +
                                std::to_string(kMaxPrefetch));
  }
  if (prefetch_max < 0 || prefetch_max > kMaxPrefetch) {
    throw std::invalid_argument("prefetch_max (--prefetch-max) must be from 0 to " +
                                std::to_string(kMaxPrefetch) +
                                " (0: 8 x concurrency, at most 1000)");
  }
  if (prefetch_max_wait.count() <= 0) {
    throw std::invalid_argument(
        "prefetch_max_wait (--prefetch-max-wait) must be greater than zero");
  }
  if (reconnect_min.count() <= 0)
    throw std::invalid_argument("reconnect_min must be greater than zero");
  if (reconnect_max < reconnect_min)
    throw std::invalid_argument("reconnect_max must not be less than reconnect_min");
}

Producer::Producer(ProducerOptions options, std::optional<std::vector<std::string>> job_types,
                   ExecutorPool& pool, Completer& completer, ActiveJobs& jobs,
                   HandlerLookup handlers, JobContext::SqlProvider sql_provider)
    : options_(std::move(options)),
      job_types_(std::move(job_types)),
      pool_(pool),
      completer_(completer),
      jobs_(jobs),
      handlers_(std::move(handlers)),
      sql_provider_(std::move(sql_provider)),
      adaptive_(options_.prefetch == ProducerOptions::kPrefetchAuto) {
  options_.Validate();
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  if (adaptive_) {
    prefetch_control_ =
        std::make_unique<AdaptivePrefetch>(options_.PrefetchCeiling(pool_.concurrency()));
    prefetch_now_.store(0);
  } else {
    prefetch_now_.store(options_.prefetch);
  }
}

Producer::~Producer() { close(wake_fd_); }

void Producer::Stop() {
  stopping_.store(true);
  { std::lock_guard<std::mutex> lock(stop_mu_); }
  stop_cv_.notify_all();
  Wake();
}

bool Producer::WantsJobs(int busy) const {
  const int slots = Slots();
  return busy < pool_.concurrency() || slots - busy >= RefillFree(slots, pool_.concurrency());
}

// Wakes Run() only when this slot makes WantsJobs() true: a handler thread would idle, or
// (with prefetch) half the slots are free. busy falls by one per finished job, so each of
// those thresholds is crossed by exactly one decrement; Run() checks WantsJobs() itself before
// it waits.
void Producer::OnHandlerFinished(int busy) {
  const int slots = Slots();
  if (busy == pool_.concurrency() - 1 || slots - busy == RefillFree(slots, pool_.concurrency()))
    Wake();
}

void Producer::Wake() {
  const std::uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
}

void Producer::SleepUnlessStopping(Milliseconds duration) {
  std::unique_lock<std::mutex> lock(stop_mu_);
  stop_cv_.wait_for(lock, duration, [this] { return stopping_.load(); });
}

void Producer::WaitForWake(int socket, int timeout_ms) {
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {socket, POLLIN, 0}};
  const int ready = poll(fds, socket >= 0 ? 2 : 1, std::max(0, timeout_ms));
  if (ready > 0 && (fds[0].revents & POLLIN)) {
    std::uint64_t value;
    ssize_t ignored = read(wake_fd_, &value, sizeof value);
    (void)ignored;
  }
}

void Producer::Run(std::unique_ptr<JobStore> store, const StoreFactory& connect) {
  Backoff backoff(options_.reconnect_min, options_.reconnect_max);
  bool maybe_more = true;
  bool acquired_once = false;
  bool session_set = false;  // SetSynchronousCommit done on this store
  auto next_poll = Clock::now();
  while (!stopping_.load()) {
    try {
      if (!store) {
        store = connect();
        session_set = false;
        store->Listen(options_.queues, notified_);
        log::Write(info, "database connection restored", {{"component", "producer"}});
        backoff.Reset();
        maybe_more = true;
      }
      if (!session_set) {
        store->SetSynchronousCommit(options_.durable_acquire);
        session_set = true;
      }
      if (notified_.exchange(false)) maybe_more = true;
      auto now = Clock::now();
      Clock::time_point stall_due = Clock::time_point::max();
      if (adaptive_) {
        stall_due = ReleaseStalled(now);
        prefetch_control_->Observe(pool_.finished(), now);
        prefetch_now_.store(prefetch_control_->Target(), std::memory_order_relaxed);
      }
      // Slots: handler threads plus the prefetch buffer; the pool's busy counts both.
      const int busy = pool_.busy();
      const bool wants = WantsJobs(busy);
      if (wants && (maybe_more || now >= next_poll)) {
        int want = Slots() - busy;
        if (options_.acquire_batch > 0) want = std::min(want, options_.acquire_batch);
        const auto asked_at = Clock::now();
        std::vector<Job> jobs =
            store->Acquire(options_.worker_id, options_.queues, want, options_.lease, job_types_);
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
        timeout_ms =
            std::min(timeout_ms, std::max<long long>(0, MillisecondsBetween(now, stall_due)) + 1);
      }
      // Adaptive: look at the rate again soon while handlers run, so the target follows it.
      if (adaptive_ && busy > 0) timeout_ms = std::min<long long>(timeout_ms, 50);
      WaitForWake(store->Socket(), static_cast<int>(timeout_ms));
      store->ReadNotifications();
    } catch (const StartupError&) {
      throw;
    } catch (const std::exception& e) {
      const bool connection_lost = !store || IsConnectionLoss(e);
      if (!acquired_once && !connection_lost) {
        throw StartupError("taskflow.acquire failed: " + OneLine(e.what()));
      }
      store.reset();
      const Milliseconds delay = backoff.Next();
      log::Write(
          connection_lost ? warn : err,
          connection_lost ? "database connection lost; reconnecting" : "acquire failed; retrying",
          {{"component", "producer"},
           {"error", OneLine(e.what())},
           {"retry_in_ms", delay.count()}});
      SleepUnlessStopping(delay);
    }
  }
}

Clock::time_point Producer::ReleaseStalled(Clock::time_point now) {
  // A buffer sized for two acquire round trips makes a prefetched job wait about that long
  // anyway (an idle worker would need a round trip to get it too), so the limit is never less
  // than four of them: on a slow or busy server the guard does not fire on ordinary waits.
  const auto round_trips = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(4 * prefetch_control_->RoundTripSeconds()));
  // Nor less than twice the handlers' usual run time: when every job here takes a second, a
  // job waiting half a second for a thread is the normal turn, not a stall.
  const long finished = pool_.finished();
  const long long handler_us = pool_.handler_microseconds();
  if (finished > seen_finished_) {
    const double mean =
        static_cast<double>(handler_us - seen_handler_us_) / (finished - seen_finished_);
    mean_handler_us_ = seen_finished_ == 0 ? mean : 0.7 * mean_handler_us_ + 0.3 * mean;
    seen_finished_ = finished;
    seen_handler_us_ = handler_us;
  }
  const auto usual = std::chrono::microseconds(static_cast<long long>(2 * mean_handler_us_));
  const Clock::duration max_wait =
      std::max<Clock::duration>({Clock::duration(options_.prefetch_max_wait), round_trips, usual});
  Clock::time_point next_due;
  std::vector<std::shared_ptr<ActiveJob>> stalled = pool_.TakeWaiting(now, max_wait, &next_due);
  if (stalled.empty()) return next_due;
  // Every handler thread is busy (else one would have taken them): hand them back so another
  // worker runs them now, and prefetch nothing until jobs finish here again.
  prefetch_control_->OnStall(pool_.finished(), now);
  prefetch_now_.store(0, std::memory_order_relaxed);
  log::Write(
      info, "prefetched jobs waited too long behind running jobs; releasing them for other workers",
      {{"component", "producer"},
       {"released", stalled.size()},
       {"waited_ms", std::chrono::duration_cast<Milliseconds>(max_wait).count()}});
  for (auto& active : stalled) completer_.Enqueue(Report::Release(active));
  return next_due;
}

// Hands one acquired batch to the pool: one lock for the active table and one for the pool's
// queue. A job no handler here can run fails at once, not retryable.
void Producer::Dispatch(std::vector<Job> jobs) {
  std::vector<std::shared_ptr<ActiveJob>> batch;
  batch.reserve(jobs.size());
  for (auto& job : jobs)
    batch.push_back(std::make_shared<ActiveJob>(std::move(job), sql_provider_));
  jobs_.Add(batch);

  std::vector<std::shared_ptr<ActiveJob>> runnable;
  runnable.reserve(batch.size());
  for (auto& active : batch) {
    if (log::Enabled(debug)) log::Write(debug, "job acquired", log::JobFields(active->job));
    active->handler = handlers_ ? handlers_(active->job.type) : nullptr;
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
      report.error_message =
          "no handler for job type '" + active->job.type + "' on worker " + options_.worker_id;
    }
    report.retryable = false;
    active->started_at = active->finished_at = Clock::now();
    completer_.Enqueue(std::move(report));
  }
  pool_.Submit(std::move(runnable));
}

}  // namespace taskflow
