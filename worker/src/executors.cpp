#include "executors.hpp"

#include <taskflow/json_limits.hpp>

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>

#include "process.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kErrorTail = 2048;

std::string Trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
    text.pop_back();
  return text;
}

// A command asks for a snooze by exiting with EX_TEMPFAIL (75, sysexits.h: "temporary failure,
// retry later") and printing {"snooze": <seconds>} on stdout. Without that object, 75 is an
// ordinary retryable failure, as before.
constexpr int kSnoozeExitCode = 75;

std::optional<Milliseconds> SnoozeRequest(const std::string& stdout_data) {
  const nlohmann::json j = JsonOrNull(stdout_data);
  if (!j.is_object() || !j.contains("snooze") || !j["snooze"].is_number()) return std::nullopt;
  const double seconds = j["snooze"].get<double>();
  if (!(seconds >= 0)) return std::nullopt;        // negative or NaN: not a request
  constexpr double kMaxSeconds = 36525.0 * 86400;  // the extension's bound (100 years)
  return Milliseconds(static_cast<std::int64_t>(std::min(seconds, kMaxSeconds) * 1000.0 + 0.5));
}

Outcome StoppedOutcome(const JobContext& ctx, const std::string& what) {
  return Outcome::Cancelled(what + " stopped: " + ToString(ctx.Reason()));
}

Outcome RunSleep(const HandlerSpec& spec, const Job& job, JobContext& ctx) {
  double seconds = 0;
  if (job.payload.is_object() && job.payload.contains("seconds")) {
    const auto& value = job.payload["seconds"];
    if (!value.is_number() || value.get<double>() < 0) {
      return Outcome::Failed("bad_payload",
                             "sleep: payload \"seconds\" must be a non-negative number", false);
    }
    seconds = value.get<double>();
  }
  const Milliseconds wanted(static_cast<long long>(seconds * 1000));
  const auto timeout = EffectiveTimeout(job, spec);
  if (timeout && wanted > *timeout) {
    if (!ctx.SleepFor(*timeout)) return StoppedOutcome(ctx, "sleep");
    return Outcome::Failed("timeout", "sleep of " + std::to_string(seconds) + "s timed out after " +
                                          std::to_string(timeout->count()) + " ms");
  }
  if (!ctx.SleepFor(wanted)) return StoppedOutcome(ctx, "sleep");
  return Outcome::Succeeded();
}

// A file holding a large TASKFLOW_DEPENDENCIES for one command run, removed when the run ends.
class DependenciesFile {
 public:
  DependenciesFile() = default;
  DependenciesFile(const DependenciesFile&) = delete;
  DependenciesFile& operator=(const DependenciesFile&) = delete;
  ~DependenciesFile() {
    if (!path_.empty()) unlink(path_.c_str());
  }
  // Writes `text` to a new 0600 file in $TMPDIR (else /tmp); the error text when it cannot.
  std::optional<std::string> Write(const std::string& text) {
    const char* dir = getenv("TMPDIR");
    std::string templ = std::string(dir && *dir ? dir : "/tmp") + "/taskflow-dependencies-XXXXXX";
    const int fd = mkstemp(templ.data());  // O_EXCL, mode 0600
    if (fd < 0)
      return "cannot create a file for the dependencies in " + templ + ": " + strerror(errno);
    path_ = templ;
    size_t done = 0;
    while (done < text.size()) {
      const ssize_t n = write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const std::string error = strerror(errno);
        close(fd);
        return "cannot write the dependencies to " + path_ + ": " + error;
      }
      done += static_cast<size_t>(n);
    }
    if (close(fd) != 0) return "cannot write the dependencies to " + path_ + ": " + strerror(errno);
    return std::nullopt;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> DependencyEnvironment(const Job& job,
                                                                       const std::string& file) {
  if (job.dependencies.is_null()) return {};
  if (!file.empty()) return {{"TASKFLOW_DEPENDENCIES_FILE", file}};
  return {{"TASKFLOW_DEPENDENCIES", job.dependencies.dump()}};
}

namespace {

// The environment of a command: the job's variables, its trace context and dependencies, the
// handler's env, over the worker's own environment.
std::vector<std::string> CommandEnvironment(const HandlerSpec& spec, const Job& job,
                                            const std::string& dependencies_file) {
  std::vector<std::pair<std::string, std::string>> extra = {
      {"TASKFLOW_JOB_ID", std::to_string(job.id)},
      {"TASKFLOW_ATTEMPT", std::to_string(job.attempt)},
      {"TASKFLOW_JOB_TYPE", job.type},
      {"TASKFLOW_QUEUE", job.queue},
      {"TASKFLOW_TENANT_ID", job.tenant_id},
      {"TASKFLOW_CORRELATION_ID", job.correlation_id},
  };
  // The job's trace context, as OpenTelemetry's environment-variable carrier names it. A job
  // without one must not pass on a TRACEPARENT the worker itself was started with.
  if (!job.traceparent.empty()) extra.emplace_back("TRACEPARENT", job.traceparent);
  for (auto& kv : DependencyEnvironment(job, dependencies_file)) extra.push_back(std::move(kv));
  for (const auto& kv : spec.env) extra.emplace_back(kv.first, kv.second);
  std::vector<std::string> env = MergeEnvironment(extra);
  const bool drop_traceparent = job.traceparent.empty() && spec.env.count("TRACEPARENT") == 0;
  // Only the job's own dependencies: never ones the worker itself was started with.
  const bool drop_inline = job.dependencies.is_null() || !dependencies_file.empty();
  const bool drop_file = dependencies_file.empty();
  env.erase(std::remove_if(env.begin(), env.end(),
                           [&](const std::string& kv) {
                             return (drop_traceparent && kv.rfind("TRACEPARENT=", 0) == 0) ||
                                    (drop_inline && kv.rfind("TASKFLOW_DEPENDENCIES=", 0) == 0) ||
                                    (drop_file && kv.rfind("TASKFLOW_DEPENDENCIES_FILE=", 0) == 0);
                           }),
            env.end());
  return env;
}

// A command's outcome from how its process ended.
Outcome CommandOutcome(const HandlerSpec& spec, const ProcessSpec& process,
                       const ProcessResult& run, JobContext& ctx) {
  switch (run.end) {
    case ProcessResult::End::kExited:
      if (run.exit_code == 0) {
        return Outcome::Succeeded(run.stdout_truncated ? nlohmann::json(nullptr)
                                                       : JsonOrNull(run.stdout_data));
      }
      if (run.exit_code == kSnoozeExitCode && !run.stdout_truncated) {
        if (auto delay = SnoozeRequest(run.stdout_data)) return Outcome::Snooze(*delay);
      }
      return Outcome::Failed(
          "exit_code", WithTail("exit code " + std::to_string(run.exit_code), run.stderr_tail),
          spec.permanent_exit_codes.count(run.exit_code) == 0);
    case ProcessResult::End::kSignaled:
      return Outcome::Failed(
          "signal", WithTail(std::string("killed by signal ") + std::to_string(run.signal) + " (" +
                                 strsignal(run.signal) + ")",
                             run.stderr_tail));
    case ProcessResult::End::kTimedOut:
      return Outcome::Failed(
          "timeout", WithTail("timed out after " + std::to_string(process.timeout->count()) +
                                  " ms; process group killed",
                              run.stderr_tail));
    case ProcessResult::End::kStopped: return StoppedOutcome(ctx, "command");
    case ProcessResult::End::kSpawnFailed: return Outcome::Failed("spawn_error", run.spawn_error);
  }
  return Outcome::Failed("internal", "unknown process end");
}

Outcome RunCommand(const HandlerSpec& spec, const Job& job, JobContext& ctx) {
  // The dependencies' results (a fan-in job's parents): in TASKFLOW_DEPENDENCIES, or in a file
  // named by TASKFLOW_DEPENDENCIES_FILE when the JSON is larger than kMaxDependenciesEnvBytes
  // (one environment string may not exceed 128 KiB on Linux; docs/worker.md).
  DependenciesFile dependencies_file;
  if (!job.dependencies.is_null()) {
    const std::string text = job.dependencies.dump();
    if (text.size() > kMaxDependenciesEnvBytes) {
      if (auto error = dependencies_file.Write(text))
        return Outcome::Failed("dependencies_error", *error);
    }
  }
  ProcessSpec process;
  process.argv = spec.command;
  process.env = CommandEnvironment(spec, job, dependencies_file.path());
  process.stdin_data = job.payload.dump();
  process.cwd = spec.cwd;
  process.timeout = EffectiveTimeout(job, spec);
  process.kill_grace = spec.kill_grace;
  process.stderr_tail = kErrorTail;
  const ProcessResult run = RunProcess(process, [&ctx] { return ctx.StopRequested(); });
  return CommandOutcome(spec, process, run, ctx);
}

// Data, integrity and syntax/access errors will not go away by retrying.
bool RetryableSqlState(const std::string& state) {
  const std::string cls = state.substr(0, 2);
  return !(cls == "22" || cls == "23" || cls == "42" || cls == "0A");
}

Outcome RunSql(const HandlerSpec& spec, const Job& job, JobContext& ctx) {
  const auto timeout = EffectiveTimeout(job, spec);
  try {
    SqlSession& sql = ctx.Sql();
    ctx.OnStop([&sql] { sql.Cancel(); });
    // The job's dependencies, for the statement: current_setting('taskflow_job.dependencies')
    // (set only for a job that has some; docs/worker.md).
    std::vector<std::pair<std::string, std::string>> settings;
    if (!job.dependencies.is_null())
      settings.emplace_back(kSqlDependenciesSetting, job.dependencies.dump());
    nlohmann::json result =
        sql.ExecuteWithSettings(spec.statement, {job.payload.dump()}, timeout, settings);
    ctx.ClearOnStop();
    return Outcome::Succeeded(std::move(result));
  } catch (const SqlError& e) {
    ctx.ClearOnStop();
    switch (e.kind()) {
      case SqlError::Kind::kConnectionLost:
        return Outcome::Failed("connection_error", Trimmed(e.what()));
      case SqlError::Kind::kCommitInDoubt:
        return Outcome::Failed("connection_error",
                               std::string("commit in doubt: ") + Trimmed(e.what()));
      case SqlError::Kind::kStatement: break;
    }
    const std::string& state = e.sqlstate();
    if (state == "57014") {  // query_canceled: our cancel or statement_timeout
      if (ctx.StopRequested()) return StoppedOutcome(ctx, "sql statement");
      if (timeout)
        return Outcome::Failed(
            "timeout", "statement timed out after " + std::to_string(timeout->count()) + " ms");
    }
    return Outcome::Failed(state.empty() ? "sql_error" : state, Trimmed(e.what()),
                           RetryableSqlState(state));
  }
}

}  // namespace

std::string WithTail(std::string message, const std::string& tail) {
  const std::string trimmed = Trimmed(tail);
  if (!trimmed.empty()) message += ": " + trimmed;
  return message;
}

// stdout or a response body becomes the result when it is JSON; otherwise none.
nlohmann::json JsonOrNull(const std::string& text) {
  if (Trimmed(text).empty()) return nullptr;
  // Deeper than the bound: not kept (dump() of it would recurse once per level).
  if (JsonDeeperThan(text, kMaxJsonDepth)) return nullptr;
  auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? nlohmann::json(nullptr) : parsed;
}

std::optional<Milliseconds> EffectiveTimeout(const Job& job, const HandlerSpec& spec) {
  if (job.timeout && job.timeout->count() > 0) return job.timeout;
  return spec.timeout;
}

Handler MakeHandler(const HandlerSpec& spec) {
  ValidateHandlerSpec(spec);
  if (spec.executor == "noop") return [](const Job&, JobContext&) { return Outcome::Succeeded(); };
  if (spec.executor == "sleep")
    return [spec](const Job& job, JobContext& ctx) { return RunSleep(spec, job, ctx); };
  if (spec.executor == "command") {
    return [spec](const Job& job, JobContext& ctx) { return RunCommand(spec, job, ctx); };
  }
  if (spec.executor == "http") {
    const HttpUrl url = ParseHttpUrl(spec.url);
    return [spec, url](const Job& job, JobContext& ctx) { return RunHttp(spec, url, job, ctx); };
  }
  if (spec.executor == "sql")
    return [spec](const Job& job, JobContext& ctx) { return RunSql(spec, job, ctx); };
  throw ConfigError("unknown executor '" + spec.executor + "'");
}

}  // namespace taskflow
