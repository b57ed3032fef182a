#include "process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include <taskflow/worker.hpp>

extern char** environ;

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;

// Process groups of running children, for KillAllChildProcesses().
std::mutex g_groups_mutex;
std::set<pid_t> g_groups;

class GroupRegistration {
 public:
  explicit GroupRegistration(pid_t pid) : pid_(pid) {
    std::lock_guard<std::mutex> lock(g_groups_mutex);
    g_groups.insert(pid_);
  }
  ~GroupRegistration() {
    std::lock_guard<std::mutex> lock(g_groups_mutex);
    g_groups.erase(pid_);
  }
  GroupRegistration(const GroupRegistration&) = delete;
  GroupRegistration& operator=(const GroupRegistration&) = delete;

 private:
  pid_t pid_;
};

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// True once the child has exited; WNOWAIT leaves it a zombie, so its pid (the
// process group id) cannot be reused before we kill the group's stragglers.
bool HasExited(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

// Reads what is available; false at EOF or on error (the fd is then closed).
bool Drain(int& fd, const std::function<void(const char*, size_t)>& sink) {
  char buffer[65536];
  while (true) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n > 0) {
      sink(buffer, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    CloseFd(fd);
    return false;
  }
}

std::string Utf8Tail(const std::string& data, size_t max) {
  if (data.size() <= max) return data;
  size_t start = data.size() - max;
  while (start < data.size() && (static_cast<unsigned char>(data[start]) & 0xC0) == 0x80) ++start;
  return data.substr(start);
}

}  // namespace

std::vector<std::string> MergeEnvironment(const std::vector<std::pair<std::string, std::string>>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; entry && *entry; ++entry) {
    const std::string kv(*entry);
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    merged[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (const auto& [key, value] : extra) merged[key] = value;
  std::vector<std::string> out;
  out.reserve(merged.size());
  for (const auto& [key, value] : merged) out.push_back(key + "=" + value);
  return out;
}

ProcessResult RunProcess(const ProcessSpec& spec, const std::function<bool()>& should_stop) {
  const auto start = Clock::now();
  ProcessResult result;
  if (spec.argv.empty()) {
    result.end = ProcessResult::End::kSpawnFailed;
    result.spawn_error = "empty command";
    return result;
  }

  // Everything the child needs is built before fork(): in a threaded process the
  // child may only make async-signal-safe calls until exec.
  std::vector<char*> argv;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& kv : spec.env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();

  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};
  auto close_all = [&] {
    for (int* pair : {in, out, err, status}) {
      CloseFd(pair[0]);
      CloseFd(pair[1]);
    }
  };
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 ||
      pipe2(status, O_CLOEXEC) != 0) {
    result.end = ProcessResult::End::kSpawnFailed;
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    close_all();
    return result;
  }

  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    result.end = ProcessResult::End::kSpawnFailed;
    result.spawn_error = std::string("fork: ") + std::strerror(errno);
    close_all();
    return result;
  }
  if (pid == 0) {
    // Child: own process group, dies with the worker, default signal state.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    int child_errno = 0;
    if (cwd != nullptr && chdir(cwd) != 0) {
      child_errno = errno;
    } else {
      // Descriptors a library opened without O_CLOEXEC must not leak into the job.
      syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
      execvpe(argv[0], argv.data(), envp.data());
      child_errno = errno;
    }
    ssize_t ignored = write(status[1], &child_errno, sizeof child_errno);
    (void)ignored;
    _exit(127);
  }

  setpgid(pid, pid);  // also here, so kill(-pid) never races the child's setpgid
  GroupRegistration registration(pid);
  CloseFd(in[0]);
  CloseFd(out[1]);
  CloseFd(err[1]);
  CloseFd(status[1]);

  // The status pipe closes on a successful exec (O_CLOEXEC) or carries errno.
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(status[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  CloseFd(status[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    close_all();
    result.end = ProcessResult::End::kSpawnFailed;
    result.spawn_error = "cannot run " + spec.argv[0] + ": " + std::strerror(child_errno);
    result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    return result;
  }

  int in_fd = in[1], out_fd = out[0], err_fd = err[0];
  in[1] = out[0] = err[0] = -1;
  SetNonBlocking(out_fd);
  SetNonBlocking(err_fd);
  size_t in_offset = 0;
  if (spec.stdin_data.empty()) {
    CloseFd(in_fd);
  } else {
    SetNonBlocking(in_fd);
  }

  std::string err_data;
  auto out_sink = [&](const char* data, size_t size) {
    const size_t room = spec.max_stdout - std::min(spec.max_stdout, result.stdout_data.size());
    if (size > room) result.stdout_truncated = true;
    result.stdout_data.append(data, std::min(size, room));
  };
  auto err_sink = [&](const char* data, size_t size) {
    err_data.append(data, size);
    if (err_data.size() > 4 * spec.stderr_tail + 65536) err_data = Utf8Tail(err_data, spec.stderr_tail + 8);
  };

  const auto deadline = spec.timeout ? start + *spec.timeout : Clock::time_point::max();
  bool terminating = false, killed = false;
  Clock::time_point kill_at{};

  while (!HasExited(pid)) {
    const auto now = Clock::now();
    if (!terminating) {
      bool stop = false;
      if (should_stop && should_stop()) {
        result.end = ProcessResult::End::kStopped;
        stop = true;
      } else if (now >= deadline) {
        result.end = ProcessResult::End::kTimedOut;
        stop = true;
      }
      if (stop) {
        terminating = true;
        kill(-pid, SIGTERM);
        kill_at = now + spec.kill_grace;
      }
    } else if (!killed && now >= kill_at) {
      kill(-pid, SIGKILL);
      killed = true;
    }

    // Wake at least every 50 ms to check should_stop, sooner for a deadline.
    auto wait = std::chrono::milliseconds(50);
    auto until = [&](Clock::time_point t) {
      if (t > now) wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(t - now) + std::chrono::milliseconds(1));
      else wait = std::chrono::milliseconds(0);
    };
    if (!terminating && deadline != Clock::time_point::max()) until(deadline);
    if (terminating && !killed) until(kill_at);

    pollfd fds[3];
    int count = 0;
    int in_index = -1, out_index = -1, err_index = -1;
    if (in_fd >= 0) { in_index = count; fds[count++] = {in_fd, POLLOUT, 0}; }
    if (out_fd >= 0) { out_index = count; fds[count++] = {out_fd, POLLIN, 0}; }
    if (err_fd >= 0) { err_index = count; fds[count++] = {err_fd, POLLIN, 0}; }
    // With every pipe closed only the exit is left to wait for: check it often.
    if (count == 0) wait = std::min(wait, std::chrono::milliseconds(5));
    const int ready = poll(count ? fds : nullptr, count, static_cast<int>(wait.count()));
    if (ready <= 0) continue;

    if (in_index >= 0 && fds[in_index].revents) {
      if (fds[in_index].revents & POLLOUT) {
        const ssize_t written = write(in_fd, spec.stdin_data.data() + in_offset, spec.stdin_data.size() - in_offset);
        if (written > 0) in_offset += static_cast<size_t>(written);
        if ((written < 0 && errno != EAGAIN && errno != EINTR) || in_offset >= spec.stdin_data.size()) CloseFd(in_fd);
      } else {
        CloseFd(in_fd);  // the child closed its stdin
      }
    }
    if (out_index >= 0 && fds[out_index].revents) Drain(out_fd, out_sink);
    if (err_index >= 0 && fds[err_index].revents) Drain(err_fd, err_sink);
  }

  // Output still buffered in the pipes; then end whatever the child left behind
  // in its group (the child is a zombie, so the group id is not reused yet).
  if (out_fd >= 0) Drain(out_fd, out_sink);
  if (err_fd >= 0) Drain(err_fd, err_sink);
  kill(-pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);

  if (result.end != ProcessResult::End::kTimedOut && result.end != ProcessResult::End::kStopped) {
    if (WIFEXITED(wstatus)) {
      result.end = ProcessResult::End::kExited;
      result.exit_code = WEXITSTATUS(wstatus);
    } else if (WIFSIGNALED(wstatus)) {
      result.end = ProcessResult::End::kSignaled;
      result.signal = WTERMSIG(wstatus);
    }
  }
  result.stderr_tail = Utf8Tail(err_data, spec.stderr_tail);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

void KillAllChildProcesses() noexcept {
  std::lock_guard<std::mutex> lock(g_groups_mutex);
  for (pid_t group : g_groups) kill(-group, SIGKILL);
}

}  // namespace taskflow
