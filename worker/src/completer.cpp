#include "completer.hpp"

#include <algorithm>
#include <stdexcept>

#include "backoff.hpp"
#include "log.hpp"
#include "pg_array.hpp"

namespace taskflow {
namespace {

using spdlog::level::err;
using spdlog::level::info;
using spdlog::level::warn;

}  // namespace

void CompleterOptions::Validate() const {
  if (flush_interval.count() < 0) {
    throw std::invalid_argument(
        "completion_flush_interval (--completion-flush-interval) must not be negative");
  }
  if (max_batch < 1) throw std::invalid_argument("the Completer's max_batch must be at least 1");
  if (retry_min.count() <= 0)
    throw std::invalid_argument("reconnect_min must be greater than zero");
  if (retry_max < retry_min)
    throw std::invalid_argument("reconnect_max must not be less than reconnect_min");
}

Completer::Completer(CompleterOptions options, StoreFactory connect, ActiveJobs& jobs)
    : options_(std::move(options)), connect_(std::move(connect)), jobs_(jobs) {
  options_.Validate();
}

Completer::~Completer() {
  if (thread_.joinable()) Stop(Milliseconds(0));
}

void Completer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Completer::Enqueue(Report report) {
  if (report.active->reported.exchange(true)) return;  // already released at shutdown
  bool notify;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(report));
    // The thread sleeps on an empty queue, or gathers until the batch is full.
    notify = queue_.size() == 1 || queue_.size() == options_.max_batch;
  }
  if (notify) cv_.notify_one();
}

void Completer::Stop(Milliseconds give_up_after) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exit_ = true;
    give_up_at_ = Clock::now() + give_up_after;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

// Takes everything queued, reports it (completions in one complete_many), and retries with the
// same lease tokens after a lost connection.
void Completer::Loop() {
  std::unique_ptr<JobStore> store;
  Backoff backoff(options_.retry_min, options_.retry_max);
  while (true) {
    std::vector<Report> batch = NextBatch();
    if (batch.empty()) return;
    bool in_doubt = false;
    while (!batch.empty()) {
      try {
        if (!store) {
          store = connect_();
          if (in_doubt)
            log::Write(info, "database connection restored", {{"component", "completer"}});
        }
        Flush(*store, batch, in_doubt);
        backoff.Reset();
      } catch (const std::exception& e) {
        if (IsTransient(e) && store) {
          // Nothing was applied: send the same outcomes again (the done ones are skipped).
          const Milliseconds delay = backoff.Next();
          log::Write(info, "outcome report hit a deadlock; sending it again",
                     {{"component", "completer"},
                      {"error", OneLine(e.what())},
                      {"retry_in_ms", delay.count()}});
          std::this_thread::sleep_for(delay);
          continue;
        }
        if (!IsConnectionLoss(e) && store) {
          DropRejected(batch, e);
          continue;
        }
        store.reset();
        in_doubt = true;
        if (GiveUpIfDue(batch)) break;
        const Milliseconds delay = backoff.Next();
        log::Write(warn, "database connection lost; retrying the report with the same lease tokens",
                   {{"component", "completer"},
                    {"error", OneLine(e.what())},
                    {"retry_in_ms", delay.count()},
                    {"pending", batch.size()}});
        std::this_thread::sleep_for(delay);
      }
    }
  }
}

std::vector<Report> Completer::NextBatch() {
  std::vector<Report> batch;
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return exit_ || !queue_.empty(); });
  if (queue_.empty()) return batch;
  // A short wait gathers the outcomes of jobs finishing at about the same time into one
  // statement (and one commit); not while stopping.
  if (options_.flush_interval.count() > 0 && !exit_) {
    cv_.wait_for(lock, options_.flush_interval,
                 [this] { return exit_ || queue_.size() >= options_.max_batch; });
  }
  while (!queue_.empty() && batch.size() < options_.max_batch) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return batch;
}

void Completer::DropRejected(std::vector<Report>& batch, const std::exception& e) {
  auto bad = std::find_if(batch.begin(), batch.end(), [](const Report& r) { return !r.done; });
  if (bad == batch.end()) return;
  log::Fields fields = log::JobFields(bad->active->job);
  fields["report"] = KindName(bad->kind);
  fields["error"] = OneLine(e.what());
  log::Write(err, "outcome rejected by the database; dropping it", fields);
  jobs_.Remove(bad->active->job.id);
  batch.erase(bad);
  unreported_.fetch_add(1);
}

bool Completer::GiveUpIfDue(std::vector<Report>& batch) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (Clock::now() < give_up_at_) return false;
  }
  for (auto& report : batch) {
    log::Fields fields = log::JobFields(report.active->job);
    fields["report"] = KindName(report.kind);
    log::Write(
        err,
        "could not report the outcome before exit; the lease will expire and the job be retried",
        fields);
  }
  unreported_.fetch_add(static_cast<long>(batch.size()));
  batch.clear();
  return true;
}

void Completer::Flush(JobStore& store, std::vector<Report>& batch, bool in_doubt) {
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
      accepted = store.CompleteMany(leases, results);
    } catch (const StoreError& e) {
      if (e.kind() != StoreError::Kind::kRejected) throw;
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
    Finish(*report, store.Complete(lease, report->result), in_doubt);
  }
  for (auto& report : batch) {
    if (report.done) continue;
    const Lease lease{report.active->job.id, report.active->job.lease_token};
    if (report.kind == Report::Kind::kFail) {
      Finish(report,
             store.Fail(lease, ValidUtf8(report.error_type), ValidUtf8(report.error_message),
                        report.retryable),
             in_doubt);
    } else if (report.kind == Report::Kind::kRelease) {
      Finish(report, store.Release(lease), in_doubt);
    } else if (report.kind == Report::Kind::kSnooze) {
      Finish(report, store.Snooze(lease, report.snooze_for, ValidUtf8(report.error_message)),
             in_doubt);
    }
  }
  batch.clear();
}

void Completer::Finish(Report& report, const std::optional<std::string>& state, bool in_doubt) {
  report.done = true;
  auto& active = *report.active;
  jobs_.Remove(active.job.id);
  // The job's line; its fields are built only when the level is logged (busy workers run
  // with --log-level warn, and this is the Completer's per-job work).
  spdlog::level::level_enum level;
  const char* message;
  if (!state) {
    const bool unconfirmed = in_doubt && report.kind != Report::Kind::kComplete;
    level = unconfirmed ? info : warn;
    message =
        unconfirmed
            ? "outcome not confirmed after reconnecting (the first try was most likely applied)"
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
  fields["duration_ms"] = active.started_at == Clock::time_point{}
                              ? 0
                              : MillisecondsBetween(active.started_at, active.finished_at);
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

}  // namespace taskflow
