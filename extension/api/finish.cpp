#include "core/errors.hpp"
#include "core/state_machine.hpp"
#include "api/common.hpp"
#include "api/finish.hpp"
#include "api/hooks.hpp"
#include "pg/shared_state.hpp"

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

// Completes, in one statement, every job of (ids, tokens, results) whose token is the current
// lease token and whose state allows Complete (from the core table): the job becomes SUCCEEDED,
// its attempt is closed and the transition recorded. Returns the 1-based input positions done.
std::vector<std::int32_t> FinishSucceeded(Datum ids, Datum tokens, Datum results,
                                          bool results_null) {
  // No FROM list in the UPDATE: a joined function scan would make PostgreSQL copy each
  // joined row, results included, for rechecks (measured: 15% of a drain).
  static pg::Statement stmt(
      "WITH t AS MATERIALIZED (SELECT * FROM unnest($1::bigint[], $2::uuid[]) AS t(id, token)), "
      "upd AS (UPDATE taskflow.jobs j SET state = " +
          TargetStateSql(JobState::Running, JobEvent::Complete) +
          ", finished_at = now(), result = ($3::jsonb[])[array_position($1::bigint[], j.id)], "
          "  lease_expires_at = NULL "
          "  WHERE j.id = ANY($1) AND j.state IN " +
          SourceStatesSql(JobEvent::Complete) +
          "    AND EXISTS (SELECT FROM t WHERE t.id = j.id AND t.token = j.lease_token) "
          "  RETURNING j.id, j.attempts, j.worker_id, j.state, j.lease_token, j.started_at, j.tenant_id), "
          "att AS (INSERT INTO taskflow.job_attempts (job_id, attempt, worker_id, lease_token, "
          "    started_at, finished_at, outcome) "
          "  SELECT id, attempts, worker_id, lease_token, started_at, now(), 'succeeded' FROM upd), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, " +
          StateSql(JobState::Running) +
          ", state, worker_id, 'completed' FROM upd) "
          "SELECT upd.id, t.n::int, upd.tenant_id FROM upd JOIN unnest($1::bigint[], $2::uuid[]) "
          "  WITH ORDINALITY AS t(id, token, n) ON t.id = upd.id AND t.token = upd.lease_token",
      {INT8ARRAYOID, UUIDARRAYOID, JSONBARRAYOID},
      // A generic plan guesses one running job and scans jobs_running_idx for the ids;
      // planned per call it looks the batch up by primary key.
      pg::Statement::Plans::Custom);
  pg::Params p;
  p.Add(ids).Add(tokens).Add(results, results_null);
  std::uint64_t n = p.Run(stmt);
  std::vector<std::int64_t> done;
  std::vector<std::int32_t> positions;
  done.reserve(n);
  positions.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    done.push_back(row.Int64(1).value_or(0));
    positions.push_back(row.Int32(2).value_or(0));
    pg::RecordFinished(row.Text(3).value_or(""));  // a RUNNING job less (tenant slots)
  }
  if (!done.empty()) AfterFinished(JobState::Succeeded, done);
  return positions;
}

// The input positions whose token belongs to an attempt that has SUCCEEDED: a repeated
// complete (a worker whose commit was in doubt) is accepted again and changes nothing.
std::vector<std::int32_t> AlreadySucceeded(Datum ids, Datum tokens) {
  static pg::Statement stmt(
      "SELECT t.n::int FROM unnest($1::bigint[], $2::uuid[]) WITH ORDINALITY AS t(id, token, n) "
      "JOIN taskflow.jobs j ON j.id = t.id AND j.lease_token = t.token "
      "WHERE j.state = " +
          StateSql(JobState::Succeeded) + " ORDER BY t.n",
      {INT8ARRAYOID, UUIDARRAYOID});
  pg::Params p;
  p.Add(ids).Add(tokens);
  std::uint64_t n = p.Run(stmt);  // not read-only: it must see this call's own completions
  std::vector<std::int32_t> positions;
  for (std::uint64_t i = 0; i < n; ++i) positions.push_back(pg::ResultRow(i).Int32(1).value_or(0));
  return positions;
}

int ArrayLength(Datum array) {
  return pg::PgCall([&] {
    ArrayType* a = DatumGetArrayTypeP(array);
    return ArrayGetNItems(ARR_NDIM(a), ARR_DIMS(a));
  });
}

// complete/complete_many: which input positions were accepted (completed now, or completed by
// the same attempt before).
std::vector<bool> Complete(Datum ids, Datum tokens, Datum results, bool results_null, int n) {
  std::vector<bool> accepted(static_cast<std::size_t>(n), false);
  auto mark = [&](const std::vector<std::int32_t>& positions) {
    for (std::int32_t pos : positions) {
      if (pos >= 1 && pos <= n) accepted[static_cast<std::size_t>(pos - 1)] = true;
    }
  };
  std::vector<std::int32_t> done = FinishSucceeded(ids, tokens, results, results_null);
  mark(done);
  if (static_cast<int>(done.size()) < n) mark(AlreadySucceeded(ids, tokens));
  return accepted;
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
  const char* outcome;                // job_attempts.outcome
  std::optional<std::int64_t> delay;  // retry backoff or snooze (next_run_at = now() + delay)
  bool run_now = false;               // release: next_run_at = now()
  int budget_increment = 0;           // release, snooze: the attempt does not count
  std::optional<std::string> error_type;
  std::optional<std::string> error_message;
  std::optional<std::string> actor;  // NULL: the lease holder
  std::string reason;
  std::optional<std::string> backoff_policy;  // retry: how `delay` was chosen
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
      "  WHERE id = $1 AND state = " +
          StateSql(JobState::Running) +
          " "
          "  RETURNING id, attempts, worker_id, state, lease_token, started_at, tenant_id), "
          "att AS (INSERT INTO taskflow.job_attempts (job_id, attempt, worker_id, lease_token, "
          "    started_at, finished_at, outcome, error_type, error_message, backoff_delay, "
          "    backoff_policy) "
          "  SELECT id, attempts, worker_id, lease_token, started_at, now(), $9, $6, $7, $3, $12 FROM upd), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, " +
          StateSql(JobState::Running) +
          ", state, COALESCE($10, worker_id), $11 FROM upd) "
          "SELECT count(*)::int, min(tenant_id) FROM upd",
      {INT8OID, TEXTOID, INTERVALOID, BOOLOID, BOOLOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID,
       TEXTOID, TEXTOID});
  pg::Params p;
  p.AddInt64(id).AddText(core::ToString(e.to)).AddOptInterval(e.delay).AddBool(e.run_now);
  p.AddBool(core::IsTerminal(e.to)).AddOptText(e.error_type).AddOptText(e.error_message);
  p.AddInt32(e.budget_increment).AddText(e.outcome).AddOptText(e.actor).AddText(e.reason);
  p.AddOptText(e.backoff_policy);
  p.Run(stmt);
  if (pg::ResultRow(0).Int32(1).value_or(0) == 1) {
    pg::RecordFinished(pg::ResultRow(0).Text(2).value_or(""));  // a RUNNING job less
  }
  if (e.to == JobState::Pending) pg::ReadyChanged();  // released: ready again
  if (pg::ResultRow(0).Int32(1).value_or(0) == 1 && core::IsTerminal(e.to)) {
    AfterFinished(e.to, {id});
  }
}

std::string DelayText(std::int64_t us) { return std::to_string(us / 1000) + " ms"; }

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
      e.backoff_policy = row.policy.DescribeBackoff(row.attempts_used);
      break;
    case JobEvent::FailExhausted:
      e.reason = failure.error_type + ": attempts exhausted (" + std::to_string(row.attempts_used) +
                 " of " + std::to_string(row.max_attempts) + ")";
      break;
    case JobEvent::FailPermanent: e.reason = failure.error_type + ": not retryable"; break;
    default: e.reason = failure.error_type + ": cancel requested"; break;
  }
  EndAttempt(row.id, e);
  return e.to;
}

}  // namespace

std::optional<JobState> CompleteJob(std::int64_t id, Datum token, std::optional<Datum> result) {
  Datum id_array = Int64ArrayDatum({id});
  Datum token_array = pg::PgCall([&] {
    return PointerGetDatum(construct_array(&token, 1, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
  });
  Datum result_value = result.value_or(Datum(0));
  bool result_null = !result.has_value();
  int dims[1] = {1};
  int lbs[1] = {1};
  Datum result_array = pg::PgCall([&] {
    return PointerGetDatum(construct_md_array(&result_value, &result_null, 1, dims, lbs, JSONBOID,
                                              -1, false, TYPALIGN_INT));
  });
  std::vector<bool> accepted = Complete(id_array, token_array, result_array, false, 1);
  if (!accepted[0]) return std::nullopt;
  return JobState::Succeeded;
}

int CompleteMany(Datum ids, Datum tokens, std::optional<Datum> results) {
  int n = ArrayLength(ids);
  if (ArrayLength(tokens) != n || (results && ArrayLength(*results) != n)) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "job_ids, lease_tokens and results must have the same length");
  }
  if (n == 0) return 0;
  std::vector<bool> accepted =
      Complete(ids, tokens, results.value_or(Datum(0)), !results.has_value(), n);
  int count = 0;
  for (bool a : accepted) count += a ? 1 : 0;
  return count;
}

namespace {

// The job's row, locked, when `token` holds its running attempt; nullopt otherwise (the caller
// reports the lease as lost).
std::optional<FinishRow> LockRunningAttempt(std::int64_t id, Datum token) {
  std::optional<FinishRow> row = LockForFinish(id, token);
  if (!row || !row->token_matches || row->state != JobState::Running) return std::nullopt;
  return row;
}

// Release and snooze: ends the running attempt of job `id` held with `token` by `decide`'s
// event. That is `chosen`, filled in by `as_chosen`, or Cancel when a cancel was requested,
// filled in as a cancellation (`cancelled_reason`). Nullopt when no such attempt runs.
template <typename AsChosen>
std::optional<JobState> EndAsChosen(std::int64_t id, Datum token, JobEvent (*decide)(bool),
                                    JobEvent chosen, const char* cancelled_reason,
                                    AsChosen as_chosen) {
  std::optional<FinishRow> row = LockRunningAttempt(id, token);
  if (!row) return std::nullopt;
  JobEvent ev = decide(row->cancel_requested);
  EndOfAttempt e;
  e.to = core::RequireTransition(row->state, ev, row->id);
  e.outcome = "cancelled";
  e.reason = cancelled_reason;
  if (ev == chosen) as_chosen(e);
  EndAttempt(id, e);
  return e.to;
}

}  // namespace

std::optional<JobState> FailJob(std::int64_t id, Datum token, const Failure& failure) {
  std::optional<FinishRow> row = LockRunningAttempt(id, token);
  if (!row) return std::nullopt;
  return ApplyFailure(*row, failure, row->cancel_requested ? "cancelled" : "failed", std::nullopt);
}

std::optional<JobState> ReleaseJob(std::int64_t id, Datum token) {
  return EndAsChosen(id, token, core::DecideRelease, JobEvent::Release,
                     "released after cancel request", [](EndOfAttempt& e) {
                       e.outcome = "released";
                       e.run_now = true;
                       e.budget_increment = 1;
                       e.reason = "released";
                     });
}

std::optional<JobState> SnoozeJob(std::int64_t id, Datum token, std::int64_t delay_us) {
  return EndAsChosen(id, token, core::DecideSnooze, JobEvent::Snooze,
                     "snoozed after cancel request", [delay_us](EndOfAttempt& e) {
                       // The attempt number still advances at the next acquire (every attempt
                       // has its own job_attempts row and lease token); budget_offset + 1 keeps
                       // it out of max_attempts.
                       e.outcome = "snoozed";
                       e.delay = delay_us;
                       e.budget_increment = 1;
                       e.reason = "snoozed for " + DelayText(delay_us);
                     });
}

std::string FinishRowSql() { return kFinishColumns; }

void FailRows(std::uint64_t n, const Failure& failure, const char* outcome,
              const std::string& actor) {
  std::vector<FinishRow> rows;
  for (std::uint64_t i = 0; i < n; ++i) rows.push_back(ReadFinishRow(i));
  for (const FinishRow& row : rows) ApplyFailure(row, failure, outcome, actor);
}

}  // namespace taskflow::api
