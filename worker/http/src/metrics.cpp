#include "metrics.hpp"

#include <cstdio>

namespace taskflow::http {

std::string EscapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void HttpMetrics::Record(const std::string& route, const std::string& method, int status,
                         double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, method, status}];
  durations_[route].Observe(kBuckets, seconds);
}

std::string PrometheusNumber(double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", value);
  return buf;
}

std::string HttpMetrics::Render(const Gauges& g) const {
  std::string out;
  out +=
      "# HELP taskflow_http_requests_total HTTP requests served, by route, method and status.\n"
      "# TYPE taskflow_http_requests_total counter\n";
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    out += "taskflow_http_requests_total{route=\"" + EscapeLabel(route) + "\",method=\"" +
           EscapeLabel(method) + "\",status=\"" + std::to_string(status) + "\"} " +
           std::to_string(n) + "\n";
  }
  out +=
      "# HELP taskflow_http_request_duration_seconds Time from the first byte of a request to "
      "its response, by route.\n"
      "# TYPE taskflow_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : durations_) {
    h.Render(out, "taskflow_http_request_duration_seconds", "route=\"" + EscapeLabel(route) + "\"",
             kBuckets);
  }
  AppendSample(out, "taskflow_http_db_reconnects_total", "counter",
               "Database connections opened to replace broken ones.", g.db_reconnects);
  AppendSample(out, "taskflow_http_db_connections", "gauge",
               "Open database connections of the HTTP server.", g.db_connections);
  AppendSample(out, "taskflow_http_connections_rejected_total", "counter",
               "Connections answered 503 because every thread and queue slot was taken.",
               g.rejected_connections);
  AppendSample(out, "taskflow_http_connections_active", "gauge", "Connections being served now.",
               g.active_connections);
  if (g.with_database) {
    AppendSample(out, "taskflow_http_database_up", "gauge",
                 "Whether this scrape read taskflow.metrics() from the database.",
                 g.database_up ? 1 : 0);
  }
  return out;
}

}  // namespace taskflow::http
