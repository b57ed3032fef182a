#include "backoff.hpp"

#include <algorithm>

namespace taskflow {

Backoff::Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max, std::uint64_t seed)
    : min_(std::max<std::chrono::milliseconds>(min, std::chrono::milliseconds(1))),
      max_(std::max(max, min_)),
      rng_(seed) {}

std::chrono::milliseconds Backoff::Next() {
  // Double without overflow: stop doubling once the cap is reached.
  long long base = min_.count();
  for (int i = 0; i < failures_ && base < max_.count(); ++i) base *= 2;
  base = std::min<long long>(base, max_.count());
  if (failures_ < 64) ++failures_;
  std::uniform_int_distribution<long long> half(0, base / 2);
  return std::chrono::milliseconds(base - base / 2 + half(rng_));
}

}  // namespace taskflow
