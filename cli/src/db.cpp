#include "db.hpp"

#include <cstdlib>

#include <pqxx/pqxx>

#include "format.hpp"

namespace taskflow::cli {

namespace {

// The error as the user should read it, with a word on what to do where the raw one would
// puzzle: a missing taskflow schema means the extension is not installed there.
[[noreturn]] void Rethrow(const pqxx::sql_error& e, const std::string& dbname) {
  std::string state = e.sqlstate();
  // libpqxx 6 throws some errors as their own class without the SQLSTATE
  if (state.empty() && dynamic_cast<const pqxx::insufficient_privilege*>(&e) != nullptr)
    state = "42501";
  if (state.empty() && dynamic_cast<const pqxx::undefined_function*>(&e) != nullptr)
    state = "42883";
  std::string message = CleanErrorMessage(e.what());
  if (state == "3F000") {
    message = "the taskflow extension is not installed in database \"" + dbname +
              "\" (CREATE EXTENSION taskflow; see docs/functions.md)";
  } else if (state == "42883") {
    message += "\nHINT:  Is the taskflow extension installed in database \"" + dbname +
               "\", at a version this tool knows (ALTER EXTENSION taskflow UPDATE)?";
  }
  throw CliError(ExitCodeForSqlstate(state), message);
}

}  // namespace

struct Db::Connection {
  explicit Connection(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

Db::Db(const std::string& conninfo) {
  // Visible in pg_stat_activity unless the user chose a name.
  setenv("PGAPPNAME", "taskflow-cli", 0);
  try {
    conn_ = std::make_unique<Connection>(conninfo);
  } catch (const pqxx::broken_connection& e) {
    throw CliError(kConnection, "cannot connect: " + CleanErrorMessage(e.what()));
  } catch (const pqxx::sql_error& e) {
    throw CliError(ExitCodeForSqlstate(e.sqlstate()),
                   "cannot connect: " + CleanErrorMessage(e.what()));
  } catch (const std::exception& e) {
    // libpq refuses a malformed URL or conninfo before connecting
    throw CliError(kConnection, "cannot connect: " + CleanErrorMessage(e.what()));
  }
}

Db::~Db() = default;

nlohmann::json Db::Json(const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  try {
    pqxx::nontransaction tx(conn_->conn);
    pqxx::result rows = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
    if (rows.empty() || rows[0][0].is_null()) return nullptr;
    return nlohmann::json::parse(rows[0][0].c_str());
  } catch (const pqxx::broken_connection& e) {
    throw CliError(kConnection, "lost the connection: " + CleanErrorMessage(e.what()));
  } catch (const pqxx::sql_error& e) {
    Rethrow(e, conn_->conn.dbname());
  } catch (const nlohmann::json::exception& e) {
    throw CliError(kError, std::string("unexpected answer from the server: ") + e.what());
  }
}

}  // namespace taskflow::cli
