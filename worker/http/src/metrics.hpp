// The HTTP server's own Prometheus series, appended to taskflow.metrics() on /metrics.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include <taskflow/http/histogram.hpp>

namespace taskflow::http {

class HttpMetrics {
 public:
  // From 100 µs: a cached request is served in well under a millisecond (docs/observability.md).
  static constexpr std::array<double, 16> kBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                      0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                      1.0,    2.5,     5.0,    10.0};
  void Record(const std::string& route, const std::string& method, int status, double seconds);

  struct Gauges {
    int db_connections = 0;
    std::uint64_t db_reconnects = 0;
    std::uint64_t rejected_connections = 0;
    int active_connections = 0;
    bool database_up = false;
    bool with_database = true;  // false: no taskflow_http_database_up (no database-wide series)
  };
  // The exposition text of every series (HELP and TYPE lines included).
  std::string Render(const Gauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram<kBuckets.size()>> durations_;
};

// A label value escaped for the exposition format (backslash, quote, newline).
std::string EscapeLabel(const std::string& value);

}  // namespace taskflow::http
