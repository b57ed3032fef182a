#include "retry_policy.hpp"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <string>

#include "errors.hpp"
#include "validation.hpp"
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {
namespace {

constexpr std::int64_t kMaxUs = std::numeric_limits<std::int64_t>::max();

// a * b for non-negative a, b, saturating at kMaxUs instead of overflowing.
std::int64_t SaturatingMul(std::int64_t a, std::int64_t b) noexcept {
  if (a == 0 || b == 0) return 0;
  if (a > kMaxUs / b) return kMaxUs;
  return a * b;
}

// llround(d * u) for d >= 0 and u in [0, 1], kept within [0, d]. The product
// is computed in double, which near INT64_MAX can round up past d (and
// llround of 2^63 is undefined), so the result is clamped before converting.
std::int64_t Scale(std::int64_t d, double u) noexcept {
  const double scaled = static_cast<double>(d) * u;
  if (scaled >= static_cast<double>(d)) return d;
  if (scaled <= 0.0) return 0;
  return std::min<std::int64_t>(std::llround(scaled), d);
}

// The names of the strategies and jitters, as SQL and JSON spell them: the one list ToString and
// the Parse functions both read.
template <typename Enum>
struct Named {
  Enum value;
  std::string_view name;
};
constexpr Named<BackoffStrategy> kStrategyNames[] = {{BackoffStrategy::Fixed, "fixed"},
                                                     {BackoffStrategy::Linear, "linear"},
                                                     {BackoffStrategy::Exponential, "exponential"}};
constexpr Named<Jitter> kJitterNames[] = {
    {Jitter::None, "none"}, {Jitter::Full, "full"}, {Jitter::Equal, "equal"}};

template <typename Enum, std::size_t N>
std::optional<Enum> ValueNamed(const Named<Enum> (&names)[N], std::string_view name) noexcept {
  for (const Named<Enum>& n : names) {
    if (n.name == name) return n.value;
  }
  return std::nullopt;
}

template <typename Enum, std::size_t N>
std::string_view NameOf(const Named<Enum> (&names)[N], Enum value) noexcept {
  for (const Named<Enum>& n : names) {
    if (n.value == value) return n.name;
  }
  return "unknown";
}

}  // namespace

std::optional<BackoffStrategy> ParseStrategy(std::string_view name) noexcept {
  return ValueNamed(kStrategyNames, name);
}

std::optional<Jitter> ParseJitter(std::string_view name) noexcept {
  return ValueNamed(kJitterNames, name);
}

std::string_view ToString(BackoffStrategy strategy) noexcept {
  return NameOf(kStrategyNames, strategy);
}

std::string_view ToString(Jitter jitter) noexcept { return NameOf(kJitterNames, jitter); }

RetryPolicy RetryPolicy::Default() noexcept { return RetryPolicy{}; }

void RetryPolicy::Validate() const {
  if (max_attempts < 1) {
    throw DomainError(
        ErrorCode::InvalidParameterValue,
        "retry policy max_attempts must be at least 1, got " + std::to_string(max_attempts));
  }
  // Not negative, and at most 100 years, so now() + delay is always a valid timestamp.
  ValidateDuration(base_delay_us, "retry policy base_delay", /*allow_zero=*/true);
  ValidateDuration(max_delay_us, "retry policy max_delay", /*allow_zero=*/true);
  if (max_delay_us < base_delay_us) {
    throw DomainError(ErrorCode::InvalidParameterValue,
                      "retry policy max_delay must not be less than base_delay",
                      "Raise max_delay or lower base_delay.");
  }
}

std::int64_t RetryPolicy::BaseDelay(int attempt) const noexcept {
  // A policy that was never validated must still not yield a negative delay.
  const std::int64_t base = std::max<std::int64_t>(base_delay_us, 0);
  const std::int64_t cap = std::max<std::int64_t>(max_delay_us, 0);
  const std::int64_t n = std::max(attempt, 1);

  std::int64_t d = base;
  switch (strategy) {
    case BackoffStrategy::Fixed: break;
    case BackoffStrategy::Linear: d = SaturatingMul(base, n); break;
    case BackoffStrategy::Exponential:
      // 2^(n-1) does not fit in int64 from n = 64 on; saturate before shifting.
      d = (n - 1 >= 63) ? (base == 0 ? 0 : kMaxUs)
                        : SaturatingMul(base, std::int64_t{1} << (n - 1));
      break;
  }
  return std::min(d, cap);
}

std::int64_t RetryPolicy::NextDelay(int attempt, double unit_random) const noexcept {
  // NaN compares false everywhere; treat it like 0 rather than let it through.
  double u = unit_random;
  if (!(u >= 0.0)) u = 0.0;
  if (u > 1.0) u = 1.0;

  const std::int64_t d = BaseDelay(attempt);
  switch (jitter) {
    case Jitter::None: return d;
    case Jitter::Full: return Scale(d, u);
    case Jitter::Equal: {
      // d/2 fixed plus a random share of the remaining half; using d - d/2
      // (not d/2) for the share lets an odd d still reach d at u = 1.
      const std::int64_t half = d / 2;
      return half + Scale(d - half, u);
    }
  }
  return d;
}

std::string RetryPolicy::DescribeBackoff(int attempt) const {
  auto ms = [](std::int64_t us) { return std::to_string(us / 1000) + " ms"; };
  const int n = attempt < 1 ? 1 : attempt;
  std::string out(ToString(strategy));
  out += strategy == BackoffStrategy::Fixed ? " " : " from ";
  out += ms(base_delay_us) + ", max " + ms(max_delay_us) + ", " + std::string(ToString(jitter)) +
         " jitter: ";
  const std::int64_t d = BaseDelay(n);
  switch (jitter) {
    case Jitter::None: out += ms(d); break;
    case Jitter::Full: out += "up to " + ms(d); break;
    case Jitter::Equal: out += ms(d / 2) + " to " + ms(d); break;
  }
  return out + " after attempt " + std::to_string(n);
}

}  // namespace taskflow::core
