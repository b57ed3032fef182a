// The HTTP API: routes from routes.cpp, each handler one call into the taskflow SQL API under
// the database role of the caller's API key. See docs/http.md.
#include <taskflow/http/server.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <taskflow/json_limits.hpp>

#include "core/schedule_fields.hpp"

#include "bounded_server.hpp"
#include "dashboard_assets.hpp"
#include "db_pool.hpp"
#include "metrics.hpp"
#include "openapi.hpp"
#include "problem.hpp"
#include "routes.hpp"
#include "statements.hpp"

namespace taskflow::http {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

void ParseListenAddress(const std::string& address, ServerConfig* config) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw std::invalid_argument("expected HOST:PORT, got " + address);
  std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535) {
    throw std::invalid_argument("bad port in " + address);
  }
  config->host = host;
  config->port = std::stoi(port);
}

namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kProblemJson = "application/problem+json";
constexpr const char* kWebhookRole = "taskflow_webhook";
// The server's own group role (NOINHERIT): key lookups run as it. /metrics runs as the admin
// keys' role, which sees every tenant.
constexpr const char* kServerRole = "taskflow_http";
constexpr const char* kAdminRole = "taskflow_http_admin";

// A refusal decided by the server (malformed request, missing key, ...).
struct HttpError {
  Problem problem;
};

HttpError Refuse(int status, std::string detail) {
  Problem p = ProblemForStatus(status);
  p.detail = std::move(detail);
  return HttpError{std::move(p)};
}

// Who is calling: the API key's tenant, role and database role.
struct Principal {
  std::optional<std::string> tenant;
  std::string role;     // client, admin or worker
  std::string db_role;  // SET LOCAL ROLE target
};

std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<std::uint64_t>(std::random_device{}()) << 32)};
  std::uint64_t a = rng(), b = rng();
  a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
  return buf;
}

bool ValidCorrelationId(const std::string& s) {
  if (s.size() > 200) return false;
  for (unsigned char c : s) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

// "ERROR:  message\nDETAIL:  ...\nHINT:  ...\nCONTEXT: ..." into message and hint.
void SplitSqlMessage(const std::string& what, std::string* message, std::string* hint) {
  size_t pos = 0;
  while (pos < what.size()) {
    size_t end = what.find('\n', pos);
    if (end == std::string::npos) end = what.size();
    const std::string line = what.substr(pos, end - pos);
    pos = end + 1;
    auto after = [&](const char* prefix) -> std::optional<std::string> {
      const std::string p = prefix;
      if (line.rfind(p, 0) != 0) return std::nullopt;
      size_t i = p.size();
      while (i < line.size() && line[i] == ' ') ++i;
      return line.substr(i);
    };
    if (auto m = after("ERROR:")) {
      *message = *m;
    } else if (auto d = after("DETAIL:")) {
      *message += " (" + *d + ")";
    } else if (auto h = after("HINT:")) {
      *hint = *h;
    } else if (line.rfind("CONTEXT:", 0) == 0) {
      break;  // PL/pgSQL internals: not for clients
    } else if (message->empty()) {
      *message = line;
    }
  }
}

// libpqxx 6 leaves the SQLSTATE empty on a few exception classes; their type says it.
std::string SqlState(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) return e.sqlstate();
  if (dynamic_cast<const pqxx::insufficient_privilege*>(&e)) return "42501";
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e)) return "40003";
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e)) return "40000";
  if (dynamic_cast<const pqxx::too_many_connections*>(&e)) return "53300";
  return "XX000";
}

std::int64_t ParseId(const std::string& text, const char* what) {
  if (text.empty() || text.size() > 18 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw Refuse(400, std::string(what) + " must be a positive integer, got \"" + text + "\"");
  }
  const std::int64_t id = std::stoll(text);
  if (id < 1) throw Refuse(400, std::string(what) + " must be a positive integer");
  return id;
}

// A string that reaches PostgreSQL must not hold a NUL character: text cannot store one, and
// libpq would silently cut the string there (two unique keys would become one).
void RefuseNul(const std::string& value, const std::string& what) {
  if (value.find('\0') != std::string::npos) {
    throw Refuse(422, what + " must not contain a NUL character (\\u0000)");
  }
}

// Every string and member name of a parsed document, named by its path ("payload.a[2]").
// Recursion is bounded: documents are checked with JsonDeeperThan() before they are parsed.
void RefuseNulIn(const json& value, const std::string& path) {
  if (value.is_string()) {
    RefuseNul(value.get_ref<const std::string&>(), path.empty() ? "the request body" : path);
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      const std::string name = path.empty() ? it.key() : path + "." + it.key();
      RefuseNul(it.key(), "the member name " +
                              json(name).dump(-1, ' ', false, json::error_handler_t::replace));
      RefuseNulIn(it.value(), name);
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i)
      RefuseNulIn(value[i], path + "[" + std::to_string(i) + "]");
  }
}

// Untrusted JSON text: refused when it nests deeper than kMaxJsonDepth (checked on the raw text,
// before anything recursive sees it; nlohmann's dump() recurses per level), or is not JSON.
// `what` names it in the error. The body of POST /jobs etc. is an object around the values, so
// its own limit is one level more.
json ParseUntrusted(const std::string& text, const std::string& what, std::size_t max_depth) {
  if (JsonDeeperThan(text, max_depth)) {
    throw Refuse(422, what + " nests arrays and objects deeper than " + std::to_string(max_depth) +
                          " levels (the limit of this server; docs/http.md, Limits)");
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) throw Refuse(400, what + " is not valid JSON");
  return j;
}

json ParseBodyObject(const std::string& body, bool allow_empty) {
  if (body.empty() && allow_empty) return json::object();
  json j = ParseUntrusted(body, "the request body", kMaxJsonDepth + 1);
  if (!j.is_object()) throw Refuse(400, "the request body must be a JSON object");
  RefuseNulIn(j, "");
  return j;
}

void CheckKeys(const json& body, const std::set<std::string>& allowed) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (!allowed.count(it.key())) {
      std::string list;
      for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
      throw Refuse(400, "unknown field \"" + it.key() + "\"; fields are: " + list);
    }
  }
}

void CheckParams(const httplib::Request& req, const std::set<std::string>& allowed) {
  for (const auto& [name, value] : req.params) {
    if (!allowed.count(name)) {
      std::string list;
      for (const std::string& k : allowed) list += (list.empty() ? "" : ", ") + k;
      throw Refuse(400, "unknown query parameter \"" + name + "\"; parameters are: " + list);
    }
  }
}

// The places of the fields CreateJob treats specially.
const std::size_t kTenantField = ScheduleFieldIndex("tenant_id");
const std::size_t kUniqueKeyField = ScheduleFieldIndex("unique_key");
const std::size_t kCorrelationField = ScheduleFieldIndex("correlation_id");
const std::size_t kParentField = ScheduleFieldIndex("parent_job_id");
const std::size_t kTraceparentField = ScheduleFieldIndex("traceparent");

// One member of POST /jobs's body as the text of its schedule() parameter, by the field's JSON
// type; nullopt when absent or null. Integers are sent as their decimal text, the array of job
// ids (depends_on) as a bigint[] literal ("{1,2}"), an object as JSON text. A field without a
// default in schedule() (job_type) is required.
std::optional<std::string> ScheduleParam(const json& body, const core::ScheduleField& field) {
  const std::string name(field.name);
  if (!body.contains(name) || body[name].is_null()) {
    if (field.sql_default.empty()) {
      throw Refuse(
          400, name + " (a " + std::string(core::JsonTypeName(field.json_type)) + ") is required");
    }
    return std::nullopt;
  }
  const json& v = body[name];
  auto integer_text = [](const json& n) {
    return n.is_number_unsigned() ? std::to_string(n.get<std::uint64_t>())
                                  : std::to_string(n.get<std::int64_t>());
  };
  switch (field.json_type) {
    case core::ScheduleJsonType::String:
      if (!v.is_string()) throw Refuse(400, name + " must be a string");
      return v.get<std::string>();
    case core::ScheduleJsonType::Integer:
      if (!v.is_number_integer()) throw Refuse(400, name + " must be an integer");
      return integer_text(v);
    case core::ScheduleJsonType::Object:
      if (!v.is_object()) throw Refuse(400, name + " must be a JSON object");
      return v.dump();
    case core::ScheduleJsonType::IntegerArray: break;
  }
  // an array of job ids
  if (!v.is_array()) throw Refuse(400, name + " must be an array of job ids");
  std::string list = "{";
  for (const json& e : v) {
    if (!e.is_number_integer()) throw Refuse(400, name + " must be an array of job ids");
    list += (list.size() > 1 ? "," : "") + integer_text(e);
  }
  return list + "}";
}

// POST /jobs's body as schedule()'s parameters, in the order of core::kScheduleFields; an
// unknown member is refused, and so is a missing required one.
std::vector<std::optional<std::string>> ScheduleParams(const json& body) {
  static const std::set<std::string> kNames = [] {
    std::set<std::string> names;
    for (const core::ScheduleField& f : core::kScheduleFields) names.emplace(f.name);
    return names;
  }();
  CheckKeys(body, kNames);
  std::vector<std::optional<std::string>> params;
  for (const core::ScheduleField& f : core::kScheduleFields)
    params.push_back(ScheduleParam(body, f));
  return params;
}

std::optional<std::string> Param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  return req.get_param_value(name);
}

// A query parameter that reaches PostgreSQL as text: refused when it holds a NUL character.
std::optional<std::string> TextParam(const httplib::Request& req, const char* name) {
  auto v = Param(req, name);
  if (v) RefuseNul(*v, std::string("query parameter ") + name);
  return v;
}

std::optional<std::int64_t> IntParam(const httplib::Request& req, const char* name) {
  auto v = Param(req, name);
  if (!v) return std::nullopt;
  const std::string& s = *v;
  const size_t start = (!s.empty() && s[0] == '-') ? 1 : 0;
  if (s.size() == start || s.size() > 18 ||
      s.find_first_not_of("0123456789", start) != std::string::npos) {
    throw Refuse(400,
                 std::string("query parameter ") + name + " must be an integer, got \"" + s + "\"");
  }
  return std::stoll(s);
}

// Why the request's body framing is invalid (RFC 9112 6.1, 6.3), or empty when it is fine:
// Content-Length and Transfer-Encoding together (request smuggling), Content-Length values
// that differ or are not numbers, a transfer coding other than chunked.
std::string FramingError(const httplib::Request& req) {
  const size_t lengths = req.get_header_value_count("Content-Length");
  const size_t codings = req.get_header_value_count("Transfer-Encoding");
  if (lengths > 0 && codings > 0)
    return "the request has both Content-Length and Transfer-Encoding";
  if (codings > 1) return "the request has more than one Transfer-Encoding header";
  if (codings == 1) {
    std::string coding = req.get_header_value("Transfer-Encoding");
    for (char& c : coding) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (coding != "chunked")
      return "Transfer-Encoding \"" + req.get_header_value("Transfer-Encoding") +
             "\" is not supported (only chunked)";
  }
  std::string first;
  for (size_t i = 0; i < lengths; ++i) {
    const std::string value = req.get_header_value("Content-Length", i);
    if (value.empty() || value.size() > 18 ||
        value.find_first_not_of("0123456789") != std::string::npos) {
      return "the request has an invalid Content-Length \"" + value + "\"";
    }
    if (i == 0)
      first = value;
    else if (value != first)
      return "the request has several different Content-Length values";
  }
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------

struct Server::Impl {
  explicit Impl(ServerConfig c)
      : config(std::move(c)),
        server(Limits(config)),
        pool(config.db, config.threads, config.statement_timeout, config.application_name) {}

  static ConnectionLimits Limits(const ServerConfig& c) {
    ConnectionLimits l;
    l.threads = c.threads;
    l.max_queued = c.max_queued;
    l.request_timeout = c.request_timeout;
    l.read_timeout = c.read_timeout;
    l.write_timeout = c.write_timeout;
    l.keep_alive_timeout = c.keep_alive_timeout;
    l.keep_alive_max_requests = c.keep_alive_max_requests;
    l.max_request_bytes = 2 * c.max_body_bytes + (256u << 10);
    return l;
  }

  // One request: its correlation id, its database connection (taken on first use), its caller.
  struct Call {
    const httplib::Request& req;
    httplib::Response& res;
    std::string correlation_id;
    std::optional<DbPool::Lease> lease;
    Principal who;
  };

  PooledConnection& Conn(Call& call, std::chrono::milliseconds wait = std::chrono::seconds(5)) {
    if (!call.lease) call.lease.emplace(pool.Acquire(wait));
    return **call.lease;
  }

  // Pooled connections keep the role of their last request (SET ROLE at session level), so a
  // run of requests with one key switches roles only once. Every call names the role it needs;
  // empty means the login role.
  // A role that does not exist is a server-side problem, not the client's: typically a database
  // restored onto a new server without its roles (cluster-wide, not in pg_dump; an API key's
  // role taskflow_t_... then exists in api_keys but not on the server). PostgreSQL's 22023
  // would read as a 422 about the request; this says what is missing and how to restore it.
  static void UseRole(PooledConnection& pc, const std::string& role) {
    if (pc.role == role) return;
    try {
      pqxx::nontransaction tx(pc.conn);
      if (role.empty())
        tx.exec_prepared(StatementName(Stmt::kResetRole));
      else
        tx.exec_prepared(StatementName(Stmt::kSetRole), role);
    } catch (const pqxx::sql_error& e) {
      if (role.empty() || SqlState(e) != "22023") throw;
      pqxx::nontransaction check(pc.conn);
      if (!check.exec_prepared1(StatementName(Stmt::kRoleMissing), role)[0].as<bool>()) throw;
      spdlog::error(
          "database role {} does not exist on this server (restored without pg_dumpall "
          "--globals-only?); see docs/deploy.md",
          role);
      Problem p = ProblemForStatus(500);
      p.slug = "role-missing";
      p.title = "Database role missing";
      p.detail = "The database role \"" + role +
                 "\" that requests with this API key run as does not "
                 "exist on this server.";
      p.hint =
          "Database roles are cluster-wide and pg_dump does not copy them: restore them on the new "
          "server with pg_dumpall --globals-only before the database, or create new API keys "
          "(docs/deploy.md, \"Restoring onto a new server\").";
      throw HttpError{std::move(p)};
    }
    pc.role = role;
  }

  // Runs the statement `id` of statements.cpp (one statement, its own implicit transaction:
  // all or nothing) as `role`; NULL parameters as nullptr.
  pqxx::result ExecPrepared(Call& call, const std::string& role, Stmt id,
                            const std::vector<const char*>& params = {}) {
    PooledConnection& pc = Conn(call);
    try {
      UseRole(pc, role);
      pqxx::nontransaction tx(pc.conn);
      return tx.exec_prepared(StatementName(id), pqxx::prepare::make_dynamic_params(params));
    } catch (const pqxx::broken_connection&) {
      call.lease->Discard();
      throw;
    }
  }

  // --- authentication -------------------------------------------------------------------------
  Principal Authenticate(Call& call) {
    const std::string header = call.req.get_header_value("Authorization");
    static const std::string kBearer = "Bearer ";
    if (header.empty())
      throw Refuse(401, "this endpoint needs an API key: Authorization: Bearer <key>");
    if (header.compare(0, kBearer.size(), kBearer) != 0) {
      throw Refuse(401, "the Authorization header must be \"Bearer <key>\"");
    }
    const std::string key = header.substr(kBearer.size());
    // Keys are "tfk_" + 43 URL-safe base64 characters; anything else is refused without a lookup.
    if (key.size() != 47 || key.compare(0, 4, "tfk_") != 0 ||
        key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
                              4) != std::string::npos) {
      throw Refuse(401, "invalid or revoked API key");
    }
    const auto now = Clock::now();
    {
      std::lock_guard<std::mutex> lock(auth_mutex);
      auto it = auth_cache.find(key);
      if (it != auth_cache.end() && it->second.second > now) return it->second.first;
    }
    pqxx::result r;
    try {
      r = ExecPrepared(call, kServerRole, Stmt::kAuthenticate, {key.c_str()});
    } catch (const pqxx::sql_error& e) {
      // 28000: a client key whose database role exists but is not mapped to the key's tenant
      // (tenant_roles lost in a restore): the extension refuses to let it run unconfined. Like a
      // missing role (UseRole) this is the server's set-up, not the client's key: a 500 saying
      // what is wrong, never cached.
      if (SqlState(e) != "28000") throw;
      std::string message, hint;
      SplitSqlMessage(e.what(), &message, &hint);
      spdlog::error("{} (see docs/deploy.md, \"Restoring onto a new server\")", message);
      Problem p = ProblemForStatus(500);
      p.slug = "role-unmapped";
      p.title = "Database role not mapped to its tenant";
      p.sqlstate = "28000";
      p.detail = message + ".";
      p.hint = hint;
      throw HttpError{std::move(p)};
    }
    if (r.empty()) throw Refuse(401, "invalid or revoked API key");
    Principal p;
    if (!r[0][0].is_null()) p.tenant = r[0][0].c_str();
    p.role = r[0][1].c_str();
    p.db_role = r[0][2].c_str();
    if (config.auth_cache_ttl.count() > 0) {
      std::lock_guard<std::mutex> lock(auth_mutex);
      if (auth_cache.size() >= 10000) auth_cache.clear();
      auth_cache[key] = {p, now + config.auth_cache_ttl};
    }
    return p;
  }

  void RequireAdmin(const Call& call) {
    if (call.who.role != "admin") throw Refuse(403, "this endpoint needs an admin API key");
  }

  // --- responses ------------------------------------------------------------------------------
  static void Json(Call& call, int status, const std::string& body) {
    call.res.status = status;
    call.res.set_content(body, kJson);
  }

  void Fail(Call& call, const Problem& p) {
    call.res.status = p.status;
    if (p.status == 401) call.res.set_header("WWW-Authenticate", "Bearer");
    if (p.status == 503) call.res.set_header("Retry-After", "1");
    call.res.set_content(ProblemJson(p, call.correlation_id), kProblemJson);
  }

  // --- handlers -------------------------------------------------------------------------------
  // POST /jobs: taskflow.schedule with the body's parameters (core::kScheduleFields, in its
  // signature's order), absent ones taking schedule's defaults.
  void CreateJob(Call& call) {
    const json body = ParseBodyObject(call.req.body, false);
    std::vector<std::optional<std::string>> params = ScheduleParams(body);
    std::optional<std::string>& tenant = params[kTenantField];
    if (!tenant && call.who.tenant && call.who.role == "client") tenant = *call.who.tenant;
    // W3C trace context: the traceparent header (what OpenTelemetry's HTTP instrumentation
    // sends) wins over the body's field. The extension checks the format (22023 -> 422).
    std::optional<std::string>& traceparent = params[kTraceparentField];
    if (call.req.has_header("traceparent")) traceparent = call.req.get_header_value("traceparent");
    if (traceparent) RefuseNul(*traceparent, "traceparent");
    // The X-Correlation-ID header wins over the body's. Without either, a sub-job (parent_job_id)
    // inherits its parent's (the engine's rule) and any other job gets a generated one.
    std::optional<std::string>& correlation = params[kCorrelationField];
    const bool parent = params[kParentField].has_value();
    if (call.correlation_id.empty() && correlation) call.correlation_id = *correlation;
    if (call.correlation_id.empty() && !parent) call.correlation_id = NewUuid();
    correlation.reset();
    if (!call.correlation_id.empty()) correlation = call.correlation_id;
    // The answer reports the correlation id the job has, which is not always the one sent: a
    // unique_key that matches an existing job returns that job (with its own correlation id), and
    // a sub-job without one inherits its parent's. In those two cases the statement reads it
    // back (Stmt::kScheduleReadBack); the common case stays one plain statement.
    const bool read_back = params[kUniqueKeyField] || parent;
    std::vector<const char*> args;
    for (const auto& v : params) args.push_back(P(v));
    const pqxx::result r = ExecPrepared(
        call, call.who.db_role, read_back ? Stmt::kScheduleReadBack : Stmt::kSchedule, args);
    JobCreated(call, r);
  }

  // POST /jobs's answer: 201, Location, the id and the correlation id the job has.
  static void JobCreated(Call& call, const pqxx::result& r) {
    const std::string id = r[0][0].c_str();
    call.res.set_header("Location", "/jobs/" + id);
    json answer = {{"id", std::stoll(id)}, {"correlation_id", nullptr}};
    call.res.headers.erase("X-Correlation-ID");
    if (!r[0][1].is_null()) {
      answer["correlation_id"] = r[0][1].c_str();
      call.res.set_header("X-Correlation-ID", r[0][1].c_str());
    }
    Json(call, 201, answer.dump());
  }

  void GetJob(Call& call) {
    const std::int64_t id = ParseId(call.req.matches[1], "job id");
    const std::string id_text = std::to_string(id);
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kGetJob, {id_text.c_str()});
    if (r[0][0].is_null()) throw Refuse(404, "job " + std::to_string(id) + " does not exist");
    Json(call, 200, r[0][0].c_str());
  }

  void ListJobs(Call& call) {
    CheckParams(call.req, {"tenant", "queue", "state", "job_type", "after", "limit"});
    static const std::set<std::string> kStates = {"PENDING", "SCHEDULED", "RUNNING",  "SUCCEEDED",
                                                  "FAILED",  "DEAD",      "CANCELLED"};
    const std::optional<std::string> tenant = TextParam(call.req, "tenant"),
                                     queue = TextParam(call.req, "queue"),
                                     state = Param(call.req, "state");
    if (state && !kStates.count(*state)) {  // a state has no NUL character
      throw Refuse(400,
                   "state must be one of PENDING, SCHEDULED, RUNNING, SUCCEEDED, FAILED, "
                   "DEAD, CANCELLED; got \"" +
                       *state + "\"");
    }
    const std::optional<std::string> job_type = TextParam(call.req, "job_type");
    std::optional<std::string> after;
    if (auto v = IntParam(call.req, "after")) after = std::to_string(*v);
    const std::int64_t limit = IntParam(call.req, "limit").value_or(100);
    const std::string limit_text = std::to_string(limit);
    const pqxx::result r =
        ExecPrepared(call, call.who.db_role, Stmt::kListJobs,
                     {P(tenant), P(queue), P(state), P(job_type), P(after), limit_text.c_str()});
    const std::int64_t count = r[0][1].as<std::int64_t>();
    const std::string next = (count > 0 && count == limit) ? r[0][2].c_str() : "null";
    Json(call, 200, std::string("{\"jobs\":") + r[0][0].c_str() + ",\"next_after\":" + next + "}");
  }

  void JobHistory(Call& call) {
    const std::int64_t id = ParseId(call.req.matches[1], "job id");
    const std::string id_text = std::to_string(id);
    const pqxx::result r =
        ExecPrepared(call, call.who.db_role, Stmt::kJobHistory, {id_text.c_str()});
    if (r[0][0].is_null()) throw Refuse(404, "job " + std::to_string(id) + " does not exist");
    Json(call, 200, r[0][0].c_str());
  }

  void CancelJob(Call& call) {
    const std::int64_t id = ParseId(call.req.matches[1], "job id");
    const json body = ParseBodyObject(call.req.body, true);
    CheckKeys(body, {"reason"});
    std::optional<std::string> reason;
    if (body.contains("reason") && !body["reason"].is_null()) {
      if (!body["reason"].is_string()) throw Refuse(400, "reason must be a string");
      reason = body["reason"].get<std::string>();
    }
    const std::string id_text = std::to_string(id);
    const pqxx::result r =
        ExecPrepared(call, call.who.db_role, Stmt::kCancelJob, {id_text.c_str(), P(reason)});
    Json(call, 200, json{{"id", id}, {"state", r[0][0].c_str()}}.dump());
  }

  void RetryJob(Call& call) {
    const std::int64_t id = ParseId(call.req.matches[1], "job id");
    CheckKeys(ParseBodyObject(call.req.body, true), {});
    const std::string id_text = std::to_string(id);
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kRetryJob, {id_text.c_str()});
    Json(call, 200, json{{"id", id}, {"state", r[0][0].c_str()}}.dump());
  }

  void CreateRule(Call& call) {
    const json body = ParseBodyObject(call.req.body, false);
    CheckKeys(body, {"name", "trigger", "actions", "condition", "tenant_id"});
    if (!body.contains("name") || !body["name"].is_string())
      throw Refuse(400, "name (a string) is required");
    if (!body.contains("trigger") || !body["trigger"].is_object()) {
      throw Refuse(400, "trigger (a JSON object) is required");
    }
    if (!body.contains("actions") || !body["actions"].is_array()) {
      throw Refuse(400, "actions (a JSON array) is required");
    }
    const std::string name = body["name"].get<std::string>(), trigger = body["trigger"].dump(),
                      actions = body["actions"].dump();
    std::optional<std::string> condition, tenant;
    if (body.contains("condition") && !body["condition"].is_null()) {
      if (!body["condition"].is_string())
        throw Refuse(400, "condition must be a string (a jsonpath)");
      condition = body["condition"].get<std::string>();
    }
    if (body.contains("tenant_id") && !body["tenant_id"].is_null()) {
      if (!body["tenant_id"].is_string()) throw Refuse(400, "tenant_id must be a string");
      tenant = body["tenant_id"].get<std::string>();
    } else if (call.who.tenant && call.who.role == "client") {
      tenant = *call.who.tenant;
    }
    const pqxx::result r =
        ExecPrepared(call, call.who.db_role, Stmt::kCreateRule,
                     {name.c_str(), trigger.c_str(), actions.c_str(), P(condition), P(tenant)});
    Json(call, 201, json{{"id", r[0][0].as<std::int64_t>()}}.dump());
  }

  void ListRules(Call& call) {
    CheckParams(call.req, {"tenant", "trigger_type", "enabled"});
    const std::optional<std::string> tenant = TextParam(call.req, "tenant"),
                                     trigger_type = TextParam(call.req, "trigger_type"),
                                     enabled = Param(call.req, "enabled");
    if (enabled && *enabled != "true" && *enabled != "false")
      throw Refuse(400, "enabled must be true or false");
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kListRules,
                                        {P(tenant), P(trigger_type), P(enabled)});
    Json(call, 200, std::string("{\"rules\":") + r[0][0].c_str() + "}");
  }

  void Webhook(Call& call) {
    const std::string key = call.req.matches[1];
    RefuseNulIn(ParseUntrusted(call.req.body, "the webhook body", kMaxJsonDepth), "webhook body");
    RefuseNul(key, "the webhook key");
    RefuseNul(call.req.body, "the webhook body");
    auto header = [&](const char* name) -> std::optional<std::string> {
      if (!call.req.has_header(name)) return std::nullopt;
      std::string value = call.req.get_header_value(name);
      RefuseNul(value, std::string("header ") + name);
      return value;
    };
    const std::optional<std::string> signature = header("X-TaskFlow-Signature"),
                                     delivery = header("X-TaskFlow-Delivery"),
                                     traceparent = header("traceparent");
    const pqxx::result r = ExecPrepared(
        call, kWebhookRole, Stmt::kWebhook,
        {key.c_str(), call.req.body.c_str(), P(signature), P(delivery), P(traceparent)});
    Json(call, 202, std::string("{\"job_ids\":") + r[0][0].c_str() + "}");
  }

  void AdminQueues(Call& call) {
    RequireAdmin(call);
    CheckParams(call.req, {});
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kAdminQueues);
    Json(call, 200, std::string("{\"queues\":") + r[0][0].c_str() + "}");
  }

  void AdminAutomations(Call& call) {
    RequireAdmin(call);
    CheckParams(call.req, {"firings"});
    const std::int64_t firings = IntParam(call.req, "firings").value_or(5);
    if (firings < 0 || firings > 100) throw Refuse(422, "firings must be between 0 and 100");
    const std::string firings_text = std::to_string(firings);
    const pqxx::result r =
        ExecPrepared(call, call.who.db_role, Stmt::kAdminAutomations, {firings_text.c_str()});
    Json(call, 200, std::string("{\"automations\":") + r[0][0].c_str() + "}");
  }

  // Stmt::kReadiness's answer: the roles the login role cannot SET ROLE to but must.
  static std::string NotMember(const std::string& missing) {
    return "the server's database role is not a member of " + missing +
           ", so requests would fail with 403: GRANT taskflow_http TO <the role in --db> "
           "(the extension grants the others to taskflow_http; docs/http.md, Running it)";
  }

  void Health(Call& call) {
    try {
      Conn(call, std::chrono::seconds(2));
      const pqxx::result r = ExecPrepared(call, "", Stmt::kReadiness);
      if (r.empty()) throw Refuse(503, "the taskflow extension is not installed in this database");
      if (!r[0][1].is_null() && r[0][1].size() > 0) throw Refuse(503, NotMember(r[0][1].c_str()));
      Json(call, 200, json{{"status", "ok"}, {"version", r[0][0].c_str()}}.dump());
    } catch (const pqxx::failure& e) {
      throw Refuse(503, "the database does not answer");
    } catch (const std::runtime_error& e) {
      throw Refuse(503, "the database does not answer");
    }
  }

  void Metrics(Call& call) {
    std::string text;
    bool up = false;
    // The database-wide series (taskflow.metrics()) only where config.database_metrics says so:
    // every process serving them would make sum() over instances count them once per process.
    if (config.database_metrics) {
      try {
        Conn(call, std::chrono::seconds(2));
        const pqxx::result r = ExecPrepared(call, kAdminRole, Stmt::kMetrics);
        text = r[0][0].c_str();
        if (!text.empty() && text.back() != '\n') text += '\n';
        up = true;
      } catch (const std::exception& e) {
        spdlog::warn("/metrics: taskflow.metrics() failed: {}", e.what());
      }
    }
    HttpMetrics::Gauges g;
    g.db_connections = pool.open_connections();
    g.db_reconnects = pool.reconnects();
    g.rejected_connections = server.rejected_connections();
    g.active_connections = server.active_connections();
    g.database_up = up;
    g.with_database = config.database_metrics;
    text += metrics.Render(g);
    std::function<std::string()> extra;
    {
      std::lock_guard<std::mutex> lock(extra_mutex);
      extra = extra_metrics;
    }
    if (extra) text += extra();
    call.res.status = 200;
    call.res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  }

  void OpenApi(Call& call) { Json(call, 200, OpenApiDocument()); }

#include "dashboard_admin_handlers.inc"
#include "dashboard_jobs_handlers.inc"
#include "worker_protocol_handlers.inc"
#include "workflow_handlers.inc"
  // --- the dashboard's API (docs/dashboard.md) --------------------------------------------------
  // GET /dashboard/api/session: what the key is (taskflow.dashboard_session under its role).
  void DashboardSession(Call& call) {
    CheckParams(call.req, {});
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kDashSession);
    Json(call, 200, r[0][0].c_str());
  }

  // GET /dashboard/api/overview?range=1h|24h: taskflow.dashboard_overview under the key's role
  // (a tenant's key gets only its tenant's numbers: the function confines it).
  void DashboardOverview(Call& call) {
    CheckParams(call.req, {"range"});
    const std::string range = Param(call.req, "range").value_or("1h");
    const char* interval = range == "1h" ? "1 hour" : range == "24h" ? "24 hours" : nullptr;
    if (!interval) throw Refuse(400, "range must be 1h or 24h, got \"" + range + "\"");
    const pqxx::result r = ExecPrepared(call, call.who.db_role, Stmt::kDashOverview, {interval});
    Json(call, 200, r[0][0].c_str());
  }

  // GET / and /assets/*: the dashboard's files, compiled in. index.html is revalidated on every
  // load (no-cache), the content-hashed assets are cached for a year. The policy allows only
  // this server's own scripts, styles and API (no inline script, no CDN).
  static constexpr const char* kDashboardCsp =
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
      "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
      "frame-ancestors 'none'";
  void ServeDashboardFile(const httplib::Request& req, httplib::Response& res,
                          const std::string& path) {
    const DashboardAsset* asset = FindDashboardAsset(path);
    if (!asset) {
      res.status = 404;
      Problem p = ProblemForStatus(404);
      p.detail = "no dashboard file " + path;
      const std::string correlation_id = req.get_header_value("X-Correlation-ID");
      res.set_content(
          ProblemJson(p, ValidCorrelationId(correlation_id) ? correlation_id : std::string()),
          kProblemJson);
      return;
    }
    res.status = 200;
    res.set_header("Cache-Control",
                   asset->immutable ? "public, max-age=31536000, immutable" : "no-cache");
    res.set_header("Content-Security-Policy", kDashboardCsp);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_content(reinterpret_cast<const char*>(asset->data), asset->size, asset->content_type);
  }

  void Handle(const RouteSpec& route, Call& call) {
    switch (route.id) {
      case RouteId::kCreateJob: return CreateJob(call);
      case RouteId::kGetJob: return GetJob(call);
      case RouteId::kListJobs: return ListJobs(call);
      case RouteId::kJobHistory: return JobHistory(call);
      case RouteId::kCancelJob: return CancelJob(call);
      case RouteId::kRetryJob: return RetryJob(call);
      case RouteId::kCreateWorkflow: return CreateWorkflow(call);
      case RouteId::kListWorkflows: return ListWorkflows(call);
      case RouteId::kGetWorkflow: return GetWorkflow(call);
      case RouteId::kCancelWorkflow: return CancelWorkflow(call);
      case RouteId::kCreateRule: return CreateRule(call);
      case RouteId::kListRules: return ListRules(call);
      case RouteId::kWebhook: return Webhook(call);
      case RouteId::kAdminQueues: return AdminQueues(call);
      case RouteId::kAdminAutomations: return AdminAutomations(call);
      case RouteId::kHealth: return Health(call);
      case RouteId::kMetrics: return Metrics(call);
      case RouteId::kOpenApi: return OpenApi(call);
      // dashboard: queues, rules, tenants
      case RouteId::kDashQueues: return DashQueues(call);
      case RouteId::kDashAlterQueue: return DashAlterQueue(call);
      case RouteId::kDashPauseQueue: return DashPauseQueue(call, true);
      case RouteId::kDashResumeQueue: return DashPauseQueue(call, false);
      case RouteId::kDashRules: return DashRules(call);
      case RouteId::kDashEnableRule: return DashEnableRule(call, true);
      case RouteId::kDashDisableRule: return DashEnableRule(call, false);
      case RouteId::kDashFireRule: return DashFireRule(call);
      case RouteId::kDashRuleFirings: return DashRuleFirings(call);
      case RouteId::kDashWebhookDeliveries: return DashWebhookDeliveries(call);
      case RouteId::kDashTenants: return DashTenants(call);
      case RouteId::kDashJobs: return DashJobs(call);
      case RouteId::kDashJobsCount: return DashJobsCount(call);
      case RouteId::kDashJobsBulk: return DashJobsBulk(call);
      case RouteId::kDashJob: return DashJob(call);
      case RouteId::kDashDeadLetters: return DashDeadLetters(call);
      case RouteId::kDashDeadLettersRedrive: return DashDeadLettersAction(call, false);
      case RouteId::kDashDeadLettersPurge: return DashDeadLettersAction(call, true);
      case RouteId::kDashboardSession: return DashboardSession(call);
      case RouteId::kDashboardOverview: return DashboardOverview(call);
      case RouteId::kAcquireJobs: return AcquireJobs(call);
      case RouteId::kHeartbeatJob: return HeartbeatJob(call);
      case RouteId::kCompleteJob: return CompleteJob(call);
      case RouteId::kFailJob: return FailJob(call);
      case RouteId::kReleaseJob: return ReleaseJob(call);
      case RouteId::kSnoozeJob: return SnoozeJob(call);
    }
  }

  // Every route goes through here: correlation id, API key, the handler, errors as problems.
  void Dispatch(const RouteSpec& route, const httplib::Request& req, httplib::Response& res) {
    CurrentRequest().route = route.path;
    Call call{req, res, req.get_header_value("X-Correlation-ID"), std::nullopt, Principal{}};
    try {
      if (!ValidCorrelationId(call.correlation_id)) {
        call.correlation_id.clear();
        throw Refuse(400, "X-Correlation-ID must be at most 200 printable ASCII characters");
      }
      if (!call.correlation_id.empty()) res.set_header("X-Correlation-ID", call.correlation_id);
      if (route.needs_key) call.who = Authenticate(call);
      Handle(route, call);
    } catch (const HttpError& e) {
      Fail(call, e.problem);
    } catch (const pqxx::sql_error& e) {
      std::string message, hint;
      SplitSqlMessage(e.what(), &message, &hint);
      const std::string sqlstate = SqlState(e);
      const Problem p = ProblemFromSql(sqlstate, message, hint);
      if (p.status >= 500) {
        spdlog::error("{} {}: SQLSTATE {}: {}", req.method, req.path, sqlstate, message);
      }
      Fail(call, p);
    } catch (const pqxx::broken_connection& e) {
      spdlog::warn("{} {}: database connection lost: {}", req.method, req.path, e.what());
      Fail(call, Refuse(503, "the database connection was lost; retry").problem);
    } catch (const std::exception& e) {
      // No connection became free in time, or the database refused a new one.
      spdlog::error("{} {}: {}", req.method, req.path, e.what());
      Fail(call, Refuse(503, "the server cannot reach the database right now; retry").problem);
    }
  }

  void Setup() {
    RegisterApiRoutes();
    RegisterDashboardFiles();
    server.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return PreRoute(req, res); });
    server.set_payload_max_length(config.max_body_bytes);
    server.set_error_handler(
        [this](const httplib::Request& req, httplib::Response& res) { ErrorBody(req, res); });
    server.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      LogRequest(req, res);
    });
  }

  // The routes of RouteTable(), each through Dispatch.
  void RegisterApiRoutes() {
    for (const RouteSpec& route : RouteTable()) {
      patterns.emplace_back(route.pattern);
      auto handler = [this, &route](const httplib::Request& req, httplib::Response& res) {
        Dispatch(route, req, res);
      };
      if (std::string(route.method) == "GET")
        server.Get(route.pattern, handler);
      else if (std::string(route.method) == "PATCH")
        server.Patch(route.pattern, handler);
      else
        server.Post(route.pattern, handler);
    }
  }

  // The dashboard's files (not API routes: no key, no database).
  void RegisterDashboardFiles() {
    server.Get("/", [this](const httplib::Request& req, httplib::Response& res) {
      CurrentRequest().route = "/";
      ServeDashboardFile(req, res, "/index.html");
    });
    server.Get("/index\\.html", [this](const httplib::Request& req, httplib::Response& res) {
      CurrentRequest().route = "/";
      ServeDashboardFile(req, res, "/index.html");
    });
    server.Get("/assets/[A-Za-z0-9._-]+",
               [this](const httplib::Request& req, httplib::Response& res) {
                 CurrentRequest().route = "/assets/{file}";
                 ServeDashboardFile(req, res, req.path);
               });
  }

  // A problem answered before routing; `close` closes the connection after it.
  static httplib::Server::HandlerResponse AnswerEarly(const httplib::Request& req,
                                                      httplib::Response& res, const Problem& p,
                                                      bool close) {
    res.status = p.status;
    const std::string correlation_id = req.get_header_value("X-Correlation-ID");
    res.set_content(
        ProblemJson(p, ValidCorrelationId(correlation_id) ? correlation_id : std::string()),
        kProblemJson);
    if (close) {
      res.set_header("Connection", "close");
      CurrentRequest().close = true;
    }
    return httplib::Server::HandlerResponse::Handled;
  }

  // Before httplib reads a body: the request's framing (RFC 9112 6.3), its route and method.
  httplib::Server::HandlerResponse PreRoute(const httplib::Request& req, httplib::Response& res) {
    // A body this handler does not read leaves the stream at an unknown place: the answer
    // closes the connection instead of parsing the body as the next request.
    const bool has_body =
        req.has_header("Transfer-Encoding") ||
        (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
    auto answer = [&](const Problem& p, bool close) { return AnswerEarly(req, res, p, close); };
    if (const std::string bad = FramingError(req); !bad.empty()) {
      return answer(Refuse(400, bad + " (RFC 9112 section 6.3); the connection is closed").problem,
                    true);
    }
    // GET and POST with a length are left to httplib's routing (the hot path: no regex here;
    // its 404 for a path with another method becomes 405 in the error handler).
    const bool bodiless = !req.has_header("Content-Length") && !req.has_header("Transfer-Encoding");
    const bool bodiless_post = req.method == "POST" && bodiless;
    if (req.method == "GET" || req.method == "HEAD" || (req.method == "POST" && !bodiless_post)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    // Other methods and bodiless POSTs: a path no route has is 404, a known path with another
    // method 405 (with Allow), both before any body is read (httplib would read a PUT's body
    // without Content-Length until the client closes).
    const std::string& method = req.method;
    std::string allow;
    for (size_t i = 0; i < RouteTable().size(); ++i) {
      const RouteSpec& route = RouteTable()[i];
      std::smatch m;
      if (!std::regex_match(req.path, m, patterns[i])) continue;
      if (method == route.method) {
        // A PATCH with a body (the dashboard's settings) is read and dispatched by httplib.
        if (method == "PATCH" && !bodiless) return httplib::Server::HandlerResponse::Unhandled;
        // A request without Content-Length or Transfer-Encoding has an empty body (RFC 9112
        // 6.3); httplib 0.11 would instead read until the client closes. Such POSTs (curl -X
        // POST) are dispatched here, before httplib reads a body.
        httplib::Request empty = req;
        empty.matches = m;
        Dispatch(route, empty, res);
        return httplib::Server::HandlerResponse::Handled;
      }
      allow += (allow.empty() ? "" : ", ") + std::string(route.method);
    }
    if (allow.empty()) return answer(ProblemForStatus(404), has_body);
    Problem p = ProblemForStatus(405);
    p.detail = "this path answers " + allow;
    res.set_header("Allow", allow);
    return answer(p, has_body);
  }

  // Statuses httplib sets itself (404 no route, 413 body limit, 400 unparsable) get a problem
  // body too; bodies the handlers wrote are left alone.
  void ErrorBody(const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    Problem p = ProblemForStatus(res.status);
    if (res.status == 404) {
      // A known path with another method: 405 and the methods it has.
      std::string allow;
      for (size_t i = 0; i < RouteTable().size(); ++i) {
        if (std::regex_match(req.path, patterns[i])) {
          allow += (allow.empty() ? "" : ", ") + std::string(RouteTable()[i].method);
        }
      }
      if (!allow.empty()) {
        res.status = 405;
        res.set_header("Allow", allow);
        p = ProblemForStatus(405);
        p.detail = "this path answers " + allow;
      }
    }
    const std::string correlation_id = req.get_header_value("X-Correlation-ID");
    res.set_content(
        ProblemJson(p, ValidCorrelationId(correlation_id) ? correlation_id : std::string()),
        kProblemJson);
  }

  // Every answered request: its metrics, a debug line, and whether to close the connection.
  void LogRequest(const httplib::Request& req, const httplib::Response& res) {
    RequestScope& scope = CurrentRequest();
    // A request httplib could not read (or refused to read) leaves the stream at an unknown
    // place: answer it, then close rather than parse the rest as the next request.
    if (std::string(scope.route) == "other" &&
        (res.status == 400 || res.status == 408 || res.status == 413 || res.status == 414)) {
      scope.close = true;
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - scope.started).count();
    metrics.Record(scope.route, req.method, res.status, seconds);
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("{} {} {} {:.1f} ms route={} correlation_id={}", req.method, req.path,
                    res.status, seconds * 1000, scope.route,
                    req.get_header_value("X-Correlation-ID"));
    }
  }

  ServerConfig config;
  BoundedServer server;
  DbPool pool;
  HttpMetrics metrics;
  std::mutex auth_mutex;
  std::unordered_map<std::string, std::pair<Principal, Clock::time_point>> auth_cache;
  std::mutex extra_mutex;
  std::function<std::string()> extra_metrics;
  std::vector<std::regex> patterns;  // RouteTable()'s patterns, in its order
  std::thread thread;
  int port = -1;
};

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {
  impl_->Setup();
}

Server::~Server() { Stop(); }

int Server::Bind() {
  if (impl_->port >= 0) return impl_->port;
  const ServerConfig& c = impl_->config;
  if (c.port == 0) {
    impl_->port = impl_->server.bind_to_any_port(c.host);
  } else if (impl_->server.bind_to_port(c.host, c.port)) {
    impl_->port = c.port;
  }
  if (impl_->port <= 0) {
    impl_->port = -1;
    throw std::runtime_error("cannot listen on " + c.host + ":" + std::to_string(c.port));
  }
  impl_->server.RaiseListenBacklog(1024);
  return impl_->port;
}

void Server::Serve() {
  Bind();
  spdlog::info("HTTP API listening on {}:{} ({} threads, {} queued connections at most)",
               impl_->config.host, impl_->port, impl_->config.threads, impl_->config.max_queued);
  impl_->server.listen_after_bind();
}

void Server::Start() {
  Bind();
  impl_->thread = std::thread([this] { Serve(); });
  // Serve() returns only after Stop(); wait until it accepts, so callers may connect at once.
  for (int i = 0; i < 500 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void Server::Stop() {
  if (impl_->server.is_running() || impl_->thread.joinable()) impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

int Server::port() const { return impl_->port; }

void Server::CheckDatabaseRole() {
  std::unique_ptr<pqxx::connection> conn;
  try {
    conn = std::make_unique<pqxx::connection>(impl_->config.db);
  } catch (const std::exception& e) {
    spdlog::warn(
        "cannot check the database role at startup (the database does not answer); /health "
        "reports it once the database answers: {}",
        e.what());
    return;
  }
  PrepareStatements(*conn);
  pqxx::nontransaction tx(*conn);
  const pqxx::result r = tx.exec_prepared(StatementName(Stmt::kReadiness));
  if (r.empty())
    throw std::runtime_error("the taskflow extension is not installed in this database");
  if (!r[0][1].is_null() && r[0][1].size() > 0)
    throw std::runtime_error(Impl::NotMember(r[0][1].c_str()));
}

void Server::SetExtraMetrics(std::function<std::string()> provider) {
  std::lock_guard<std::mutex> lock(impl_->extra_mutex);
  impl_->extra_metrics = std::move(provider);
}

}  // namespace taskflow::http
