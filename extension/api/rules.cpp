// Automation rules: taskflow.fire_rule, taskflow.handle_webhook, taskflow._parse_rule, and the
// event rules fired from api::AfterFinished. Rule management (create_rule, alter_rule, ...) is
// plain SQL in sql/src/060_rules.sql; the checks it needs from the core come from _parse_rule.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "core/errors.hpp"
#include "core/rules.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "api/jobs_insert.hpp"
#include "api/rules.hpp"
#include "pg/settings.hpp"

namespace {

using namespace taskflow;

// Rule statements run with parameters that never change their best plan: plan them once.
constexpr auto kGeneric = pg::Statement::Plans::Generic;

// ---- small SPI and datum helpers ------------------------------------------------------------

std::string JsonbText(Datum value) {
  char* s = pg::PgCall([&] {
    Jsonb* jb = DatumGetJsonbP(value);
    return JsonbToCString(nullptr, &jb->root, VARSIZE(jb));
  });
  return std::string(s);
}

Datum TextArray(const std::vector<std::string>& values) {
  std::vector<Datum> datums;
  for (const auto& v : values) datums.push_back(pg::TextDatum(v));
  Datum* data = datums.data();
  int n = static_cast<int>(datums.size());
  return pg::PgCall([&] {
    return PointerGetDatum(construct_array(data, n, TEXTOID, -1, false, TYPALIGN_INT));
  });
}

// The elements of a text[] (NULL elements as nullopt).
std::vector<std::optional<std::string>> TextArrayElements(Datum array) {
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::PgCall([&] {
    deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
  });
  std::vector<std::optional<std::string>> out;
  out.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    if (nulls[i]) {
      out.emplace_back(std::nullopt);
    } else {
      Datum d = elems[i];
      char* s = pg::PgCall([&] { return TextDatumGetCString(d); });
      out.emplace_back(std::string(s));
    }
  }
  return out;
}

std::vector<std::int64_t> Int64ArrayElements(Datum array) {
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::PgCall([&] {
    deconstruct_array(DatumGetArrayTypeP(array), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
                      &elems, &nulls, &n);
  });
  std::vector<std::int64_t> out;
  for (int i = 0; i < n; ++i) {
    if (!nulls[i]) out.push_back(DatumGetInt64(elems[i]));
  }
  return out;
}

}  // namespace

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;

namespace {

bool MustPropagate(int sqlerrcode) {
  // Cancellation, shutdown and resource exhaustion end the whole statement, not one firing.
  int sqlclass = ERRCODE_TO_CATEGORY(sqlerrcode);
  return sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_QUERY_CANCELED) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_OUT_OF_MEMORY) ||
         sqlclass == ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR);
}

// Runs `work` in a subtransaction (as a PL/pgSQL EXCEPTION block does). On an error the
// subtransaction's changes are rolled back and the error's message is returned; on success,
// nullopt. Errors that must end the statement are re-thrown.
template <typename Work>
std::optional<std::string> InSubTransaction(Work&& work) {
  MemoryContext context = CurrentMemoryContext;
  ResourceOwner owner = CurrentResourceOwner;
  pg::PgCall([] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(context);
  std::optional<std::string> error;
  ErrorData* propagate = nullptr;
  try {
    work();
  } catch (const pg::PgError& e) {
    error = e.what();
    if (MustPropagate(e.data()->sqlerrcode)) propagate = e.data();
  } catch (const DomainError& e) {
    error = e.what();
  }
  if (!error) {
    pg::PgCall([] { ReleaseCurrentSubTransaction(); });
  } else {
    pg::PgCall([] { RollbackAndReleaseCurrentSubTransaction(); });
  }
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  if (propagate != nullptr) throw pg::PgError(propagate);
  return error;
}

// ---- firing -----------------------------------------------------------------------------------

// One context per target tenant, with the condition's verdict and the placeholder values.
struct Evaluated {
  std::string tenant_id;
  bool matched = false;
  std::vector<std::optional<std::string>> values;  // JSON text per path, nullopt: no value
};

std::vector<Evaluated> Evaluate(const Rule& rule, const Firing& firing,
                                const std::vector<std::string>& paths) {
  // "now" is in UTC, like pg_cron's schedules.
  static pg::Statement stmt(
      "WITH t AS ("
      "  SELECT x.id, x.attributes FROM taskflow.tenants x WHERE $1"
      "  UNION ALL"
      "  SELECT $2, COALESCE((SELECT y.attributes FROM taskflow.tenants y WHERE y.id = $2), "
      "                      '{}'::jsonb) WHERE NOT $1), "
      "n AS (SELECT jsonb_build_object('ts', now(), 'hour', extract(hour FROM u)::int, "
      "  'minute', extract(minute FROM u)::int, 'dow', extract(dow FROM u)::int, "
      "  'date', to_char(u, 'YYYY-MM-DD')) AS now FROM (SELECT now() AT TIME ZONE 'UTC' AS u) s), "
      "c AS (SELECT t.id, jsonb_build_object('event', $3::jsonb, "
      "  'tenant', jsonb_build_object('id', t.id, 'attributes', t.attributes), "
      "  'rule', jsonb_build_object('id', $4::bigint, 'name', $5::text), 'now', n.now) AS ctx "
      "  FROM t, n) "
      "SELECT c.id, $6::text IS NULL OR "
      "         COALESCE(jsonb_path_match(c.ctx, $6::jsonpath, '{}', true), false), "
      "       ARRAY(SELECT jsonb_path_query_first(c.ctx, p.path::jsonpath, '{}', true)::text "
      "             FROM unnest($7::text[]) WITH ORDINALITY AS p(path, n) ORDER BY p.n) "
      "FROM c ORDER BY c.id",
      {BOOLOID, TEXTOID, JSONBOID, INT8OID, TEXTOID, TEXTOID, TEXTARRAYOID}, kGeneric);
  pg::Params p;
  p.AddBool(rule.for_each_tenant).AddText(rule.tenant_id).Add(firing.event);
  p.AddInt64(rule.id).AddText(rule.name).AddOptText(rule.condition).Add(TextArray(paths));
  std::uint64_t n = p.Run(stmt);
  SPITupleTable* table = SPI_tuptable;
  std::vector<Evaluated> out;
  out.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    SPI_tuptable = table;
    SPI_processed = n;
    pg::ResultRow row(i);
    Evaluated e;
    e.tenant_id = row.Text(1).value_or("");
    e.matched = row.Bool(2).value_or(false);
    bool is_null = false;
    Datum values = row.Raw(3, &is_null);
    if (!is_null) e.values = TextArrayElements(values);
    out.push_back(std::move(e));
  }
  return out;
}

// The filled template as schedule()'s parameters; the job goes through schedule()'s own path.
std::int64_t Enqueue(const core::FilledAction& a, const std::string& tenant_id, const Firing& f,
                     const std::string& actor) {
  JobSpec spec;
  spec.job_type = a.job_type;
  const char* payload = a.payload_json.c_str();
  spec.payload = pg::PgCall([&] { return DirectFunctionCall1(jsonb_in, CStringGetDatum(payload)); });
  spec.queue = a.queue;
  spec.tenant_id = tenant_id;
  if (a.delay) {
    const char* delay = a.delay->c_str();
    spec.run_at = pg::PgCall([&] {
      Datum iv = DirectFunctionCall3(interval_in, CStringGetDatum(delay),
                                     ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
      return static_cast<std::int64_t>(DatumGetTimestampTz(DirectFunctionCall2(
          timestamptz_pl_interval, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), iv)));
    });
  }
  spec.priority = a.priority;
  spec.max_attempts = a.max_attempts;
  spec.unique_key = a.unique_key;
  spec.correlation_id = f.correlation_id;
  spec.parent_job_id = f.source_job_id;
  return ScheduleJob(spec, actor);
}

void Record(const Rule& rule, const Firing& f, const std::string& tenant_id, bool matched,
            const std::vector<std::int64_t>& jobs, const std::optional<std::string>& error,
            const std::string& actor) {
  // The context summary keeps small events whole and only the short scalar top-level fields of
  // large ones, so the audit stays small.
  static pg::Statement stmt(
      "INSERT INTO taskflow.rule_firings (rule_id, source, actor, tenant_id, context, matched, "
      "  job_ids, error, source_job_id, chain_depth) "
      "VALUES ($1, $2, $3, $4, jsonb_build_object('tenant', $4::text, 'event', "
      "  CASE WHEN pg_column_size($5::jsonb) <= 2048 THEN $5 "
      "       WHEN jsonb_typeof($5) = 'object' THEN (SELECT COALESCE(jsonb_object_agg(k, v), '{}') "
      "         || '{\"truncated\": true}' FROM jsonb_each($5) AS e(k, v) "
      "         WHERE jsonb_typeof(v) NOT IN ('object', 'array') AND octet_length(v::text) <= 200) "
      "       ELSE '{\"truncated\": true}' END), $6, $7, $8, $9, $10)",
      {INT8OID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, BOOLOID, INT8ARRAYOID, TEXTOID, INT8OID,
       INT4OID}, kGeneric);
  pg::Params p;
  p.AddInt64(rule.id).AddText(f.source).AddText(actor).AddText(tenant_id).Add(f.event);
  p.AddBool(matched).Add(Int64ArrayDatum(jobs)).AddOptText(error);
  if (f.source_job_id) p.AddInt64(*f.source_job_id); else p.AddNull();
  if (f.chain_depth) p.AddInt32(*f.chain_depth); else p.AddNull();
  p.Run(stmt);
}

// A rule's action templates, parsed; a stored rule that no longer parses records its error.
struct ParsedActions {
  std::optional<core::RuleActions> actions;
  std::optional<std::string> broken;
};

ParsedActions ParseActions(const Rule& rule) {
  ParsedActions p;
  try {
    p.actions = core::RuleActions::Parse(rule.actions_json);
  } catch (const DomainError& e) {
    p.broken = e.what();
  }
  return p;
}

// Fires `rule` in each evaluated context. `paths` are the paths the contexts' values belong to.
std::vector<std::int64_t> FireContexts(const Rule& rule, const Firing& firing,
                                       const ParsedActions& parsed,
                                       const std::vector<std::string>& paths,
                                       const std::vector<Evaluated>& contexts) {
  std::string actor = CallerName();
  std::string job_actor = "rule:" + std::to_string(rule.id);
  std::vector<std::int64_t> all;
  for (const Evaluated& ctx : contexts) {
    std::vector<std::int64_t> jobs;
    std::optional<std::string> error = firing.refusal ? firing.refusal : parsed.broken;
    if (ctx.matched && !error) {
      // The values in the order of the templates' own paths.
      std::vector<std::optional<std::string>> values;
      if (paths == parsed.actions->paths()) {
        values = ctx.values;
      } else {
        for (const auto& path : parsed.actions->paths()) {
          auto it = std::find(paths.begin(), paths.end(), path);
          std::size_t i = static_cast<std::size_t>(it - paths.begin());
          values.push_back(i < ctx.values.size() ? ctx.values[i] : std::nullopt);
        }
      }
      std::vector<core::FilledAction> filled;
      try {
        filled = parsed.actions->Fill(values);  // all or nothing, before anything is written
      } catch (const DomainError& e) {
        error = e.what();
      }
      if (!error) {
        error = InSubTransaction([&] {
          for (const auto& a : filled) jobs.push_back(Enqueue(a, ctx.tenant_id, firing, job_actor));
        });
        if (error) jobs.clear();
      }
    }
    Record(rule, firing, ctx.tenant_id, ctx.matched, jobs, error, actor);
    all.insert(all.end(), jobs.begin(), jobs.end());
  }
  return all;
}

}  // namespace

std::vector<std::int64_t> FireRule(const Rule& rule, const Firing& firing) {
  ParsedActions parsed = ParseActions(rule);
  static const std::vector<std::string> no_paths;
  const std::vector<std::string>& paths = parsed.actions ? parsed.actions->paths() : no_paths;
  return FireContexts(rule, firing, parsed, paths, Evaluate(rule, firing, paths));
}

void FireEventRules(core::JobState to, const std::vector<std::int64_t>& jobs) {
  if (jobs.empty() || !core::IsTerminal(to)) return;
  std::string event = core::EventNameOf(core::ToString(to));
  // Most transitions meet no event rule: answer that from the small partial index first.
  static pg::Statement any(
      "SELECT 1 FROM taskflow.automation_rules WHERE enabled AND event_on = $1 LIMIT 1", {TEXTOID},
      kGeneric);
  pg::Params a;
  a.AddText(event);
  if (a.Run(any, true, 1) == 0) return;

  // Each (job, rule) pair that matches, with the event context and the job's chain depth: its
  // ancestors through parent_job_id, counted up to taskflow.max_chain_depth.
  static pg::Statement matches(
      "SELECT r.id, r.tenant_id, r.name, r.condition, r.actions::text, j.id, j.correlation_id, "
      "  jsonb_build_object('type', $2::text, 'job', jsonb_build_object('id', j.id, "
      "    'job_type', j.job_type, 'queue', j.queue, 'tenant_id', j.tenant_id, 'state', j.state, "
      "    'payload', j.payload, 'result', j.result, 'attempts', j.attempts, "
      "    'last_error_type', j.last_error_type, 'last_error_message', j.last_error_message, "
      "    'correlation_id', j.correlation_id, 'parent_job_id', j.parent_job_id, "
      "    'unique_key', j.unique_key, 'finished_at', j.finished_at)), "
      "  d.depth "
      "FROM taskflow.jobs j "
      "JOIN taskflow.automation_rules r ON r.enabled AND r.event_on = $2 "
      "  AND r.tenant_id = j.tenant_id "
      "  AND (r.event_job_type IS NULL OR r.event_job_type = j.job_type) "
      "  AND (r.event_queue IS NULL OR r.event_queue = j.queue) "
      "CROSS JOIN LATERAL (WITH RECURSIVE chain(parent, depth) AS ("
      "    SELECT j.parent_job_id, 0 "
      "    UNION ALL SELECT p.parent_job_id, c.depth + 1 FROM chain c "
      "    JOIN taskflow.jobs p ON p.id = c.parent WHERE c.depth < $3) "
      "  SELECT max(depth) AS depth FROM chain) d "
      "WHERE j.id = ANY($1) ORDER BY j.id, r.id",
      {INT8ARRAYOID, TEXTOID, INT4OID}, kGeneric);
  pg::Params p;
  p.Add(Int64ArrayDatum(jobs)).AddText(event).AddInt32(taskflow_max_chain_depth);
  // Not read-only: the finishing statement changed these rows within this same call.
  std::uint64_t n = p.Run(matches);
  SPITupleTable* table = SPI_tuptable;
  std::vector<std::pair<Rule, Firing>> work;
  work.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    SPI_tuptable = table;
    SPI_processed = n;
    pg::ResultRow row(i);
    Rule rule;
    rule.id = row.Int64(1).value_or(0);
    rule.tenant_id = row.Text(2).value_or("default");
    rule.name = row.Text(3).value_or("");
    rule.condition = row.Text(4);
    rule.actions_json = row.Text(5).value_or("[]");
    Firing f;
    f.source = "event";
    f.source_job_id = row.Int64(6);
    f.correlation_id = row.Text(7);
    bool is_null = false;
    f.event = row.Raw(8, &is_null);
    int depth = row.Int32(9).value_or(0) + 1;
    f.chain_depth = depth;
    if (depth > taskflow_max_chain_depth) {
      f.refusal = "chain too deep: the follow-up jobs would be " + std::to_string(depth) +
                  " levels below the first job, taskflow.max_chain_depth is " +
                  std::to_string(taskflow_max_chain_depth);
    }
    work.emplace_back(std::move(rule), std::move(f));
  }
  for (const auto& [rule, firing] : work) FireRule(rule, firing);
}

}  // namespace taskflow::api

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;

namespace {

// Loads a rule for fire_rule; throws 42704 when missing and 55000 when disabled.
api::Rule LoadRule(std::int64_t id) {
  static pg::Statement stmt(
      "SELECT tenant_id, name, for_each_tenant, condition, actions::text, enabled "
      "FROM taskflow.automation_rules WHERE id = $1",
      {INT8OID}, kGeneric);
  pg::Params p;
  p.AddInt64(id);
  if (p.Run(stmt, true, 1) == 0) {
    throw DomainError(ErrorCode::UndefinedObject, "rule " + std::to_string(id) + " does not exist");
  }
  pg::ResultRow row(0);
  if (!row.Bool(6).value_or(false)) {
    throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                      "rule " + std::to_string(id) + " is disabled",
                      "Enable it first: SELECT taskflow.enable_rule(" + std::to_string(id) + ");");
  }
  api::Rule r;
  r.id = id;
  r.tenant_id = row.Text(1).value_or("default");
  r.name = row.Text(2).value_or("");
  r.for_each_tenant = row.Bool(3).value_or(false);
  r.condition = row.Text(4);
  r.actions_json = row.Text(5).value_or("[]");
  return r;
}

std::vector<std::uint8_t> HmacSha256(const std::string& secret, const std::string& body) {
  std::vector<std::uint8_t> digest(32);
  const std::uint8_t* key = reinterpret_cast<const std::uint8_t*>(secret.data());
  const std::uint8_t* data = reinterpret_cast<const std::uint8_t*>(body.data());
  std::size_t key_len = secret.size();
  std::size_t data_len = body.size();
  std::uint8_t* out = digest.data();
  bool ok = pg::PgCall([&] {
    pg_hmac_ctx* ctx = pg_hmac_create(PG_SHA256);
    if (ctx == nullptr) return false;
    bool done = pg_hmac_init(ctx, key, key_len) == 0 && pg_hmac_update(ctx, data, data_len) == 0 &&
                pg_hmac_final(ctx, out, 32) == 0;
    pg_hmac_free(ctx);
    return done;
  });
  if (!ok) throw DomainError(ErrorCode::Internal, "could not compute HMAC-SHA256");
  return digest;
}

std::string RandomToken(std::size_t bytes) {
  std::vector<std::uint8_t> buf(bytes);
  std::uint8_t* data = buf.data();
  if (!pg_strong_random(data, bytes)) {
    throw DomainError(ErrorCode::Internal, "could not generate random bytes");
  }
  return core::Base64UrlEncode(buf.data(), buf.size());
}

void PutResult(pg::SetResult& out, const std::vector<std::int64_t>& ids) {
  for (std::int64_t id : ids) {
    Datum v = Int64GetDatum(id);
    bool null = false;
    out.PutValues(&v, &null);
  }
}

}  // namespace

// taskflow.fire_rule(rule_id, context) RETURNS SETOF bigint
TF_FUNCTION(taskflow_fire_rule) {
  pg::RequireArg(fcinfo, 0, "rule_id");
  std::int64_t id = PG_GETARG_INT64(0);
  bool has_context = !pg::ArgIsNull(fcinfo, 1);
  Datum context = has_context ? PG_GETARG_DATUM(1) : Datum(0);
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    api::Rule rule = LoadRule(id);
    api::Firing firing;
    if (!has_context) {
      static pg::Statement empty("SELECT '{}'::jsonb", {}, kGeneric);
      empty.Run(nullptr, nullptr, true);
      bool is_null = false;
      context = pg::ResultRow(0).Raw(1, &is_null);
    }
    firing.source = "fire_rule";
    firing.event = context;
    ids = api::FireRule(rule, firing);
  }
  PutResult(out, ids);
  return Datum(0);
}

// taskflow.handle_webhook(key, body, signature, delivery_id) RETURNS SETOF bigint
TF_FUNCTION(taskflow_handle_webhook) {
  pg::RequireArg(fcinfo, 0, "key");
  pg::RequireArg(fcinfo, 1, "body");
  std::string key = pg::ArgText(fcinfo, 0);
  std::string body = pg::ArgText(fcinfo, 1);
  std::optional<std::string> signature = pg::ArgOptText(fcinfo, 2);
  std::optional<std::string> delivery_id = pg::ArgOptText(fcinfo, 3);
  if (delivery_id && (delivery_id->empty() || delivery_id->size() > 200)) {
    throw DomainError(ErrorCode::InvalidParameterValue, "delivery_id must be 1 to 200 characters long");
  }
  if (!core::IsJson(body)) {
    throw DomainError(ErrorCode::InvalidParameterValue, "webhook body is not valid JSON");
  }
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    // One statement finds the rule and evaluates it: the event, one context per target tenant,
    // the condition and the placeholder values. It only reads; nothing is written before the
    // key and the signature are accepted below.
    static pg::Statement evaluate(
        "WITH r AS (SELECT id, tenant_id, name, for_each_tenant, condition, actions::text AS actions, "
        "    enabled, webhook_secret, placeholder_paths "
        "  FROM taskflow.automation_rules WHERE webhook_key = $1), "
        "e AS (SELECT jsonb_build_object('type', 'webhook', 'delivery_id', $3::text, "
        "  'body', $2::jsonb) AS event), "
        "t AS (SELECT x.id, x.attributes FROM r JOIN taskflow.tenants x ON r.for_each_tenant "
        "  UNION ALL SELECT r.tenant_id, COALESCE((SELECT y.attributes FROM taskflow.tenants y "
        "    WHERE y.id = r.tenant_id), '{}'::jsonb) FROM r WHERE NOT r.for_each_tenant), "
        "n AS (SELECT jsonb_build_object('ts', now(), 'hour', extract(hour FROM u)::int, "
        "  'minute', extract(minute FROM u)::int, 'dow', extract(dow FROM u)::int, "
        "  'date', to_char(u, 'YYYY-MM-DD')) AS now FROM (SELECT now() AT TIME ZONE 'UTC' AS u) s), "
        "c AS (SELECT t.id, jsonb_build_object('event', e.event, "
        "  'tenant', jsonb_build_object('id', t.id, 'attributes', t.attributes), "
        "  'rule', jsonb_build_object('id', r.id, 'name', r.name), 'now', n.now) AS ctx "
        "  FROM t, r, e, n) "
        "SELECT r.id, r.tenant_id, r.name, r.for_each_tenant, r.condition, r.actions, r.enabled, "
        "  r.webhook_secret, r.placeholder_paths, e.event, c.id, "
        "  r.condition IS NULL OR COALESCE(jsonb_path_match(c.ctx, r.condition::jsonpath, '{}', "
        "    true), false), "
        "  ARRAY(SELECT jsonb_path_query_first(c.ctx, p.path::jsonpath, '{}', true)::text "
        "        FROM unnest(r.placeholder_paths) WITH ORDINALITY AS p(path, n) ORDER BY p.n) "
        "FROM r CROSS JOIN e LEFT JOIN c ON true ORDER BY c.id",
        {TEXTOID, TEXTOID, TEXTOID}, kGeneric);
    pg::Params ep;
    ep.AddText(key).AddText(body).AddOptText(delivery_id);
    std::uint64_t n = ep.Run(evaluate);
    SPITupleTable* table = SPI_tuptable;
    // Unknown and disabled keys get the same answer: a caller learns nothing about which.
    if (n == 0 || !pg::ResultRow(0).Bool(7).value_or(false)) {
      throw DomainError(ErrorCode::InvalidAuthorization, "webhook key not accepted",
                        "The key is unknown, or its rule is disabled.");
    }
    api::Rule rule;
    std::optional<std::string> secret;
    std::vector<std::string> paths;
    api::Firing firing;
    firing.source = "webhook";
    std::vector<api::Evaluated> contexts;
    for (std::uint64_t i = 0; i < n; ++i) {
      SPI_tuptable = table;
      SPI_processed = n;
      pg::ResultRow row(i);
      bool is_null = false;
      if (i == 0) {
        rule.id = row.Int64(1).value_or(0);
        rule.tenant_id = row.Text(2).value_or("default");
        rule.name = row.Text(3).value_or("");
        rule.for_each_tenant = row.Bool(4).value_or(false);
        rule.condition = row.Text(5);
        rule.actions_json = row.Text(6).value_or("[]");
        secret = row.Text(8);
        Datum p = row.Raw(9, &is_null);
        if (!is_null) {
          for (auto& v : TextArrayElements(p)) paths.push_back(v.value_or(""));
        }
        firing.event = row.Raw(10, &is_null);
      }
      if (row.IsNull(11)) continue;  // for_each over no registered tenant
      api::Evaluated e;
      e.tenant_id = row.Text(11).value_or("");
      e.matched = row.Bool(12).value_or(false);
      Datum values = row.Raw(13, &is_null);
      if (!is_null) e.values = TextArrayElements(values);
      contexts.push_back(std::move(e));
    }

    if (secret) {
      const char* hint =
          "Send signature => 'sha256=' || the hex HMAC-SHA256 of the raw body with the rule's "
          "secret.";
      auto given = signature ? core::ParseSha256Signature(*signature) : std::nullopt;
      if (!given) {
        throw DomainError(ErrorCode::InvalidAuthorization,
                          signature ? "webhook signature is malformed" : "webhook signature is missing",
                          hint);
      }
      if (!core::ConstantTimeEquals(*given, HmacSha256(*secret, body))) {
        throw DomainError(ErrorCode::InvalidAuthorization, "webhook signature does not match", hint);
      }
    }

    bool repeated = false;
    if (delivery_id) {
      static pg::Statement claim(
          "INSERT INTO taskflow.webhook_deliveries (rule_id, delivery_id) VALUES ($1, $2) "
          "ON CONFLICT DO NOTHING",
          {INT8OID, TEXTOID}, kGeneric);
      pg::Params cp;
      cp.AddInt64(rule.id).AddText(*delivery_id);
      repeated = cp.Run(claim) == 0;
    }
    if (repeated) {
      // A repeated delivery (a concurrent first one has committed by now): the first one's
      // jobs, and nothing new.
      static pg::Statement first(
          "SELECT job_ids FROM taskflow.webhook_deliveries WHERE rule_id = $1 AND delivery_id = $2",
          {INT8OID, TEXTOID}, kGeneric);
      pg::Params fp;
      fp.AddInt64(rule.id).AddText(*delivery_id);
      if (fp.Run(first, false, 1) == 1) {
        bool is_null = false;
        Datum jobs = pg::ResultRow(0).Raw(1, &is_null);
        if (!is_null) ids = Int64ArrayElements(jobs);
      }
    } else {
      ids = api::FireContexts(rule, firing, api::ParseActions(rule), paths, contexts);
      if (delivery_id) {
        static pg::Statement remember(
            "UPDATE taskflow.webhook_deliveries SET job_ids = $3 "
            "WHERE rule_id = $1 AND delivery_id = $2",
            {INT8OID, TEXTOID, INT8ARRAYOID}, kGeneric);
        pg::Params rp;
        rp.AddInt64(rule.id).AddText(*delivery_id).Add(api::Int64ArrayDatum(ids));
        rp.Run(remember);
      }
    }
  }
  PutResult(out, ids);
  return Datum(0);
}

// taskflow._parse_rule(name, tenant_id, trigger, actions) RETURNS taskflow._rule_parse
TF_FUNCTION(taskflow_parse_rule) {
  pg::RequireArg(fcinfo, 0, "name");
  pg::RequireArg(fcinfo, 1, "tenant_id");
  pg::RequireArg(fcinfo, 2, "trigger");
  pg::RequireArg(fcinfo, 3, "actions");
  core::ValidateRuleName(pg::ArgText(fcinfo, 0));
  core::ValidateTenantId(pg::ArgText(fcinfo, 1));
  core::Trigger t = core::ParseTrigger(JsonbText(PG_GETARG_DATUM(2)));
  core::RuleActions actions = core::RuleActions::Parse(JsonbText(PG_GETARG_DATUM(3)));

  std::optional<std::string> key, secret;
  std::optional<std::string> cron, event_on;
  if (t.type == core::TriggerType::Webhook) {
    key = t.key ? *t.key : RandomToken(core::kGeneratedKeyBytes);
    secret = t.secret_given ? t.secret : RandomToken(core::kGeneratedSecretBytes);
  } else if (t.type == core::TriggerType::Cron) {
    cron = t.schedule;
  } else {
    event_on = t.on;
  }

  std::array<Datum, 13> values{};
  std::array<bool, 13> nulls{};
  auto text = [&](int i, const std::optional<std::string>& v) {
    nulls[i] = !v.has_value();
    values[i] = v ? pg::TextDatum(*v) : Datum(0);
  };
  text(0, std::string(core::ToString(t.type)));
  values[1] = BoolGetDatum(t.for_each_tenant);
  text(2, cron);
  text(3, event_on);
  text(4, t.job_type);
  text(5, t.queue);
  values[6] = BoolGetDatum(t.key.has_value());
  text(7, key);
  values[8] = BoolGetDatum(t.secret_given);
  text(9, secret);
  values[10] = TextArray(actions.paths());
  values[11] = TextArray(actions.queues());
  values[12] = TextArray(actions.delays());

  Datum* v = values.data();
  bool* n = nulls.data();
  return pg::PgCall([&] {
    TupleDesc desc;
    if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE) {
      elog(ERROR, "taskflow._parse_rule must return a composite type");
    }
    desc = BlessTupleDesc(desc);
    return HeapTupleGetDatum(heap_form_tuple(desc, v, n));
  });
}
