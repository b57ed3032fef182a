// Ending attempts: complete, fail, release and lease expiry share these, so the retry rules
// and the audit rows are the same whoever ends an attempt. SPI must be connected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/job_state.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

struct Failure {
  std::string error_type;
  std::optional<std::string> error_message;
  bool retryable = true;
};

// Completes a job: SUCCEEDED, SUCCEEDED again for a repeated complete of the attempt that
// succeeded, or nullopt for a stale token.
std::optional<core::JobState> CompleteJob(std::int64_t id, Datum token,
                                          std::optional<Datum> result);
// complete_many's body: arrays as given by the caller; returns how many were accepted.
int CompleteMany(Datum ids, Datum tokens, std::optional<Datum> results);

std::optional<core::JobState> FailJob(std::int64_t id, Datum token, const Failure& failure);
std::optional<core::JobState> ReleaseJob(std::int64_t id, Datum token);
// Snoozes a job: SCHEDULED at now() + delay_us without using up the attempt (CANCELLED when a
// cancel is pending), or nullopt for a stale token or a job that is not RUNNING.
std::optional<core::JobState> SnoozeJob(std::int64_t id, Datum token, std::int64_t delay_us);

// For a statement that locks the jobs whose attempts it ends (the Rescuer, rescuer.cpp): the
// SELECT list and FROM clause fail() reads a job with (j: the job, q: its queue, $2: the
// presented lease token); append WHERE ... FOR UPDATE OF j.
std::string FinishRowSql();
// Fails the attempt of each of the `n` rows such a statement returned (SPI_tuptable) by the
// rules of fail(): SCHEDULED with backoff, DEAD, FAILED, or CANCELLED when a cancel is pending.
void FailRows(std::uint64_t n, const Failure& failure, const char* outcome,
              const std::string& actor);

}  // namespace taskflow::api
