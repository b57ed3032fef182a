// Outcome factories and JobContext: the small pieces of the public API.
#include <taskflow/worker.hpp>

#include <algorithm>

namespace taskflow {

Outcome Outcome::Succeeded(nlohmann::json result) {
  Outcome outcome;
  outcome.kind = Kind::kSucceeded;
  outcome.result = std::move(result);
  return outcome;
}

Outcome Outcome::Failed(std::string error_type, std::string error_message, bool retryable) {
  Outcome outcome;
  outcome.kind = Kind::kFailed;
  outcome.error_type = std::move(error_type);
  outcome.error_message = std::move(error_message);
  outcome.retryable = retryable;
  return outcome;
}

Outcome Outcome::Snooze(Milliseconds delay) {
  Outcome outcome;
  outcome.kind = Kind::kSnoozed;
  constexpr Milliseconds kMax{36525LL * 86400 * 1000};  // 100 years: the extension's bound
  outcome.snooze_for = std::clamp(delay, Milliseconds(0), kMax);
  return outcome;
}

Outcome Outcome::Cancelled(std::string message) {
  Outcome outcome;
  outcome.kind = Kind::kCancelled;
  outcome.error_type = "cancelled";
  outcome.error_message = std::move(message);
  outcome.retryable = false;
  return outcome;
}

Outcome Outcome::Snoozed(Milliseconds delay, std::string reason) {
  Outcome outcome;
  outcome.kind = Kind::kSnoozed;
  Outcome snoozed = Snooze(delay);  // the same bounds: 0 to 100 years
  outcome.snooze_for = snoozed.snooze_for;
  outcome.error_message = std::move(reason);
  return outcome;
}

const char* ToString(StopReason reason) {
  switch (reason) {
    case StopReason::kNone: return "none";
    case StopReason::kCancelRequested: return "cancel_requested";
    case StopReason::kLeaseLost: return "lease_lost";
    case StopReason::kShutdown: return "shutdown";
  }
  return "unknown";
}

JobContext::JobContext(SqlProvider sql_provider) : sql_provider_(std::move(sql_provider)) {}

bool JobContext::SleepFor(Milliseconds duration) {
  std::unique_lock<std::mutex> lock(mutex_);
  return !stopped_.wait_for(lock, duration, [this] { return StopRequested(); });
}

void JobContext::OnStop(std::function<void()> callback) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!StopRequested()) {
      on_stop_ = std::move(callback);
      return;
    }
  }
  if (callback) callback();
}

void JobContext::ClearOnStop() {
  std::lock_guard<std::mutex> lock(mutex_);
  on_stop_ = nullptr;
}

void JobContext::RequestStop(StopReason reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    StopReason expected = StopReason::kNone;
    if (!reason_.compare_exchange_strong(expected, reason)) return;
    // Under the lock: ClearOnStop() waits for a running callback, so the
    // handler cannot destroy what the callback touches while it runs.
    if (on_stop_) on_stop_();
  }
  stopped_.notify_all();
}

SqlSession& JobContext::Sql() {
  if (!sql_provider_) throw std::logic_error("this JobContext has no database session");
  return sql_provider_();
}

}  // namespace taskflow
