#include "core/errors.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "bgw/wakeup.hpp"
#include "pg/shared_state.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;

std::string StateSql(core::JobState state) {
  // The labels are upper-case letters only: nothing to quote.
  return "'" + std::string(core::ToString(state)) + "'";
}

std::string StateListSql(const std::vector<core::JobState>& states) {
  if (states.empty()) throw DomainError(ErrorCode::Internal, "an SQL state list must not be empty");
  std::string sql = "(";
  for (core::JobState s : states) {
    if (sql.size() > 1) sql += ",";
    sql += StateSql(s);
  }
  return sql + ")";
}

std::string SourceStatesSql(core::JobEvent event) { return StateListSql(core::SourcesOf(event)); }

std::string TargetStateSql(core::JobState from, core::JobEvent event) {
  auto to = core::Transition(from, event);
  if (!to) throw DomainError(ErrorCode::Internal, "transition table has no target");
  return StateSql(*to);
}

core::RetryPolicy PolicyFromRow(const pg::ResultRow& row, int first) {
  core::RetryPolicy policy = core::RetryPolicy::Default();
  if (auto v = row.Int32(first)) policy.max_attempts = *v;
  if (auto v = row.Text(first + 1)) {
    if (auto s = core::ParseStrategy(*v)) policy.strategy = *s;
  }
  if (auto v = row.IntervalMicros(first + 2)) policy.base_delay_us = *v;
  if (auto v = row.IntervalMicros(first + 3)) policy.max_delay_us = *v;
  if (auto v = row.Text(first + 4)) {
    if (auto j = core::ParseJitter(*v)) policy.jitter = *j;
  }
  return policy;
}

QueueInfo RequireQueue(const std::string& name) {
  static pg::Statement lookup(
      "SELECT name, priority, paused, max_attempts, strategy, base_delay, max_delay, jitter "
      "FROM taskflow.queues WHERE name = $1",
      {TEXTOID});
  pg::Params params;
  params.AddText(name);
  if (params.Run(lookup, true, 1) == 0) {
    throw DomainError(ErrorCode::UndefinedObject, "queue \"" + name + "\" does not exist",
                      "Create it first: SELECT taskflow.create_queue('" + name + "');");
  }
  pg::ResultRow row(0);
  QueueInfo info;
  info.name = name;
  info.priority = row.Int32(2).value_or(0);
  info.paused = row.Bool(3).value_or(false);
  info.policy = PolicyFromRow(row, 4);
  return info;
}

void NotifyQueue(const std::string& queue) {
  pg::ReadyChanged();  // jobs became PENDING: acquirers scan for tenants again after commit
  const char* q = queue.c_str();
  pg::PgCall([&] { bgw::RequestWakeup(q); });
}

std::string CallerName() {
  char* name = pg::PgCall([] { return GetUserNameFromId(GetOuterUserId(), true); });
  return name != nullptr ? std::string(name) : std::string("unknown");
}

std::int64_t NowMicros() {
  return static_cast<std::int64_t>(GetCurrentTransactionStartTimestamp());
}

double UnitRandom() { return pg_prng_double(&pg_global_prng_state); }

namespace {

// A one-dimensional array of `values`, each made a Datum by `to_datum`, of the element type
// `type` (typlen, typbyval and typalign as pg_type has them).
template <typename T, typename ToDatum>
Datum ArrayDatum(const std::vector<T>& values, ToDatum to_datum, Oid type, int16 length,
                 bool by_value, char align) {
  std::vector<Datum> datums;
  datums.reserve(values.size());
  for (const T& v : values) datums.push_back(to_datum(v));
  Datum* data = datums.data();
  int n = static_cast<int>(datums.size());
  return pg::PgCall(
      [&] { return PointerGetDatum(construct_array(data, n, type, length, by_value, align)); });
}

}  // namespace

Datum Int64ArrayDatum(const std::vector<std::int64_t>& values) {
  return ArrayDatum(
      values, [](std::int64_t v) { return Int64GetDatum(v); }, INT8OID, 8, FLOAT8PASSBYVAL,
      TYPALIGN_DOUBLE);
}

Datum Int32ArrayDatum(const std::vector<std::int32_t>& values) {
  return ArrayDatum(
      values, [](std::int32_t v) { return Int32GetDatum(v); }, INT4OID, 4, true, TYPALIGN_INT);
}

Datum Float8ArrayDatum(const std::vector<double>& values) {
  return ArrayDatum(
      values, [](double v) { return Float8GetDatum(v); }, FLOAT8OID, 8, FLOAT8PASSBYVAL,
      TYPALIGN_DOUBLE);
}

Datum BoolArrayDatum(const std::vector<bool>& values) {
  return ArrayDatum(
      values, [](bool v) { return BoolGetDatum(v); }, BOOLOID, 1, true, TYPALIGN_CHAR);
}

Datum TextArrayDatum(const std::vector<std::string>& values) {
  return ArrayDatum(
      values, [](const std::string& v) { return pg::TextDatum(v); }, TEXTOID, -1, false,
      TYPALIGN_INT);
}

bool SchemaIs0_2() {
  bool has = false;
  pg::PgCall([&] {
    Oid ns = get_namespace_oid("taskflow", true);
    Oid rel = OidIsValid(ns) ? get_relname_relid("jobs", ns) : InvalidOid;
    has = OidIsValid(rel) && get_attnum(rel, "traceparent") != InvalidAttrNumber &&
          get_attnum(rel, "dependencies_pending") != InvalidAttrNumber;
  });
  return has;
}

Datum JobStateDatum(core::JobState state) {
  // The enum's OID for a label, looked up through the type's input function.
  std::string label(core::ToString(state));
  const char* l = label.c_str();
  return pg::PgCall([&] {
    Oid nsp = get_namespace_oid("taskflow", false);
    Oid type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("job_state"),
                               ObjectIdGetDatum(nsp));
    if (!OidIsValid(type)) elog(ERROR, "type taskflow.job_state does not exist");
    return DirectFunctionCall2(enum_in, CStringGetDatum(l), ObjectIdGetDatum(type));
  });
}

void CheckJsonDepth(Datum jsonb, const std::string& what) {
  core::ValidateJsonDepth(pg::JsonbDepth(jsonb, core::kMaxJsonDepth), what);
}

void CheckJsonArrayDepth(Datum jsonb_array, const std::string& what) {
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int n = 0;
  pg::PgCall([&] {
    deconstruct_array(DatumGetArrayTypeP(jsonb_array), JSONBOID, -1, false, TYPALIGN_INT, &elems,
                      &nulls, &n);
    return 0;
  });
  for (int i = 0; i < n; ++i) {
    if (!nulls[i]) CheckJsonDepth(elems[i], what + "[" + std::to_string(i) + "]");
  }
}

void CheckJsonTextDepth(std::string_view json, const std::string& what) {
  core::ValidateJsonDepth(core::JsonTextDepth(json, core::kMaxJsonDepth), what);
}

}  // namespace taskflow::api

// taskflow._check_json_depth(value jsonb, what text) RETURNS void: CheckJsonDepth for the
// SQL-language entry points (tenant attributes, retry policies).
TF_FUNCTION(taskflow_check_json_depth) {
  if (taskflow::pg::ArgIsNull(fcinfo, 0)) PG_RETURN_VOID();
  taskflow::api::CheckJsonDepth(PG_GETARG_DATUM(0),
                                taskflow::pg::ArgOptText(fcinfo, 1).value_or("value"));
  PG_RETURN_VOID();
}
