// Completer: reports the outcomes of the worker's jobs, batched. Handler threads Enqueue() a
// Report and go on; one thread takes everything queued (after waiting flush_interval for others
// finishing at about the same time, or at once when max_batch are queued) and reports it:
// completions in one complete_many (one statement, one commit), failures, snoozes and releases
// one by one. After a lost connection it reconnects and sends the same outcomes again with the
// same lease tokens (a repeated complete of an applied attempt answers SUCCEEDED again, so
// nothing is lost or doubled); an outcome the server refuses is dropped and counted, so one
// bad item cannot block the others. River's BatchCompleter does the same job.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <thread>

#include "active_job.hpp"
#include "job_store.hpp"

namespace taskflow {

struct CompleterOptions {
  // How long the Completer waits after the first outcome of a round for others, then reports
  // them together. 0: at once. (WorkerOptions::completion_flush_interval,
  // --completion-flush-interval.)
  Milliseconds flush_interval{2};
  // Most outcomes per round; as many queued are reported at once, without waiting.
  std::size_t max_batch = 1000;
  // Backoff between tries after a lost connection or a deadlock: first delay, cap.
  // (WorkerOptions::reconnect_min / reconnect_max.)
  Milliseconds retry_min{100};
  Milliseconds retry_max{5000};

  // Throws std::invalid_argument naming the option when a value is out of range.
  void Validate() const;
};

class Completer {
 public:
  // `jobs`: each reported job is removed from it.
  Completer(CompleterOptions options, StoreFactory connect, ActiveJobs& jobs);
  ~Completer();
  Completer(const Completer&) = delete;
  Completer& operator=(const Completer&) = delete;

  void Start();
  // Queues an outcome; at most one per attempt (a second for the same ActiveJob is ignored).
  void Enqueue(Report report);
  // Reports what is queued, trying a lost connection again for at most `give_up_after`, then
  // ends the thread. Outcomes still unreported then are counted in unreported().
  void Stop(Milliseconds give_up_after);
  // Outcomes given up on: refused by the server, or not reported before Stop() gave up.
  long unreported() const { return unreported_.load(); }

 private:
  void Loop();
  // Waits for reports and takes up to max_batch; empty when the completer is to exit.
  std::vector<Report> NextBatch();
  // After the engine refused a statement: drops the first report not done yet (logged, counted
  // as unreported), so one bad item cannot block the others.
  void DropRejected(std::vector<Report>& batch, const std::exception& e);
  // After a lost connection: true (and the batch dropped, logged, counted) once the stop
  // deadline has passed.
  bool GiveUpIfDue(std::vector<Report>& batch);
  void Flush(JobStore& store, std::vector<Report>& batch, bool in_doubt);
  void Finish(Report& report, const std::optional<std::string>& state, bool in_doubt);

  const CompleterOptions options_;
  const StoreFactory connect_;
  ActiveJobs& jobs_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Report> queue_;
  bool exit_ = false;
  Clock::time_point give_up_at_ = Clock::time_point::max();
  std::atomic<long> unreported_{0};
  std::thread thread_;
};

}  // namespace taskflow
