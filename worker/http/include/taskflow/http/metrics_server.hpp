// A minimal Prometheus endpoint for a process's own series, without the HTTP API and without a
// database: taskflow-worker --metrics ADDR serves its job handler series on GET /metrics with it,
// so it needs no role beyond taskflow_worker (docs/observability.md, "Which series where").
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace taskflow::http {

class MetricsServer {
 public:
  // `address`: HOST:PORT, :PORT or [V6]:PORT (port 0: any free port). `provider` returns the
  // exposition text; it is called on every scrape, from the server's threads.
  MetricsServer(const std::string& address, std::function<std::string()> provider);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds the listening socket and returns the port. Throws std::invalid_argument (bad address)
  // or std::runtime_error (cannot listen).
  int Bind();
  // Serves on a background thread until Stop().
  void Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskflow::http
