// AdaptivePrefetch: the target follows the throughput and the acquire round trip, is capped,
// falls to zero for long jobs and after a stall.
#include "adaptive_prefetch.hpp"

#include <gtest/gtest.h>

namespace taskflow {
namespace {

using std::chrono::milliseconds;
using Clock = AdaptivePrefetch::Clock;

const Clock::time_point kT0 = Clock::time_point{} + milliseconds(1000);

// A prefetcher with 50 ms windows that counted 0 finished jobs at kT0 and measured one acquire.
AdaptivePrefetch Started(int max, milliseconds round_trip) {
  AdaptivePrefetch p(max, milliseconds(50));
  p.Observe(0, kT0);
  p.OnAcquire(round_trip);
  return p;
}

// `periods` observations `period` apart after kT0, `per_period` more jobs finished each time.
void FinishSteadily(AdaptivePrefetch& p, long per_period, int periods,
                    milliseconds period = milliseconds(50)) {
  for (int i = 1; i <= periods; ++i) p.Observe(per_period * i, kT0 + period * i);
}

TEST(AdaptivePrefetch, StartsWithoutPrefetch) {
  AdaptivePrefetch p(128);
  EXPECT_EQ(p.Target(), 0);
  p.OnAcquire(milliseconds(4));
  EXPECT_EQ(p.Target(), 0) << "no rate measured yet";
}

TEST(AdaptivePrefetch, ManyShortJobsBufferTwoRoundTrips) {
  AdaptivePrefetch p = Started(1000, milliseconds(4));
  // 10,000 jobs/s for several windows: the averaged rate converges to it.
  FinishSteadily(p, 500, 12);
  EXPECT_NEAR(p.Rate(), 10000, 10);
  // 2 x 10,000/s x 4 ms = 80 jobs.
  EXPECT_EQ(p.Target(), 80);
}

TEST(AdaptivePrefetch, CappedAtMax) {
  AdaptivePrefetch p = Started(32, milliseconds(10));
  FinishSteadily(p, 5000, 10);
  EXPECT_EQ(p.Target(), 32);
}

TEST(AdaptivePrefetch, LongJobsPrefetchNothing) {
  AdaptivePrefetch p = Started(128, milliseconds(3));
  // 16 handler threads, one-second jobs: 16 jobs/s; 2 x 16 x 0.003 = 0.1 -> 0.
  FinishSteadily(p, 16, 5, milliseconds(1000));
  EXPECT_NEAR(p.Rate(), 16, 1);
  EXPECT_EQ(p.Target(), 0);
}

TEST(AdaptivePrefetch, FollowsTheRateDown) {
  AdaptivePrefetch p = Started(1000, milliseconds(5));
  FinishSteadily(p, 1000, 10);
  const int busy_target = p.Target();
  EXPECT_GT(busy_target, 100);
  // Nothing finishes any more (every handler runs a long job): the target halves each window.
  const long total = 10000;
  for (int w = 11; w <= 30; ++w) p.Observe(total, kT0 + milliseconds(50 * w));
  EXPECT_EQ(p.Target(), 0);
}

TEST(AdaptivePrefetch, WindowsShorterThanTheWindowDoNotRecompute) {
  AdaptivePrefetch p = Started(1000, milliseconds(5));
  p.Observe(1000, kT0 + milliseconds(10));
  EXPECT_EQ(p.Rate(), 0) << "10 ms is less than a window";
  p.Observe(1000, kT0 + milliseconds(50));
  EXPECT_GT(p.Rate(), 0);
}

TEST(AdaptivePrefetch, StallResetsTheRate) {
  AdaptivePrefetch p = Started(1000, milliseconds(5));
  FinishSteadily(p, 1000, 10);
  ASSERT_GT(p.Target(), 0);
  p.OnStall(10000, kT0 + milliseconds(520));
  EXPECT_EQ(p.Target(), 0);
  EXPECT_EQ(p.Rate(), 0);
  // No job finished in the next window: still nothing, although the round trip is known.
  p.Observe(10000, kT0 + milliseconds(600));
  p.OnAcquire(milliseconds(5));
  EXPECT_EQ(p.Target(), 0);
  // Jobs finish again: the buffer comes back.
  p.Observe(11000, kT0 + milliseconds(650));
  EXPECT_GT(p.Target(), 0);
}

TEST(AdaptivePrefetch, NegativeMaxMeansNone) {
  AdaptivePrefetch p = Started(-5, milliseconds(5));
  FinishSteadily(p, 1000, 10);
  EXPECT_EQ(p.Target(), 0);
}

}  // namespace
}  // namespace taskflow
