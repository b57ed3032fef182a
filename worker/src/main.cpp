// taskflow-worker: runs TaskFlow jobs with the executors configured by flags or
// a JSON handler file. See docs/worker.md.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include <taskflow/version.hpp>
#include <taskflow/worker.hpp>

#include "config.hpp"
#include "duration.hpp"
#include "executors.hpp"
#include "log.hpp"

#ifdef TASKFLOW_WORKER_WITH_HTTP
#include <memory>

#include <taskflow/http/handler_metrics.hpp>
#include <taskflow/http/metrics_server.hpp>
#include <taskflow/http/server.hpp>
#endif

namespace {

// Documented in docs/worker.md; keep both in step.
constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;  // unexpected error, or outcomes left unreported at exit
constexpr int kExitUsage = 2;    // bad flag, bad handler config
constexpr int kExitStartup = 3;  // no database, no extension, unknown queue
// 128 + signal number: a second SIGINT/SIGTERM stopped the worker at once.

constexpr const char* kFooter = R"(
Handlers (--handler, repeatable; or a JSON file with --config):
  --handler ping=noop                              succeed at once
  --handler wait=sleep                             sleep for the payload's "seconds"
  --handler resize=command:/usr/local/bin/resize   payload on stdin, exit 0 = success
  --handler hook=http:https://example.com/hook     POST the payload, 2xx = success
  --handler audit=sql:'INSERT INTO t(doc) VALUES ($1::jsonb)'

Exit codes: 0 clean shutdown; 1 runtime error or outcomes left unreported;
2 usage or configuration error; 3 cannot start (database, extension, queue);
128+N stopped at once by a second signal N (130 SIGINT, 143 SIGTERM).

Example:
  taskflow-worker --db postgresql://localhost/app --queue default --handler ping=noop
)";

// A startup error: one JSON line with --log-format json (once the logger is set up), else text.
void StartupMessage(const std::string& message) {
  if (taskflow::log::CurrentFormat() == taskflow::log::Format::kJson) {
    taskflow::log::Write(spdlog::level::err, "cannot start", {{"error", message}});
    taskflow::log::Flush();
  } else {
    std::cerr << "taskflow-worker: " << message << "\n";
  }
}

std::chrono::milliseconds Duration(const std::string& flag, const std::string& text) {
  try {
    return taskflow::ParseDuration(text);
  } catch (const std::invalid_argument& e) {
    throw taskflow::ConfigError(flag + ": " + e.what());
  }
}

// Several --db: each Worker runs in its own thread. One that cannot start or fails stops the
// others (a worker process serves all its shards or none); the exit code is the worst one.
int RunShards(std::vector<std::unique_ptr<taskflow::Worker>>& workers) {
  std::vector<int> codes(workers.size(), kExitOk);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    threads.emplace_back([&workers, &codes, i] {
      try {
        codes[i] = workers[i]->Run() ? kExitOk : kExitRuntime;
        return;
      } catch (const taskflow::StartupError& e) {
        taskflow::log::Write(spdlog::level::err, "cannot start",
                             {{"error", e.what()}, {"shard", i}});
        codes[i] = kExitStartup;
      } catch (const std::exception& e) {
        taskflow::log::Write(spdlog::level::err, "fatal error",
                             {{"error", e.what()}, {"shard", i}});
        codes[i] = kExitRuntime;
      }
      for (auto& w : workers) w->Stop();
    });
  }
  for (auto& t : threads) t.join();
  taskflow::log::Flush();
  int code = kExitOk;
  for (int c : codes) {
    if (c == kExitStartup) return kExitStartup;
    if (c != kExitOk) code = c;
  }
  return code;
}

// The command line (docs/worker.md lists every flag).
struct Flags {
  std::vector<std::string> dbs;  // --db repeated: one acquisition loop per database (shard)
  std::string worker_id, config_file, lease = "30s", heartbeat, poll = "1s", grace = "30s";
  std::string log_format = "text", log_level = "info";
  std::vector<std::string> queues{"default"}, handler_flags;
  int concurrency = 10, batch = 0, prefetch_max = 0;
  std::string prefetch = "auto", prefetch_max_wait = "100ms", flush_interval = "2ms";
  std::string http_address;     // --http: also serve the HTTP API (docs/http.md)
  std::string metrics_address;  // --metrics: serve this worker's own series only
  int http_threads = 16;
  bool http_database_metrics = false;
  bool catch_all = false;
  bool durable_acquire = false;
  std::string http_secret_file;  // --http-secret-file: the default secret of http handlers
};

// What to run: databases, queues, handlers.
void AddJobFlags(CLI::App& app, Flags& f) {
  app.add_option(
         "--db", f.dbs,
         "PostgreSQL URL or conninfo (default: the libpq environment, PGHOST etc.); repeat it to "
         "serve several shards, each with its own acquisition loop and --concurrency handlers")
      ->envname("TASKFLOW_DATABASE_URL");
  app.add_option("-q,--queue", f.queues, "Queue to work on; repeatable or comma-separated")
      ->delimiter(',')
      ->envname("TASKFLOW_QUEUES")
      ->capture_default_str();
  app.add_option("-c,--concurrency", f.concurrency, "Jobs run at once")
      ->envname("TASKFLOW_CONCURRENCY")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_option("--worker-id", f.worker_id,
                 "Worker id recorded on each attempt (default: host:pid)")
      ->envname("TASKFLOW_WORKER_ID");
  app.add_option("--config", f.config_file, "JSON handler config file")
      ->envname("TASKFLOW_HANDLERS");
  app.add_option("--handler", f.handler_flags,
                 "JOB_TYPE=EXECUTOR[:ARGUMENT]; repeatable, overrides --config");
  app.add_option(
         "--http-secret-file", f.http_secret_file,
         "File holding the secret that signs http handlers' requests (default for those without their "
         "own; or TASKFLOW_HTTP_SECRET)")
      ->envname("TASKFLOW_HTTP_SECRET_FILE");
  app.add_flag("--catch-all", f.catch_all,
               "Acquire every job type; a job without a handler fails with error_type no_handler")
      ->envname("TASKFLOW_CATCH_ALL");
}

// How to run it: leases, polling, prefetch, completions.
void AddTuningFlags(CLI::App& app, Flags& f) {
  app.add_option("--lease", f.lease, "Lease per acquisition, extended by heartbeats")
      ->envname("TASKFLOW_LEASE")
      ->capture_default_str();
  app.add_option("--heartbeat-interval", f.heartbeat, "Heartbeat period (default: lease / 3)")
      ->envname("TASKFLOW_HEARTBEAT_INTERVAL");
  app.add_option("--poll-interval", f.poll, "Acquire at least this often when no NOTIFY arrives")
      ->envname("TASKFLOW_POLL_INTERVAL")
      ->capture_default_str();
  app.add_option("--shutdown-grace", f.grace, "On SIGTERM/SIGINT, how long running jobs may finish")
      ->envname("TASKFLOW_SHUTDOWN_GRACE")
      ->capture_default_str();
  app.add_option(
         "--prefetch", f.prefetch,
         "Jobs acquired ahead of free handler threads: auto (adapts to the throughput, never holds "
         "a job longer than --prefetch-max-wait), 0 (none) or a fixed number")
      ->envname("TASKFLOW_PREFETCH")
      ->check([](const std::string& value) -> std::string {
        if (value == "auto") return "";
        try {
          size_t used = 0;
          const long n = std::stol(value, &used);
          if (used == value.size() && n >= 0 && n <= 100000) return "";
        } catch (const std::exception&) {
        }
        return "--prefetch: expected auto or a number from 0 to 100000, got '" + value + "'";
      })
      ->capture_default_str();
  app.add_option("--prefetch-max", f.prefetch_max,
                 "Ceiling of --prefetch auto (default: 8 x concurrency, at most 1000)")
      ->envname("TASKFLOW_PREFETCH_MAX")
      ->check(CLI::Range(0, 100000));
  app.add_option(
         "--prefetch-max-wait", f.prefetch_max_wait,
         "With --prefetch auto, a prefetched job waiting this long behind busy handler threads is "
         "released for other workers")
      ->envname("TASKFLOW_PREFETCH_MAX_WAIT")
      ->capture_default_str();
  app.add_option("--completion-flush-interval", f.flush_interval,
                 "How long outcomes are gathered before one statement reports them (0: at once)")
      ->envname("TASKFLOW_COMPLETION_FLUSH_INTERVAL")
      ->capture_default_str();
  app.add_flag(
         "--durable-acquire", f.durable_acquire,
         "Acquisitions wait for the WAL flush before their jobs run (default: they do not; after a "
         "server crash the jobs of the last moments' acquisitions run again)")
      ->envname("TASKFLOW_DURABLE_ACQUIRE");
  app.add_option("--batch", f.batch, "Most jobs per acquire (default: concurrency + prefetch)")
      ->envname("TASKFLOW_ACQUIRE_BATCH")
      ->check(CLI::NonNegativeNumber);
}

// What to serve besides (HTTP API, metrics) and how to log.
void AddServiceFlags(CLI::App& app, Flags& f) {
#ifdef TASKFLOW_WORKER_WITH_HTTP
  app.add_option(
         "--http", f.http_address,
         "Also serve the HTTP API on HOST:PORT (docs/http.md); with --concurrency 0 only that")
      ->envname("TASKFLOW_HTTP");
  app.add_option("--http-threads", f.http_threads,
                 "HTTP connections served at once (and their database connections)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_flag(
         "--http-database-metrics", f.http_database_metrics,
         "Also serve the database-wide series (taskflow.metrics()) on the --http /metrics; give it "
         "to one instance only, or sum() counts them once per instance")
      ->envname("TASKFLOW_HTTP_DATABASE_METRICS");
  app.add_option(
         "--metrics", f.metrics_address,
         "Serve this worker's own Prometheus series (handlers running, handler durations) on "
         "HOST:PORT/metrics; needs no database role beyond taskflow_worker")
      ->envname("TASKFLOW_METRICS");
#endif
  app.add_option("--log-format", f.log_format, "text or json (one object per line)")
      ->envname("TASKFLOW_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--log-level", f.log_level, "trace, debug, info, warn, error")
      ->envname("TASKFLOW_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

// The options of the Worker(s) from the flags (Duration errors and the library's rules are
// usage errors). Adds the default --db (the libpq environment) when none is given.
taskflow::WorkerOptions MakeOptions(Flags& f) {
  taskflow::WorkerOptions options;
  if (f.dbs.empty()) f.dbs.emplace_back();  // the libpq environment
  options.database_url = f.dbs.front();
  options.queues = f.queues;
  options.concurrency = f.concurrency;
  options.worker_id = f.worker_id;
  options.lease = Duration("--lease", f.lease);
  if (!f.heartbeat.empty()) {
    options.heartbeat_interval = Duration("--heartbeat-interval", f.heartbeat);
    // 0 means "lease / 3" to the library; given as a flag it is a mistake.
    if (options.heartbeat_interval.count() <= 0) {
      throw taskflow::ConfigError("--heartbeat-interval must be greater than zero");
    }
  }
  options.poll_interval = Duration("--poll-interval", f.poll);
  options.shutdown_grace = Duration("--shutdown-grace", f.grace);
  options.acquire_batch = f.batch;
  options.prefetch =
      f.prefetch == "auto" ? taskflow::WorkerOptions::kPrefetchAuto : std::stoi(f.prefetch);
  options.prefetch_max = f.prefetch_max;
  options.prefetch_max_wait = Duration("--prefetch-max-wait", f.prefetch_max_wait);
  options.completion_flush_interval = Duration("--completion-flush-interval", f.flush_interval);
  options.catch_all = f.catch_all;
  options.durable_acquire = f.durable_acquire;
  // The library's rules (each part's Validate()), so a bad value is a usage error (exit 2);
  // --concurrency 0 is an API-only instance without a Worker.
  if (f.concurrency > 0) options.Validate();
  return options;
}

// The handlers from --config and --handler (a flag replaces the file's handler of its job type),
// with the default http secret; refuses combinations that cannot run.
std::vector<taskflow::HandlerSpec> MakeSpecs(const Flags& f) {
  std::vector<taskflow::HandlerSpec> specs;
  if (!f.config_file.empty()) specs = taskflow::LoadHandlerFile(f.config_file);
  for (const auto& flag : f.handler_flags) {
    auto spec = taskflow::ParseHandlerFlag(flag);
    specs.erase(
        std::remove_if(specs.begin(), specs.end(),
                       [&](const taskflow::HandlerSpec& s) { return s.job_type == spec.job_type; }),
        specs.end());
    specs.push_back(std::move(spec));
  }
  if (f.dbs.size() > 1 && !f.http_address.empty()) {
    throw taskflow::ConfigError(
        "--http serves one database: give one --db (with shards, point it at the router)");
  }
  // The secret itself never on the command line: a file, or the environment.
  if (!f.http_secret_file.empty()) {
    taskflow::ApplyDefaultHttpSecret(
        specs, taskflow::ReadSecretFile(f.http_secret_file, "--http-secret-file"));
  } else if (const char* secret = getenv("TASKFLOW_HTTP_SECRET");
             secret != nullptr && *secret != '\0') {
    taskflow::ApplyDefaultHttpSecret(specs, secret);
  }
  if (f.concurrency == 0 && f.http_address.empty()) {
    throw taskflow::ConfigError(
        "--concurrency 0 runs no jobs: it needs --http (an API-only instance)");
  }
  if (specs.empty() && !f.catch_all && f.concurrency > 0) {
    throw taskflow::ConfigError(
        "no handlers: give --handler JOB_TYPE=EXECUTOR, --config FILE or --catch-all");
  }
  return specs;
}

void UsageMessage(const std::exception& e) {
  if (taskflow::log::CurrentFormat() == taskflow::log::Format::kJson) {
    taskflow::log::Write(spdlog::level::err, "usage error", {{"error", e.what()}});
    taskflow::log::Flush();
  } else {
    std::cerr << "taskflow-worker: " << e.what() << "\nRun with --help for more information.\n";
  }
}

#ifdef TASKFLOW_WORKER_WITH_HTTP
// The servers besides the job loop: --http (the HTTP API) and --metrics (this worker's series).
struct Services {
  taskflow::http::HandlerMetrics handler_metrics;  // outlives `http` and `metrics`, which read it
  std::unique_ptr<taskflow::http::Server> http;
  std::unique_ptr<taskflow::http::MetricsServer> metrics;
};

// Binds --http and --metrics; the exit code when one cannot start, else -1.
int BindServices(const Flags& f, Services& s) {
  if (!f.http_address.empty()) {
    try {
      taskflow::http::ServerConfig http_config;
      http_config.db = f.dbs.front();
      http_config.threads = f.http_threads;
      http_config.database_metrics = f.http_database_metrics;
      taskflow::http::ParseListenAddress(f.http_address, &http_config);
      s.http = std::make_unique<taskflow::http::Server>(http_config);
      // A role outside taskflow_http would serve /health while every keyed request fails 403:
      // refuse to start instead (docs/http.md).
      s.http->CheckDatabaseRole();
      s.http->Bind();
    } catch (const std::exception& e) {
      StartupMessage("--http " + f.http_address + ": " + e.what());
      return kExitStartup;
    }
  }
  if (!f.metrics_address.empty()) {
    if (f.concurrency == 0) {
      StartupMessage(
          "--metrics serves the series of this worker's job handlers; with --concurrency 0 it has none");
      return kExitUsage;
    }
    try {
      s.metrics = std::make_unique<taskflow::http::MetricsServer>(
          f.metrics_address, [&s] { return s.handler_metrics.Render(); });
      const int port = s.metrics->Bind();
      std::string host = f.metrics_address.substr(0, f.metrics_address.rfind(':'));
      if (host.empty()) host = "0.0.0.0";
      taskflow::log::Write(spdlog::level::info, "metrics listening",
                           {{"address", host + ":" + std::to_string(port)}});
    } catch (const std::exception& e) {
      StartupMessage("--metrics " + f.metrics_address + ": " + e.what());
      return kExitStartup;
    }
  }
  return -1;
}

// --concurrency 0, an API-only instance: serves until SIGTERM/SIGINT.
int ServeApiOnly(Services& s) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  s.http->Start();
  int signo = 0;
  sigwait(&stop_signals, &signo);
  taskflow::log::Write(spdlog::level::info, "signal received: stopping the HTTP API",
                       {{"signal", strsignal(signo)}});
  s.http->Stop();
  taskflow::log::Flush();
  return kExitOk;
}

// The handler, counted in /metrics: handlers running and their durations.
taskflow::Handler WithMetrics(taskflow::Handler h,
                              taskflow::http::HandlerMetrics& handler_metrics) {
  return [h = std::move(h), &handler_metrics](const taskflow::Job& job, taskflow::JobContext& ctx) {
    using Kind = taskflow::Outcome::Kind;
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    handler_metrics.Started();
    try {
      taskflow::Outcome outcome = h(job, ctx);
      handler_metrics.Finished(job.type,
                               outcome.kind == Kind::kSucceeded ? "succeeded"
                               : outcome.kind == Kind::kFailed  ? "failed"
                               : outcome.kind == Kind::kSnoozed ? "snoozed"
                                                                : "cancelled",
                               seconds());
      return outcome;
    } catch (...) {
      handler_metrics.Finished(job.type, "error", seconds());
      throw;
    }
  };
}
#endif

// One handler per spec on every Worker; `wrap` decorates each one.
void RegisterHandlers(std::vector<std::unique_ptr<taskflow::Worker>>& workers,
                      const std::vector<taskflow::HandlerSpec>& specs,
                      const std::function<taskflow::Handler(taskflow::Handler)>& wrap) {
  for (auto& worker_ptr : workers) {
    taskflow::Worker& worker = *worker_ptr;
    for (const auto& spec : specs) {
      auto handler = wrap(taskflow::MakeHandler(spec));
      if (spec.executor == "http" && spec.secret.empty()) {
        taskflow::log::Write(
            spdlog::level::warn,
            "http handler without a secret: its requests are not signed (docs/worker.md, "
            "\"The HTTP handler contract\")",
            {{"job_type", spec.job_type}});
      }
      if (spec.job_type == taskflow::kCatchAllJobType)
        worker.OnAny(std::move(handler));
      else
        worker.On(spec.job_type, std::move(handler));
    }
  }
}

// Signals go to one thread (sigwait), never to handler threads or children: the first stops
// the workers gracefully, a second one at once.
void StartSignalThread(std::vector<std::unique_ptr<taskflow::Worker>>& workers) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread signal_thread([&workers, signals] {
    int count = 0;
    while (true) {
      int signo = 0;
      if (sigwait(&signals, &signo) != 0) continue;
      if (++count == 1) {
        taskflow::log::Write(spdlog::level::info,
                             "signal received: stopping gracefully (send it again to stop at once)",
                             {{"signal", strsignal(signo)}});
        for (auto& w : workers) w->Stop();
        continue;
      }
      taskflow::log::Write(
          spdlog::level::warn,
          "second signal: stopping at once; running jobs are killed and their leases will expire",
          {{"signal", strsignal(signo)}});
      taskflow::KillAllChildProcesses();
      taskflow::log::Flush();
      _exit(128 + signo);
    }
  });
  signal_thread.detach();
}

// Runs the Worker(s) until they stop; the exit code.
int RunWorkers(std::vector<std::unique_ptr<taskflow::Worker>>& workers) {
  if (workers.size() > 1) return RunShards(workers);
  try {
    const bool all_reported = workers.front()->Run();
    taskflow::log::Flush();
    return all_reported ? kExitOk : kExitRuntime;
  } catch (const taskflow::StartupError& e) {
    taskflow::log::Write(spdlog::level::err, "cannot start", {{"error", e.what()}});
    taskflow::log::Flush();
    return kExitStartup;
  } catch (const std::exception& e) {
    taskflow::log::Write(spdlog::level::err, "fatal error", {{"error", e.what()}});
    taskflow::log::Flush();
    return kExitRuntime;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "taskflow-worker: acquires TaskFlow jobs from PostgreSQL through the taskflow SQL API, runs the handler "
      "of each job type and reports the outcome."};
  app.footer(kFooter);
  app.set_version_flag("--version", "taskflow-worker " TASKFLOW_VERSION);
  Flags f;
  AddJobFlags(app, f);
  AddTuningFlags(app, f);
  AddServiceFlags(app, f);
  // A later flag overrides an earlier one (handy for wrappers that add defaults).
  for (CLI::Option* option : app.get_options()) {
    if (option->get_items_expected_max() == 1)
      option->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }

  taskflow::WorkerOptions options;
  std::vector<taskflow::HandlerSpec> specs;
  try {
    taskflow::log::Init(
        f.log_format == "json" ? taskflow::log::Format::kJson : taskflow::log::Format::kText,
        f.log_level);
    options = MakeOptions(f);
    specs = MakeSpecs(f);
  } catch (const std::exception& e) {
    UsageMessage(e);
    return kExitUsage;
  }

  std::function<taskflow::Handler(taskflow::Handler)> wrap = [](taskflow::Handler h) { return h; };
#ifdef TASKFLOW_WORKER_WITH_HTTP
  Services services;
  if (const int code = BindServices(f, services); code >= 0) return code;
  if (f.concurrency == 0) return ServeApiOnly(services);
  if (services.http || services.metrics) {
    wrap = [&services](taskflow::Handler h) {
      return WithMetrics(std::move(h), services.handler_metrics);
    };
  }
#endif
  // One Worker per --db (shard): its own connections, wake-ups and leases; the handlers are
  // made once per Worker from the same specs.
  std::vector<std::unique_ptr<taskflow::Worker>> workers;
  for (const auto& db : f.dbs) {
    taskflow::WorkerOptions shard_options = options;
    shard_options.database_url = db;
    workers.push_back(std::make_unique<taskflow::Worker>(shard_options));
  }
  try {
    RegisterHandlers(workers, specs, wrap);
  } catch (const std::exception& e) {
    StartupMessage(e.what());
    return kExitUsage;
  }
  StartSignalThread(workers);
#ifdef TASKFLOW_WORKER_WITH_HTTP
  // The handler series come from one place: --metrics when given, else the --http /metrics.
  if (services.http) {
    if (!services.metrics) {
      services.http->SetExtraMetrics([&services] { return services.handler_metrics.Render(); });
    }
    services.http->Start();
  }
  if (services.metrics) services.metrics->Start();
#endif
  return RunWorkers(workers);
}
