// The Scheduler: SCHEDULED jobs whose next_run_at has come become PENDING (event `promote`,
// actor `scheduler`). One statement, used by the maintenance worker (taskflow._promote_due,
// every taskflow.maintenance_interval) and by acquire for the queues it serves (so a due job
// is available at once). SPI must be connected.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/spi.hpp"

namespace taskflow::api {

struct Promoted {
  std::string queue;
  int jobs = 0;
};

// Promotes at most `limit` due jobs, earliest next_run_at first, of the queues in `queues`
// (a text[] Datum; std::nullopt: every queue). Rows another transaction has locked are
// skipped. Returns the jobs promoted per queue; waking the queues' workers is the caller's
// choice (the Scheduler notifies them, acquire takes the jobs itself).
std::vector<Promoted> PromoteDue(int limit, std::optional<Datum> queues);

}  // namespace taskflow::api
