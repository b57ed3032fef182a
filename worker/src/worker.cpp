// Worker: wires the parts together, the way River's client does. The Producer (acquire +
// LISTEN, on the thread that calls Run()) hands jobs to the ExecutorPool (the handler threads);
// handlers' outcomes go to the Completer (batched reports); the Heartbeater extends the leases
// of the jobs held. Each part that talks to the database owns its session (JobStore, made by
// a StoreFactory): libpqxx connections are not thread-safe. Stop() and the shutdown that follows
// are orchestrated here.
#include <taskflow/worker.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "active_job.hpp"
#include "completer.hpp"
#include "executor_pool.hpp"
#include "heartbeater.hpp"
#include "log.hpp"
#include "producer.hpp"
#include "sql_api.hpp"
#include "sql_session.hpp"
#include "worker_options.hpp"

namespace taskflow {
namespace {

using spdlog::level::info;
using spdlog::level::warn;

std::string DefaultWorkerId() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "localhost");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace

class Worker::Impl {
 public:
  explicit Impl(WorkerOptions options)
      : options_(std::move(options)), connect_(SqlApiFactory(options_.database_url)) {}

  WorkerOptions options_;
  std::map<std::string, Handler> handlers_;
  Handler any_handler_;

  bool Run();
  void Stop() {
    std::lock_guard<std::mutex> lock(mu_);
    stop_requested_ = true;
    if (producer_) producer_->Stop();
  }
  bool detached_threads() const { return detached_threads_; }

 private:
  bool Shutdown();

  const StoreFactory connect_;
  bool detached_threads_ = false;
  ActiveJobs jobs_;
  std::mutex mu_;  // producer_ and stop_requested_, between Run() and Stop()
  bool stop_requested_ = false;
  std::unique_ptr<Completer> completer_;
  std::unique_ptr<ExecutorPool> pool_;
  std::unique_ptr<Heartbeater> heartbeater_;
  std::unique_ptr<Producer> producer_;
};

bool Worker::Impl::Run() {
  auto& o = options_;
  try {
    o.Validate();
  } catch (const std::invalid_argument& e) {
    throw StartupError(e.what());
  }
  if (o.worker_id.empty()) o.worker_id = DefaultWorkerId();
  log::SetWorkerId(o.worker_id);  // on every job line
  if (any_handler_) o.catch_all = true;
  if (handlers_.empty() && !o.catch_all)
    throw StartupError("no handlers: register one with On() or use catch-all");
  std::optional<std::vector<std::string>> job_types;
  if (!o.catch_all) {
    job_types.emplace();
    for (const auto& entry : handlers_) job_types->push_back(entry.first);
  }

  std::unique_ptr<JobStore> store;
  try {
    store = connect_();
    store->CheckExtension();
  } catch (const StartupError&) {
    throw;
  } catch (const std::exception& e) {
    throw StartupError("cannot connect to the database: " + OneLine(e.what()));
  }

  const WorkerParts parts = PartsOf(o);
  completer_ = std::make_unique<Completer>(parts.completer, connect_, jobs_);
  pool_ = std::make_unique<ExecutorPool>(parts.pool, *completer_,
                                         [this](int busy) { producer_->OnHandlerFinished(busy); });
  heartbeater_ = std::make_unique<Heartbeater>(parts.heartbeater, connect_, jobs_);
  const Producer::HandlerLookup lookup = [this](const std::string& type) -> const Handler* {
    const auto found = handlers_.find(type);
    return found != handlers_.end() ? &found->second : (any_handler_ ? &any_handler_ : nullptr);
  };
  // The pool thread's own session for handlers that use the database (the sql executor);
  // Impl outlives every job (see ~Worker).
  JobContext::SqlProvider sql = [this]() -> SqlSession& {
    return ThreadSqlSession(options_.database_url);
  };
  {
    std::lock_guard<std::mutex> lock(mu_);
    producer_ = std::make_unique<Producer>(parts.producer, job_types, *pool_, *completer_, jobs_,
                                           lookup, std::move(sql));
    if (stop_requested_) producer_->Stop();
  }
  try {
    store->Listen(o.queues, producer_->notified());
  } catch (const std::exception& e) {
    throw StartupError("cannot connect to the database: " + OneLine(e.what()));
  }

  log::Fields fields = log::Fields::object();
  fields["worker_id"] = o.worker_id;
  fields["queues"] = o.queues;
  fields["concurrency"] = o.concurrency;
  if (o.prefetch == WorkerOptions::kPrefetchAuto)
    fields["prefetch"] = "auto";
  else if (o.prefetch > 0)
    fields["prefetch"] = o.prefetch;
  fields["lease_ms"] = o.lease.count();
  fields["job_types"] = job_types ? log::Fields(*job_types) : log::Fields("*");
  log::Write(info, "worker started", fields);

  pool_->Start();
  completer_->Start();
  heartbeater_->Start();

  try {
    producer_->Run(std::move(store), connect_);
  } catch (const StartupError&) {
    producer_->Stop();
    Shutdown();
    throw;
  }
  return Shutdown();
}

bool Worker::Impl::Shutdown() {
  // Jobs handed to the pool but not started: give them back at once.
  for (auto& active : pool_->TakeNotStarted()) completer_->Enqueue(Report::Release(active));

  const auto grace_end = Clock::now() + options_.shutdown_grace;
  if (pool_->busy() > 0) {
    log::Write(info, "stopping: waiting for running jobs",
               {{"running", pool_->busy()}, {"grace_ms", options_.shutdown_grace.count()}});
  }
  if (!pool_->WaitIdle(grace_end)) {
    log::Write(warn, "grace period over: stopping the running jobs and releasing them",
               {{"running", pool_->busy()}});
    for (auto& active : jobs_.Snapshot()) {
      if (!active->reported.load()) active->ctx.RequestStop(StopReason::kShutdown);
    }
    // Handlers honour a stop quickly; a command gets its SIGTERM -> SIGKILL grace.
    pool_->WaitIdle(Clock::now() + Milliseconds(10000));
  }
  if (pool_->busy() > 0) {
    // A handler that ignores stop requests: release its job anyway, leave its thread behind.
    for (auto& active : jobs_.Snapshot()) completer_->Enqueue(Report::Release(active));
    detached_threads_ = true;
  }
  pool_->Join(detached_threads_);

  completer_->Stop(std::max(options_.shutdown_grace, Milliseconds(10000)));
  heartbeater_->Stop();

  const long unreported = completer_->unreported();
  log::Write(info, "worker stopped", {{"unreported", unreported}});
  return unreported == 0;
}

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Worker::~Worker() {
  // Threads stuck in a handler that ignored its stop request still use Impl.
  if (impl_ && impl_->detached_threads()) impl_.release();
}

Worker& Worker::On(const std::string& job_type, Handler handler) {
  impl_->handlers_[job_type] = std::move(handler);
  return *this;
}

Worker& Worker::OnAny(Handler handler) {
  impl_->any_handler_ = std::move(handler);
  return *this;
}

bool Worker::Run() { return impl_->Run(); }

void Worker::Stop() { impl_->Stop(); }

const WorkerOptions& Worker::options() const { return impl_->options_; }

}  // namespace taskflow
