#include "problem.hpp"

#include <nlohmann/json.hpp>

namespace taskflow::http {

// The one table of SQLSTATEs to statuses. docs/http.md ("Errors") holds the same table between
// its sqlstate-table markers; worker/http/tests checks that both agree and that every SQLSTATE
// the extension raises (extension/, sql/src/) has an entry here, so a 500 means a bug.
const std::vector<SqlStateRule>& SqlStateTable() {
  static const std::vector<SqlStateRule> table = {
      {"28000", 401, "a bad webhook key or signature"},
      {"28P01", 401, "a bad password or key"},
      {"42501", 403, "another tenant's resource, a function the key's role may not call"},
      {"P0002", 404, "no such job or rule (or another tenant's)"},
      {"55000", 409, "a transition the state machine refuses"},
      {"55006", 409, "an object in use (moving a tenant that has RUNNING jobs)"},
      {"23505", 409, "already exists (a unique constraint)"},
      {"42710", 409, "a duplicate rule name or webhook key"},
      {"21000", 409, "an API key prefix that matches more than one key"},
      {"54000", 413, "a value over a configured size (taskflow.max_payload_bytes)"},
      {"54001", 422, "a value nested too deeply for PostgreSQL"},
      {"42704", 422, "an unknown queue, tenant or other object"},
      {"0A000", 422, "a feature this call does not support"},
      {"42883", 501, "a function this installation does not have (an older extension)"},
      {"42P01", 501, "a table or view this installation does not have (an older extension)"},
      {"55P03", 503, "a lock not available in time (lock_timeout)"},
      {"57014", 503, "statement_timeout, a cancelled query"},
      {"40", 503, "serialization failure, deadlock (retry)"},
      {"53", 503, "the database is out of resources (connections, memory, disk)"},
      {"08", 503, "the connection to the database failed"},
      {"57", 503, "the database is shutting down or restarting"},
      {"58", 503, "an I/O or system error in the database"},
      {"22", 422, "a value the extension refuses (invalid parameter, date, number, text)"},
      {"23", 422, "a constraint the values break (missing parent job, NOT NULL, ...)"},
      {"P0", 422, "a PL/pgSQL RAISE without a more specific SQLSTATE"},
      {"XX", 500, "an internal error: a bug"},
  };
  return table;
}

const SqlStateRule* MatchSqlState(const std::string& s) {
  for (const SqlStateRule& rule : SqlStateTable()) {
    if (s.rfind(rule.sqlstate, 0) == 0) return &rule;  // a code, or a class prefix
  }
  return nullptr;
}

int StatusForSqlState(const std::string& s) {
  const SqlStateRule* rule = MatchSqlState(s);
  return rule != nullptr ? rule->status : 500;  // anything else: a bug in the server's SQL
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 422: return "Unprocessable Content";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    default: return status >= 500 ? "Server Error" : "Client Error";
  }
}

namespace {

const char* SlugFor(int status) {
  switch (status) {
    case 400: return "bad-request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not-found";
    case 405: return "method-not-allowed";
    case 409: return "conflict";
    case 413: return "payload-too-large";
    case 414: return "uri-too-long";
    case 422: return "invalid";
    case 501: return "not-available";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "bad-request";
  }
}

}  // namespace

Problem ProblemForStatus(int status) {
  Problem p;
  p.status = status;
  p.slug = SlugFor(status);
  p.title = ReasonPhrase(status);
  switch (status) {
    case 404: p.detail = "No such route."; break;
    case 413: p.detail = "The request body is larger than the server accepts."; break;
    case 414: p.detail = "The request URI is too long."; break;
    case 400: p.detail = "The request could not be parsed."; break;
    default: break;
  }
  return p;
}

Problem ProblemFromSql(const std::string& sqlstate, const std::string& message,
                       const std::string& hint) {
  Problem p = ProblemForStatus(StatusForSqlState(sqlstate));
  p.sqlstate = sqlstate;
  if (p.status == 501) {
    p.detail =
        "This TaskFlow installation does not provide the function behind this endpoint "
        "yet; update the extension (ALTER EXTENSION taskflow UPDATE).";
  } else if (p.status >= 500 && p.status != 503) {
    p.detail = "The database reported an internal error; see the server log.";
  } else {
    p.detail = message;
    p.hint = hint;
  }
  return p;
}

std::string ProblemJson(const Problem& p, const std::string& correlation_id) {
  nlohmann::json j = {{"type", "/problems/" + p.slug},
                      {"title", p.title},
                      {"status", p.status},
                      {"detail", p.detail}};
  if (!p.sqlstate.empty()) j["sqlstate"] = p.sqlstate;
  if (!p.hint.empty()) j["hint"] = p.hint;
  if (!correlation_id.empty()) j["correlation_id"] = correlation_id;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace taskflow::http
