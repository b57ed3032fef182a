#include "sql_session.hpp"

#include <pqxx/pqxx>

#include "executors.hpp"  // JsonOrNull: bounded depth

namespace taskflow {
namespace {

nlohmann::json RowsToJson(const pqxx::result& rows) {
  if (rows.columns() == 0) return {{"affected_rows", rows.affected_rows()}};
  nlohmann::json out = nlohmann::json::array();
  for (const auto& row : rows) {
    nlohmann::json object = nlohmann::json::object();
    for (pqxx::row::size_type i = 0; i < row.size(); ++i) {
      const auto& field = row[i];
      const char* name = rows.column_name(i);
      if (field.is_null()) {
        object[name] = nullptr;
        continue;
      }
      const std::string text = field.c_str();
      switch (rows.column_type(i)) {
        case 114:   // json
        case 3802:  // jsonb
          object[name] = JsonOrNull(text);
          break;
        case 16:  // bool
          object[name] = text == "t";
          break;
        case 20:  // int8
        case 21:  // int2
        case 23:  // int4
          object[name] = field.as<long long>();
          break;
        case 700:  // float4
        case 701:  // float8
          object[name] = field.as<double>();
          break;
        default: object[name] = text;
      }
    }
    out.push_back(std::move(object));
  }
  return {{"rows", out}};
}

}  // namespace

SqlError::SqlError(Kind kind, std::string sqlstate, const std::string& message)
    : std::runtime_error(message), kind_(kind), sqlstate_(std::move(sqlstate)) {}

PqxxSqlSession::PqxxSqlSession(std::string database_url) : database_url_(std::move(database_url)) {}

PqxxSqlSession::~PqxxSqlSession() = default;

nlohmann::json PqxxSqlSession::Execute(const std::string& statement,
                                       const std::vector<std::string>& params,
                                       std::optional<Milliseconds> timeout) {
  return ExecuteWithSettings(statement, params, timeout, {});
}

nlohmann::json PqxxSqlSession::ExecuteWithSettings(
    const std::string& statement, const std::vector<std::string>& params,
    std::optional<Milliseconds> timeout,
    const std::vector<std::pair<std::string, std::string>>& settings) {
  try {
    pqxx::connection* conn;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!conn_ || !conn_->is_open()) {
        conn_.reset();
        conn_ = std::make_unique<pqxx::connection>(database_url_);
      }
      conn = conn_.get();
    }
    pqxx::work txn(*conn);
    if (timeout) txn.exec("SET LOCAL statement_timeout = " + std::to_string(timeout->count()));
    for (const auto& [name, value] : settings)
      txn.exec_params("SELECT set_config($1, $2, true)", name, value);
    const pqxx::result rows =
        txn.exec_params(statement, pqxx::prepare::make_dynamic_params(params));
    txn.commit();
    return RowsToJson(rows);
  } catch (const pqxx::broken_connection& e) {
    // Reopen now; if that fails, the next Execute tries again.
    std::lock_guard<std::mutex> lock(mutex_);
    conn_.reset();
    try {
      conn_ = std::make_unique<pqxx::connection>(database_url_);
    } catch (...) {
    }
    throw SqlError(SqlError::Kind::kConnectionLost, "", e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw SqlError(SqlError::Kind::kCommitInDoubt, "", e.what());
  } catch (const pqxx::sql_error& e) {
    throw SqlError(SqlError::Kind::kStatement, e.sqlstate(), e.what());
  }
}

void PqxxSqlSession::Cancel() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  try {
    if (conn_) conn_->cancel_query();
  } catch (...) {
  }
}

SqlSession& ThreadSqlSession(const std::string& database_url) {
  thread_local std::unique_ptr<PqxxSqlSession> session;
  if (!session || session->database_url() != database_url)
    session = std::make_unique<PqxxSqlSession>(database_url);
  return *session;
}

}  // namespace taskflow
