// AdaptivePrefetch: how many jobs the Producer acquires ahead of free handler threads when
// --prefetch is `auto` (the default). Pure logic, no clock or database of its own, so it is
// unit-tested without a server (worker/tests/adaptive_prefetch_test.cpp).
//
// The target is the number of jobs the handler threads finish during two acquire round trips:
//   target = round(2 * rate * round_trip), at most `max`,
// where `rate` is the jobs finished per second (an average over windows of at least `window`)
// and `round_trip` the last acquire calls' duration (an average). Many short jobs make the rate
// high and the buffer deep, so a handler thread finds its next job waiting instead of waiting
// for an acquire; long jobs make the rate, and so the buffer, fall to nothing, so a job is not
// held by a busy worker while another one could run it. A stall (a prefetched job waited longer
// than the Producer allows) resets the rate: the buffer stays empty until jobs finish again.
#pragma once

#include <chrono>

namespace taskflow {

class AdaptivePrefetch {
 public:
  using Clock = std::chrono::steady_clock;

  AdaptivePrefetch(int max, std::chrono::milliseconds window = std::chrono::milliseconds(50))
      : max_(max < 0 ? 0 : max), window_(window) {}

  // The duration of one acquire call.
  void OnAcquire(Clock::duration round_trip);
  // The number of jobs finished so far (a running total) at `now`; recomputes the target once a
  // window has passed since the last recomputation.
  void Observe(long finished_total, Clock::time_point now);
  // Prefetched jobs waited too long: no prefetch until jobs finish again.
  void OnStall(long finished_total, Clock::time_point now);

  int Target() const { return target_; }
  double Rate() const { return rate_; }                    // jobs per second
  double RoundTripSeconds() const { return round_trip_; }  // seconds

 private:
  void Recompute();

  int max_;
  std::chrono::milliseconds window_;
  bool started_ = false;
  long window_start_total_ = 0;
  Clock::time_point window_start_{};
  double rate_ = 0;        // exponentially weighted, half weight per window
  double round_trip_ = 0;  // exponentially weighted, 0.3 per acquire
  bool have_round_trip_ = false;
  int target_ = 0;
};

}  // namespace taskflow
