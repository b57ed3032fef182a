// The Prometheus exposition text shared by the HTTP server's series (metrics.hpp) and the
// worker's handler series (handler_metrics.hpp): one-sample series and a cumulative histogram
// over fixed upper bounds (not thread-safe: its owner holds the lock).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace taskflow::http {

// A sample value as the exposition format writes it ("%.9g").
std::string PrometheusNumber(double value);

// Appends a series of one unlabelled sample with its HELP and TYPE lines.
template <typename Value>
void AppendSample(std::string& out, const char* name, const char* type, const char* help,
                  Value value) {
  out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(value) + "\n";
}

template <std::size_t N>
struct Histogram {
  std::array<std::uint64_t, N> buckets{};
  std::uint64_t count = 0;
  double sum = 0.0;

  void Observe(const std::array<double, N>& bounds, double value) {
    for (std::size_t i = 0; i < N; ++i) {
      if (value <= bounds[i]) ++buckets[i];
    }
    ++count;
    sum += value;
  }

  // Appends name_bucket{labels,le="..."} for each bound and +Inf, name_sum and name_count.
  void Render(std::string& out, const std::string& name, const std::string& labels,
              const std::array<double, N>& bounds) const {
    for (std::size_t i = 0; i < N; ++i) {
      out += name + "_bucket{" + labels + ",le=\"" + PrometheusNumber(bounds[i]) + "\"} " +
             std::to_string(buckets[i]) + "\n";
    }
    out += name + "_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(count) + "\n";
    out += name + "_sum{" + labels + "} " + PrometheusNumber(sum) + "\n";
    out += name + "_count{" + labels + "} " + std::to_string(count) + "\n";
  }
};

}  // namespace taskflow::http
