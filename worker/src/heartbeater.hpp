// Heartbeater: every interval, one heartbeat_many extends the lease of every job this worker
// runs or holds (running, or prefetched and waiting for a handler thread) and tells which were
// cancelled or lost; it asks those handlers to stop (JobContext::RequestStop). A job whose
// outcome is queued is not extended any more: the Completer reports it. A failed heartbeat is
// logged and tried again at the next interval (on a new connection if it was lost).
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "active_job.hpp"
#include "job_store.hpp"

namespace taskflow {

struct HeartbeaterOptions {
  // How far each heartbeat extends the leases (WorkerOptions::lease, --lease).
  Milliseconds lease{30000};
  // How often; 0: lease / 3, at least 100 ms (WorkerOptions::heartbeat_interval,
  // --heartbeat-interval). Shorter than the lease, or leases expire between heartbeats.
  Milliseconds interval{0};

  Milliseconds EffectiveInterval() const;
  // Throws std::invalid_argument naming the option when a value is out of range.
  void Validate() const;
};

class Heartbeater {
 public:
  Heartbeater(HeartbeaterOptions options, StoreFactory connect, ActiveJobs& jobs);
  ~Heartbeater();
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;

  void Start();  // a thread that calls Beat() every EffectiveInterval()
  void Stop();
  // One round: extends the leases of the jobs without a queued outcome. Returns how many
  // leases it sent (0: nothing to extend, or the call failed).
  std::size_t Beat();

 private:
  const HeartbeaterOptions options_;
  const Milliseconds interval_;
  const StoreFactory connect_;
  ActiveJobs& jobs_;
  std::unique_ptr<JobStore> store_;  // Beat()'s caller's only
  std::mutex mutex_;
  std::condition_variable cv_;
  bool exit_ = false;
  std::thread thread_;
};

}  // namespace taskflow
