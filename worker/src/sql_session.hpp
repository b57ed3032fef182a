// The SqlSession (taskflow/worker.hpp) of a pool thread: its own libpqxx connection to the
// worker's database, opened on first use and reopened after it broke. libpqxx stays in the
// library's own files (this one, sql_api.hpp): the public headers do not include it.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include <pqxx/pqxx>

#include <taskflow/worker.hpp>

namespace taskflow {

class PqxxSqlSession final : public SqlSession {
 public:
  explicit PqxxSqlSession(std::string database_url);
  ~PqxxSqlSession() override;

  nlohmann::json Execute(const std::string& statement, const std::vector<std::string>& params,
                         std::optional<Milliseconds> timeout) override;
  nlohmann::json ExecuteWithSettings(
      const std::string& statement, const std::vector<std::string>& params,
      std::optional<Milliseconds> timeout,
      const std::vector<std::pair<std::string, std::string>>& settings) override;
  void Cancel() noexcept override;
  const std::string& database_url() const { return database_url_; }

 private:
  const std::string database_url_;
  std::mutex mutex_;  // conn_ (the pointer) between Execute() and Cancel()
  std::unique_ptr<pqxx::connection> conn_;
};

// The calling thread's session on `database_url` (a new one when the thread's last was on
// another database).
SqlSession& ThreadSqlSession(const std::string& database_url);

}  // namespace taskflow
