// Worker protocol: acquire, heartbeat, complete, complete_many, fail, release; and the
// Rescuer's entry point. Every state change here is decided by core::Transition.
#include <algorithm>
#include <map>
#include <string>

#include "core/errors.hpp"
#include "api/common.hpp"
#include "api/finish.hpp"
#include "pg/settings.hpp"

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

constexpr int kAcquireColumns = 10;

// One acquisition round over queues of equal priority: lock ready jobs in order with SKIP
// LOCKED, start an attempt for each and record the transition, in one statement. The attempt's
// row in job_attempts is written when it ends; while it runs the job row holds it.
pg::Statement& AcquireStatement() {
  static pg::Statement stmt(
      "WITH cand AS ("
      // Per queue, an index scan in acquisition order (jobs_ready_idx); then the best of those.
      // (queue = ANY(...) would sort every ready job of the queues on each call.)
      "  SELECT c.id, c.from_state FROM unnest($2::text[]) AS qn(name), LATERAL ("
      "    SELECT j.id, j.state AS from_state, j.priority, j.next_run_at FROM taskflow.jobs j"
      "    WHERE j.queue = qn.name AND j.state IN " + api::SourceStatesSql(JobEvent::Acquire) +
      "      AND j.next_run_at <= now() AND ($5::text[] IS NULL OR j.job_type = ANY($5))"
      "    ORDER BY j.priority DESC, j.next_run_at, j.id"
      "    LIMIT $3 FOR UPDATE SKIP LOCKED) c"
      "  ORDER BY c.priority DESC, c.next_run_at, c.id LIMIT $3), "
      "upd AS ("
      "  UPDATE taskflow.jobs j SET state = " + api::TargetStateSql(JobState::Pending, JobEvent::Acquire) +
      "    , attempts = j.attempts + 1, lease_token = gen_random_uuid(),"
      "    lease_duration = COALESCE($4, q.lease, $6),"
      "    lease_expires_at = now() + COALESCE($4, q.lease, $6),"
      "    started_at = now(), worker_id = $1"
      "  FROM cand, taskflow.queues q WHERE j.id = cand.id AND q.name = j.queue"
      "  RETURNING j.id, j.attempts, j.lease_token, j.job_type, j.payload, j.queue, j.tenant_id,"
      "    j.correlation_id, j.lease_expires_at, j.timeout, cand.from_state, j.state, j.priority,"
      "    j.next_run_at), "
      "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason)"
      "  SELECT id, from_state, state, $1, 'acquired' FROM upd) "
      "SELECT id, attempts, lease_token, job_type, payload, queue, tenant_id, correlation_id,"
      "  lease_expires_at, timeout FROM upd ORDER BY priority DESC, next_run_at, id",
      {TEXTOID, TEXTARRAYOID, INT4OID, INTERVALOID, TEXTARRAYOID, INTERVALOID});
  return stmt;
}

}  // namespace

// taskflow.acquire(worker_id, queues, max_jobs, lease, job_types) RETURNS TABLE(...)
TF_FUNCTION(taskflow_acquire) {
  pg::RequireArg(fcinfo, 0, "worker_id");
  pg::RequireArg(fcinfo, 1, "queues");
  Datum worker_id = PG_GETARG_DATUM(0);
  int max_jobs = pg::ArgOptInt32(fcinfo, 2).value_or(1);
  std::optional<std::int64_t> lease = pg::ArgOptIntervalMicros(fcinfo, 3);
  if (max_jobs < 1 || max_jobs > 10000) {
    throw DomainError(ErrorCode::InvalidParameterValue, "max_jobs must be between 1 and 10000");
  }
  if (lease && *lease <= 0) {
    throw DomainError(ErrorCode::InvalidParameterValue, "lease must be greater than zero");
  }
  Datum job_types = pg::ArgIsNull(fcinfo, 4) ? Datum(0) : PG_GETARG_DATUM(4);

  pg::SetResult out(fcinfo);
  pg::SpiConnection spi;

  // The requested queues that exist and are not paused, grouped by queue priority (highest
  // first). An unknown queue is an error: a typo would otherwise idle a worker silently.
  static pg::Statement queues(
      "SELECT r.name, q.name IS NOT NULL, q.priority, q.paused "
      "FROM unnest($1::text[]) WITH ORDINALITY AS r(name, n) "
      "LEFT JOIN taskflow.queues q ON q.name = r.name ORDER BY r.n",
      {TEXTARRAYOID});
  pg::Params qp;
  qp.Add(PG_GETARG_DATUM(1));
  std::uint64_t nq = qp.Run(queues, true);
  std::map<int, std::vector<std::string>, std::greater<int>> groups;
  for (std::uint64_t i = 0; i < nq; ++i) {
    pg::ResultRow row(i);
    std::optional<std::string> name = row.Text(1);
    if (!name) throw DomainError(ErrorCode::InvalidParameterValue, "queues must not contain NULL");
    if (!row.Bool(2).value_or(false)) {
      throw DomainError(ErrorCode::UndefinedObject, "queue \"" + *name + "\" does not exist",
                        "Create it first: SELECT taskflow.create_queue('" + *name + "');");
    }
    if (row.Bool(4).value_or(false)) continue;  // paused
    groups[row.Int32(3).value_or(0)].push_back(*name);
  }

  std::int64_t default_lease = static_cast<std::int64_t>(taskflow_default_lease_s) * 1000000;
  int remaining = max_jobs;
  for (auto& [priority, names] : groups) {
    if (remaining <= 0) break;
    std::vector<Datum> name_datums;
    for (auto& n : names) name_datums.push_back(pg::TextDatum(n));
    Datum* nd = name_datums.data();
    int nn = static_cast<int>(name_datums.size());
    Datum names_array = pg::PgCall([&] {
      return PointerGetDatum(construct_array(nd, nn, TEXTOID, -1, false, TYPALIGN_INT));
    });
    pg::Params p;
    p.Add(worker_id).Add(names_array).AddInt32(remaining).AddOptInterval(lease);
    p.Add(job_types, job_types == 0).AddInterval(default_lease);
    std::uint64_t got = p.Run(AcquireStatement());
    for (std::uint64_t i = 0; i < got; ++i) {
      Datum values[kAcquireColumns];
      bool nulls[kAcquireColumns];
      HeapTuple tuple = SPI_tuptable->vals[i];
      TupleDesc desc = SPI_tuptable->tupdesc;
      pg::PgCall([&] { heap_deform_tuple(tuple, desc, values, nulls); });
      out.PutValues(values, nulls);
    }
    remaining -= static_cast<int>(got);
  }
  return Datum(0);
}

// taskflow.heartbeat(job_id, lease_token, extend) RETURNS text: ok | cancel_requested | lost
TF_FUNCTION(taskflow_heartbeat) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  std::optional<std::int64_t> extend = pg::ArgOptIntervalMicros(fcinfo, 2);
  if (extend && *extend <= 0) {
    throw DomainError(ErrorCode::InvalidParameterValue, "extend must be greater than zero");
  }
  const char* answer = "lost";
  {
    pg::SpiConnection spi;
    static pg::Statement beat(
        "UPDATE taskflow.jobs SET lease_expires_at = now() + COALESCE($3, lease_duration) "
        "WHERE id = $1 AND lease_token = $2 AND state = 'RUNNING' RETURNING cancel_requested",
        {INT8OID, UUIDOID, INTERVALOID});
    pg::Params p;
    p.Add(PG_GETARG_DATUM(0)).Add(PG_GETARG_DATUM(1)).AddOptInterval(extend);
    if (p.Run(beat) == 1) {
      answer = pg::ResultRow(0).Bool(1).value_or(false) ? "cancel_requested" : "ok";
    }
  }
  return pg::TextDatum(answer);
}

// taskflow.complete(job_id, lease_token, result) RETURNS taskflow.job_state
TF_FUNCTION(taskflow_complete) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  if (!pg::ArgIsNull(fcinfo, 2)) pg::InspectJsonb(PG_GETARG_DATUM(2));  // detoast check only
  std::optional<JobState> state;
  {
    pg::SpiConnection spi;
    state = api::CompleteJob(
        PG_GETARG_INT64(0), PG_GETARG_DATUM(1),
        pg::ArgIsNull(fcinfo, 2) ? std::nullopt : std::optional<Datum>(PG_GETARG_DATUM(2)));
  }
  if (!state) PG_RETURN_NULL();
  return api::JobStateDatum(*state);
}

// taskflow.complete_many(job_ids, lease_tokens, results) RETURNS integer (how many accepted)
TF_FUNCTION(taskflow_complete_many) {
  pg::RequireArg(fcinfo, 0, "job_ids");
  pg::RequireArg(fcinfo, 1, "lease_tokens");
  int accepted = 0;
  {
    pg::SpiConnection spi;
    accepted = api::CompleteMany(PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
                                 pg::ArgIsNull(fcinfo, 2) ? std::nullopt
                                                          : std::optional<Datum>(PG_GETARG_DATUM(2)));
  }
  return Int32GetDatum(accepted);
}

// taskflow.fail(job_id, lease_token, error_type, error_message, retryable)
TF_FUNCTION(taskflow_fail) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  pg::RequireArg(fcinfo, 2, "error_type");
  api::Failure failure;
  failure.error_type = pg::ArgText(fcinfo, 2);
  failure.error_message = pg::ArgOptText(fcinfo, 3);
  failure.retryable = pg::ArgOptBool(fcinfo, 4).value_or(true);
  if (failure.error_type.empty()) {
    throw DomainError(ErrorCode::InvalidParameterValue, "error_type must not be empty");
  }
  std::optional<JobState> state;
  {
    pg::SpiConnection spi;
    state = api::FailJob(PG_GETARG_INT64(0), PG_GETARG_DATUM(1), failure);
  }
  if (!state) PG_RETURN_NULL();
  return api::JobStateDatum(*state);
}

// taskflow.release(job_id, lease_token): back to PENDING without using up an attempt.
TF_FUNCTION(taskflow_release) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  std::optional<JobState> state;
  {
    pg::SpiConnection spi;
    state = api::ReleaseJob(PG_GETARG_INT64(0), PG_GETARG_DATUM(1));
  }
  if (!state) PG_RETURN_NULL();
  return api::JobStateDatum(*state);
}

// taskflow._rescue_expired(max_jobs) RETURNS integer: the Rescuer. Fails the attempt of every
// RUNNING job whose lease has expired, with error_type 'lease_expired' and the usual retry
// rules (a cancel-requested job ends CANCELLED). Called by the maintenance worker.
TF_FUNCTION(taskflow_rescue_expired) {
  int limit = pg::ArgOptInt32(fcinfo, 0).value_or(1000);
  int rescued = 0;
  {
    pg::SpiConnection spi;
    rescued = api::RescueExpired(limit);
  }
  return Int32GetDatum(rescued);
}
