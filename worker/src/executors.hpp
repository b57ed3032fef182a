// The built-in executors: noop, sleep, command, http, sql. Each turns a
// HandlerSpec into a Handler; the worker does not know how a job runs.
#pragma once

#include <string>

#include <taskflow/worker.hpp>

#include "config.hpp"
#include "http_executor.hpp"

namespace taskflow {

// The job's own timeout, else the executor's; nullopt: none.
std::optional<Milliseconds> EffectiveTimeout(const Job& job, const HandlerSpec& spec);

// stdout or a response body as the result: the parsed JSON, or null when it is empty, not
// JSON, or nests deeper than kMaxJsonDepth.
nlohmann::json JsonOrNull(const std::string& text);
// The last `max` bytes of `text`, not starting inside a UTF-8 character.
std::string Tail(const std::string& text, size_t max);
// "message: tail" (tail trimmed), or just the message when the tail is blank.
std::string WithTail(std::string message, const std::string& tail);

// Validates the spec (ConfigError) and returns the handler that runs it.
Handler MakeHandler(const HandlerSpec& spec);

}  // namespace taskflow
