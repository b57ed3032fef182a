#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// Weighted round robin across tenants (stride scheduling). Each tenant with ready jobs is a
// flow with a weight (>= 1) and a `pass`: every job it is given advances its pass by
// 1/weight, and the next slot goes to the flow with the lowest pass. Over time a flow of
// weight w gets w / sum(weights) of the slots, whatever the order in which jobs arrived.
struct Flow {
  std::string tenant;
  double weight = 1.0;  // values < 1 are treated as 1
  double pass = 0.0;    // in: the stored pass; out: advanced by the slots given
  int cap = 0;          // most slots this flow may take now (limits, jobs available)
  int given = 0;        // out: slots given
};

// The queue's virtual time: a flow that was idle (or is new) starts no further back than
// one stride behind it, so coming back does not let it monopolise the queue.
double JoinPass(double stored_pass, double queue_vtime, double weight) noexcept;

// Hands out up to `slots` slots, `quantum` at a time (fewer where a flow's cap or the slots run
// out), each time to the flow with the lowest pass that still has cap left; ties go to the
// earlier flow in `flows` (callers order them by their head job). A flow's pass advances by
// slots / weight, so shares over many calls do not depend on the quantum; a larger quantum only
// spreads one call over fewer flows. Returns the number of slots given; sets each flow's `given`.
int AllocateSlots(std::vector<Flow>& flows, int slots, int quantum = 1);

// Takes back slots that were given but not used (a flow's jobs were locked by another
// acquirer): its pass goes back by unused/weight.
void ReturnSlots(Flow& flow, int unused) noexcept;

// A token bucket for rate limits ("at most max_starts job starts per period"): it holds up
// to max_starts tokens and refills continuously at max_starts per period.
struct TokenBucket {
  int max_starts = 0;
  std::int64_t period_us = 0;
  double tokens = 0;  // at `refreshed_us`
  // Tokens available at `now_us` (refilled, capped at max_starts).
  double Available(std::int64_t refreshed_us, std::int64_t now_us) const noexcept;
};

}  // namespace taskflow::core
