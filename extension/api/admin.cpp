// Client and admin verbs that move jobs: cancel, retry; queue policy validation; and a boundary
// self-test. (The Scheduler's promotion of due jobs is in scheduler.cpp.)
#include <new>
#include <stdexcept>
#include <string>

#include "core/errors.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "api/dependencies.hpp"
#include "api/hooks.hpp"
#include "api/tenancy.hpp"

using namespace taskflow;
using api::AfterFinished;
using api::RequireQueue;
using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

struct Locked {
  JobState state;
  bool cancel_requested;
  std::string queue;
  std::string tenant;
  std::optional<std::string> unique_key;
};

// Locks a job the caller may act on. The tenant is part of the statement's condition, so
// another tenant's job is filtered out before its row is locked: it fails at once, exactly as
// a missing one (P0002, same message), and never waits for a lock another session holds on it
// (a lock wait would tell a tenant that the id is taken, and by a running job).
Locked LockJob(std::int64_t id) {
  static pg::Statement stmt(
      "SELECT state::text, cancel_requested, queue, tenant_id, unique_key FROM taskflow.jobs "
      "WHERE id = $1 AND ($2::text IS NULL OR tenant_id = $2) "
      "FOR UPDATE",
      {INT8OID, TEXTOID});
  std::optional<std::string> own = api::CallerTenant();  // before the row is locked
  pg::Params p;
  p.AddInt64(id).AddOptText(own);
  if (p.Run(stmt) == 0) {
    throw DomainError(ErrorCode::NoDataFound, "job " + std::to_string(id) + " does not exist");
  }
  pg::ResultRow row(0);
  auto state = core::ParseJobState(row.Text(1).value_or(""));
  if (!state) throw DomainError(ErrorCode::Internal, "unknown job state in table");
  return Locked{*state, row.Bool(2).value_or(false), row.Text(3).value_or(""),
                row.Text(4).value_or(""), row.Text(5)};
}

// `parsed`, the value named by `text`; refuses (22023) an unknown one, naming the `choices`.
template <typename T>
T Known(std::optional<T> parsed, const std::string& text, const std::string& what,
        const std::string& choices) {
  if (!parsed) {
    throw DomainError(ErrorCode::InvalidParameterValue, "unknown " + what + " \"" + text + "\"",
                      "Use one of: " + choices + ".");
  }
  return *parsed;
}

}  // namespace

// taskflow.cancel(job_id, reason) RETURNS taskflow.job_state
TF_FUNCTION(taskflow_cancel) {
  pg::RequireArg(fcinfo, 0, "job_id");
  std::int64_t id = PG_GETARG_INT64(0);
  std::optional<std::string> reason = pg::ArgOptText(fcinfo, 1);
  JobState result;
  {
    pg::SpiConnection spi;
    Locked job = LockJob(id);
    JobState to = core::RequireTransition(job.state, JobEvent::Cancel, id);
    if (job.state == JobState::Running) {
      // A running job is only asked to stop: its holder ends it (heartbeat answers
      // cancel_requested), or lease expiry does.
      static pg::Statement request(
          "UPDATE taskflow.jobs SET cancel_requested = true, "
          "cancel_reason = COALESCE($2, cancel_reason) WHERE id = $1",
          {INT8OID, TEXTOID});
      pg::Params p;
      p.AddInt64(id).AddOptText(reason);
      p.Run(request);
      result = JobState::Running;
    } else {
      static pg::Statement cancel(
          "WITH upd AS (UPDATE taskflow.jobs SET state = $2::taskflow.job_state, "
          "  finished_at = now(), cancel_reason = $3 WHERE id = $1 RETURNING id) "
          "INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "SELECT id, $4::taskflow.job_state, $2::taskflow.job_state, $5, "
          "  COALESCE('cancelled: ' || $3, 'cancelled') FROM upd",
          {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID});
      pg::Params p;
      p.AddInt64(id).AddText(core::ToString(to)).AddOptText(reason);
      p.AddText(core::ToString(job.state)).AddText(api::CallerName());
      p.Run(cancel);
      result = to;
      AfterFinished(to, {id});
    }
  }
  return api::JobStateDatum(result);
}

// taskflow.retry(job_id) RETURNS taskflow.job_state: FAILED, DEAD or CANCELLED back to PENDING
// with a fresh attempt budget; history is kept.
TF_FUNCTION(taskflow_retry) {
  pg::RequireArg(fcinfo, 0, "job_id");
  std::int64_t id = PG_GETARG_INT64(0);
  JobState to;
  {
    pg::SpiConnection spi;
    Locked job = LockJob(id);
    // A job whose dependencies are not all finished waits for them again (Rearm).
    const int unresolved = api::UnresolvedDependencies(id);
    to = core::RequireTransition(job.state, core::DecideRetry(unresolved), id);
    RequireQueue(job.queue);  // its queue may have been dropped since it finished
    if (job.unique_key) {
      static pg::Statement holder(
          "SELECT id FROM taskflow.jobs WHERE tenant_id = $1 AND queue = $2 AND unique_key = $3 "
          "AND state IN " +
              api::StateListSql(core::UnfinishedStates()) + " AND id <> $4",
          {TEXTOID, TEXTOID, TEXTOID, INT8OID});
      pg::Params hp;
      hp.AddText(job.tenant).AddText(job.queue).AddText(*job.unique_key).AddInt64(id);
      if (hp.Run(holder, false, 1) == 1) {
        throw DomainError(ErrorCode::ObjectNotInPrerequisiteState,
                          "cannot retry job " + std::to_string(id) + ": its unique key \"" +
                              *job.unique_key + "\" is held by job " +
                              std::to_string(*pg::ResultRow(0).Int64(1)),
                          "Wait for that job to finish, or cancel it.");
      }
    }
    // A 0.1.0 schema not updated yet (api::SchemaIs0_2) has no dependencies_pending (and no
    // dependencies: `unresolved` is 0).
    auto retry_sql = [](bool v2) {
      return std::string(
                 "WITH upd AS (UPDATE taskflow.jobs SET state = $2::taskflow.job_state, "
                 "  budget_offset = attempts, "
                 "  next_run_at = CASE WHEN $5 > 0 THEN 'infinity' ELSE now() END, ") +
             (v2 ? "  dependencies_pending = $5, " : "") +
             "  finished_at = NULL, result = NULL, "
             "  cancel_requested = false, cancel_reason = NULL, lease_expires_at = NULL "
             "  WHERE id = $1 RETURNING id, queue), "
             "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
             "  SELECT id, $3::taskflow.job_state, $2::taskflow.job_state, $4, "
             "    CASE WHEN $5 > 0 THEN 'retried; waiting for ' || $5 || ' unfinished dependencies' "
             "         ELSE 'retried' END FROM upd) "
             "SELECT queue FROM upd";
    };
    static pg::Statement retry_0_2(retry_sql(true), {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID});
    static pg::Statement retry_0_1(retry_sql(false), {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID});
    pg::Statement& retry = api::SchemaIs0_2() ? retry_0_2 : retry_0_1;
    pg::Params p;
    p.AddInt64(id).AddText(core::ToString(to)).AddText(core::ToString(job.state));
    p.AddText(api::CallerName()).AddInt32(unresolved);
    if (p.Run(retry) == 1 && to == JobState::Pending) {
      api::NotifyQueue(pg::ResultRow(0).Text(1).value_or("default"));
    }
    // The dependents this job's failure had cancelled wait for it again (transitively).
    api::RearmDependents(id);
  }
  return api::JobStateDatum(to);
}

// taskflow._check_queue(name, max_attempts, strategy, base_delay, max_delay, jitter, lease,
// concurrency_limit) RETURNS void: validates a queue definition with the core rules; the
// retry policy is checked as it will be used (NULL fields take the default policy's values).
TF_FUNCTION(taskflow_check_queue) {
  pg::RequireArg(fcinfo, 0, "name");
  core::ValidateQueueName(pg::ArgText(fcinfo, 0));
  core::RetryPolicy policy = core::RetryPolicy::Default();
  if (auto v = pg::ArgOptInt32(fcinfo, 1)) policy.max_attempts = *v;
  if (auto v = pg::ArgOptText(fcinfo, 2)) {
    policy.strategy =
        Known(core::ParseStrategy(*v), *v, "retry strategy", "fixed, linear, exponential");
  }
  if (auto v = pg::ArgOptIntervalMicros(fcinfo, 3)) policy.base_delay_us = *v;
  if (auto v = pg::ArgOptIntervalMicros(fcinfo, 4)) policy.max_delay_us = *v;
  if (auto v = pg::ArgOptText(fcinfo, 5)) {
    policy.jitter = Known(core::ParseJitter(*v), *v, "jitter", "none, full, equal");
  }
  policy.Validate();
  if (auto lease = pg::ArgOptIntervalMicros(fcinfo, 6)) core::ValidateDuration(*lease, "lease");
  if (auto limit = pg::ArgOptInt32(fcinfo, 7); limit && *limit < 1) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "concurrency_limit must be at least 1 (NULL means no limit)");
  }
  if (auto priority = pg::ArgOptInt32(fcinfo, 8)) core::ValidatePriority(*priority);
  PG_RETURN_VOID();
}

// taskflow._selftest_boundary(kind text) RETURNS text: raises each kind of C++ exception inside
// an SQL function so the tests can prove the guard turns it into a clean ERROR. Superuser only.
TF_FUNCTION(taskflow_selftest_boundary) {
  pg::RequireArg(fcinfo, 0, "kind");
  std::string kind = pg::ArgText(fcinfo, 0);
  std::string guard_probe(64, 'x');  // an object with a destructor alive across the throw
  if (kind == "domain") {
    throw DomainError(ErrorCode::ObjectNotInPrerequisiteState, "selftest domain error",
                      "selftest hint", "selftest detail");
  }
  if (kind == "std") throw std::runtime_error("selftest std exception");
  if (kind == "bad_alloc") throw std::bad_alloc();
  if (kind == "unknown") throw 42;
  if (kind == "postgres") {
    // A PostgreSQL ERROR raised while C++ objects are alive: PgCall turns the longjmp into a
    // PgError, the stack unwinds, and CallGuarded re-raises the original error (22012).
    pg::PgCall([] { return DirectFunctionCall2(int4div, Int32GetDatum(1), Int32GetDatum(0)); });
  }
  if (kind == "spi") {
    pg::SpiConnection spi;
    static pg::Statement bad("SELECT 1 / (0 * $1)", {INT4OID});
    pg::Params p;
    p.AddInt32(1);
    p.Run(bad);
  }
  return pg::TextDatum("ok: " + kind + " " + std::to_string(guard_probe.size()));
}
