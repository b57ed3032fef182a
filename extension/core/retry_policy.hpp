#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

enum class BackoffStrategy { Fixed, Linear, Exponential };
enum class Jitter { None, Full, Equal };

// "fixed", "linear", "exponential" (exact lower-case names only).
std::optional<BackoffStrategy> ParseStrategy(std::string_view name) noexcept;
// "none", "full", "equal" (exact lower-case names only).
std::optional<Jitter> ParseJitter(std::string_view name) noexcept;
std::string_view ToString(BackoffStrategy strategy) noexcept;
std::string_view ToString(Jitter jitter) noexcept;

// How a queue retries failed attempts. Durations are microseconds.
struct RetryPolicy {
  int max_attempts = 5;
  BackoffStrategy strategy = BackoffStrategy::Exponential;
  std::int64_t base_delay_us = 2'000'000;       // 2 seconds
  std::int64_t max_delay_us = 3'600'000'000LL;  // 1 hour
  Jitter jitter = Jitter::Full;

  // The policy of a queue without its own: 5 attempts, exponential from
  // 2 seconds, capped at 1 hour, full jitter.
  static RetryPolicy Default() noexcept;

  // Throws DomainError(InvalidParameterValue) when max_attempts < 1, a delay
  // is negative, or max_delay < base_delay.
  void Validate() const;

  // Delay before jitter for the retry after failed attempt `attempt` (>= 1;
  // smaller is treated as 1): fixed: base; linear: base*attempt; exponential:
  // base*2^(attempt-1); capped at max_delay. Saturating, so any int is safe.
  std::int64_t BaseDelay(int attempt) const noexcept;

  // BaseDelay with jitter applied. unit_random is clamped to [0, 1]:
  // none: d; full: llround(d*u); equal: d/2 + a uniform share of the rest.
  // Never negative, never above max_delay.
  std::int64_t NextDelay(int attempt, double unit_random) const noexcept;

  // How the delay after failed attempt `attempt` is chosen, for the audit trail, e.g.
  // "exponential from 2000 ms, max 3600000 ms, full jitter: up to 8000 ms after attempt 3".
  std::string DescribeBackoff(int attempt) const;
};

}  // namespace taskflow::core
