// JobStore: the SQL calls the worker's parts make (acquire, heartbeat, complete, fail, release,
// snooze, LISTEN), as an interface. SqlApi (sql_api.hpp) implements it with libpqxx on one
// connection; the unit tests (worker/tests) implement it in memory, so the Producer, the
// Completer and the Heartbeater are tested without a server. No libpqxx here: a part sees only
// this header, and a database error only as a StoreError with its kind.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <taskflow/worker.hpp>

namespace taskflow {

struct Lease {
  std::int64_t job_id;
  std::string lease_token;
};

// A failed store call, classified for the part that made it.
class StoreError : public std::runtime_error {
 public:
  enum class Kind {
    kConnectionLost,  // the server went away (broken connection, commit in doubt, SQLSTATE
                      // 08xxx/57Pxx)
    kTransient,       // deadlock or serialization failure: nothing applied, send it again
    kRejected,        // the server refused the statement (any other SQLSTATE)
  };
  StoreError(Kind kind, std::string sqlstate, const std::string& message)
      : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}
  Kind kind() const noexcept { return kind_; }
  const std::string& sqlstate() const noexcept { return sqlstate_; }

 private:
  Kind kind_;
  std::string sqlstate_;
};

// Whether `e` says the connection is gone (the part reconnects) or the call may simply be sent
// again. Any other exception (a StoreError of kind kRejected, a parse error) is neither.
inline bool IsConnectionLoss(const std::exception& e) {
  const auto* store = dynamic_cast<const StoreError*>(&e);
  return store != nullptr && store->kind() == StoreError::Kind::kConnectionLost;
}
inline bool IsTransient(const std::exception& e) {
  const auto* store = dynamic_cast<const StoreError*>(&e);
  return store != nullptr && store->kind() == StoreError::Kind::kTransient;
}

// One session with the database. Not thread-safe: each part that talks to the database owns
// its own (a StoreFactory makes them). Every call throws StoreError on a database error.
class JobStore {
 public:
  virtual ~JobStore() = default;

  // Throws StartupError when the taskflow extension is missing from the database.
  virtual void CheckExtension() = 0;

  // taskflow.acquire(): at most `max_jobs`. job_types nullopt: every type (catch-all).
  virtual std::vector<Job> Acquire(const std::string& worker_id,
                                   const std::vector<std::string>& queues, int max_jobs,
                                   Milliseconds lease,
                                   const std::optional<std::vector<std::string>>& job_types) = 0;

  // taskflow.heartbeat_many(): every lease in one call: (job_id, "ok" | "cancel_requested" |
  // "lost").
  virtual std::vector<std::pair<std::int64_t, std::string>> Heartbeat(
      const std::vector<Lease>& leases, Milliseconds extend) = 0;

  // taskflow.complete_many(): how many were accepted. results[i] nullopt: no result. One result
  // the server refuses refuses the whole call (StoreError kRejected).
  virtual long CompleteMany(const std::vector<Lease>& leases,
                            const std::vector<std::optional<std::string>>& results) = 0;
  // The job state after the call, or nullopt when the lease token is stale.
  virtual std::optional<std::string> Complete(const Lease& lease,
                                              const std::optional<std::string>& result) = 0;
  virtual std::optional<std::string> Fail(const Lease& lease, const std::string& error_type,
                                          const std::string& error_message, bool retryable) = 0;
  virtual std::optional<std::string> Release(const Lease& lease) = 0;
  // taskflow.snooze(): SCHEDULED again after `delay`, the attempt not counted.
  virtual std::optional<std::string> Snooze(const Lease& lease, Milliseconds delay,
                                            const std::string& reason) = 0;

  // Whether this session's commits wait for the WAL flush (synchronous_commit). The Producer's
  // session turns it off unless --durable-acquire: see docs/worker.md, "Acquisitions commit
  // without waiting for the WAL flush".
  virtual void SetSynchronousCommit(bool on) = 0;
  // LISTEN on each queue's channel; a notification sets `flag` (during ReadNotifications).
  virtual void Listen(const std::vector<std::string>& queues, std::atomic<bool>& flag) = 0;
  // Reads pending notifications without blocking.
  virtual int ReadNotifications() = 0;
  // A descriptor that turns readable when a notification may have arrived; -1: none (poll).
  virtual int Socket() const = 0;
};

// Opens a new session (throws StoreError kConnectionLost when the server cannot be reached).
using StoreFactory = std::function<std::unique_ptr<JobStore>()>;

}  // namespace taskflow
