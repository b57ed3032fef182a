#include "problem.hpp"

#include <nlohmann/json.hpp>

namespace taskflow::http {

int StatusForSqlState(const std::string& s) {
  if (s == "28000" || s == "28P01") return 401;  // bad webhook key or signature
  if (s == "42501") return 403;                  // another tenant's resource, no privilege
  if (s == "P0002") return 404;                  // no such job (or not visible to this tenant)
  if (s == "55000") return 409;                  // a transition the state machine refuses
  if (s == "23505") return 409;                  // already exists (e.g. a rule name)
  if (s == "54000") return 413;                  // over taskflow.max_payload_bytes
  if (s == "42704") return 422;                  // unknown queue
  if (s == "42883" || s == "42P01") return 501;  // function or view not in this install
  if (s == "57014" || s.rfind("40", 0) == 0 || s.rfind("53", 0) == 0 || s.rfind("08", 0) == 0 ||
      s.rfind("57", 0) == 0)
    return 503;  // statement timeout, serialization, resources, connection, shutdown
  if (s.rfind("22", 0) == 0 || s.rfind("23", 0) == 0) return 422;  // data/constraint refused
  if (s.rfind("P0", 0) == 0) return 422;  // RAISE without a more specific SQLSTATE
  return 500;
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
    p.detail = "This TaskFlow installation does not provide the function behind this endpoint "
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
