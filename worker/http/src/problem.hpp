// Errors as RFC 9457 problem details (application/problem+json), and the one table that maps
// the extension's SQLSTATEs to HTTP statuses (docs/http.md, "Errors").
#pragma once

#include <string>
#include <vector>

namespace taskflow::http {

struct Problem {
  int status = 500;
  std::string slug;  // the "type" is "/problems/<slug>"
  std::string title;
  std::string detail;
  std::string sqlstate;  // empty when the server itself refused the request
  std::string hint;
};

// One row of the SQLSTATE table: `sqlstate` is a five-character code or a two-character class;
// exact codes come first, the first match wins.
struct SqlStateRule {
  const char* sqlstate;
  int status;
  const char* when;
};
const std::vector<SqlStateRule>& SqlStateTable();
// The rule for `sqlstate`, or nullptr when none matches (then the status is 500).
const SqlStateRule* MatchSqlState(const std::string& sqlstate);

// The HTTP status for an error the SQL API raised.
int StatusForSqlState(const std::string& sqlstate);
// A problem from an SQL error: status from the SQLSTATE; 5xx details are not passed through.
Problem ProblemFromSql(const std::string& sqlstate, const std::string& message,
                       const std::string& hint);
// A problem for a status without more to say (404 route, 413 from the body limit, ...).
Problem ProblemForStatus(int status);
std::string ProblemJson(const Problem& p, const std::string& correlation_id);
const char* ReasonPhrase(int status);

}  // namespace taskflow::http
