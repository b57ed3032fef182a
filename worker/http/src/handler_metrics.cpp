#include <taskflow/http/handler_metrics.hpp>

#include <cstdio>
#include <set>

#include "metrics.hpp"

namespace taskflow::http {

namespace {

std::string Number(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

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
  Histogram& h = durations_[{type, outcome}];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

int HandlerMetrics::running() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return running_;
}

std::string HandlerMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out =
      "# HELP taskflow_worker_jobs_running Job handlers running in this worker now.\n"
      "# TYPE taskflow_worker_jobs_running gauge\n"
      "taskflow_worker_jobs_running " +
      std::to_string(running_) +
      "\n"
      "# HELP taskflow_worker_handler_duration_seconds How long this worker's job handlers ran, "
      "by job type and outcome.\n"
      "# TYPE taskflow_worker_handler_duration_seconds histogram\n";
  for (const auto& [key, h] : durations_) {
    const std::string labels =
        "job_type=\"" + EscapeLabel(key.first) + "\",outcome=\"" + EscapeLabel(key.second) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += "taskflow_worker_handler_duration_seconds_bucket{" + labels + ",le=\"" +
             Number(kBuckets[i]) + "\"} " + std::to_string(h.buckets[i]) + "\n";
    }
    out += "taskflow_worker_handler_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " +
           std::to_string(h.count) + "\n";
    out += "taskflow_worker_handler_duration_seconds_sum{" + labels + "} " + Number(h.sum) + "\n";
    out += "taskflow_worker_handler_duration_seconds_count{" + labels + "} " +
           std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace taskflow::http
