// Prometheus series about the job handlers of the process that embeds the HTTP API (the worker):
// handlers running now and how long they ran, by job type and outcome. The embedding process
// calls Started()/Finished() around each handler and adds Render() to /metrics
// (Server::SetExtraMetrics).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <taskflow/http/histogram.hpp>

namespace taskflow::http {

class HandlerMetrics {
 public:
  // At most this many job types get a label of their own (a catch-all worker may see any
  // number); the rest are counted as "other".
  static constexpr std::size_t kMaxJobTypes = 100;

  void Started();
  // outcome: "succeeded", "failed", "cancelled" or "error" (the handler threw).
  void Finished(const std::string& job_type, const std::string& outcome, double seconds);
  int running() const;
  std::string Render() const;

 private:
  // From 100 µs (an in-process handler takes a fraction of a millisecond) to an hour.
  static constexpr std::array<double, 17> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.005, 0.01,
                                                      0.05,   0.1,     0.5,    1,     5,     10,
                                                      30,     60,      300,    900,   3600};
  mutable std::mutex mutex_;
  int running_ = 0;
  std::map<std::pair<std::string, std::string>, Histogram<kBuckets.size()>> durations_;
};

}  // namespace taskflow::http
