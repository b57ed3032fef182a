// The Rescuer: RUNNING jobs whose lease expired (their worker died, hung or lost its
// connection) get their attempt failed with error_type 'lease_expired' and the usual retry
// rules (finish.cpp's failure path, the one fail() takes): SCHEDULED with backoff, DEAD when
// the attempts are used up, CANCELLED when a cancel was requested. The maintenance worker
// (bgw/maintenance.cpp) calls taskflow._rescue_expired every taskflow.maintenance_interval.
// Rows are locked FOR UPDATE SKIP LOCKED and the closing UPDATE re-checks state = 'RUNNING',
// so a complete that wins the race stays.
#include <string>

#include "api/common.hpp"
#include "api/finish.hpp"

using namespace taskflow;

namespace {

int RescueExpired(int limit) {
  static pg::Statement stmt(api::FinishRowSql() +
                                "WHERE j.state = " + api::StateSql(core::JobState::Running) +
                                " AND j.lease_expires_at < now() "
                                "ORDER BY j.lease_expires_at LIMIT $1 FOR UPDATE OF j SKIP LOCKED",
                            {INT4OID, UUIDOID});
  pg::Params p;
  p.AddInt32(limit).AddNull();
  std::uint64_t n = p.Run(stmt);
  const api::Failure expired{"lease_expired",
                             std::string("lease expired before the worker finished"), true};
  api::FailRows(n, expired, "lease_expired", "rescuer");
  return static_cast<int>(n);
}

}  // namespace

// taskflow._rescue_expired(max_jobs) RETURNS integer: the Rescuer's round; how many expired
// attempts it ended.
TF_FUNCTION(taskflow_rescue_expired) {
  int limit = pg::ArgOptInt32(fcinfo, 0).value_or(1000);
  int rescued = 0;
  {
    pg::SpiConnection spi;
    rescued = RescueExpired(limit);
  }
  return Int32GetDatum(rescued);
}
