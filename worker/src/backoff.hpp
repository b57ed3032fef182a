// Capped exponential backoff with "equal" jitter for reconnecting: the n-th
// delay is d/2 + uniform[0, d/2] with d = min(max, min * 2^n).
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace taskflow {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds min, std::chrono::milliseconds max,
          std::uint64_t seed = std::random_device{}());

  // The delay before the next attempt; each call doubles the base up to the cap.
  std::chrono::milliseconds Next();
  // After a success: the next delay starts from `min` again.
  void Reset() { failures_ = 0; }

 private:
  std::chrono::milliseconds min_;
  std::chrono::milliseconds max_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace taskflow
