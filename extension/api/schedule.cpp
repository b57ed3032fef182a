// Client side: taskflow.schedule and taskflow.schedule_many.
#include <string>

#include "core/errors.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "pg/settings.hpp"

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;

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
}

void CheckParentExists(std::int64_t parent_id, const std::string& where) {
  static pg::Statement exists("SELECT 1 FROM taskflow.jobs WHERE id = $1", {INT8OID});
  pg::Params p;
  p.AddInt64(parent_id);
  if (p.Run(exists, false, 1) == 0) {  // sees parents inserted earlier in this call
    throw DomainError(ErrorCode::ForeignKeyViolation,
                      where + "parent job " + std::to_string(parent_id) + " does not exist");
  }
}

// Everything schedule() needs about one job, validated.
struct JobSpec {
  std::string job_type;
  Datum payload = 0;
  std::string queue = "default";
  std::string tenant_id = "default";
  std::optional<std::int64_t> run_at;
  int priority = 0;
  std::optional<int> max_attempts;
  std::optional<std::string> unique_key;
  std::optional<std::string> correlation_id;
  std::optional<std::int64_t> parent_job_id;
  std::optional<std::int64_t> timeout_us;
};

struct Prepared {
  core::JobState state;
  int max_attempts;
};

Prepared Validate(const JobSpec& spec, const std::string& where) {
  core::ValidateJobType(spec.job_type);
  core::ValidateQueueName(spec.queue);
  core::ValidateTenantId(spec.tenant_id);
  if (spec.max_attempts) core::ValidateMaxAttempts(*spec.max_attempts);
  if (spec.timeout_us && *spec.timeout_us <= 0) {
    throw DomainError(ErrorCode::InvalidParameterValue, where + "timeout must be greater than zero");
  }
  if (spec.unique_key && spec.unique_key->empty()) {
    throw DomainError(ErrorCode::InvalidParameterValue, where + "unique_key must not be empty");
  }
  CheckPayload(spec.payload, where);
  api::QueueInfo queue = api::RequireQueue(spec.queue);
  if (spec.parent_job_id) CheckParentExists(*spec.parent_job_id, where);
  return {core::InitialState(spec.run_at, api::NowMicros()),
          spec.max_attempts.value_or(queue.policy.max_attempts)};
}

constexpr const char* kInsertColumns =
    "INSERT INTO taskflow.jobs (job_type, payload, queue, tenant_id, state, priority, "
    "max_attempts, next_run_at, unique_key, correlation_id, parent_job_id, timeout) "
    "VALUES ($1, $2, $3, $4, $5::taskflow.job_state, $6, $7, COALESCE($8, now()), $9, $10, $11, "
    "$12) ";
constexpr const char* kInsertTail =
    " RETURNING id, state), "
    "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
    "SELECT id, NULL, state, $13, 'scheduled' FROM ins) "
    "SELECT id FROM ins";
const std::vector<Oid> kInsertTypes = {TEXTOID, JSONBOID, TEXTOID,     TEXTOID, TEXTOID,
                                       INT4OID, INT4OID,  TIMESTAMPTZOID, TEXTOID, TEXTOID,
                                       INT8OID, INTERVALOID, TEXTOID};

// Inserts one validated job; returns its id, or the id of the unfinished job that already holds
// its unique key.
std::int64_t Insert(const JobSpec& spec, const Prepared& prep, const std::string& actor) {
  static pg::Statement plain(std::string("WITH ins AS (") + kInsertColumns + kInsertTail,
                             kInsertTypes);
  static pg::Statement unique(
      std::string("WITH ins AS (") + kInsertColumns +
          "ON CONFLICT (tenant_id, queue, unique_key) WHERE unique_key IS NOT NULL AND state IN "
          "('PENDING', 'SCHEDULED', 'RUNNING') DO NOTHING" + kInsertTail,
      kInsertTypes);
  static pg::Statement existing(
      "SELECT id FROM taskflow.jobs WHERE tenant_id = $1 AND queue = $2 AND unique_key = $3 "
      "AND state IN ('PENDING', 'SCHEDULED', 'RUNNING')",
      {TEXTOID, TEXTOID, TEXTOID});

  pg::Params p;
  p.AddText(spec.job_type).Add(spec.payload).AddText(spec.queue).AddText(spec.tenant_id);
  p.AddText(core::ToString(prep.state)).AddInt32(spec.priority).AddInt32(prep.max_attempts);
  if (spec.run_at) p.Add(TimestampTzGetDatum(*spec.run_at)); else p.AddNull();
  p.AddOptText(spec.unique_key).AddOptText(spec.correlation_id);
  if (spec.parent_job_id) p.AddInt64(*spec.parent_job_id); else p.AddNull();
  p.AddOptInterval(spec.timeout_us).AddText(actor);

  for (int round = 0; round < 3; ++round) {
    if (p.Run(spec.unique_key ? unique : plain) == 1) {
      if (prep.state == core::JobState::Pending) api::NotifyQueue(spec.queue);
      return *pg::ResultRow(0).Int64(1);
    }
    // The key is taken by an unfinished job: return that job (a fresh statement sees jobs
    // committed while the insert waited for them).
    pg::Params q;
    q.AddText(spec.tenant_id).AddText(spec.queue).AddText(*spec.unique_key);
    if (q.Run(existing, false, 1) == 1) return *pg::ResultRow(0).Int64(1);
  }
  throw DomainError(ErrorCode::Internal, "unique_key kept conflicting with a vanishing job");
}

}  // namespace

// taskflow.schedule(job_type, payload, queue, tenant_id, run_at, priority, max_attempts,
//                   unique_key, correlation_id, parent_job_id, timeout) RETURNS bigint
TF_FUNCTION(taskflow_schedule) {
  pg::RequireArg(fcinfo, 0, "job_type");
  JobSpec spec;
  spec.job_type = pg::ArgText(fcinfo, 0);
  spec.payload = pg::ArgIsNull(fcinfo, 1) ? 0 : PG_GETARG_DATUM(1);
  if (auto q = pg::ArgOptText(fcinfo, 2)) spec.queue = *q;
  if (auto t = pg::ArgOptText(fcinfo, 3)) spec.tenant_id = *t;
  if (!pg::ArgIsNull(fcinfo, 4)) spec.run_at = PG_GETARG_TIMESTAMPTZ(4);
  spec.priority = pg::ArgOptInt32(fcinfo, 5).value_or(0);
  spec.max_attempts = pg::ArgOptInt32(fcinfo, 6);
  spec.unique_key = pg::ArgOptText(fcinfo, 7);
  spec.correlation_id = pg::ArgOptText(fcinfo, 8);
  spec.parent_job_id = pg::ArgOptInt64(fcinfo, 9);
  spec.timeout_us = pg::ArgOptIntervalMicros(fcinfo, 10);

  pg::SpiConnection spi;
  if (spec.payload == 0) {
    static pg::Statement empty("SELECT '{}'::jsonb", {});
    empty.Run(nullptr, nullptr, true);
    bool is_null = false;
    spec.payload = pg::ResultRow(0).Raw(1, &is_null);
  }
  Prepared prep = Validate(spec, "");
  std::int64_t id = Insert(spec, prep, api::CallerName());
  return Int64GetDatum(id);
}

// taskflow.schedule_many(jobs jsonb) RETURNS SETOF bigint: each element an object with
// schedule()'s parameter names as keys. All or nothing; ids in input order.
TF_FUNCTION(taskflow_schedule_many) {
  pg::RequireArg(fcinfo, 0, "jobs");
  Datum jobs = PG_GETARG_DATUM(0);
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    if (!pg::InspectJsonb(jobs).is_array) {
      throw DomainError(ErrorCode::InvalidParameterValue, "jobs must be a JSON array of objects",
                        "Example: '[{\"job_type\": \"a\"}, {\"job_type\": \"b\", \"priority\": 5}]'");
    }
    // Typed columns per element; taskflow._job_spec raises a clear error for a bad key or value.
    static pg::Statement specs(
        "SELECT s.* FROM jsonb_array_elements($1) WITH ORDINALITY AS e(j, n), "
        "LATERAL taskflow._job_spec(e.j, e.n) AS s ORDER BY e.n",
        {JSONBOID});
    pg::Params p;
    p.Add(jobs);
    std::uint64_t n = p.Run(specs, true);
    SPITupleTable* table = SPI_tuptable;
    std::vector<JobSpec> all(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      SPI_tuptable = table;
      SPI_processed = n;
      pg::ResultRow row(i);
      JobSpec& s = all[i];
      s.job_type = row.Text(1).value_or("");
      bool is_null = false;
      s.payload = row.Raw(2, &is_null);
      s.queue = row.Text(3).value_or("default");
      s.tenant_id = row.Text(4).value_or("default");
      s.run_at = row.Timestamp(5);
      s.priority = row.Int32(6).value_or(0);
      s.max_attempts = row.Int32(7);
      s.unique_key = row.Text(8);
      s.correlation_id = row.Text(9);
      s.parent_job_id = row.Int64(10);
      s.timeout_us = row.IntervalMicros(11);
    }
    std::string actor = api::CallerName();
    ids.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::string where = "jobs[" + std::to_string(i) + "]: ";
      Prepared prep = Validate(all[i], where);
      ids.push_back(Insert(all[i], prep, actor));
    }
  }
  for (std::int64_t id : ids) {
    Datum v = Int64GetDatum(id);
    bool null = false;
    out.PutValues(&v, &null);
  }
  return Datum(0);
}
