#include <taskflow/http/metrics_server.hpp>

#include <chrono>
#include <stdexcept>
#include <thread>

#include <taskflow/http/server.hpp>

#include "bounded_server.hpp"

namespace taskflow::http {

namespace {

ConnectionLimits MetricsLimits() {
  ConnectionLimits l;
  l.threads = 2;  // scrapers are few; slow ones are cut off by the same bounds as the API's
  l.max_queued = 16;
  l.request_timeout = std::chrono::seconds(5);
  l.keep_alive_max_requests = 100;
  l.max_request_bytes = 64u << 10;
  return l;
}

}  // namespace

struct MetricsServer::Impl {
  explicit Impl(std::function<std::string()> p) : server(MetricsLimits()), provider(std::move(p)) {}
  BoundedServer server;
  std::function<std::string()> provider;
  ServerConfig address;  // host and port
  std::thread thread;
  int port = -1;
};

MetricsServer::MetricsServer(const std::string& address, std::function<std::string()> provider)
    : impl_(std::make_unique<Impl>(std::move(provider))) {
  ParseListenAddress(address, &impl_->address);
  impl_->server.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content(impl_->provider(), "text/plain; version=0.0.4; charset=utf-8");
  });
  impl_->server.set_payload_max_length(0);
}

MetricsServer::~MetricsServer() { Stop(); }

int MetricsServer::Bind() {
  if (impl_->port >= 0) return impl_->port;
  const std::string& host = impl_->address.host;
  const int port = impl_->address.port;
  if (port == 0) {
    impl_->port = impl_->server.bind_to_any_port(host);
  } else if (impl_->server.bind_to_port(host, port)) {
    impl_->port = port;
  }
  if (impl_->port <= 0) {
    impl_->port = -1;
    throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port));
  }
  return impl_->port;
}

void MetricsServer::Start() {
  Bind();
  impl_->thread = std::thread([this] { impl_->server.listen_after_bind(); });
  for (int i = 0; i < 500 && !impl_->server.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

void MetricsServer::Stop() {
  if (impl_->server.is_running() || impl_->thread.joinable()) impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace taskflow::http
