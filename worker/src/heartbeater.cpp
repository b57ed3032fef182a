#include "heartbeater.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

#include "log.hpp"

namespace taskflow {

Milliseconds HeartbeaterOptions::EffectiveInterval() const {
  return interval.count() > 0 ? interval : std::max(Milliseconds(100), lease / 3);
}

void HeartbeaterOptions::Validate() const {
  if (lease.count() <= 0) throw std::invalid_argument("lease (--lease) must be greater than zero");
  if (interval.count() < 0) {
    throw std::invalid_argument(
        "heartbeat_interval (--heartbeat-interval) must not be negative (0: lease / 3)");
  }
  if (EffectiveInterval() >= lease) {
    throw std::invalid_argument(
        "heartbeat_interval (--heartbeat-interval) must be shorter than the lease (--lease), or leases expire "
        "between heartbeats");
  }
}

Heartbeater::Heartbeater(HeartbeaterOptions options, StoreFactory connect, ActiveJobs& jobs)
    : options_(std::move(options)),
      interval_(options_.EffectiveInterval()),
      connect_(std::move(connect)),
      jobs_(jobs) {
  options_.Validate();
}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() {
  thread_ = std::thread([this] {
    while (true) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (cv_.wait_for(lock, interval_, [this] { return exit_; })) return;
      }
      Beat();
    }
  });
}

void Heartbeater::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    exit_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::size_t Heartbeater::Beat() {
  std::vector<Lease> leases;
  std::unordered_map<std::int64_t, std::shared_ptr<ActiveJob>> by_id;
  for (auto& active : jobs_.Snapshot()) {
    if (active->reported.load()) continue;  // its outcome is queued: the Completer reports it
    leases.push_back({active->job.id, active->job.lease_token});
    by_id[active->job.id] = std::move(active);
  }
  if (leases.empty()) return 0;
  try {
    if (!store_) store_ = connect_();
    for (const auto& [job_id, answer] : store_->Heartbeat(leases, options_.lease)) {
      const auto found = by_id.find(job_id);
      if (found == by_id.end() || answer == "ok") continue;
      ActiveJob& active = *found->second;
      if (active.reported.load() || active.ctx.StopRequested()) continue;
      log::Fields fields = log::JobFields(active.job);
      if (answer == "cancel_requested") {
        log::Write(spdlog::level::info, "cancel requested; stopping the handler", fields);
        active.ctx.RequestStop(StopReason::kCancelRequested);
      } else {
        log::Write(spdlog::level::warn, "lease lost; stopping the handler", fields);
        active.ctx.RequestStop(StopReason::kLeaseLost);
      }
    }
  } catch (const std::exception& e) {
    if (IsConnectionLoss(e) || !store_) store_.reset();
    log::Write(spdlog::level::warn, "heartbeat failed",
               {{"component", "heartbeater"}, {"error", OneLine(e.what())}});
    return 0;
  }
  return leases.size();
}

}  // namespace taskflow
