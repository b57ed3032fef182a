// The built-in executors: noop, sleep, command, http, sql. Each turns a
// HandlerSpec into a Handler; the worker does not know how a job runs.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <taskflow/worker.hpp>

#include "config.hpp"
#include "http_executor.hpp"

namespace taskflow {

// The job's own timeout, else the executor's; nullopt: none.
std::optional<Milliseconds> EffectiveTimeout(const Job& job, const HandlerSpec& spec);

// stdout or a response body as the result: the parsed JSON, or null when it is empty, not
// JSON, or nests deeper than kMaxJsonDepth.
nlohmann::json JsonOrNull(const std::string& text);
// "message: tail" (tail trimmed), or just the message when the tail is blank.
std::string WithTail(std::string message, const std::string& tail);

// The command executor hands a job with dependencies their results (acquire's `dependencies`
// array) in TASKFLOW_DEPENDENCIES; above this size in a file named by TASKFLOW_DEPENDENCIES_FILE.
inline constexpr size_t kMaxDependenciesEnvBytes = 64 * 1024;
// The variables for `job`: none without dependencies; TASKFLOW_DEPENDENCIES_FILE=file when
// `file` is not empty; else TASKFLOW_DEPENDENCIES=<the JSON>.
std::vector<std::pair<std::string, std::string>> DependencyEnvironment(const Job& job,
                                                                       const std::string& file);

// The sql executor sets this for the statement's transaction to the same JSON (a job with
// dependencies only): current_setting('taskflow_job.dependencies')::jsonb.
inline constexpr const char* kSqlDependenciesSetting = "taskflow_job.dependencies";

// Validates the spec (ConfigError) and returns the handler that runs it.
Handler MakeHandler(const HandlerSpec& spec);

}  // namespace taskflow
