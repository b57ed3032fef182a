// Handler configuration: the JSON handler file and the --handler flag.
//
//   {"handlers": {
//      "resize": {"executor": "command", "command": ["/usr/local/bin/resize", "--fast"],
//                 "timeout": "30s", "permanent_exit_codes": [65], "env": {"K": "V"}},
//      "hook":   {"executor": "http", "url": "https://example.com/hook", "headers": {...}},
//      "audit":  {"executor": "sql", "statement": "INSERT INTO audit(doc) VALUES ($1::jsonb)"},
//      "ping":   {"executor": "noop"},
//      "wait":   {"executor": "sleep"},
//      "*":      {...}}}                       // catch-all: every other job type
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace taskflow {

// Bad flag or config file: exit code 2 in taskflow-worker.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr const char* kCatchAllJobType = "*";

struct HandlerSpec {
  std::string job_type;
  std::string executor;                        // noop, sleep, command, http, sql
  std::vector<std::string> command;            // command: argv
  std::map<std::string, std::string> env;      // command: extra environment
  std::string cwd;                             // command: working directory
  std::set<int> permanent_exit_codes{65};      // command: exit codes that are not retried
  std::chrono::milliseconds kill_grace{5000};  // command: SIGTERM -> SIGKILL
  std::string url;                             // http
  std::map<std::string, std::string> headers;  // http: extra request headers
  std::string secret;  // http: HMAC-SHA256 key signing each request; empty: unsigned
  std::chrono::milliseconds max_snooze{3600 * 1000};  // http: longest snooze a 429/503 may ask for
  bool envelope = false;  // http "body": "envelope": {"payload", "dependencies"}
  std::string statement;  // sql: $1 is the payload (jsonb text)
  std::optional<std::chrono::milliseconds> timeout;  // used when the job has none
};

// JOB_TYPE=EXECUTOR[:ARGUMENT], e.g. "ping=noop", "resize=command:/usr/local/bin/resize --fast",
// "hook=http:https://example.com/hook". A command argument is split on spaces (no shell, no
// quoting).
HandlerSpec ParseHandlerFlag(const std::string& flag);

// {"handlers": {...}} as above. Unknown keys are errors (they are usually typos).
std::vector<HandlerSpec> ParseHandlerConfig(const nlohmann::json& config);
std::vector<HandlerSpec> LoadHandlerFile(const std::string& path);

// Reads a secret file: its content without trailing newlines; ConfigError when unreadable,
// empty or shorter than kMinHttpSecretBytes.
inline constexpr std::size_t kMinHttpSecretBytes = 16;
std::string ReadSecretFile(const std::string& path, const std::string& where);

// The worker-wide secret (--http-secret-file, TASKFLOW_HTTP_SECRET) for every http handler
// that has none of its own. Empty `secret`: nothing changes.
void ApplyDefaultHttpSecret(std::vector<HandlerSpec>& specs, const std::string& secret);

// Throws ConfigError when the spec cannot work (missing program, bad URL, https
// without TLS support, empty statement, ...).
void ValidateHandlerSpec(const HandlerSpec& spec);

}  // namespace taskflow
