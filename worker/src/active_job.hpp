// What the worker's parts hand each other: an ActiveJob (one acquired attempt, from the
// Producer's acquire until the Completer committed its outcome), the Report of its outcome, and
// ActiveJobs, the table of the attempts this worker holds (the Heartbeater extends their leases).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <taskflow/worker.hpp>

namespace taskflow {

using Clock = std::chrono::steady_clock;

// Whole milliseconds from `from` to `to` (negative when `to` is earlier).
inline long long MillisecondsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(to - from).count();
}

struct ActiveJob {
  explicit ActiveJob(Job j, JobContext::SqlProvider sql = nullptr)
      : job(std::move(j)), ctx(std::move(sql)) {}
  Job job;
  JobContext ctx;
  const Handler* handler = nullptr;
  Clock::time_point acquired_at = Clock::now();
  Clock::time_point
      queued_at{};  // handed to the pool (the prefetch buffer until a thread takes it)
  Clock::time_point started_at{};
  Clock::time_point finished_at{};
  std::atomic<bool> reported{
      false};  // an outcome (or a release) is queued: at most one per attempt
};

// One outcome for the Completer.
struct Report {
  enum class Kind { kComplete, kFail, kRelease, kSnooze };
  Kind kind = Kind::kComplete;
  Milliseconds snooze_for{0};
  std::shared_ptr<ActiveJob> active;
  std::optional<std::string> result;  // kComplete: the result as JSON text; nullopt: none
  std::string error_type;
  std::string error_message;  // kFail; kSnooze: the reason
  bool retryable = true;
  bool done = false;  // the Completer has its answer (set while it reports)

  static Report Release(std::shared_ptr<ActiveJob> active) {
    Report report;
    report.kind = Kind::kRelease;
    report.active = std::move(active);
    return report;
  }
};

const char* KindName(Report::Kind kind);

// The attempts this worker holds. Thread-safe.
class ActiveJobs {
 public:
  void Add(const std::vector<std::shared_ptr<ActiveJob>>& batch) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& active : batch) jobs_[active->job.id] = active;
  }
  void Remove(std::int64_t job_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    jobs_.erase(job_id);
  }
  std::vector<std::shared_ptr<ActiveJob>> Snapshot() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::shared_ptr<ActiveJob>> out;
    out.reserve(jobs_.size());
    for (const auto& entry : jobs_) out.push_back(entry.second);
    return out;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return jobs_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, std::shared_ptr<ActiveJob>> jobs_;
};

// The text of an exception on one line, for logs.
std::string OneLine(std::string text);

}  // namespace taskflow
