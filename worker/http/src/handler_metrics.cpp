#include <taskflow/http/handler_metrics.hpp>

#include "metrics.hpp"

namespace taskflow::http {

void HandlerMetrics::Started() {
  std::lock_guard<std::mutex> lock(mutex_);
  ++running_;
}

void HandlerMetrics::Finished(const std::string& job_type, const std::string& outcome,
                              double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  --running_;
  std::string type = job_type;
  if (durations_.size() >= kMaxJobTypes * 4) {
    bool known = false;
    for (const auto& [key, h] : durations_) known = known || key.first == job_type;
    if (!known) type = "other";
  }
  durations_[{type, outcome}].Observe(kBuckets, seconds);
}

int HandlerMetrics::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

std::string HandlerMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  AppendSample(out, "taskflow_worker_jobs_running", "gauge",
               "Job handlers running in this worker now.", running_);
  out +=
      "# HELP taskflow_worker_handler_duration_seconds How long this worker's job handlers ran, "
      "by job type and outcome.\n"
      "# TYPE taskflow_worker_handler_duration_seconds histogram\n";
  for (const auto& [key, h] : durations_) {
    h.Render(
        out, "taskflow_worker_handler_duration_seconds",
        "job_type=\"" + EscapeLabel(key.first) + "\",outcome=\"" + EscapeLabel(key.second) + "\"",
        kBuckets);
  }
  return out;
}

}  // namespace taskflow::http
