// SqlApi: the JobStore (job_store.hpp) on one libpqxx connection: every statement the worker
// sends. The worker calls the taskflow.* SQL API only, never the tables; all of it is here.
// Not thread-safe: one SqlApi per thread that talks to the database. Every libpqxx error leaves
// it as a StoreError (connection lost, transient, rejected).
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

#include "job_store.hpp"

namespace taskflow {

class SqlApi final : public JobStore {
 public:
  // Connects (throws StoreError kConnectionLost) and registers the prepared statements.
  explicit SqlApi(const std::string& database_url);
  ~SqlApi() override;

  // Throws StartupError when the taskflow extension is missing from the database.
  void CheckExtension() override;

  // taskflow.acquire(). job_types nullopt: every type (catch-all).
  std::vector<Job> Acquire(const std::string& worker_id, const std::vector<std::string>& queues,
                           int max_jobs, Milliseconds lease,
                           const std::optional<std::vector<std::string>>& job_types) override;

  // taskflow.heartbeat_many(): every lease in one statement: (job_id, "ok" | "cancel_requested" |
  // "lost").
  std::vector<std::pair<std::int64_t, std::string>> Heartbeat(const std::vector<Lease>& leases,
                                                              Milliseconds extend) override;

  // taskflow.complete_many(): how many were accepted. results[i] nullopt: no result.
  long CompleteMany(const std::vector<Lease>& leases,
                    const std::vector<std::optional<std::string>>& results) override;
  // The job state after the call, or nullopt when the lease token is stale.
  std::optional<std::string> Complete(const Lease& lease,
                                      const std::optional<std::string>& result) override;
  std::optional<std::string> Fail(const Lease& lease, const std::string& error_type,
                                  const std::string& error_message, bool retryable) override;
  std::optional<std::string> Release(const Lease& lease) override;
  // taskflow.snooze(): SCHEDULED again after `delay`, the attempt not counted. Against an
  // extension without snooze() (SQLSTATE 42883), a retryable fail() with `reason` instead.
  std::optional<std::string> Snooze(const Lease& lease, Milliseconds delay,
                                    const std::string& reason) override;

  // LISTEN on each queue's channel; a notification sets `flag`.
  void SetSynchronousCommit(bool on) override;
  void Listen(const std::vector<std::string>& queues, std::atomic<bool>& flag) override;
  // Reads pending notifications without blocking (throws on a broken connection).
  int ReadNotifications() override;
  int Socket() const override;

  static std::string ChannelFor(const std::string& queue) { return "taskflow_" + queue; }

 private:
  class Receiver;
  std::unique_ptr<pqxx::connection> conn_;
  std::vector<std::unique_ptr<Receiver>> receivers_;
  std::optional<bool> acquire_has_trace_;  // acquire() returns traceparent (a newer extension)
};

// Each call opens a new SqlApi on `database_url` (the libpq environment when empty).
StoreFactory SqlApiFactory(std::string database_url);

}  // namespace taskflow
