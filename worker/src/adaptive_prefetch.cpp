#include "adaptive_prefetch.hpp"

#include <algorithm>
#include <cmath>

namespace taskflow {

void AdaptivePrefetch::OnAcquire(Clock::duration round_trip) {
  const double seconds = std::chrono::duration<double>(round_trip).count();
  round_trip_ = have_round_trip_ ? 0.7 * round_trip_ + 0.3 * seconds : seconds;
  have_round_trip_ = true;
  Recompute();
}

void AdaptivePrefetch::Observe(long finished_total, Clock::time_point now) {
  if (!started_) {
    started_ = true;
    window_start_ = now;
    window_start_total_ = finished_total;
    return;
  }
  const auto elapsed = now - window_start_;
  if (elapsed < window_) return;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const double window_rate = static_cast<double>(finished_total - window_start_total_) / seconds;
  rate_ = 0.5 * rate_ + 0.5 * window_rate;
  window_start_ = now;
  window_start_total_ = finished_total;
  Recompute();
}

void AdaptivePrefetch::OnStall(long finished_total, Clock::time_point now) {
  rate_ = 0;
  started_ = true;
  window_start_ = now;
  window_start_total_ = finished_total;
  target_ = 0;
}

void AdaptivePrefetch::Recompute() {
  const double jobs = 2.0 * rate_ * round_trip_;
  target_ = static_cast<int>(std::min<double>(max_, std::max(0.0, std::round(jobs))));
}

}  // namespace taskflow
