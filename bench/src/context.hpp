// Everything a scenario needs: the sizes of this run, an admin connection for setup and
// verification, and the reset steps that make every scenario start from the same state.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace taskflow::bench {

// Sizes of a run at --scale 1 (issue 2's "Performance" section), and the connections used.
struct Sizes {
  std::int64_t enqueue_jobs = 20'000;
  int enqueue_connections = 8;
  std::int64_t batch_jobs = 100'000;
  int batch_size = 1'000;
  int batch_connections = 8;
  std::int64_t drain_jobs = 50'000;
  int drain_batch = 100;
  int drain_connections = 16;
  std::int64_t history_jobs = 1'000'000;

  // Multiplies every job count by `scale` (at least one job each); connections and batch
  // sizes stay as they are so a smoke run exercises the same code paths.
  Sizes Scaled(double scale) const;
};

inline constexpr const char* kQueue = "bench";
inline constexpr const char* kJobType = "bench";
inline constexpr const char* kCeilingSchema = "bench_ceiling";

// How drain-history puts its finished jobs in place: `Sql` writes SUCCEEDED rows (with their
// attempt and events) directly with INSERT ... SELECT generate_series, which needs the rights of
// the table owner; `Api` runs them through schedule_many + acquire + complete_many.
enum class HistoryFill { Sql, Api };

class Context {
 public:
  Context(std::string db, Sizes sizes, HistoryFill history_fill = HistoryFill::Sql);
  HistoryFill history_fill() const { return history_fill_; }

  const std::string& db() const { return db_; }
  const Sizes& sizes() const { return sizes_; }
  pqxx::connection& admin() { return admin_; }

  // Runs one statement outside any transaction block (so VACUUM works) and returns its rows.
  pqxx::result Exec(const std::string& sql);
  std::int64_t QueryInt(const std::string& sql);
  std::string QueryText(const std::string& sql);

  // Progress on stderr with the time since the program started.
  static void Log(const std::string& message);

  // --- TaskFlow ---
  // Creates queue `bench` unless it exists.
  void EnsureQueue();
  // Removes every job of queue `bench` (with its attempts and events), then VacuumTaskflow().
  void ResetTaskflow();
  // VACUUM ANALYZE of the TaskFlow tables and a CHECKPOINT, so timed work starts settled.
  void VacuumTaskflow();
  // Schedules `count` ready jobs in queue `bench` with schedule_many, in batches.
  void FillReadyJobs(std::int64_t count);
  // Jobs of queue `bench` by state, e.g. CountJobs("SUCCEEDED"); empty state = all.
  std::int64_t CountJobs(const std::string& state = {});

  // --- Ceiling (plain table, no TaskFlow) ---
  // (Re)creates bench_ceiling.jobs empty, indexed like a job queue.
  void ResetCeiling();
  void FillCeiling(std::int64_t count);
  std::int64_t CountCeiling(const std::string& state = {});

  // Drops the ceiling schema and the bench jobs: leaves the server as it was found.
  void Cleanup();

 private:
  void Vacuum(const std::string& tables);
  void Checkpoint();

  std::string db_;
  Sizes sizes_;
  HistoryFill history_fill_;
  pqxx::connection admin_;
};

// The JSON array given to schedule_many and to the ceiling's batch insert:
// `count` objects {"job_type":"bench","queue":"bench","payload":{}}.
std::string JobsArray(std::int64_t count);

// A PostgreSQL array literal: {a,b,c}.
std::string ArrayLiteral(const std::vector<std::string>& items);

// Throws std::runtime_error with `what` unless `actual == expected`.
void Expect(const std::string& what, std::int64_t expected, std::int64_t actual);

}  // namespace taskflow::bench
