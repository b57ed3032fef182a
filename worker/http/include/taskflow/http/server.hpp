// The TaskFlow HTTP API (docs/http.md): JSON over HTTP, each endpoint one call into the
// extension's SQL API, run under the database role of the caller's API key.
//
//   taskflow::http::ServerConfig config;
//   config.db = "postgresql://taskflow_http_login@localhost/app";
//   config.host = "127.0.0.1"; config.port = 8080;
//   taskflow::http::Server server(config);
//   server.Start();   // serves on background threads until Stop()
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace taskflow::http {

using Milliseconds = std::chrono::milliseconds;

// Every bound has a default; docs/http.md ("Limits") explains each.
struct ServerConfig {
  std::string db;                  // libpq URL or conninfo; empty = the libpq environment
  std::string host = "127.0.0.1";  // address to listen on
  int port = 8080;                 // 0 = any free port (see Server::port())
  int threads = 16;                // connections served at once; also the database connections
  int max_queued = 64;             // accepted connections waiting for a thread; more get 503
  std::size_t max_body_bytes = (1u << 20) + (64u << 10);  // 1 MiB payload + JSON around it
  Milliseconds request_timeout{10000};    // receiving one request, head and body together
  Milliseconds read_timeout{5000};        // one socket read
  Milliseconds write_timeout{5000};       // one socket write
  Milliseconds keep_alive_timeout{5000};  // an idle keep-alive connection is closed after this
  int keep_alive_max_requests = 1000;     // requests per connection
  Milliseconds statement_timeout{5000};   // per SQL call (PostgreSQL statement_timeout)
  Milliseconds auth_cache_ttl{5000};      // how long a checked API key is trusted without a lookup
  std::string application_name = "taskflow-http";
  // Whether /metrics carries the database-wide series of taskflow.metrics() (and
  // taskflow_http_database_up). They must come from one place: taskflow-http serves them by
  // default, taskflow-worker --http only with --http-database-metrics (docs/observability.md).
  bool database_metrics = true;
};

// "HOST:PORT", ":PORT" (all interfaces) or "[V6]:PORT" into config.host/port.
// Throws std::invalid_argument.
void ParseListenAddress(const std::string& address, ServerConfig* config);

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket and returns the port. Throws std::runtime_error.
  int Bind();
  // Serves until Stop() (binds first when Bind() was not called). Blocks.
  void Serve();
  // Bind() and Serve() on a background thread.
  void Start();
  // Stops accepting, lets running requests finish, joins the background thread.
  void Stop();
  int port() const;

  // Checks that the login role can act as the server (a member of taskflow_http) and that the
  // extension is installed; throws std::runtime_error with what to do when not. A database that
  // does not answer is only logged: /health reports the same checks once it answers.
  void CheckDatabaseRole();

  // Extra Prometheus series appended to /metrics by an embedding process (for example the
  // worker's jobs running). Called on every scrape; must return complete metric families.
  void SetExtraMetrics(std::function<std::string()> provider);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace taskflow::http
