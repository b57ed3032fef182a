#include "exit_codes.hpp"

namespace taskflow::cli {

ExitCode ExitCodeForSqlstate(const std::string& sqlstate) {
  if (sqlstate.size() != 5) return kError;
  const std::string cls = sqlstate.substr(0, 2);
  // A missing object: a job (P0002 from cancel/retry), a queue or a rule (42704).
  if (sqlstate == "P0002" || sqlstate == "42704") return kNotFound;
  // A missing taskflow schema or function: the extension is not installed (or another version).
  if (sqlstate == "3F000" || sqlstate == "42883") return kConnection;
  if (sqlstate == "42501") return kPermission;
  // Refused by the state machine or by what is there already.
  if (sqlstate == "55000" || sqlstate == "42710" || sqlstate == "55P03") return kRefused;
  if (cls == "23" || cls == "40") return kRefused;
  // Invalid input the server refused: the caller's argument.
  if (cls == "22") return kUsage;
  // Connection exceptions, a database that does not exist, a failed login.
  if (cls == "08" || cls == "28" || sqlstate == "3D000") return kConnection;
  return kError;
}

}  // namespace taskflow::cli
