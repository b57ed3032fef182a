// The built-in executors: noop, sleep, command, http, sql. Each turns a
// HandlerSpec into a Handler; the worker does not know how a job runs.
#pragma once

#include <string>

#include <taskflow/worker.hpp>

#include "config.hpp"

namespace taskflow {

struct HttpUrl {
  std::string scheme_host_port;  // "http://127.0.0.1:8080", what httplib::Client takes
  std::string path;              // "/hook?x=1", at least "/"
  bool https = false;
};

// Throws ConfigError on anything but http://host[:port][/path] or https://...
// (https only when cpp-httplib was built with OpenSSL).
HttpUrl ParseHttpUrl(const std::string& url);

// The job's own timeout, else the executor's; nullopt: none.
std::optional<Milliseconds> EffectiveTimeout(const Job& job, const HandlerSpec& spec);

// Validates the spec (ConfigError) and returns the handler that runs it.
Handler MakeHandler(const HandlerSpec& spec);

}  // namespace taskflow
