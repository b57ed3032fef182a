#include "core/errors.hpp"
#include "core/state_machine.hpp"
#include "api/finish.hpp"

#include "api/common.hpp"
#include "api/hooks.hpp"

namespace taskflow::api {

using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

JobState ParseState(const std::optional<std::string>& label) {
  auto s = label ? core::ParseJobState(*label) : std::nullopt;
  if (!s) throw DomainError(ErrorCode::Internal, "unknown job state in table");
  return *s;
}

// Marks the jobs at the given 1-based positions of (ids, results) SUCCEEDED, closes their
// attempts and records the transitions. Only RUNNING rows change (locked by the caller).
int FinishSucceeded(Datum ids, Datum results, bool results_null,
                    const std::vector<std::int32_t>& positions) {
  if (positions.empty()) return 0;
  static pg::Statement stmt(
      "WITH r AS (SELECT t.id, t.result FROM unnest($1::bigint[], $2::jsonb[]) "
      "  WITH ORDINALITY AS t(id, result, n) WHERE t.n = ANY($3)), "
      "upd AS (UPDATE taskflow.jobs j SET state = " +
          TargetStateSql(JobState::Running, JobEvent::Complete) +
          ", finished_at = now(), result = r.result, lease_expires_at = NULL "
          "  FROM r WHERE j.id = r.id AND j.state = 'RUNNING' "
          "  RETURNING j.id, j.attempts, j.worker_id, j.state), "
          "att AS (UPDATE taskflow.job_attempts a SET finished_at = now(), outcome = 'succeeded' "
          "  FROM upd WHERE a.job_id = upd.id AND a.attempt = upd.attempts), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, 'RUNNING', state, worker_id, 'completed' FROM upd) "
          "SELECT id FROM upd",
      {INT8ARRAYOID, JSONBARRAYOID, INT4ARRAYOID});
  pg::Params p;
  p.Add(ids).Add(results, results_null).Add(Int32ArrayDatum(positions));
  std::uint64_t n = p.Run(stmt);
  std::vector<std::int64_t> done;
  done.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) done.push_back(pg::ResultRow(i).Int64(1).value_or(0));
  if (!done.empty()) AfterFinished(JobState::Succeeded, done);
  return static_cast<int>(n);
}

struct LockedRow {
  std::int32_t position;
  JobState state;
  bool token_matches;
};

// Locks the named jobs in id order (no deadlocks between batches) and reads what the decision
// needs. Positions are 1-based into the input arrays.
std::vector<LockedRow> LockForComplete(Datum ids, Datum tokens) {
  static pg::Statement stmt(
      "SELECT t.n::int, j.state::text, j.lease_token IS NOT DISTINCT FROM t.token "
      "FROM unnest($1::bigint[], $2::uuid[]) WITH ORDINALITY AS t(id, token, n) "
      "JOIN taskflow.jobs j ON j.id = t.id ORDER BY j.id FOR UPDATE OF j",
      {INT8ARRAYOID, UUIDARRAYOID});
  pg::Params p;
  p.Add(ids).Add(tokens);
  std::uint64_t n = p.Run(stmt);
  std::vector<LockedRow> rows;
  rows.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    rows.push_back({row.Int32(1).value_or(0), ParseState(row.Text(2)), row.Bool(3).value_or(false)});
  }
  return rows;
}

int ArrayLength(Datum array) {
  return pg::PgCall([&] {
    ArrayType* a = DatumGetArrayTypeP(array);
    return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
  });
}

// Decides each locked row; returns the positions to complete now and counts the accepted.
std::vector<std::int32_t> Decide(const std::vector<LockedRow>& rows,
                                 std::vector<std::optional<JobState>>* outcome) {
  std::vector<std::int32_t> to_complete;
  for (const LockedRow& r : rows) {
    std::optional<JobState> result;
    if (r.token_matches) {
      if (r.state == JobState::Running) {
        result = core::RequireTransition(r.state, JobEvent::Complete, 0);
        to_complete.push_back(r.position);
      } else if (r.state == JobState::Succeeded) {
        result = JobState::Succeeded;  // a repeated complete of the attempt that succeeded
      }
    }
    if (outcome != nullptr && r.position >= 1 &&
        static_cast<std::size_t>(r.position) <= outcome->size()) {
      (*outcome)[r.position - 1] = result;
    }
  }
  return to_complete;
}

struct FinishRow {
  std::int64_t id;
  JobState state;
  bool token_matches;
  bool cancel_requested;
  int attempts_used;
  int max_attempts;
  core::RetryPolicy policy;
};

constexpr const char* kFinishColumns =
    "SELECT j.id, j.state::text, j.lease_token = $2, j.cancel_requested, "
    "j.attempts - j.budget_offset, j.max_attempts, "
    "q.max_attempts, q.strategy, q.base_delay, q.max_delay, q.jitter "
    "FROM taskflow.jobs j LEFT JOIN taskflow.queues q ON q.name = j.queue ";

FinishRow ReadFinishRow(std::uint64_t i) {
  pg::ResultRow row(i);
  FinishRow r;
  r.id = row.Int64(1).value_or(0);
  r.state = ParseState(row.Text(2));
  r.token_matches = row.Bool(3).value_or(false);
  r.cancel_requested = row.Bool(4).value_or(false);
  r.attempts_used = row.Int32(5).value_or(0);
  r.max_attempts = row.Int32(6).value_or(1);
  r.policy = PolicyFromRow(row, 7);
  return r;
}

std::optional<FinishRow> LockForFinish(std::int64_t id, Datum token) {
  static pg::Statement stmt(std::string(kFinishColumns) + "WHERE j.id = $1 FOR UPDATE OF j",
                            {INT8OID, UUIDOID});
  pg::Params p;
  p.AddInt64(id).Add(token);
  if (p.Run(stmt) == 0) return std::nullopt;
  return ReadFinishRow(0);
}

struct EndOfAttempt {
  JobState to;
  const char* outcome;                 // job_attempts.outcome
  std::optional<std::int64_t> delay;   // retry backoff (next_run_at = now() + delay)
  bool run_now = false;                // release: next_run_at = now()
  int budget_increment = 0;            // release: the attempt does not count
  std::optional<std::string> error_type;
  std::optional<std::string> error_message;
  std::optional<std::string> actor;    // NULL: the lease holder
  std::string reason;
};

// Ends the current attempt of a locked RUNNING job.
void EndAttempt(std::int64_t id, const EndOfAttempt& e) {
  static pg::Statement stmt(
      "WITH upd AS (UPDATE taskflow.jobs SET state = $2::taskflow.job_state, "
      "    next_run_at = CASE WHEN $3::interval IS NOT NULL THEN now() + $3 "
      "                       WHEN $4 THEN now() ELSE next_run_at END, "
      "    finished_at = CASE WHEN $5 THEN now() END, "
      "    last_error_type = CASE WHEN $6::text IS NULL THEN last_error_type ELSE $6 END, "
      "    last_error_message = CASE WHEN $6::text IS NULL THEN last_error_message ELSE $7 END, "
      "    budget_offset = budget_offset + $8, lease_expires_at = NULL "
      "  WHERE id = $1 AND state = 'RUNNING' RETURNING id, attempts, worker_id, state), "
      "att AS (UPDATE taskflow.job_attempts a SET finished_at = now(), outcome = $9, "
      "    error_type = $6, error_message = $7, backoff_delay = $3 "
      "  FROM upd WHERE a.job_id = upd.id AND a.attempt = upd.attempts), "
      "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
      "  SELECT id, 'RUNNING', state, COALESCE($10, worker_id), $11 FROM upd) "
      "SELECT count(*)::int FROM upd",
      {INT8OID, TEXTOID, INTERVALOID, BOOLOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, TEXTOID,
       TEXTOID, TEXTOID});
  pg::Params p;
  p.AddInt64(id).AddText(core::ToString(e.to)).AddOptInterval(e.delay).AddBool(e.run_now);
  p.AddBool(core::IsTerminal(e.to)).AddOptText(e.error_type).AddOptText(e.error_message);
  p.AddInt32(e.budget_increment).AddText(e.outcome).AddOptText(e.actor).AddText(e.reason);
  p.Run(stmt);
  if (pg::ResultRow(0).Int32(1).value_or(0) == 1 && core::IsTerminal(e.to)) {
    AfterFinished(e.to, {id});
  }
}

std::string DelayText(std::int64_t us) {
  return std::to_string(us / 1000) + " ms";
}

// The failure path shared by fail() and the Rescuer.
JobState ApplyFailure(const FinishRow& row, const Failure& failure, const char* outcome,
                      std::optional<std::string> actor) {
  JobEvent ev = core::DecideFailure(
      {row.attempts_used, row.max_attempts, failure.retryable, row.cancel_requested});
  EndOfAttempt e;
  e.to = core::RequireTransition(row.state, ev, row.id);
  e.outcome = outcome;
  e.error_type = failure.error_type;
  e.error_message = failure.error_message;
  e.actor = std::move(actor);
  switch (ev) {
    case JobEvent::FailRetry:
      e.delay = row.policy.NextDelay(row.attempts_used, UnitRandom());
      e.reason = failure.error_type + ": retry in " + DelayText(*e.delay);
      break;
    case JobEvent::FailExhausted:
      e.reason = failure.error_type + ": attempts exhausted (" +
                 std::to_string(row.attempts_used) + " of " + std::to_string(row.max_attempts) + ")";
      break;
    case JobEvent::FailPermanent:
      e.reason = failure.error_type + ": not retryable";
      break;
    default:
      e.reason = failure.error_type + ": cancel requested";
      break;
  }
  EndAttempt(row.id, e);
  return e.to;
}

}  // namespace

std::vector<std::optional<JobState>> CompleteJobs(const std::vector<std::int64_t>& ids,
                                                  const std::vector<Datum>& tokens,
                                                  const std::vector<std::optional<Datum>>& results) {
  Datum id_array = Int64ArrayDatum(ids);
  std::vector<Datum> t(tokens);
  Datum* td = t.data();
  int tn = static_cast<int>(t.size());
  Datum token_array = pg::PgCall([&] {
    return PointerGetDatum(construct_array(td, tn, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
  });
  std::vector<Datum> rv;
  std::vector<bool> rn;
  for (const auto& r : results) {
    rv.push_back(r.value_or(Datum(0)));
    rn.push_back(!r.has_value());
  }
  bool* nulls = static_cast<bool*>(pg::PgCall([&] { return palloc(sizeof(bool) * (rn.size() + 1)); }));
  for (std::size_t i = 0; i < rn.size(); ++i) nulls[i] = rn[i];
  Datum* rd = rv.data();
  int dims[1] = {static_cast<int>(rv.size())};
  int lbs[1] = {1};
  Datum result_array = pg::PgCall([&] {
    return PointerGetDatum(
        construct_md_array(rd, nulls, 1, dims, lbs, JSONBOID, -1, false, TYPALIGN_INT));
  });

  std::vector<std::optional<JobState>> outcome(ids.size());
  std::vector<LockedRow> rows = LockForComplete(id_array, token_array);
  FinishSucceeded(id_array, result_array, false, Decide(rows, &outcome));
  return outcome;
}

int CompleteMany(Datum ids, Datum tokens, std::optional<Datum> results) {
  int n = ArrayLength(ids);
  if (ArrayLength(tokens) != n || (results && ArrayLength(*results) != n)) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "job_ids, lease_tokens and results must have the same length");
  }
  if (n == 0) return 0;
  std::vector<std::optional<JobState>> outcome(static_cast<std::size_t>(n));
  std::vector<LockedRow> rows = LockForComplete(ids, tokens);
  FinishSucceeded(ids, results.value_or(Datum(0)), !results.has_value(), Decide(rows, &outcome));
  int accepted = 0;
  for (const auto& o : outcome) accepted += o.has_value() ? 1 : 0;
  return accepted;
}

std::optional<JobState> FailJob(std::int64_t id, Datum token, const Failure& failure) {
  std::optional<FinishRow> row = LockForFinish(id, token);
  if (!row || !row->token_matches || row->state != JobState::Running) return std::nullopt;
  return ApplyFailure(*row, failure, row->cancel_requested ? "cancelled" : "failed", std::nullopt);
}

std::optional<JobState> ReleaseJob(std::int64_t id, Datum token) {
  std::optional<FinishRow> row = LockForFinish(id, token);
  if (!row || !row->token_matches || row->state != JobState::Running) return std::nullopt;
  JobEvent ev = core::DecideRelease(row->cancel_requested);
  EndOfAttempt e;
  e.to = core::RequireTransition(row->state, ev, id);
  if (ev == JobEvent::Release) {
    e.outcome = "released";
    e.run_now = true;
    e.budget_increment = 1;
    e.reason = "released";
  } else {
    e.outcome = "cancelled";
    e.reason = "released after cancel request";
  }
  EndAttempt(id, e);
  return e.to;
}

int RescueExpired(int limit) {
  static pg::Statement stmt(
      std::string(kFinishColumns) +
          "WHERE j.state = 'RUNNING' AND j.lease_expires_at < now() "
          "ORDER BY j.lease_expires_at LIMIT $1 FOR UPDATE OF j SKIP LOCKED",
      {INT4OID, UUIDOID});
  pg::Params p;
  p.AddInt32(limit).AddNull();
  std::uint64_t n = p.Run(stmt);
  std::vector<FinishRow> rows;
  for (std::uint64_t i = 0; i < n; ++i) rows.push_back(ReadFinishRow(i));
  Failure expired{"lease_expired", std::string("lease expired before the worker finished"), true};
  for (const FinishRow& row : rows) {
    ApplyFailure(row, expired, "lease_expired", std::string("rescuer"));
  }
  return static_cast<int>(rows.size());
}

}  // namespace taskflow::api
