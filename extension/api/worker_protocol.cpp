// Worker protocol: heartbeat, complete, complete_many, fail, release, snooze (acquire is in
// acquire.cpp, the Rescuer in rescuer.cpp). Every state change here is decided by
// core::Transition.
#include <algorithm>
#include <map>
#include <string>

#include "core/errors.hpp"
#include "core/validation.hpp"
#include "api/common.hpp"
#include "api/finish.hpp"
#include "api/tenancy.hpp"
#include "pg/settings.hpp"

using namespace taskflow;
using core::DomainError;
using core::ErrorCode;
using core::JobEvent;
using core::JobState;

namespace {

// The end of a running attempt (complete, fail, release, snooze): `end` (api::CompleteJob,
// FailJob, ReleaseJob or SnoozeJob) runs in an SPI connection once the caller is known not to
// be confined, before the row is locked. Returns the job's new state, or NULL when the lease
// token does not hold the running attempt.
template <typename End>
Datum EndRunningAttempt(FunctionCallInfo fcinfo, const char* function, End end) {
  std::optional<JobState> state;
  {
    pg::SpiConnection spi;
    api::RequireUnconfined(function);
    state = end();
  }
  if (!state) PG_RETURN_NULL();
  return api::JobStateDatum(*state);
}

}  // namespace

// taskflow.heartbeat(job_id, lease_token, extend) RETURNS text: ok | cancel_requested | lost
TF_FUNCTION(taskflow_heartbeat) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  std::optional<std::int64_t> extend = pg::ArgOptIntervalMicros(fcinfo, 2);
  if (extend) core::ValidateDuration(*extend, "extend");
  const char* answer = "lost";
  {
    pg::SpiConnection spi;
    api::RequireUnconfined("heartbeat");  // before any row is touched
    static pg::Statement beat(
        "UPDATE taskflow.jobs SET lease_expires_at = now() + COALESCE($3, lease_duration), "
        "  last_heartbeat_at = now(), heartbeats = COALESCE(heartbeats, 0) + 1 "
        "WHERE id = $1 AND lease_token = $2 AND state = " +
            api::StateSql(JobState::Running) + " RETURNING cancel_requested",
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
  if (!pg::ArgIsNull(fcinfo, 2)) api::CheckJsonDepth(PG_GETARG_DATUM(2), "result");
  return EndRunningAttempt(fcinfo, "complete", [&] {
    return api::CompleteJob(
        PG_GETARG_INT64(0), PG_GETARG_DATUM(1),
        pg::ArgIsNull(fcinfo, 2) ? std::nullopt : std::optional<Datum>(PG_GETARG_DATUM(2)));
  });
}

// taskflow.complete_many(job_ids, lease_tokens, results) RETURNS integer (how many accepted)
TF_FUNCTION(taskflow_complete_many) {
  // NULL arrays count as empty: array_agg over an empty acquire gives NULL, and completing
  // nothing is not an error.
  if (pg::ArgIsNull(fcinfo, 0) && pg::ArgIsNull(fcinfo, 1)) return Int32GetDatum(0);
  pg::RequireArg(fcinfo, 0, "job_ids");
  pg::RequireArg(fcinfo, 1, "lease_tokens");
  if (!pg::ArgIsNull(fcinfo, 2)) api::CheckJsonArrayDepth(PG_GETARG_DATUM(2), "results");
  int accepted = 0;
  {
    pg::SpiConnection spi;
    api::RequireUnconfined("complete_many");
    accepted = api::CompleteMany(
        PG_GETARG_DATUM(0), PG_GETARG_DATUM(1),
        pg::ArgIsNull(fcinfo, 2) ? std::nullopt : std::optional<Datum>(PG_GETARG_DATUM(2)));
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
  core::ValidateErrorType(failure.error_type);
  return EndRunningAttempt(fcinfo, "fail", [&] {
    return api::FailJob(PG_GETARG_INT64(0), PG_GETARG_DATUM(1), failure);
  });
}

// taskflow.release(job_id, lease_token): back to PENDING without using up an attempt.
TF_FUNCTION(taskflow_release) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  return EndRunningAttempt(fcinfo, "release",
                           [&] { return api::ReleaseJob(PG_GETARG_INT64(0), PG_GETARG_DATUM(1)); });
}

// taskflow.snooze(job_id, lease_token, delay): back to SCHEDULED at now() + delay without using
// up an attempt. delay: 0 to 100 years (core::ValidateDuration), so now() + delay stays valid.
TF_FUNCTION(taskflow_snooze) {
  pg::RequireArg(fcinfo, 0, "job_id");
  pg::RequireArg(fcinfo, 1, "lease_token");
  pg::RequireArg(fcinfo, 2, "delay");
  std::int64_t delay = pg::ArgOptIntervalMicros(fcinfo, 2).value_or(0);
  core::ValidateDuration(delay, "delay", /*allow_zero=*/true);
  return EndRunningAttempt(fcinfo, "snooze", [&] {
    return api::SnoozeJob(PG_GETARG_INT64(0), PG_GETARG_DATUM(1), delay);
  });
}
