#include <algorithm>
#include <climits>
#include <map>
#include <set>
#include <string>
#include <tuple>

#include "core/batch_check.hpp"
#include "core/errors.hpp"
#include "core/retry_policy.hpp"
#include "core/schedule_fields.hpp"
#include "core/state_machine.hpp"
#include "core/validation.hpp"
#include "api/jobs_insert.hpp"
#include "api/dependencies.hpp"
#include "api/common.hpp"
#include "api/tenancy.hpp"
#include "pg/settings.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;
using core::JobState;

namespace {

void CheckPayload(Datum payload, const std::string& where) {
  pg::JsonbFacts facts = pg::InspectJsonb(payload);
  if (!facts.is_object) {
    throw DomainError(ErrorCode::InvalidParameterValue, where + "payload must be a JSON object",
                      "Wrap values in an object, e.g. '{\"value\": 42}'.");
  }
  if (facts.size_bytes > static_cast<std::size_t>(taskflow_max_payload_bytes)) {
    throw DomainError(ErrorCode::ProgramLimitExceeded,
                      where + "payload is too large: " + std::to_string(facts.size_bytes) +
                          " bytes, the limit is " + std::to_string(taskflow_max_payload_bytes),
                      "Store large data elsewhere and pass a reference, or raise "
                      "taskflow.max_payload_bytes.");
  }
  CheckJsonDepth(payload, where + "payload");
}

// Checks that the parent exists and that the caller may see it, and returns its correlation id
// and traceparent: a sub-job without its own inherits them, so a correlation id and a trace flow
// request -> job -> sub-jobs. Another tenant's job is answered exactly as a missing one (23503,
// same message): a confined caller can neither attach to it, inherit from it, nor probe its id.
struct ParentContext {
  std::optional<std::string> correlation_id;
  std::optional<std::string> traceparent;
};

ParentContext ParentOf(std::int64_t parent_id, const std::string& where) {
  static pg::Statement parent(
      "SELECT correlation_id, traceparent FROM taskflow.jobs "
      "WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)",
      {INT8OID, TEXTOID});
  static pg::Statement parent_0_1(  // a 0.1.0 schema, not updated yet: no traceparent column
      "SELECT correlation_id, NULL::text FROM taskflow.jobs "
      "WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2)",
      {INT8OID, TEXTOID});
  pg::Params p;
  p.AddInt64(parent_id).AddOptText(CallerTenant());
  if (p.Run(SchemaIs0_2() ? parent : parent_0_1, false, 1) ==
      0) {  // not read-only: sees parents created in this call
    throw DomainError(ErrorCode::ForeignKeyViolation,
                      where + "parent job " + std::to_string(parent_id) + " does not exist");
  }
  pg::ResultRow row(0);
  return {row.Text(1), row.Text(2)};
}

}  // namespace

// The one value check of a job, for schedule (where = ""), each element of schedule_many
// (where = "jobs[i]: ") and rule actions: the same values pass, with the same messages.
void ValidateScalars(const JobSpec& spec, const std::string& where) {
  try {
    core::ValidateJobType(spec.job_type);
    core::ValidateQueueName(spec.queue);
    core::ValidateTenantId(spec.tenant_id);
    core::ValidatePriority(spec.priority);
    if (spec.max_attempts) core::ValidateMaxAttempts(*spec.max_attempts);
    if (spec.run_at) core::ValidateTimestamp(*spec.run_at, "run_at");
    if (spec.timeout_us) core::ValidateDuration(*spec.timeout_us, "timeout");
    if (spec.traceparent) core::ValidateTraceparent(*spec.traceparent);
  } catch (const DomainError& e) {
    if (where.empty()) throw;
    throw DomainError(e.code(), where + e.what(), e.hint(), e.detail());
  }
  if (spec.unique_key && spec.unique_key->empty()) {
    throw DomainError(ErrorCode::InvalidParameterValue, where + "unique_key must not be empty");
  }
}

namespace {

std::optional<std::int64_t> ExistingUnique(const std::string& tenant, const std::string& queue,
                                           const std::string& key) {
  static pg::Statement existing(
      "SELECT id FROM taskflow.jobs WHERE tenant_id = $1 AND queue = $2 AND unique_key = $3 "
      "AND state IN " +
          StateListSql(core::UnfinishedStates()),
      {TEXTOID, TEXTOID, TEXTOID});
  pg::Params q;
  q.AddText(tenant).AddText(queue).AddText(key);
  if (q.Run(existing, false, 1) == 1) return pg::ResultRow(0).Int64(1);
  return std::nullopt;
}

// The arbiter is the partial unique index on the unfinished jobs' keys: the predicate must
// imply the index's (jobs_unique_key_idx), so both list core's unfinished states.
std::string UniqueConflictSql() {
  return " ON CONFLICT (tenant_id, queue, unique_key) WHERE unique_key IS NOT NULL AND state IN " +
         StateListSql(core::UnfinishedStates()) + " DO NOTHING";
}

// v2: the schema has 0.2.0's jobs columns (SchemaIs0_2: traceparent and the dependency
// columns); without them $15..$17 go unused (a 0.1.0 schema has no dependencies).
std::string SingleInsertSql(bool unique, bool v2) {
  // The queue's row supplies the default max_attempts; no row (unknown queue) inserts nothing.
  return std::string(
             "WITH q AS (SELECT COALESCE($7, max_attempts, $14) AS max_attempts "
             "  FROM taskflow.queues WHERE name = $3), "
             "ins AS (INSERT INTO taskflow.jobs (job_type, payload, queue, tenant_id, state, "
             "  priority, max_attempts, next_run_at, unique_key, correlation_id, parent_job_id, "
             "  timeout, chain_depth") +
         (v2 ? ", traceparent, dependency_count, dependencies_pending, wait_run_at" : "") +
         ") "
         "  SELECT $1, $2, $3, $4, $5::taskflow.job_state, $6, q.max_attempts, "
         "    CASE WHEN $17 > 0 THEN 'infinity' ELSE COALESCE($8, now()) END, $9, $10, $11, $12, "
         "    COALESCE((SELECT p.chain_depth + 1 FROM taskflow.jobs p WHERE p.id = $11), 0)" +
         (v2 ? ", $15, $16, $17, CASE WHEN $17 > 0 THEN $8 END" : "") + " FROM q" +
         (unique ? UniqueConflictSql() : std::string()) +
         " RETURNING id, state), "
         "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
         "  SELECT id, NULL, state, $13, COALESCE($18, 'scheduled') FROM ins) "
         "SELECT id FROM ins";
}

// schedule_many's single set-based insert; ids are drawn first so they map back to positions.
// v2: as for SingleInsertSql (without it the traceparent and dependency values go unused).
std::string BatchInsertSql(bool unique, bool v2) {
  std::string sql =
      "WITH e AS (SELECT j, n, nextval('taskflow.jobs_id_seq'::regclass) AS id "
      "  FROM jsonb_array_elements($1) WITH ORDINALITY AS e(j, n)), "
      "qm AS (SELECT * FROM unnest($2::text[], $3::int[]) AS qm(queue, max_attempts)), "
      "s AS (SELECT e.id, e.n, e.j ->> 'job_type' AS job_type, "
      "  COALESCE(NULLIF(e.j -> 'payload', 'null'::jsonb), '{}'::jsonb) AS payload, "
      "  COALESCE(e.j ->> 'queue', 'default') AS queue, "
      "  CASE WHEN COALESCE(e.j ->> 'tenant_id', 'default') = 'default' THEN $8 "
      "       ELSE e.j ->> 'tenant_id' END AS tenant_id, "
      "  (e.j ->> 'run_at')::timestamptz AS run_at, e.j ->> 'run_at' AS run_at_text, "
      "  COALESCE((e.j ->> 'priority')::int, 0) AS priority, "
      "  (e.j ->> 'max_attempts')::int AS max_attempts, e.j ->> 'unique_key' AS unique_key, "
      "  COALESCE(e.j ->> 'correlation_id', (SELECT p.correlation_id FROM taskflow.jobs p "
      "    WHERE p.id = (e.j ->> 'parent_job_id')::bigint "
      "      AND ($9::text IS NULL OR p.tenant_id = $9))) AS correlation_id, ";
  if (v2) {
    sql +=
        "  COALESCE(e.j ->> 'traceparent', (SELECT p.traceparent FROM taskflow.jobs p "
        "    WHERE p.id = (e.j ->> 'parent_job_id')::bigint "
        "      AND ($9::text IS NULL OR p.tenant_id = $9))) AS traceparent, ";
  }
  sql +=
      "  (e.j ->> 'parent_job_id')::bigint AS parent_job_id, "
      "  (e.j ->> 'timeout')::interval AS timeout, COALESCE(($10::int[])[e.n], 0) AS deps, "
      "  ($11::text[])[e.n] AS wait_reason FROM e), "
      "ins AS (INSERT INTO taskflow.jobs (id, job_type, payload, queue, tenant_id, state, "
      "  priority, max_attempts, next_run_at, unique_key, correlation_id, parent_job_id, "
      "  timeout, chain_depth";
  sql += v2 ? ", traceparent, dependency_count, dependencies_pending, wait_run_at) " : ") ";
  sql +=
      "  SELECT s.id, s.job_type, s.payload, s.queue, s.tenant_id, "
      "    (CASE WHEN s.deps > 0 THEN $12 WHEN s.run_at_text = ANY($4) THEN $6 ELSE $5 END)::taskflow.job_state, "
      "    s.priority, COALESCE(s.max_attempts, qm.max_attempts), "
      "    CASE WHEN s.deps > 0 THEN 'infinity' ELSE COALESCE(s.run_at, now()) END, "
      "    s.unique_key, s.correlation_id, s.parent_job_id, s.timeout, "
      "    COALESCE((SELECT p.chain_depth + 1 FROM taskflow.jobs p WHERE p.id = s.parent_job_id), 0)";
  sql += v2 ? ", s.traceparent, s.deps, s.deps, CASE WHEN s.deps > 0 THEN s.run_at END " : " ";
  sql += "  FROM s JOIN qm ON qm.queue = s.queue ORDER BY s.n";
  if (unique) sql += UniqueConflictSql();
  sql +=
      "  RETURNING id, state), "
      "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
      "  SELECT ins.id, NULL, ins.state, $7, COALESCE(NULLIF(s.wait_reason, ''), 'scheduled') "
      "  FROM ins JOIN s ON s.id = ins.id) "
      "SELECT s.n, COALESCE(ins.id, 0), s.tenant_id, s.queue, s.unique_key, "
      "  ins.state::text = $5 FROM s LEFT JOIN ins ON ins.id = s.id ORDER BY s.n";
  return sql;
}

// An insert statement in its four variants, `sql(unique, v2)`'s texts with the argument types
// `types`: without or with ON CONFLICT for unique keys, for the 0.2.0 schema or a 0.1.0 one.
struct InsertStatements {
  struct Pair {
    pg::Statement& plain;
    pg::Statement& unique;
  };
  InsertStatements(std::string (*sql)(bool unique, bool v2), const std::vector<Oid>& types)
      : plain(sql(false, true), types),
        unique(sql(true, true), types),
        plain_0_1(sql(false, false), types),
        unique_0_1(sql(true, false), types) {}
  // The plain and the unique variant for the schema installed now.
  Pair ForInstalledSchema() {
    if (SchemaIs0_2()) return {plain, unique};
    return {plain_0_1, unique_0_1};
  }
  pg::Statement plain, unique;
  pg::Statement plain_0_1, unique_0_1;  // a 0.1.0 schema
};

}  // namespace

std::int64_t ScheduleJob(const JobSpec& spec_in, const std::string& actor,
                         const std::string& where) {
  static const std::vector<Oid> kTypes = {
      TEXTOID, JSONBOID, TEXTOID,     TEXTOID, TEXTOID, INT4OID, INT4OID, TIMESTAMPTZOID, TEXTOID,
      TEXTOID, INT8OID,  INTERVALOID, TEXTOID, INT4OID, TEXTOID, INT4OID, INT4OID,        TEXTOID};
  static InsertStatements statements(SingleInsertSql, kTypes);
  const InsertStatements::Pair chosen = statements.ForInstalledSchema();
  pg::Statement& insert_plain = chosen.plain;
  pg::Statement& insert_unique = chosen.unique;
  JobSpec spec = spec_in;
  if (spec.payload == 0) spec.payload = pg::EmptyJsonbObject();
  ValidateScalars(spec, where);
  CheckPayload(spec.payload, where);
  if (spec.parent_job_id) {
    ParentContext inherited = ParentOf(*spec.parent_job_id, where);
    if (!spec.correlation_id) spec.correlation_id = inherited.correlation_id;
    if (!spec.traceparent) spec.traceparent = inherited.traceparent;
  }
  // Dependencies: locked, checked, counted (the job waits while any is unfinished).
  DependencyCheck deps;
  if (spec.depends_on != 0) {
    deps = CheckDependencies(spec.depends_on, spec.tenant_id, spec.on_dependency_failure);
  }
  JobState state = core::InitialState(spec.run_at, NowMicros(), deps.unresolved);

  pg::Params p;
  p.AddText(spec.job_type).Add(spec.payload).AddText(spec.queue).AddText(spec.tenant_id);
  p.AddText(core::ToString(state)).AddInt32(spec.priority);
  if (spec.max_attempts)
    p.AddInt32(*spec.max_attempts);
  else
    p.AddNull();
  if (spec.run_at)
    p.Add(TimestampTzGetDatum(*spec.run_at));
  else
    p.AddNull();
  p.AddOptText(spec.unique_key).AddOptText(spec.correlation_id);
  if (spec.parent_job_id)
    p.AddInt64(*spec.parent_job_id);
  else
    p.AddNull();
  p.AddOptInterval(spec.timeout_us).AddText(actor);
  p.AddInt32(core::RetryPolicy::Default().max_attempts);
  p.AddOptText(spec.traceparent);
  p.AddInt32(static_cast<std::int32_t>(deps.ids.size())).AddInt32(deps.unresolved);
  if (deps.wait_reason.empty())
    p.AddNull();
  else
    p.AddText(deps.wait_reason);

  for (int round = 0; round < 3; ++round) {
    if (p.Run(spec.unique_key ? insert_unique : insert_plain) == 1) {
      std::int64_t id = *pg::ResultRow(0).Int64(1);
      InsertDependencies(id, spec.tenant_id, deps, spec.on_dependency_failure);
      if (state == JobState::Pending) NotifyQueue(spec.queue);
      return id;
    }
    RequireQueue(spec.queue);  // nothing inserted: an unknown queue is the first suspect
    if (!spec.unique_key) break;
    // The key is held by an unfinished job: return it (a fresh statement sees jobs committed
    // while the insert waited for them).
    if (auto id = ExistingUnique(spec.tenant_id, spec.queue, *spec.unique_key)) return *id;
  }
  throw DomainError(ErrorCode::Internal, where + "could not insert the job");
}

namespace {

// schedule_many reads its numbers, times and durations as text (the JSON value) and parses them
// here, so that a bad value is reported for its element (22023, "jobs[i]: ...") instead of by
// a cast in the middle of a statement, and so the parsed value goes through ValidateScalars
// exactly like schedule's typed argument.
[[noreturn]] void BadElementValue(const std::string& where, const char* field,
                                  const std::string& why) {
  throw DomainError(ErrorCode::InvalidParameterValue, where + field + ": " + why);
}

// An integer (the shape check allowed only -?[0-9]+) of PostgreSQL's integer type, with the
// message its input function gives schedule's typed argument.
int JsonInt(const std::string& text, const char* field, const std::string& where) {
  const bool negative = !text.empty() && text[0] == '-';
  const std::size_t digits = text.size() - (negative ? 1 : 0);
  long long v = digits > 18 ? 0 : std::stoll(text);
  if (digits > 18 || v < INT_MIN || v > INT_MAX) {
    BadElementValue(where, field, "value \"" + text + "\" is out of range for type integer");
  }
  return static_cast<int>(v);
}

std::int64_t ParseTimestampTz(const std::string& text, const char* field,
                              const std::string& where) {
  try {
    return pg::PgCall([&] {
      return static_cast<std::int64_t>(DatumGetTimestampTz(
          DirectFunctionCall3(timestamptz_in, CStringGetDatum(text.c_str()),
                              ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1))));
    });
  } catch (const pg::PgError& e) {
    BadElementValue(where, field, e.what());
  }
}

std::int64_t ParseIntervalMicros(const std::string& text, const char* field,
                                 const std::string& where) {
  try {
    Interval* iv = pg::PgCall([&] {
      return DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(text.c_str()),
                                                   ObjectIdGetDatum(InvalidOid),
                                                   Int32GetDatum(-1)));
    });
    return core::IntervalMicros(iv->month, iv->day, iv->time);
  } catch (const pg::PgError& e) {
    BadElementValue(where, field, e.what());
  }
}

}  // namespace

namespace {

// 0. Depth: an element is an object holding the payload, so the payload's limit is the
//    document's minus two; the element is named.
void CheckBatchDepth(Datum jobs) {
  long child = -1;
  if (pg::JsonbDepth(jobs, core::kMaxJsonDepth + 2, &child) > core::kMaxJsonDepth + 2) {
    core::ValidateJsonDepth(core::kMaxJsonDepth + 1,
                            "jobs[" + std::to_string(child) + "]: payload");
  }
}

// The shape conditions of one element e.j, built from schedule()'s field table
// (core::kScheduleFields, the fields schedule_many takes): not an object, no job_type string,
// an unknown key, a value of the wrong JSON type (null is every optional field's default).
// parent_job_id (bigint) has at most 18 digits, so the cast in the insert cannot overflow.
std::string BatchShapeSql() {
  std::string keys;
  std::string types;
  for (const core::ScheduleField& f : core::kScheduleFields) {
    if (!f.in_batch) continue;
    const std::string name(f.name);
    keys += (keys.empty() ? "'" : ", '") + name + "'";
    if (f.sql_default.empty()) {  // required (job_type): a string
      types += "   OR jsonb_typeof(e.j -> '" + name + "') IS DISTINCT FROM '" +
               std::string(core::JsonTypeName(f.json_type)) + "' ";
      continue;
    }
    switch (f.json_type) {
      case core::ScheduleJsonType::String:
      case core::ScheduleJsonType::Object:
        types += "   OR jsonb_typeof(e.j -> '" + name + "') NOT IN ('" +
                 std::string(core::JsonTypeName(f.json_type)) + "', 'null') ";
        break;
      case core::ScheduleJsonType::Integer:
        types += "   OR (e.j ? '" + name + "' AND (e.j ->> '" + name + "') !~ '^-?[0-9]" +
                 (f.sql_type == "bigint" ? "{1,18}" : "+") + "$') ";
        break;
      case core::ScheduleJsonType::IntegerArray:  // not a batch field (depends_on)
        throw DomainError(ErrorCode::Internal, "schedule_many has no array field");
    }
  }
  return "SELECT e.n FROM jsonb_array_elements($1) WITH ORDINALITY AS e(j, n) "
         "WHERE jsonb_typeof(e.j) IS DISTINCT FROM 'object' "
         "   OR EXISTS (SELECT FROM jsonb_object_keys(e.j) k WHERE k NOT IN (" +
         keys + ")) " + types + "ORDER BY e.n LIMIT 1";
}

// 1. Shape problems (not an object, unknown key, wrong JSON type), reported for the first
//    element that has one, by the same plpgsql function that types one element.
void CheckBatchShape(Datum jobs) {
  static pg::Statement shape(BatchShapeSql(), {JSONBOID});
  pg::Params p;
  p.Add(jobs);
  if (p.Run(shape, true, 1) == 1) {
    // The per-element function raises the precise error for that element.
    static pg::Statement precise("SELECT taskflow._job_spec($1 -> ($2::int - 1), $2)",
                                 {JSONBOID, INT8OID});
    pg::Params q;
    q.Add(jobs).AddInt64(*pg::ResultRow(0).Int64(1));
    q.Run(precise, true);
    throw DomainError(ErrorCode::InvalidParameterValue, "jobs: an element has a wrong shape");
  }
}

// 2. The distinct values that core rules decide on, each with the first element using it, tagged
//    with the check it needs (core::BatchCheck).
std::string DistinctValuesSql() {
  auto tag = [](core::BatchCheck c) { return std::to_string(core::BatchCheckTag(c)); };
  using C = core::BatchCheck;
  return "WITH e AS (SELECT j, n FROM jsonb_array_elements($1) WITH ORDINALITY AS e(j, n)) "
         "SELECT " +
         tag(C::JobType) +
         ", j ->> 'job_type', min(n) FROM e GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::Queue) +
         ", COALESCE(j ->> 'queue', 'default'), min(n) FROM e GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::Tenant) +
         ", COALESCE(j ->> 'tenant_id', 'default'), min(n) FROM e GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::MaxAttempts) +
         ", j ->> 'max_attempts', min(n) FROM e "
         "  WHERE j ->> 'max_attempts' IS NOT NULL GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::Priority) +
         ", j ->> 'priority', min(n) FROM e "
         "  WHERE j ->> 'priority' IS NOT NULL GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::Timeout) +
         ", j ->> 'timeout', min(n) FROM e "
         "  WHERE j ->> 'timeout' IS NOT NULL GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::EmptyUniqueKey) +
         ", j ->> 'unique_key', min(n) FROM e "
         "  WHERE j ->> 'unique_key' = '' GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::UsesUniqueKeys) +
         ", NULL, min(n) FROM e WHERE j ? 'unique_key' "
         "  AND jsonb_typeof(j -> 'unique_key') = 'string' HAVING count(*) > 0 "
         "UNION ALL SELECT " +
         tag(C::LargePayload) +
         ", NULL, min(n) FROM e "
         "  WHERE pg_column_size(j -> 'payload') > $2 HAVING count(*) > 0 "
         "UNION ALL SELECT " +
         tag(C::MissingParent) +
         ", j ->> 'parent_job_id', min(n) FROM e "
         "  WHERE j ? 'parent_job_id' AND NOT EXISTS (SELECT FROM taskflow.jobs p "
         "    WHERE p.id = (j ->> 'parent_job_id')::bigint "
         "      AND ($3::text IS NULL OR p.tenant_id = $3)) GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::RunAt) +
         ", j ->> 'run_at', min(n) "
         "  FROM e WHERE j ->> 'run_at' IS NOT NULL GROUP BY 2 "
         "UNION ALL SELECT " +
         tag(C::Traceparent) +
         ", j ->> 'traceparent', min(n) "
         "  FROM e WHERE j ->> 'traceparent' IS NOT NULL GROUP BY 2";
}

// One row of the distinct-values query.
struct DistinctValue {
  core::BatchCheck check;
  std::optional<std::string> value;
  std::int64_t first = 1;  // the first element (1-based) with the value
};

// What the checks found out for the insert.
struct BatchFacts {
  std::map<std::string, int> queue_defaults;  // queue -> default max_attempts
  std::vector<std::string> future_run_at;     // run_at values that make a job SCHEDULED
  bool any_unique_key = false;
};

std::vector<DistinctValue> DistinctValues(Datum jobs) {
  static pg::Statement distinct(DistinctValuesSql(), {JSONBOID, INT4OID, TEXTOID});
  pg::Params p;
  // Parents: only those the caller may see (another tenant's job counts as missing).
  p.Add(jobs).AddInt32(taskflow_max_payload_bytes).AddOptText(CallerTenant());
  std::uint64_t n = p.Run(distinct, true);
  std::vector<DistinctValue> out;
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    std::optional<core::BatchCheck> check = core::BatchCheckOfTag(row.Int32(1).value_or(0));
    if (!check) throw DomainError(ErrorCode::Internal, "schedule_many: unknown check");
    out.push_back({*check, row.Text(2), row.Int64(3).value_or(1)});
  }
  return out;
}

// An api error of one element, prefixed with where it is.
template <typename F>
auto ForElement(const std::string& where, F f) {
  try {
    return f();
  } catch (const DomainError& e) {
    throw DomainError(e.code(), where + e.what(), e.hint());
  }
}

// Re-checks one element's payload with the exact single-job rule (and message).
void CheckElementPayload(Datum jobs, std::int64_t element, const std::string& where) {
  static pg::Statement payload("SELECT $1 -> ($2::int - 1) -> 'payload'", {JSONBOID, INT8OID});
  pg::Params q;
  q.Add(jobs).AddInt64(element);
  q.Run(payload, true);
  bool is_null = true;
  Datum element_payload = pg::ResultRow(0).Raw(1, &is_null);
  if (!is_null) CheckPayload(element_payload, where);
}

// The check of one distinct value (ValidateScalars on a probe job holding just that value, so
// the messages are schedule's).
void CheckDistinctValue(Datum jobs, const DistinctValue& it, BatchFacts* facts) {
  using C = core::BatchCheck;
  const std::string where = "jobs[" + std::to_string(it.first - 1) + "]: ";
  const std::string value = it.value.value_or("");
  JobSpec probe;
  probe.job_type = "probe";
  switch (it.check) {
    case C::JobType: probe.job_type = value; break;
    case C::Queue:
      probe.queue = value;
      ValidateScalars(probe, where);
      facts->queue_defaults[value] =
          ForElement(where, [&] { return RequireQueue(value).policy.max_attempts; });
      return;
    case C::Tenant:
      probe.tenant_id = value;
      ValidateScalars(probe, where);
      // a confined caller may only name its own tenant
      ForElement(where, [&] {
        ResolveTenant(value);
        return 0;
      });
      return;
    case C::MaxAttempts:
      probe.max_attempts = JsonInt(it.value.value_or("0"), "max_attempts", where);
      break;
    case C::Priority: probe.priority = JsonInt(it.value.value_or("0"), "priority", where); break;
    case C::Timeout: probe.timeout_us = ParseIntervalMicros(value, "timeout", where); break;
    case C::EmptyUniqueKey: probe.unique_key = std::string(); break;
    case C::LargePayload: CheckElementPayload(jobs, it.first, where); return;
    case C::MissingParent:
      throw DomainError(ErrorCode::ForeignKeyViolation,
                        where + "parent job " + value + " does not exist");
    case C::UsesUniqueKeys: facts->any_unique_key = true; return;
    case C::Traceparent: probe.traceparent = value; break;
    case C::RunAt:  // the core decides which run_at values make a job wait
      probe.run_at = ParseTimestampTz(value, "run_at", where);
      ValidateScalars(probe, where);
      if (core::InitialState(probe.run_at, NowMicros()) != core::InitialState(std::nullopt, 0)) {
        facts->future_run_at.push_back(value);
      }
      return;
  }
  ValidateScalars(probe, where);
}

// The states the batch insert chooses between, from the core's rule for a new job seen from the
// epoch: no run_at (ready), a run_at after it (waiting for its time), unfinished dependencies.
constexpr std::int64_t kEpochUs = 0;
constexpr std::int64_t kAfterEpochUs = 1;
struct BatchStates {
  std::string ready = std::string(core::ToString(core::InitialState(std::nullopt, kEpochUs)));
  std::string waiting = std::string(core::ToString(core::InitialState(kAfterEpochUs, kEpochUs)));
  std::string blocked = std::string(core::ToString(core::InitialState(std::nullopt, kEpochUs, 1)));
};

// One row of the batch insert: the job's id (0: its unique key was taken), where it went.
struct InsertedRow {
  std::int64_t id;
  std::string tenant, queue;
  std::optional<std::string> key;
  bool ready;
};

// 3. One set-based insert; ids are drawn first so they map back to input positions. ON CONFLICT
//    (speculative insertion) only when the batch uses unique keys.
std::vector<InsertedRow> InsertBatch(Datum jobs, const BatchFacts& facts, const std::string& actor,
                                     const std::vector<int>* dependency_counts,
                                     const std::vector<std::string>* wait_reasons) {
  static const std::vector<Oid> kTypes = {JSONBOID, TEXTARRAYOID, INT4ARRAYOID, TEXTARRAYOID,
                                          TEXTOID,  TEXTOID,      TEXTOID,      TEXTOID,
                                          TEXTOID,  INT4ARRAYOID, TEXTARRAYOID, TEXTOID};
  static InsertStatements statements(BatchInsertSql, kTypes);
  const InsertStatements::Pair chosen = statements.ForInstalledSchema();
  pg::Statement& insert_plain = chosen.plain;
  pg::Statement& insert_unique = chosen.unique;
  std::vector<std::string> qnames;
  std::vector<std::int32_t> qmax;
  for (const auto& [name, max] : facts.queue_defaults) {
    qnames.push_back(name);
    qmax.push_back(max);
  }
  // Elements with a run_at listed in future_run_at start waiting, the others ready.
  const BatchStates states;
  pg::Params p;
  p.Add(jobs)
      .Add(TextArrayDatum(qnames))
      .Add(Int32ArrayDatum(qmax))
      .Add(TextArrayDatum(facts.future_run_at));
  p.AddText(states.ready)
      .AddText(states.waiting)
      .AddText(actor)
      .AddText(ResolveTenant(std::nullopt));
  p.AddOptText(CallerTenant());
  if (dependency_counts != nullptr)
    p.Add(Int32ArrayDatum(*dependency_counts));
  else
    p.AddNull();
  if (wait_reasons != nullptr)
    p.Add(TextArrayDatum(*wait_reasons));
  else
    p.AddNull();
  p.AddText(states.blocked);
  std::uint64_t n = p.Run(facts.any_unique_key ? insert_unique : insert_plain);
  std::vector<InsertedRow> rows;
  rows.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    rows.push_back({row.Int64(2).value_or(0), row.Text(3).value_or(""), row.Text(4).value_or(""),
                    row.Text(5), row.Bool(6).value_or(false)});
  }
  return rows;
}

// The id of each element: its own, or where its unique key was taken, the holder's (an earlier
// element of this batch, or an unfinished job already in the table). Wakes the queues that got
// ready jobs.
std::vector<std::int64_t> ElementIds(const std::vector<InsertedRow>& rows) {
  std::map<std::tuple<std::string, std::string, std::string>, std::int64_t> inserted_keys;
  std::set<std::string> wake;
  std::vector<std::int64_t> ids;
  ids.reserve(rows.size());
  for (const InsertedRow& r : rows) {
    if (r.id != 0) {
      if (r.key) inserted_keys.emplace(std::make_tuple(r.tenant, r.queue, *r.key), r.id);
      if (r.ready) wake.insert(r.queue);
      ids.push_back(r.id);
      continue;
    }
    auto hit = inserted_keys.find(std::make_tuple(r.tenant, r.queue, r.key.value_or("")));
    if (hit != inserted_keys.end()) {
      ids.push_back(hit->second);
    } else if (auto existing = ExistingUnique(r.tenant, r.queue, r.key.value_or(""))) {
      ids.push_back(*existing);
    } else {
      throw DomainError(ErrorCode::Internal, "a job of the batch could not be inserted");
    }
  }
  for (const auto& q : wake) NotifyQueue(q);
  return ids;
}

}  // namespace

std::vector<std::int64_t> ScheduleJobs(Datum jobs, const std::string& actor,
                                       const std::vector<int>* dependency_counts,
                                       const std::vector<std::string>* wait_reasons) {
  if (!pg::InspectJsonb(jobs).is_array) {
    throw DomainError(ErrorCode::InvalidParameterValue, "jobs must be a JSON array of objects",
                      "Example: '[{\"job_type\": \"a\"}, {\"job_type\": \"b\", \"priority\": 5}]'");
  }
  CheckBatchDepth(jobs);
  CheckBatchShape(jobs);
  BatchFacts facts;
  for (const DistinctValue& v : DistinctValues(jobs)) CheckDistinctValue(jobs, v, &facts);
  return ElementIds(InsertBatch(jobs, facts, actor, dependency_counts, wait_reasons));
}

}  // namespace taskflow::api
