// taskflow-http: the TaskFlow HTTP API without job execution (docs/http.md). The same server
// runs inside taskflow-worker with --http ADDR.
#include <signal.h>

#include <cstdio>
#include <thread>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <taskflow/http/server.hpp>
#include <taskflow/log_format.hpp>
#include <taskflow/version.hpp>

namespace {

bool g_json_log = false;

// An error before or at startup: a JSON line in json mode, else text.
void Fatal(const std::string& message) {
  if (g_json_log) {
    spdlog::error("taskflow-http: {}", message);
  } else {
    std::fprintf(stderr, "taskflow-http: %s\n", message.c_str());
  }
}

// Duration flags in milliseconds with a unit: 500ms, 5s, 2m.
std::chrono::milliseconds Ms(const std::string& flag, const std::string& text) {
  size_t pos = 0;
  long long n = 0;
  try {
    n = std::stoll(text, &pos);
  } catch (const std::exception&) {
    throw CLI::ValidationError(flag, "expected a duration like 500ms, 5s or 2m, got " + text);
  }
  const std::string unit = text.substr(pos);
  if (n < 0) throw CLI::ValidationError(flag, "must not be negative");
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s" || unit.empty()) return std::chrono::seconds(n);
  if (unit == "m") return std::chrono::minutes(n);
  throw CLI::ValidationError(flag, "expected a duration like 500ms, 5s or 2m, got " + text);
}

// The flags given as text (addresses, durations, log settings), read into the config after
// parsing.
struct TextFlags {
  std::string listen = "127.0.0.1:8080", log_level = "info", log_format = "text";
  std::string request_timeout = "10s", read_timeout = "5s", write_timeout = "5s",
              keep_alive_timeout = "5s", statement_timeout = "5s", auth_cache_ttl = "5s";
  bool database_metrics = true;
};

// The server's flags: the connection limits and timeouts of `config`, the rest in `flags`.
void AddServerOptions(CLI::App& app, taskflow::http::ServerConfig& config, TextFlags& flags) {
  std::string& listen = flags.listen;
  std::string &request_timeout = flags.request_timeout, &read_timeout = flags.read_timeout,
              &write_timeout = flags.write_timeout, &keep_alive_timeout = flags.keep_alive_timeout,
              &statement_timeout = flags.statement_timeout, &auth_cache_ttl = flags.auth_cache_ttl;
  app.add_option("--db", config.db,
                 "PostgreSQL URL or conninfo of a role that is a member of taskflow_http "
                 "(default: the libpq environment)")
      ->envname("TASKFLOW_DATABASE_URL");
  app.add_option("--http,--listen", listen,
                 "Address to serve on: HOST:PORT, :PORT (all interfaces)")
      ->envname("TASKFLOW_HTTP")
      ->capture_default_str();
  app.add_option("--http-threads", config.threads,
                 "Connections served at once (and database connections)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--http-max-queued", config.max_queued,
                 "Accepted connections waiting for a thread; beyond this they get 503")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--http-max-body", config.max_body_bytes,
                 "Largest request body in bytes (413 above)")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--http-request-timeout", request_timeout,
                 "Time to receive one request, head and body (slow clients are cut off)")
      ->capture_default_str();
  app.add_option("--http-read-timeout", read_timeout, "One socket read")->capture_default_str();
  app.add_option("--http-write-timeout", write_timeout, "One socket write")->capture_default_str();
  app.add_option("--http-keep-alive-timeout", keep_alive_timeout,
                 "Idle keep-alive connections are closed after this")
      ->capture_default_str();
  app.add_option("--http-keep-alive-max", config.keep_alive_max_requests, "Requests per connection")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--http-statement-timeout", statement_timeout,
                 "statement_timeout of each SQL call")
      ->capture_default_str();
  app.add_option(
         "--http-auth-cache-ttl", auth_cache_ttl,
         "How long a checked API key is trusted without a lookup (revocation delay); 0 = always look up")
      ->capture_default_str();
}

// --log-level, --log-format and --database-metrics.
void AddOutputOptions(CLI::App& app, TextFlags& flags) {
  app.add_option("--log-level", flags.log_level, "trace, debug, info, warn, error")
      ->envname("TASKFLOW_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format, "text or json (one JSON object per line)")
      ->envname("TASKFLOW_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option(
         "--database-metrics", flags.database_metrics,
         "Serve the database-wide series of taskflow.metrics() on /metrics (true/false); give them "
         "from one instance only, or sum() counts them once per instance")
      ->capture_default_str();
}

// The text flags into the config; throws on a bad address or duration.
void ApplyTextFlags(const TextFlags& flags, taskflow::http::ServerConfig* config) {
  config->database_metrics = flags.database_metrics;
  taskflow::http::ParseListenAddress(flags.listen, config);
  config->request_timeout = Ms("--http-request-timeout", flags.request_timeout);
  config->read_timeout = Ms("--http-read-timeout", flags.read_timeout);
  config->write_timeout = Ms("--http-write-timeout", flags.write_timeout);
  config->keep_alive_timeout = Ms("--http-keep-alive-timeout", flags.keep_alive_timeout);
  config->statement_timeout = Ms("--http-statement-timeout", flags.statement_timeout);
  config->auth_cache_ttl = Ms("--http-auth-cache-ttl", flags.auth_cache_ttl);
}

// Serves until SIGTERM or SIGINT; the exit status.
int Serve(const taskflow::http::ServerConfig& config) {
  // Signals are taken by a waiting thread, so the server stops cleanly on SIGTERM/SIGINT.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    taskflow::http::Server server(config);
    // A role outside taskflow_http would serve /health while every keyed request fails 403:
    // refuse to start instead (docs/http.md).
    server.CheckDatabaseRole();
    const int port = server.Bind();
    // The bound address on stdout (useful with port 0), then serve.
    std::printf("listening on %s:%d\n", config.host.c_str(), port);
    std::fflush(stdout);
    server.Start();
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("signal {}: stopping", sig);
    server.Stop();
  } catch (const std::exception& e) {
    Fatal(e.what());
    return 3;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "taskflow-http: the TaskFlow HTTP API (JSON over HTTP onto the taskflow SQL API), "
      "without job execution. See docs/http.md."};
  app.set_version_flag("--version", "taskflow-http " TASKFLOW_VERSION);
  taskflow::http::ServerConfig config;
  TextFlags flags;
  AddServerOptions(app, config, flags);
  AddOutputOptions(app, flags);
  CLI11_PARSE(app, argc, argv);
  g_json_log = flags.log_format == "json";
  taskflow::log::InstallStderrLogger("taskflow-http", g_json_log,
                                     spdlog::level::from_str(flags.log_level));
  try {
    ApplyTextFlags(flags, &config);
  } catch (const std::exception& e) {
    Fatal(e.what());
    return 2;
  }
  return Serve(config);
}
