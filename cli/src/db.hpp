// The connection to PostgreSQL and the one way the tool calls the taskflow SQL API: a statement
// that returns one JSON value, with parameters. Errors become CliError with an exit code.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "exit_codes.hpp"

namespace taskflow::cli {

// An error to report to the user: the message (without "taskflow: ") and the exit code.
class CliError : public std::runtime_error {
 public:
  CliError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

using Param = std::optional<std::string>;  // nullopt: SQL NULL

class Db {
 public:
  // conninfo: a URL or key=value string; empty: the libpq environment (PGHOST, PGSERVICE, ...).
  explicit Db(const std::string& conninfo);
  ~Db();
  // Runs one statement (autocommit) whose first row's first column is JSON (jsonb, json, or a
  // text holding JSON) and returns it parsed; SQL NULL (or no row) is JSON null.
  nlohmann::json Json(const std::string& sql, const std::vector<Param>& params = {});

 private:
  struct Connection;  // pqxx::connection (a typedef in libpqxx 6: not forward-declarable)
  std::unique_ptr<Connection> conn_;
};

}  // namespace taskflow::cli
