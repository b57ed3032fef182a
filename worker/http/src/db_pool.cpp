#include "db_pool.hpp"

#include <stdexcept>

#include "statements.hpp"

namespace taskflow::http {

DbPool::DbPool(std::string conninfo, int size, std::chrono::milliseconds statement_timeout,
               std::string application_name)
    : conninfo_(std::move(conninfo)),
      size_(size < 1 ? 1 : size),
      statement_timeout_(statement_timeout),
      application_name_(std::move(application_name)) {}

DbPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->Return(std::move(conn_), discard_);
}

std::unique_ptr<PooledConnection> DbPool::Open() {
  auto conn = std::make_unique<PooledConnection>(conninfo_);
  PrepareStatements(conn->conn);
  const std::string timeout_ms = std::to_string(statement_timeout_.count());
  pqxx::nontransaction tx(conn->conn);
  tx.exec_prepared(StatementName(Stmt::kSessionSettings), timeout_ms, application_name_);
  return conn;
}

DbPool::Lease DbPool::Acquire(std::chrono::milliseconds wait) {
  std::unique_ptr<PooledConnection> conn;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!cond_.wait_for(lock, wait, [&] { return leased_ < size_; })) {
      throw std::runtime_error("no database connection became free in time");
    }
    ++leased_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!conn) {
    try {
      conn = Open();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      --leased_;
      cond_.notify_one();
      throw;
    }
    ++open_;
    std::lock_guard<std::mutex> lock(mutex_);
    // A connection that replaces a broken one is a reconnect.
    if (broken_ > 0) {
      --broken_;
      ++reconnects_;
    }
  }
  return Lease(this, std::move(conn));
}

void DbPool::Return(std::unique_ptr<PooledConnection> conn, bool discard) {
  std::lock_guard<std::mutex> lock(mutex_);
  --leased_;
  if (discard || !conn->conn.is_open()) {
    --open_;
    if (broken_ < size_) ++broken_;
    conn.reset();
  } else {
    idle_.push_back(std::move(conn));
  }
  cond_.notify_one();
}

}  // namespace taskflow::http
