// The Scheduler (see scheduler.hpp): taskflow._promote_due and the one promote statement.
// The states come from the core transition table (event `promote`: SCHEDULED -> PENDING).
#include "core/state_machine.hpp"
#include "api/common.hpp"
#include "api/scheduler.hpp"

using namespace taskflow;
using core::JobEvent;
using core::JobState;

namespace taskflow::api {

std::vector<Promoted> PromoteDue(int limit, std::optional<Datum> queues) {
  // Planned once per backend (acquire runs it in its hot path whenever something is due).
  // The SCHEDULED rows are found through jobs_scheduled_idx (next_run_at); the queue is a
  // filter either way.
  static pg::Statement stmt(
      "WITH due AS (SELECT id FROM taskflow.jobs WHERE state IN " +
          SourceStatesSql(JobEvent::Promote) +
          "  AND next_run_at <= now() AND ($2::text[] IS NULL OR queue = ANY($2)) "
          "  ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED), "
          "upd AS (UPDATE taskflow.jobs j SET state = " +
          TargetStateSql(JobState::Scheduled, JobEvent::Promote) +
          "  FROM due WHERE j.id = due.id RETURNING j.id, j.queue, j.state), "
          "ev AS (INSERT INTO taskflow.job_events (job_id, from_state, to_state, actor, reason) "
          "  SELECT id, " +
          api::StateSql(JobState::Scheduled) +
          ", state, 'scheduler', 'due' FROM upd) "
          "SELECT queue, count(*)::int FROM upd GROUP BY queue",
      {INT4OID, TEXTARRAYOID}, pg::Statement::Plans::Generic);
  pg::Params p;
  p.AddInt32(limit);
  if (queues) {
    p.Add(*queues);
  } else {
    p.AddNull();
  }
  std::uint64_t n = p.Run(stmt);
  std::vector<Promoted> promoted;
  promoted.reserve(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    pg::ResultRow row(i);
    promoted.push_back({row.Text(1).value_or("default"), row.Int32(2).value_or(0)});
  }
  return promoted;
}

}  // namespace taskflow::api

// taskflow._promote_due(max_jobs) RETURNS integer: the Scheduler's round. Promotes the due
// jobs of every queue and wakes each affected queue. Called by the maintenance worker.
TF_FUNCTION(taskflow_promote_due) {
  int limit = pg::ArgOptInt32(fcinfo, 0).value_or(1000);
  int total = 0;
  {
    pg::SpiConnection spi;
    for (const api::Promoted& q : api::PromoteDue(limit, std::nullopt)) {
      api::NotifyQueue(q.queue);
      total += q.jobs;
    }
  }
  return Int32GetDatum(total);
}
