#include "parallel.hpp"

#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace taskflow::bench {

namespace {

// A one-shot start line: threads wait until every connection is open and prepared.
class StartGate {
 public:
  explicit StartGate(int parties) : waiting_(parties) {}
  // Called by each thread when ready; returns when the gate opens (or is aborted).
  void ArriveAndWait() {
    std::unique_lock<std::mutex> lock(mu_);
    if (--waiting_ == 0) all_ready_.notify_all();
    open_cv_.wait(lock, [this] { return open_; });
  }
  // Called by the main thread: waits for every party, then opens the gate.
  void WaitAllThenOpen() {
    std::unique_lock<std::mutex> lock(mu_);
    all_ready_.wait(lock, [this] { return waiting_ <= 0; });
    open_ = true;
    open_cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable all_ready_;
  std::condition_variable open_cv_;
  int waiting_;
  bool open_ = false;
};

}  // namespace

double RunParallel(const std::string& db, const ParallelRun& run) {
  WorkQueue work(run.units);
  StartGate gate(run.connections);
  std::mutex error_mu;
  std::exception_ptr first_error;
  auto record = [&](std::exception_ptr e) {
    work.Fail();
    std::lock_guard<std::mutex> lock(error_mu);
    if (!first_error) first_error = e;
  };

  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(run.connections));
  for (int i = 0; i < run.connections; ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<pqxx::connection> conn;
      try {
        conn = std::make_unique<pqxx::connection>(db);
        if (run.prepare) run.prepare(*conn);
      } catch (...) {
        record(std::current_exception());
      }
      gate.ArriveAndWait();
      if (!conn || work.Failed()) return;
      try {
        run.body(*conn, i, work);
      } catch (...) {
        record(std::current_exception());
      }
    });
  }
  gate.WaitAllThenOpen();
  const auto start = std::chrono::steady_clock::now();
  for (auto& t : threads) t.join();
  const auto end = std::chrono::steady_clock::now();
  if (first_error) std::rethrow_exception(first_error);
  return std::chrono::duration<double>(end - start).count();
}

}  // namespace taskflow::bench
