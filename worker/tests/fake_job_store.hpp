// An in-memory JobStore for the parts' unit tests: FakeDatabase holds the jobs to hand out and
// records every call; each FakeJobStore is one "session" on it (the parts make their own through
// Factory()). Failures are injected per call kind.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "job_store.hpp"

namespace taskflow::testing {

struct Call {
  std::string kind;           // acquire, heartbeat, complete_many, complete, fail, release, snooze
  std::vector<Lease> leases;  // the leases it carried
  int max_jobs = 0;           // acquire
  Milliseconds duration{0};   // heartbeat: extend; snooze: delay
  std::string error_type;     // fail
  bool retryable = true;      // fail
  bool on = true;             // synchronous_commit
  std::optional<std::string> result;  // complete
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();

  // A call of `kind` carrying `leases`, the other fields at their defaults.
  static Call Of(std::string kind, std::vector<Lease> leases = {}) {
    Call call;
    call.kind = std::move(kind);
    call.leases = std::move(leases);
    return call;
  }
};

class FakeDatabase {
 public:
  // Jobs acquire() hands out, in order.
  void AddJobs(int count, const std::string& type = "t") {
    std::lock_guard<std::mutex> lock(mutex_);
    for (int i = 0; i < count; ++i) {
      Job job;
      job.id = next_id_++;
      job.attempt = 1;
      job.lease_token = "token-" + std::to_string(job.id);
      job.type = type;
      job.queue = "default";
      pending_.push_back(std::move(job));
    }
  }
  void AddJob(Job job) {
    std::lock_guard<std::mutex> lock(mutex_);
    pending_.push_back(std::move(job));
  }

  // The next `count` calls of `kind` throw StoreError(error) ("connect": opening a session).
  void FailNext(const std::string& kind, int count,
                StoreError::Kind error = StoreError::Kind::kConnectionLost) {
    std::lock_guard<std::mutex> lock(mutex_);
    failures_[kind] = {count, error};
  }
  // Every call of `kind` for job `job_id` throws StoreError kRejected.
  void Reject(const std::string& kind, std::int64_t job_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    rejected_[kind].push_back(job_id);
  }
  // heartbeat_many's answer for a job (default "ok").
  void Answer(std::int64_t job_id, const std::string& answer) {
    std::lock_guard<std::mutex> lock(mutex_);
    answers_[job_id] = answer;
  }
  // Runs inside each acquire(max_jobs), before it answers.
  void OnAcquire(std::function<void(int max_jobs)> hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    on_acquire_ = std::move(hook);
  }

  std::vector<Call> Calls(const std::string& kind = "") const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Call> out;
    for (const auto& call : calls_) {
      if (kind.empty() || call.kind == kind) out.push_back(call);
    }
    return out;
  }
  // Job ids reported (complete, complete_many, fail, release, snooze), in order.
  std::vector<std::int64_t> Reported() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::int64_t> out;
    for (const auto& call : calls_) {
      if (call.kind == "acquire" || call.kind == "heartbeat") continue;
      for (const auto& lease : call.leases) out.push_back(lease.job_id);
    }
    return out;
  }
  // Waits until `predicate` holds (checked every 2 ms); false after `timeout`.
  bool WaitFor(const std::function<bool()>& predicate,
               Milliseconds timeout = Milliseconds(5000)) const {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (!predicate()) {
      if (std::chrono::steady_clock::now() > end) return false;
      std::this_thread::sleep_for(Milliseconds(2));
    }
    return true;
  }
  int connects() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return connects_;
  }
  std::size_t pending() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pending_.size();
  }

  StoreFactory Factory();

  // For FakeJobStore: records the call, throws an injected failure. Under mutex_.
  void Record(Call call) {
    std::lock_guard<std::mutex> lock(mutex_);
    MaybeFail(call.kind, call.leases);
    calls_.push_back(std::move(call));
  }
  std::vector<Job> Acquire(int max_jobs) {
    std::function<void(int)> hook;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hook = on_acquire_;
    }
    if (hook) hook(max_jobs);
    std::lock_guard<std::mutex> lock(mutex_);
    MaybeFail("acquire", {});
    Call call = Call::Of("acquire");
    call.max_jobs = max_jobs;
    calls_.push_back(call);
    std::vector<Job> out;
    while (!pending_.empty() && static_cast<int>(out.size()) < max_jobs) {
      out.push_back(pending_.front());
      pending_.pop_front();
    }
    return out;
  }
  std::vector<std::pair<std::int64_t, std::string>> Heartbeat(const std::vector<Lease>& leases,
                                                              Milliseconds extend) {
    std::lock_guard<std::mutex> lock(mutex_);
    MaybeFail("heartbeat", leases);
    Call call = Call::Of("heartbeat", leases);
    call.duration = extend;
    calls_.push_back(call);
    std::vector<std::pair<std::int64_t, std::string>> out;
    for (const auto& lease : leases) {
      const auto found = answers_.find(lease.job_id);
      out.emplace_back(lease.job_id, found == answers_.end() ? "ok" : found->second);
    }
    return out;
  }
  void Connect() {
    std::lock_guard<std::mutex> lock(mutex_);
    MaybeFail("connect", {});
    ++connects_;
  }

 private:
  void MaybeFail(const std::string& kind, const std::vector<Lease>& leases) {
    auto found = failures_.find(kind);
    if (found != failures_.end() && found->second.first > 0) {
      --found->second.first;
      throw StoreError(found->second.second, "", "injected " + kind + " failure");
    }
    for (const auto& lease : leases) {
      for (std::int64_t id : rejected_[kind]) {
        if (lease.job_id == id)
          throw StoreError(StoreError::Kind::kRejected, "22023", "injected rejection");
      }
    }
  }

  mutable std::mutex mutex_;
  std::int64_t next_id_ = 1;
  std::deque<Job> pending_;
  std::vector<Call> calls_;
  std::map<std::string, std::pair<int, StoreError::Kind>> failures_;
  std::map<std::string, std::vector<std::int64_t>> rejected_;
  std::map<std::int64_t, std::string> answers_;
  std::function<void(int)> on_acquire_;
  int connects_ = 0;
};

class FakeJobStore : public JobStore {
 public:
  explicit FakeJobStore(FakeDatabase& db) : db_(db) { db_.Connect(); }

  void CheckExtension() override {}
  std::vector<Job> Acquire(const std::string&, const std::vector<std::string>&, int max_jobs,
                           Milliseconds, const std::optional<std::vector<std::string>>&) override {
    return db_.Acquire(max_jobs);
  }
  std::vector<std::pair<std::int64_t, std::string>> Heartbeat(const std::vector<Lease>& leases,
                                                              Milliseconds extend) override {
    return db_.Heartbeat(leases, extend);
  }
  long CompleteMany(const std::vector<Lease>& leases,
                    const std::vector<std::optional<std::string>>&) override {
    Call call = Call::Of("complete_many", leases);
    db_.Record(call);
    return static_cast<long>(leases.size());
  }
  std::optional<std::string> Complete(const Lease& lease,
                                      const std::optional<std::string>& result) override {
    Call call = Call::Of("complete", {lease});
    call.result = result;
    db_.Record(call);
    return std::string("SUCCEEDED");
  }
  std::optional<std::string> Fail(const Lease& lease, const std::string& error_type,
                                  const std::string&, bool retryable) override {
    Call call = Call::Of("fail", {lease});
    call.error_type = error_type;
    call.retryable = retryable;
    db_.Record(call);
    return std::string(retryable ? "SCHEDULED" : "FAILED");
  }
  std::optional<std::string> Release(const Lease& lease) override {
    Call call = Call::Of("release", {lease});
    db_.Record(call);
    return std::string("PENDING");
  }
  std::optional<std::string> Snooze(const Lease& lease, Milliseconds delay,
                                    const std::string&) override {
    Call call = Call::Of("snooze", {lease});
    call.duration = delay;
    db_.Record(call);
    return std::string("SCHEDULED");
  }
  void SetSynchronousCommit(bool on) override {
    Call call = Call::Of("synchronous_commit");
    call.on = on;
    db_.Record(call);
  }
  void Listen(const std::vector<std::string>&, std::atomic<bool>&) override {}
  int ReadNotifications() override { return 0; }
  int Socket() const override { return -1; }

 private:
  FakeDatabase& db_;
};

inline StoreFactory FakeDatabase::Factory() {
  return [this]() -> std::unique_ptr<JobStore> { return std::make_unique<FakeJobStore>(*this); };
}

}  // namespace taskflow::testing
