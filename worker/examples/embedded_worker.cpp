// Embedding a TaskFlow worker in a C++ service: register handlers with
// Worker::On, run until SIGINT/SIGTERM.
//
//   ./taskflow-worker-example "postgresql:///app"
//   psql app -c "SELECT taskflow.schedule('greet', '{\"name\": \"Ada\"}')"
#include <signal.h>

#include <iostream>
#include <thread>

#include <taskflow/worker.hpp>

int main(int argc, char** argv) {
  taskflow::WorkerOptions options;
  options.database_url = argc > 1 ? argv[1] : "";  // empty: PGHOST, PGDATABASE, ...
  options.queues = {"default"};
  options.concurrency = 4;
  taskflow::Worker worker(options);

  // A handler returns an Outcome; the worker turns it into complete() or fail().
  worker.On("greet", [](const taskflow::Job& job, taskflow::JobContext&) {
    const std::string name = job.payload.value("name", "");
    if (name.empty())
      return taskflow::Outcome::Failed("bad_payload", "payload needs a \"name\"",
                                       /*retryable=*/false);
    return taskflow::Outcome::Succeeded({{"greeting", "Hello, " + name + "!"}});
  });

  // Long work checks the context: it says when the job was cancelled or the
  // worker is shutting down.
  worker.On("count", [](const taskflow::Job& job, taskflow::JobContext& ctx) {
    const int to = job.payload.value("to", 10);
    for (int i = 0; i < to; ++i) {
      if (!ctx.SleepFor(std::chrono::milliseconds(100)))
        return taskflow::Outcome::Cancelled("stopped while counting");
    }
    return taskflow::Outcome::Succeeded({{"counted", to}});
  });

  // A fan-in job (scheduled with depends_on, docs/workflows.md) sees the jobs it waited for in
  // job.dependencies: their state and result.
  worker.On("total", [](const taskflow::Job& job, taskflow::JobContext&) {
    long total = 0;
    int succeeded = 0;
    for (const auto& dependency :
         job.dependencies.is_array() ? job.dependencies : nlohmann::json::array()) {
      if (dependency.value("state", "") != "SUCCEEDED") continue;
      ++succeeded;
      const auto& result = dependency["result"];
      if (result.is_object()) total += result.value("counted", 0L);
    }
    return taskflow::Outcome::Succeeded({{"total", total}, {"from", succeeded}});
  });

  // SIGINT/SIGTERM -> graceful Stop(); handled on one thread via sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([&worker, signals] {
    int signo = 0;
    sigwait(&signals, &signo);
    worker.Stop();
  }).detach();

  try {
    return worker.Run() ? 0 : 1;
  } catch (const taskflow::StartupError& e) {
    std::cerr << "cannot start: " << e.what() << "\n";
    return 3;
  }
}
