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
#include <utility>

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

// The four pipes of one child (stdin, stdout, stderr, and the exec status pipe), all O_CLOEXEC;
// whatever is still open is closed when this goes out of scope.
struct ChildPipes {
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1}, status[2] = {-1, -1};

  ChildPipes() = default;
  ChildPipes(const ChildPipes&) = delete;
  ChildPipes& operator=(const ChildPipes&) = delete;
  ~ChildPipes() { CloseAll(); }

  bool Open() {
    return pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0 &&
           pipe2(status, O_CLOEXEC) == 0;
  }
  void CloseAll() {
    for (int* pair : {in, out, err, status}) {
      CloseFd(pair[0]);
      CloseFd(pair[1]);
    }
  }
  // In the parent after fork(): the child's ends are the child's.
  void CloseChildEnds() {
    CloseFd(in[0]);
    CloseFd(out[1]);
    CloseFd(err[1]);
    CloseFd(status[1]);
  }
};

// What the child runs after fork(): only async-signal-safe calls until exec (the worker is
// threaded). Own process group, dies with the worker, default signal state; a failed chdir or
// exec writes its errno into the status pipe.
[[noreturn]] void RunChild(pid_t parent, const ChildPipes& pipes, char* const* argv,
                           char* const* envp, const char* cwd) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  signal(SIGPIPE, SIG_DFL);
  dup2(pipes.in[0], STDIN_FILENO);
  dup2(pipes.out[1], STDOUT_FILENO);
  dup2(pipes.err[1], STDERR_FILENO);
  int child_errno = 0;
  if (cwd != nullptr && chdir(cwd) != 0) {
    child_errno = errno;
  } else {
    // Descriptors a library opened without O_CLOEXEC must not leak into the job.
    syscall(SYS_close_range, 3U, ~0U, 4U /* CLOSE_RANGE_CLOEXEC */);
    execvpe(argv[0], argv, envp);
    child_errno = errno;
  }
  ssize_t ignored = write(pipes.status[1], &child_errno, sizeof child_errno);
  (void)ignored;
  _exit(127);
}

// 0 when the child's exec succeeded (the status pipe closed on exec), else the errno it sent.
int ExecErrno(int& status_fd) {
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(status_fd, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  CloseFd(status_fd);
  return n == static_cast<ssize_t>(sizeof child_errno) ? child_errno : 0;
}

// The parent's ends of a running child's pipes: writes stdin_data, keeps stdout up to
// max_stdout (marking it truncated beyond) and the tail of stderr.
class ChildIo {
 public:
  ChildIo(const ProcessSpec& spec, ProcessResult& result, ChildPipes& pipes)
      : spec_(spec),
        result_(result),
        in_fd_(pipes.in[1]),
        out_fd_(pipes.out[0]),
        err_fd_(pipes.err[0]) {
    pipes.in[1] = pipes.out[0] = pipes.err[0] = -1;
    SetNonBlocking(out_fd_);
    SetNonBlocking(err_fd_);
    if (spec_.stdin_data.empty()) {
      CloseFd(in_fd_);
    } else {
      SetNonBlocking(in_fd_);
    }
  }
  ChildIo(const ChildIo&) = delete;
  ChildIo& operator=(const ChildIo&) = delete;
  ~ChildIo() {
    CloseFd(in_fd_);
    CloseFd(out_fd_);
    CloseFd(err_fd_);
  }

  // Waits up to `wait` for any pipe and moves what is ready.
  void PollOnce(std::chrono::milliseconds wait) {
    pollfd fds[3];
    int count = 0;
    int in_index = -1, out_index = -1, err_index = -1;
    if (in_fd_ >= 0) {
      in_index = count;
      fds[count++] = {in_fd_, POLLOUT, 0};
    }
    if (out_fd_ >= 0) {
      out_index = count;
      fds[count++] = {out_fd_, POLLIN, 0};
    }
    if (err_fd_ >= 0) {
      err_index = count;
      fds[count++] = {err_fd_, POLLIN, 0};
    }
    // With every pipe closed only the exit is left to wait for: check it often.
    if (count == 0) wait = std::min(wait, std::chrono::milliseconds(5));
    const int ready = poll(count ? fds : nullptr, count, static_cast<int>(wait.count()));
    if (ready <= 0) return;
    if (in_index >= 0 && fds[in_index].revents) WriteStdin(fds[in_index].revents);
    if (out_index >= 0 && fds[out_index].revents) DrainStdout();
    if (err_index >= 0 && fds[err_index].revents) DrainStderr();
  }

  // After the exit: what is still buffered in the pipes.
  void DrainRest() {
    if (out_fd_ >= 0) DrainStdout();
    if (err_fd_ >= 0) DrainStderr();
  }

  std::string StderrTail() const { return Utf8Tail(err_data_, spec_.stderr_tail); }

 private:
  void WriteStdin(short revents) {
    if (!(revents & POLLOUT)) {
      CloseFd(in_fd_);  // the child closed its stdin
      return;
    }
    const std::string& data = spec_.stdin_data;
    const ssize_t written = write(in_fd_, data.data() + in_offset_, data.size() - in_offset_);
    if (written > 0) in_offset_ += static_cast<size_t>(written);
    if ((written < 0 && errno != EAGAIN && errno != EINTR) || in_offset_ >= data.size())
      CloseFd(in_fd_);
  }
  void DrainStdout() {
    Drain(out_fd_, [this](const char* data, size_t size) {
      const size_t room = spec_.max_stdout - std::min(spec_.max_stdout, result_.stdout_data.size());
      if (size > room) result_.stdout_truncated = true;
      result_.stdout_data.append(data, std::min(size, room));
    });
  }
  void DrainStderr() {
    Drain(err_fd_, [this](const char* data, size_t size) {
      err_data_.append(data, size);
      if (err_data_.size() > 4 * spec_.stderr_tail + 65536)
        err_data_ = Utf8Tail(err_data_, spec_.stderr_tail + 8);
    });
  }

  const ProcessSpec& spec_;
  ProcessResult& result_;
  int in_fd_, out_fd_, err_fd_;
  size_t in_offset_ = 0;
  std::string err_data_;
};

// When to end a running child: on should_stop or at the deadline SIGTERM to its group (the
// result says kStopped or kTimedOut), then SIGKILL after kill_grace.
class Terminator {
 public:
  Terminator(const ProcessSpec& spec, Clock::time_point start, pid_t pid,
             const std::function<bool()>& should_stop)
      : spec_(spec),
        pid_(pid),
        should_stop_(should_stop),
        deadline_(spec.timeout ? start + *spec.timeout : Clock::time_point::max()) {}

  // Signals what is due now and returns how long to wait for the pipes before asking again:
  // at most 50 ms (should_stop is polled), less when the deadline or the SIGKILL is sooner.
  std::chrono::milliseconds Step(ProcessResult& result) {
    const auto now = Clock::now();
    if (!terminating_) {
      if (should_stop_ && should_stop_()) {
        Terminate(now, result, ProcessResult::End::kStopped);
      } else if (now >= deadline_) {
        Terminate(now, result, ProcessResult::End::kTimedOut);
      }
    } else if (!killed_ && now >= kill_at_) {
      kill(-pid_, SIGKILL);
      killed_ = true;
    }
    auto wait = std::chrono::milliseconds(50);
    if (!terminating_ && deadline_ != Clock::time_point::max())
      wait = WaitUntil(now, deadline_, wait);
    if (terminating_ && !killed_) wait = WaitUntil(now, kill_at_, wait);
    return wait;
  }

 private:
  void Terminate(Clock::time_point now, ProcessResult& result, ProcessResult::End end) {
    result.end = end;
    terminating_ = true;
    kill(-pid_, SIGTERM);
    kill_at_ = now + spec_.kill_grace;
  }
  static std::chrono::milliseconds WaitUntil(Clock::time_point now, Clock::time_point t,
                                             std::chrono::milliseconds wait) {
    if (t <= now) return std::chrono::milliseconds(0);
    return std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(t - now) +
                              std::chrono::milliseconds(1));
  }

  const ProcessSpec& spec_;
  pid_t pid_;
  const std::function<bool()>& should_stop_;
  Clock::time_point deadline_;
  bool terminating_ = false, killed_ = false;
  Clock::time_point kill_at_{};
};

ProcessResult SpawnFailed(std::string error, Clock::time_point start) {
  ProcessResult result;
  result.end = ProcessResult::End::kSpawnFailed;
  result.spawn_error = std::move(error);
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

// How a child that was not stopped or timed out ended, from waitpid's status.
void SetExitStatus(int wstatus, ProcessResult& result) {
  if (result.end == ProcessResult::End::kTimedOut || result.end == ProcessResult::End::kStopped)
    return;
  if (WIFEXITED(wstatus)) {
    result.end = ProcessResult::End::kExited;
    result.exit_code = WEXITSTATUS(wstatus);
  } else if (WIFSIGNALED(wstatus)) {
    result.end = ProcessResult::End::kSignaled;
    result.signal = WTERMSIG(wstatus);
  }
}

}  // namespace

std::string Utf8Tail(const std::string& data, size_t max) {
  if (data.size() <= max) return data;
  size_t start = data.size() - max;
  while (start < data.size() && (static_cast<unsigned char>(data[start]) & 0xC0) == 0x80) ++start;
  return data.substr(start);
}

std::vector<std::string> MergeEnvironment(
    const std::vector<std::pair<std::string, std::string>>& extra) {
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
  if (spec.argv.empty()) return SpawnFailed("empty command", start);

  // Everything the child needs is built before fork(): in a threaded process the
  // child may only make async-signal-safe calls until exec.
  std::vector<char*> argv;
  for (const auto& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& kv : spec.env) envp.push_back(const_cast<char*>(kv.c_str()));
  envp.push_back(nullptr);
  const char* cwd = spec.cwd.empty() ? nullptr : spec.cwd.c_str();

  ChildPipes pipes;
  if (!pipes.Open()) return SpawnFailed(std::string("pipe: ") + std::strerror(errno), start);
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return SpawnFailed(std::string("fork: ") + std::strerror(errno), start);
  if (pid == 0) RunChild(parent, pipes, argv.data(), envp.data(), cwd);

  setpgid(pid, pid);  // also here, so kill(-pid) never races the child's setpgid
  GroupRegistration registration(pid);
  pipes.CloseChildEnds();
  if (const int child_errno = ExecErrno(pipes.status[0])) {
    int wstatus = 0;
    waitpid(pid, &wstatus, 0);
    return SpawnFailed("cannot run " + spec.argv[0] + ": " + std::strerror(child_errno), start);
  }

  ProcessResult result;
  ChildIo io(spec, result, pipes);
  Terminator terminator(spec, start, pid, should_stop);
  while (!HasExited(pid)) io.PollOnce(terminator.Step(result));

  // Output still buffered in the pipes; then end whatever the child left behind
  // in its group (the child is a zombie, so the group id is not reused yet).
  io.DrainRest();
  kill(-pid, SIGKILL);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  SetExitStatus(wstatus, result);
  result.stderr_tail = io.StderrTail();
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

void KillAllChildProcesses() noexcept {
  std::lock_guard<std::mutex> lock(g_groups_mutex);
  for (pid_t group : g_groups) kill(-group, SIGKILL);
}

}  // namespace taskflow
