// Runs one body on N threads, each with its own connection, and times them from a common start.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include <pqxx/pqxx>

namespace taskflow::bench {

// Hands out work units 0..total-1 to whichever thread asks first, so fast connections take
// more and the run ends when the work does. After a failure on any thread it hands out nothing.
class WorkQueue {
 public:
  explicit WorkQueue(std::int64_t total) : total_(total) {}
  bool Next(std::int64_t* unit) {
    if (failed_.load(std::memory_order_relaxed)) return false;
    const std::int64_t u = next_.fetch_add(1, std::memory_order_relaxed);
    if (u >= total_) return false;
    *unit = u;
    return true;
  }
  void Fail() { failed_.store(true); }
  bool Failed() const { return failed_.load(std::memory_order_relaxed); }

 private:
  const std::int64_t total_;
  std::atomic<std::int64_t> next_{0};
  std::atomic<bool> failed_{false};
};

struct ParallelRun {
  int connections = 1;
  // Runs on each connection before the clock starts (prepare statements, warm up).
  std::function<void(pqxx::connection&)> prepare;
  // The timed work. `index` is 0..connections-1. Must return when `work.Failed()`.
  std::function<void(pqxx::connection&, int index, WorkQueue& work)> body;
  std::int64_t units = 0;  // size of the WorkQueue given to body
};

// Opens `run.connections` connections, prepares each, releases all threads at once and returns
// the wall-clock seconds from that release until the last thread finished. Rethrows the first
// exception of any thread after all have stopped.
double RunParallel(const std::string& db, const ParallelRun& run);

// A ParallelRun body that runs the prepared statement `name` once per unit of work, each time
// with the same arguments (copied).
template <typename... Args>
std::function<void(pqxx::connection&, int, WorkQueue&)> ExecPreparedPerUnit(std::string name,
                                                                            Args... args) {
  return [name, args...](pqxx::connection& c, int, WorkQueue& work) {
    pqxx::nontransaction tx(c);
    std::int64_t unit;
    while (work.Next(&unit)) tx.exec_prepared1(name, args...);
  };
}

}  // namespace taskflow::bench
