#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/retry_policy.hpp"
#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t kHour = 3600 * kSecond;
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();

RetryPolicy Policy(BackoffStrategy strategy, std::int64_t base, std::int64_t max,
                   Jitter jitter = Jitter::None) {
  RetryPolicy p;
  p.strategy = strategy;
  p.base_delay_us = base;
  p.max_delay_us = max;
  p.jitter = jitter;
  return p;
}

// unit_random values for the jitter checks: both ends, values next to them,
// a regular grid, and pseudo-random draws (fixed seed, so reproducible).
std::vector<double> UnitSamples() {
  std::vector<double> u = {
      0.0, 1.0, std::nextafter(0.0, 1.0), std::nextafter(1.0, 0.0), 0.5, 1e-12, 1.0 - 1e-12};
  for (int i = 0; i <= 1000; ++i) u.push_back(i / 1000.0);
  std::mt19937_64 rng(20240611);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  for (int i = 0; i < 2000; ++i) u.push_back(dist(rng));
  return u;
}

// ---- defaults and names ----

TEST(RetryPolicy, DefaultMatchesTheDocumentedPolicy) {
  const RetryPolicy p = RetryPolicy::Default();
  EXPECT_EQ(p.max_attempts, 5);
  EXPECT_EQ(p.strategy, BackoffStrategy::Exponential);
  EXPECT_EQ(p.base_delay_us, 2 * kSecond);
  EXPECT_EQ(p.max_delay_us, kHour);
  EXPECT_EQ(p.jitter, Jitter::Full);
  EXPECT_NO_THROW(p.Validate());
}

// Each value's name is `name` and parses back to the value; the `bad` names parse to nothing.
template <typename T, typename Parse>
void ExpectNamesRoundTrip(const std::vector<std::pair<T, std::string_view>>& names, Parse parse,
                          const std::vector<std::string_view>& bad) {
  for (const auto& [value, name] : names) {
    EXPECT_EQ(ToString(value), name);
    auto parsed = parse(ToString(value));
    ASSERT_TRUE(parsed.has_value()) << ToString(value);
    EXPECT_EQ(*parsed, value);
  }
  for (std::string_view b : bad) EXPECT_FALSE(parse(b).has_value()) << '"' << b << '"';
}

TEST(RetryPolicy, StrategyNamesRoundTrip) {
  ExpectNamesRoundTrip<BackoffStrategy>(
      {{BackoffStrategy::Fixed, "fixed"},
       {BackoffStrategy::Linear, "linear"},
       {BackoffStrategy::Exponential, "exponential"}},
      ParseStrategy, {"", "Fixed", "FIXED", "exp", "exponential ", " linear", "random", "none"});
}

TEST(RetryPolicy, JitterNamesRoundTrip) {
  ExpectNamesRoundTrip<Jitter>(
      {{Jitter::None, "none"}, {Jitter::Full, "full"}, {Jitter::Equal, "equal"}}, ParseJitter,
      {"", "None", "FULL", "equals", "decorrelated", "fixed", " full"});
}

// ---- Validate ----

TEST(RetryPolicyValidate, AcceptsBoundaryValues) {
  EXPECT_NO_THROW(Policy(BackoffStrategy::Fixed, 0, 0).Validate());
  EXPECT_NO_THROW(Policy(BackoffStrategy::Linear, kSecond, kSecond).Validate());
  RetryPolicy one = RetryPolicy::Default();
  one.max_attempts = 1;
  EXPECT_NO_THROW(one.Validate());
}

TEST(RetryPolicyValidate, RejectsMaxAttemptsBelowOne) {
  for (int bad : {0, -1, INT_MIN}) {
    RetryPolicy p = RetryPolicy::Default();
    p.max_attempts = bad;
    EXPECT_TRUE(testing::ThrowsDomainError([&] { p.Validate(); }, ErrorCode::InvalidParameterValue,
                                           "max_attempts"))
        << bad;
  }
}

TEST(RetryPolicyValidate, RejectsNegativeDelays) {
  RetryPolicy p = RetryPolicy::Default();
  p.base_delay_us = -1;
  EXPECT_TRUE(testing::ThrowsDomainError([&] { p.Validate(); }, ErrorCode::InvalidParameterValue,
                                         "base_delay"));
  p = RetryPolicy::Default();
  p.max_delay_us = -1;
  EXPECT_TRUE(testing::ThrowsDomainError([&] { p.Validate(); }, ErrorCode::InvalidParameterValue,
                                         "max_delay must not be negative"));
}

TEST(RetryPolicyValidate, RejectsMaxDelayBelowBaseDelay) {
  RetryPolicy p = Policy(BackoffStrategy::Exponential, 10 * kSecond, 10 * kSecond - 1);
  EXPECT_TRUE(testing::ThrowsDomainError([&] { p.Validate(); }, ErrorCode::InvalidParameterValue,
                                         "max_delay must not be less than base_delay"));
}

// ---- BaseDelay per strategy, attempts 1..5 ----

TEST(RetryPolicyBaseDelay, FixedIsAlwaysBase) {
  const RetryPolicy p = Policy(BackoffStrategy::Fixed, 3 * kSecond, kHour);
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(p.BaseDelay(attempt), 3 * kSecond) << attempt;
  }
}

TEST(RetryPolicyBaseDelay, LinearIsBaseTimesAttempt) {
  const RetryPolicy p = Policy(BackoffStrategy::Linear, 3 * kSecond, kHour);
  const std::int64_t expected[] = {3, 6, 9, 12, 15};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(p.BaseDelay(attempt), expected[attempt - 1] * kSecond) << attempt;
  }
}

TEST(RetryPolicyBaseDelay, ExponentialDoublesFromBase) {
  const RetryPolicy p = Policy(BackoffStrategy::Exponential, 3 * kSecond, kHour);
  const std::int64_t expected[] = {3, 6, 12, 24, 48};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(p.BaseDelay(attempt), expected[attempt - 1] * kSecond) << attempt;
  }
}

TEST(RetryPolicyBaseDelay, DefaultPolicySequence) {
  const RetryPolicy p = RetryPolicy::Default();
  const std::int64_t expected[] = {2, 4, 8, 16, 32};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(p.BaseDelay(attempt), expected[attempt - 1] * kSecond) << attempt;
  }
  // 2 s * 2^11 = 4096 s > 1 h: capped from attempt 12 on.
  EXPECT_EQ(p.BaseDelay(11), 2048 * kSecond);
  EXPECT_EQ(p.BaseDelay(12), kHour);
}

TEST(RetryPolicyBaseDelay, AttemptBelowOneCountsAsOne) {
  for (auto s : {BackoffStrategy::Fixed, BackoffStrategy::Linear, BackoffStrategy::Exponential}) {
    const RetryPolicy p = Policy(s, 5 * kSecond, kHour);
    for (int attempt : {0, -1, -1000, INT_MIN}) {
      EXPECT_EQ(p.BaseDelay(attempt), 5 * kSecond) << ToString(s) << " " << attempt;
    }
  }
}

TEST(RetryPolicyBaseDelay, CappedAtMaxDelay) {
  const std::int64_t cap = 10 * kSecond;
  const RetryPolicy exp = Policy(BackoffStrategy::Exponential, 2 * kSecond, cap);
  const std::int64_t exp_expected[] = {2, 4, 8, 10, 10, 10};
  for (int attempt = 1; attempt <= 6; ++attempt) {
    EXPECT_EQ(exp.BaseDelay(attempt), exp_expected[attempt - 1] * kSecond) << attempt;
  }
  const RetryPolicy lin = Policy(BackoffStrategy::Linear, 4 * kSecond, cap);
  const std::int64_t lin_expected[] = {4, 8, 10, 10, 10};
  for (int attempt = 1; attempt <= 5; ++attempt) {
    EXPECT_EQ(lin.BaseDelay(attempt), lin_expected[attempt - 1] * kSecond) << attempt;
  }
  const RetryPolicy fixed = Policy(BackoffStrategy::Fixed, cap, cap);
  EXPECT_EQ(fixed.BaseDelay(1), cap);
  EXPECT_EQ(fixed.BaseDelay(100), cap);
}

TEST(RetryPolicyBaseDelay, ZeroBaseStaysZero) {
  for (auto s : {BackoffStrategy::Fixed, BackoffStrategy::Linear, BackoffStrategy::Exponential}) {
    const RetryPolicy p = Policy(s, 0, kHour);
    for (int attempt : {1, 2, 63, 64, 1000, INT_MAX}) {
      EXPECT_EQ(p.BaseDelay(attempt), 0) << ToString(s) << " " << attempt;
    }
  }
}

TEST(RetryPolicyBaseDelay, UnvalidatedNegativeValuesNeverGiveNegativeDelays) {
  for (auto s : {BackoffStrategy::Fixed, BackoffStrategy::Linear, BackoffStrategy::Exponential}) {
    EXPECT_EQ(Policy(s, -kSecond, kHour).BaseDelay(3), 0) << ToString(s);
    EXPECT_EQ(Policy(s, kSecond, -kHour).BaseDelay(3), 0) << ToString(s);
    EXPECT_GE(Policy(s, -kSecond, -kHour, Jitter::Equal).NextDelay(3, 0.5), 0) << ToString(s);
  }
}

// ---- no overflow ----

TEST(RetryPolicyOverflow, Attempt1000WithDefaultPolicyIsTheCap) {
  const RetryPolicy p = RetryPolicy::Default();
  EXPECT_EQ(p.BaseDelay(1000), kHour);
  EXPECT_EQ(p.BaseDelay(INT_MAX), kHour);
}

TEST(RetryPolicyOverflow, HugeBaseSaturatesInsteadOfWrapping) {
  // With max_delay = INT64_MAX the cap does not hide an overflow: the
  // product must saturate at INT64_MAX rather than wrap negative.
  for (std::int64_t base : {kInt64Max, kInt64Max / 2 + 1, std::int64_t{1} << 40, std::int64_t{3}}) {
    const RetryPolicy lin = Policy(BackoffStrategy::Linear, base, kInt64Max);
    const RetryPolicy exp = Policy(BackoffStrategy::Exponential, base, kInt64Max);
    const RetryPolicy fixed = Policy(BackoffStrategy::Fixed, base, kInt64Max);
    for (int attempt : {1000, INT_MAX}) {
      EXPECT_EQ(lin.BaseDelay(attempt), base > kInt64Max / attempt ? kInt64Max : base * attempt)
          << base << " " << attempt;
      EXPECT_EQ(exp.BaseDelay(attempt), kInt64Max) << base << " " << attempt;
      EXPECT_EQ(fixed.BaseDelay(attempt), base) << base << " " << attempt;
    }
  }
}

TEST(RetryPolicyOverflow, ExponentialAroundTheShiftWidth) {
  const RetryPolicy p = Policy(BackoffStrategy::Exponential, 1, kInt64Max);
  EXPECT_EQ(p.BaseDelay(62), std::int64_t{1} << 61);
  EXPECT_EQ(p.BaseDelay(63), std::int64_t{1} << 62);
  EXPECT_EQ(p.BaseDelay(64), kInt64Max);  // 2^63 does not fit
  EXPECT_EQ(p.BaseDelay(65), kInt64Max);
  const RetryPolicy q = Policy(BackoffStrategy::Exponential, 3, kInt64Max);
  EXPECT_EQ(q.BaseDelay(62), 3 * (std::int64_t{1} << 61));
  EXPECT_EQ(q.BaseDelay(63), kInt64Max);  // 3 * 2^62 does not fit
}

TEST(RetryPolicyOverflow, DelaysNeverDecreaseWithAttempt) {
  for (auto s : {BackoffStrategy::Fixed, BackoffStrategy::Linear, BackoffStrategy::Exponential}) {
    for (std::int64_t max : {kHour, kInt64Max}) {
      const RetryPolicy p = Policy(s, 7 * kSecond, max);
      std::int64_t previous = 0;
      for (int attempt = 1; attempt <= 1000; ++attempt) {
        const std::int64_t d = p.BaseDelay(attempt);
        ASSERT_GE(d, previous) << ToString(s) << " attempt " << attempt;
        ASSERT_LE(d, max) << ToString(s) << " attempt " << attempt;
        previous = d;
      }
    }
  }
}

// ---- jitter ----

TEST(RetryPolicyJitter, NoneIsExactlyTheBaseDelay) {
  const RetryPolicy p = Policy(BackoffStrategy::Exponential, 2 * kSecond, kHour, Jitter::None);
  for (int attempt = 1; attempt <= 15; ++attempt) {
    for (double u : UnitSamples()) {
      ASSERT_EQ(p.NextDelay(attempt, u), p.BaseDelay(attempt)) << attempt << " u=" << u;
    }
  }
}

TEST(RetryPolicyJitter, FullStaysWithinZeroAndD) {
  const RetryPolicy p = Policy(BackoffStrategy::Exponential, 2 * kSecond, kHour, Jitter::Full);
  for (int attempt = 1; attempt <= 15; ++attempt) {
    const std::int64_t d = p.BaseDelay(attempt);
    for (double u : UnitSamples()) {
      const std::int64_t got = p.NextDelay(attempt, u);
      ASSERT_GE(got, 0) << attempt << " u=" << u;
      ASSERT_LE(got, d) << attempt << " u=" << u;
      ASSERT_EQ(got, std::llround(static_cast<double>(d) * u)) << attempt << " u=" << u;
    }
    EXPECT_EQ(p.NextDelay(attempt, 0.0), 0);
    EXPECT_EQ(p.NextDelay(attempt, 1.0), d);
  }
}

TEST(RetryPolicyJitter, EqualStaysWithinHalfDAndD) {
  // An odd base delay checks that rounding never leaves [d/2, d].
  const RetryPolicy p = Policy(BackoffStrategy::Linear, 1'000'001, kHour, Jitter::Equal);
  for (int attempt = 1; attempt <= 15; ++attempt) {
    const std::int64_t d = p.BaseDelay(attempt);
    for (double u : UnitSamples()) {
      const std::int64_t got = p.NextDelay(attempt, u);
      ASSERT_GE(got, d / 2) << attempt << " u=" << u;
      ASSERT_LE(got, d) << attempt << " u=" << u;
    }
    EXPECT_EQ(p.NextDelay(attempt, 0.0), d / 2);
    EXPECT_EQ(p.NextDelay(attempt, 1.0), d);
  }
  const RetryPolicy even = Policy(BackoffStrategy::Fixed, 10 * kSecond, kHour, Jitter::Equal);
  EXPECT_EQ(even.NextDelay(1, 0.5), 7'500'000);
}

TEST(RetryPolicyJitter, JitterSpreadsTheDelays) {
  // Not a distribution test, only that u actually moves the result: the
  // lower and upper quarters of u give disjoint ranges.
  const RetryPolicy full = Policy(BackoffStrategy::Fixed, 1000 * kSecond, kHour, Jitter::Full);
  EXPECT_LT(full.NextDelay(1, 0.25), full.NextDelay(1, 0.75));
  const RetryPolicy equal = Policy(BackoffStrategy::Fixed, 1000 * kSecond, kHour, Jitter::Equal);
  EXPECT_LT(equal.NextDelay(1, 0.25), equal.NextDelay(1, 0.75));
}

TEST(RetryPolicyJitter, UnitRandomOutsideZeroOneIsClamped) {
  for (auto j : {Jitter::Full, Jitter::Equal}) {
    const RetryPolicy p = Policy(BackoffStrategy::Fixed, 10 * kSecond, kHour, j);
    EXPECT_EQ(p.NextDelay(1, -0.5), p.NextDelay(1, 0.0)) << ToString(j);
    EXPECT_EQ(p.NextDelay(1, -std::numeric_limits<double>::infinity()), p.NextDelay(1, 0.0));
    EXPECT_EQ(p.NextDelay(1, 1.5), p.NextDelay(1, 1.0)) << ToString(j);
    EXPECT_EQ(p.NextDelay(1, std::numeric_limits<double>::infinity()), p.NextDelay(1, 1.0));
    EXPECT_EQ(p.NextDelay(1, std::numeric_limits<double>::quiet_NaN()), p.NextDelay(1, 0.0))
        << ToString(j);
  }
}

TEST(RetryPolicyJitter, NeverAboveMaxDelayEvenAtTheInt64Limit) {
  const std::vector<double> samples = UnitSamples();
  for (auto s : {BackoffStrategy::Fixed, BackoffStrategy::Linear, BackoffStrategy::Exponential}) {
    for (auto j : {Jitter::None, Jitter::Full, Jitter::Equal}) {
      for (std::int64_t max : {kHour, kInt64Max}) {
        const RetryPolicy p = Policy(s, max == kHour ? 2 * kSecond : kInt64Max / 3, max, j);
        for (int attempt : {1, 2, 5, 64, 1000, INT_MAX}) {
          for (double u : samples) {
            const std::int64_t got = p.NextDelay(attempt, u);
            ASSERT_GE(got, 0) << ToString(s) << "/" << ToString(j) << " " << attempt << " " << u;
            ASSERT_LE(got, max) << ToString(s) << "/" << ToString(j) << " " << attempt << " " << u;
          }
        }
      }
    }
  }
  const RetryPolicy top = Policy(BackoffStrategy::Exponential, 1, kInt64Max, Jitter::Full);
  EXPECT_EQ(top.NextDelay(INT_MAX, 1.0), kInt64Max);
  EXPECT_EQ(top.NextDelay(INT_MAX, 0.0), 0);
  const RetryPolicy top_equal = Policy(BackoffStrategy::Exponential, 1, kInt64Max, Jitter::Equal);
  EXPECT_EQ(top_equal.NextDelay(INT_MAX, 1.0), kInt64Max);
  EXPECT_EQ(top_equal.NextDelay(INT_MAX, 0.0), kInt64Max / 2);
}

// ---- the description recorded with each retry (job_attempts.backoff_policy) ----

TEST(RetryPolicyDescribe, NamesStrategyBoundsJitterAndTheDelayBeforeJitter) {
  EXPECT_EQ(RetryPolicy::Default().DescribeBackoff(3),
            "exponential from 2000 ms, max 3600000 ms, full jitter: up to 8000 ms after attempt 3");
  EXPECT_EQ(Policy(BackoffStrategy::Fixed, kSecond, kHour, Jitter::None).DescribeBackoff(2),
            "fixed 1000 ms, max 3600000 ms, none jitter: 1000 ms after attempt 2");
  EXPECT_EQ(
      Policy(BackoffStrategy::Linear, kSecond, kHour, Jitter::Equal).DescribeBackoff(4),
      "linear from 1000 ms, max 3600000 ms, equal jitter: 2000 ms to 4000 ms after attempt 4");
  // the cap applies, and attempt numbers below 1 count as 1 (as in BaseDelay)
  EXPECT_EQ(
      RetryPolicy::Default().DescribeBackoff(100),
      "exponential from 2000 ms, max 3600000 ms, full jitter: up to 3600000 ms after attempt 100");
  EXPECT_EQ(RetryPolicy::Default().DescribeBackoff(0),
            "exponential from 2000 ms, max 3600000 ms, full jitter: up to 2000 ms after attempt 1");
}

}  // namespace
}  // namespace taskflow::core
