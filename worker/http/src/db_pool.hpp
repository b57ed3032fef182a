// A bounded pool of PostgreSQL connections: one per request in flight, opened lazily (with the
// statements of statements.cpp registered and the session's timeout and application name set),
// replaced when broken (counted as a reconnect). Sized like the HTTP thread pool, so a request
// never waits for a connection another request holds for long.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace taskflow::http {

// One database connection and what the server has set up on it.
struct PooledConnection {
  explicit PooledConnection(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
  std::string role;  // the session's role (set_config('role')); empty: the login role
};

class DbPool {
 public:
  DbPool(std::string conninfo, int size, std::chrono::milliseconds statement_timeout,
         std::string application_name);

  // A connection held for one request. Discard() when it may be broken.
  class Lease {
   public:
    Lease(DbPool* pool, std::unique_ptr<PooledConnection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease();
    PooledConnection& operator*() { return *conn_; }
    void Discard() { discard_ = true; }

   private:
    DbPool* pool_;
    std::unique_ptr<PooledConnection> conn_;
    bool discard_ = false;
  };

  // Waits up to `wait` for a free slot; opens a connection when none is idle. Throws
  // pqxx::broken_connection when the database cannot be reached, std::runtime_error on timeout.
  Lease Acquire(std::chrono::milliseconds wait);

  std::uint64_t reconnects() const { return reconnects_.load(); }
  int open_connections() const { return open_.load(); }

 private:
  friend class Lease;
  void Return(std::unique_ptr<PooledConnection> conn, bool discard);
  std::unique_ptr<PooledConnection> Open();

  const std::string conninfo_;
  const int size_;
  const std::chrono::milliseconds statement_timeout_;
  const std::string application_name_;
  std::mutex mutex_;
  std::condition_variable cond_;
  std::vector<std::unique_ptr<PooledConnection>> idle_;
  int leased_ = 0;
  int broken_ = 0;  // connections discarded and not replaced yet
  std::atomic<int> open_{0};
  std::atomic<std::uint64_t> reconnects_{0};
};

}  // namespace taskflow::http
