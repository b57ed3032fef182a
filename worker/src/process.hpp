// Runs one child process for the command executor: argv without a shell, its
// own process group (so a timeout or cancel kills everything it started),
// stdin fed from memory, stdout and stderr captured with poll().
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace taskflow {

struct ProcessSpec {
  std::vector<std::string> argv;  // argv[0] is looked up in PATH when it has no '/'
  std::vector<std::string> env;   // complete environment, "KEY=VALUE"
  std::string stdin_data;
  std::string cwd;  // empty: inherit
  std::optional<std::chrono::milliseconds> timeout;
  std::chrono::milliseconds kill_grace{5000};  // SIGTERM, then SIGKILL after this
  std::size_t max_stdout = 16 * 1024 * 1024;   // beyond this stdout is truncated
  std::size_t stderr_tail = 2048;              // last bytes of stderr kept
};

struct ProcessResult {
  enum class End { kExited, kSignaled, kTimedOut, kStopped, kSpawnFailed };
  End end = End::kExited;
  int exit_code = -1;  // kExited
  int signal = 0;      // kSignaled
  std::string stdout_data;
  bool stdout_truncated = false;
  std::string stderr_tail;
  std::string spawn_error;  // kSpawnFailed
  std::chrono::milliseconds duration{0};
};

// Blocks until the process ends. `should_stop` is polled about every 50 ms; when
// it answers true the process group is killed and the result is kStopped.
ProcessResult RunProcess(const ProcessSpec& spec, const std::function<bool()>& should_stop);

// The last `max` bytes of `text`, not starting inside a UTF-8 character (stderr tails, response
// bodies in error messages).
std::string Utf8Tail(const std::string& text, std::size_t max);

// The current environment plus `extra` (overriding same keys), as KEY=VALUE.
std::vector<std::string> MergeEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra);

}  // namespace taskflow
