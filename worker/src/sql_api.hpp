// SqlApi: every statement the worker sends, on one connection. The worker
// calls the taskflow.* SQL API only, never the tables; all of it is here.
// Not thread-safe: one SqlApi per thread that talks to the database.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include <taskflow/worker.hpp>

namespace taskflow {

struct Lease {
  std::int64_t job_id;
  std::string lease_token;
};

class SqlApi {
 public:
  // Connects (throws pqxx::broken_connection) and registers the prepared statements.
  explicit SqlApi(const std::string& database_url);
  ~SqlApi();

  // Throws StartupError when the taskflow extension is missing from the database.
  void CheckExtension();

  // taskflow.acquire(). job_types nullopt: every type (catch-all).
  std::vector<Job> Acquire(const std::string& worker_id, const std::vector<std::string>& queues, int max_jobs,
                           Milliseconds lease, const std::optional<std::vector<std::string>>& job_types);

  // taskflow.heartbeat_many(): every lease in one statement: (job_id, "ok" | "cancel_requested" | "lost").
  std::vector<std::pair<std::int64_t, std::string>> Heartbeat(const std::vector<Lease>& leases, Milliseconds extend);

  // taskflow.complete_many(): how many were accepted. results[i] nullopt: no result.
  long CompleteMany(const std::vector<Lease>& leases, const std::vector<std::optional<std::string>>& results);
  // The job state after the call, or nullopt when the lease token is stale.
  std::optional<std::string> Complete(const Lease& lease, const std::optional<std::string>& result);
  std::optional<std::string> Fail(const Lease& lease, const std::string& error_type, const std::string& error_message,
                                  bool retryable);
  std::optional<std::string> Release(const Lease& lease);
  // taskflow.snooze(): SCHEDULED again after `delay`, the attempt not counted. Against an
  // extension without snooze() (SQLSTATE 42883), a retryable fail() with `reason` instead.
  std::optional<std::string> Snooze(const Lease& lease, Milliseconds delay, const std::string& reason);

  // LISTEN on each queue's channel; a notification sets `flag`.
  void Listen(const std::vector<std::string>& queues, std::atomic<bool>& flag);
  // Reads pending notifications without blocking (throws on a broken connection).
  int ReadNotifications();
  int Socket() const;

  static std::string ChannelFor(const std::string& queue) { return "taskflow_" + queue; }

 private:
  class Receiver;
  std::unique_ptr<pqxx::connection> conn_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::optional<bool> acquire_has_trace_;  // acquire() returns traceparent (a newer extension)
};

}  // namespace taskflow
