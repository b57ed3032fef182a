// AdaptivePrefetch: the target follows the throughput and the acquire round trip, is capped,
// falls to zero for long jobs and after a stall.
#include "adaptive_prefetch.hpp"

#include <gtest/gtest.h>

namespace taskflow {
namespace {

using std::chrono::milliseconds;
using Clock = AdaptivePrefetch::Clock;

TEST(AdaptivePrefetch, StartsWithoutPrefetch) {
  AdaptivePrefetch p(128);
  EXPECT_EQ(p.Target(), 0);
  p.OnAcquire(milliseconds(4));
  EXPECT_EQ(p.Target(), 0) << "no rate measured yet";
}

TEST(AdaptivePrefetch, ManyShortJobsBufferTwoRoundTrips) {
  AdaptivePrefetch p(1000, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(4));
  // 10,000 jobs/s for several windows: the averaged rate converges to it.
  for (int w = 1; w <= 12; ++w) p.Observe(500L * w, t0 + milliseconds(50 * w));
  EXPECT_NEAR(p.Rate(), 10000, 10);
  // 2 x 10,000/s x 4 ms = 80 jobs.
  EXPECT_EQ(p.Target(), 80);
}

TEST(AdaptivePrefetch, CappedAtMax) {
  AdaptivePrefetch p(32, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(10));
  for (int w = 1; w <= 10; ++w) p.Observe(5000L * w, t0 + milliseconds(50 * w));
  EXPECT_EQ(p.Target(), 32);
}

TEST(AdaptivePrefetch, LongJobsPrefetchNothing) {
  AdaptivePrefetch p(128, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(3));
  // 16 handler threads, one-second jobs: 16 jobs/s; 2 x 16 x 0.003 = 0.1 -> 0.
  for (int s = 1; s <= 5; ++s) p.Observe(16L * s, t0 + milliseconds(1000 * s));
  EXPECT_NEAR(p.Rate(), 16, 1);
  EXPECT_EQ(p.Target(), 0);
}

TEST(AdaptivePrefetch, FollowsTheRateDown) {
  AdaptivePrefetch p(1000, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(5));
  for (int w = 1; w <= 10; ++w) p.Observe(1000L * w, t0 + milliseconds(50 * w));
  const int busy_target = p.Target();
  EXPECT_GT(busy_target, 100);
  // Nothing finishes any more (every handler runs a long job): the target halves each window.
  const long total = 10000;
  for (int w = 11; w <= 30; ++w) p.Observe(total, t0 + milliseconds(50 * w));
  EXPECT_EQ(p.Target(), 0);
}

TEST(AdaptivePrefetch, WindowsShorterThanTheWindowDoNotRecompute) {
  AdaptivePrefetch p(1000, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(5));
  p.Observe(1000, t0 + milliseconds(10));
  EXPECT_EQ(p.Rate(), 0) << "10 ms is less than a window";
  p.Observe(1000, t0 + milliseconds(50));
  EXPECT_GT(p.Rate(), 0);
}

TEST(AdaptivePrefetch, StallResetsTheRate) {
  AdaptivePrefetch p(1000, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(5));
  for (int w = 1; w <= 10; ++w) p.Observe(1000L * w, t0 + milliseconds(50 * w));
  ASSERT_GT(p.Target(), 0);
  p.OnStall(10000, t0 + milliseconds(520));
  EXPECT_EQ(p.Target(), 0);
  EXPECT_EQ(p.Rate(), 0);
  // No job finished in the next window: still nothing, although the round trip is known.
  p.Observe(10000, t0 + milliseconds(600));
  p.OnAcquire(milliseconds(5));
  EXPECT_EQ(p.Target(), 0);
  // Jobs finish again: the buffer comes back.
  p.Observe(11000, t0 + milliseconds(650));
  EXPECT_GT(p.Target(), 0);
}

TEST(AdaptivePrefetch, NegativeMaxMeansNone) {
  AdaptivePrefetch p(-5, milliseconds(50));
  const auto t0 = Clock::time_point{} + milliseconds(1000);
  p.Observe(0, t0);
  p.OnAcquire(milliseconds(5));
  for (int w = 1; w <= 10; ++w) p.Observe(1000L * w, t0 + milliseconds(50 * w));
  EXPECT_EQ(p.Target(), 0);
}

}  // namespace
}  // namespace taskflow
