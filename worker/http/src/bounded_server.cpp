#include "bounded_server.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace taskflow::http {

namespace {

using Clock = std::chrono::steady_clock;

thread_local RequestScope t_request;
thread_local bool t_reject = false;
thread_local Clock::time_point t_accepted;  // when the connection being served was accepted

// poll() for one event, retried on EINTR. True when the event (or an error/hang-up, which the
// following read reports) arrived within `timeout`.
bool WaitFor(int fd, short events, std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) return false;
  const auto until = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd, events, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    const int rc = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

void AddressOf(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int rc = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                      : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (rc != 0) return;
  char host[NI_MAXHOST];
  char serv[NI_MAXSERV];
  if (::getnameinfo(reinterpret_cast<sockaddr*>(&addr), len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) == 0) {
    ip = host;
    port = std::atoi(serv);
  }
}

// A connection's two ends, looked up once.
struct Addresses {
  bool known = false;
  std::string remote_ip, local_ip;
  int remote_port = -1, local_port = -1;
};

// The stream of one request: buffered reads that all end by the request's deadline, and at most
// `max_request_bytes` of them; writes bounded by the write timeout.
class DeadlineStream final : public httplib::Stream {
 public:
  DeadlineStream(int sock, const ConnectionLimits& limits, Clock::time_point deadline)
      : sock_(sock), limits_(limits), deadline_(deadline) {}

  // Past the deadline only bytes that have already arrived are read: a client that sent its
  // request in time but waited in the queue is served, a trickling one is cut off.
  bool is_readable() const override {
    if (off_ < len_) return true;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      pollfd p{sock_, POLLIN, 0};
      return ::poll(&p, 1, 0) > 0;
    }
    return WaitFor(sock_, POLLIN, std::min(left, limits_.read_timeout));
  }

  bool is_writable() const override { return WaitFor(sock_, POLLOUT, limits_.write_timeout); }

  ssize_t read(char* ptr, size_t size) override {
    if (off_ < len_) {
      const size_t n = std::min(size, len_ - off_);
      std::memcpy(ptr, buf_ + off_, n);
      off_ += n;
      return static_cast<ssize_t>(n);
    }
    if (!out_.empty() && !Flush()) return -1;  // e.g. "100 Continue" before the body
    if (total_ >= limits_.max_request_bytes) return -1;
    const bool buffered = size < sizeof buf_;
    char* into = buffered ? buf_ : ptr;
    const size_t want = buffered ? sizeof buf_ : size;
    // Try first, wait only when nothing has arrived yet: one system call in the common case.
    ssize_t n = Recv(into, want, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!is_readable()) return -1;
      n = Recv(into, want, 0);
    }
    if (n <= 0) return n;
    total_ += static_cast<size_t>(n);
    if (!buffered) return n;
    off_ = 0;
    len_ = static_cast<size_t>(n);
    const size_t take = std::min(size, len_);
    std::memcpy(ptr, buf_, take);
    off_ = take;
    return static_cast<ssize_t>(take);
  }

  // Writes are collected and sent together (httplib writes a response's head and body apart;
  // two segments would wake the client twice). Flush() before reading and after each response.
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    if (out_.size() >= kFlushAt && !Flush()) return -1;
    return static_cast<ssize_t>(size);
  }

  bool Flush() {
    size_t sent = 0;
    while (sent < out_.size()) {
      ssize_t n = Send(out_.data() + sent, out_.size() - sent, MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!is_writable()) break;
        n = Send(out_.data() + sent, out_.size() - sent, 0);
      }
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    const bool all = sent == out_.size();
    out_.clear();
    return all;
  }

  ssize_t Recv(char* into, size_t size, int flags) {
    ssize_t n;
    do {
      n = ::recv(sock_, into, size, flags);
    } while (n < 0 && errno == EINTR);
    return n;
  }
  ssize_t Send(const char* from, size_t size, int flags) {
    ssize_t n;
    do {
      n = ::send(sock_, from, size, flags | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  // Blocks (in the socket's 100 ms receive-timeout slices) until the first bytes of a request
  // arrive and keeps them. False when the client closed, `until` passed, or the server stops.
  // One recv() instead of poll() + recv(): this runs once per keep-alive request.
  // A pipelined request already read with the previous one is there at once.
  bool WaitForRequest(Clock::time_point until, const std::atomic<socket_t>& server_socket) {
    if (off_ < len_) {
      total_ = len_ - off_;
      return true;
    }
    total_ = 0;
    for (;;) {
      const bool late = Clock::now() >= until;
      const ssize_t n = Recv(buf_, sizeof buf_, late ? MSG_DONTWAIT : 0);
      if (n > 0) {
        off_ = 0;
        len_ = static_cast<size_t>(n);
        total_ += len_;
        return true;
      }
      if (n == 0 || late || (errno != EAGAIN && errno != EWOULDBLOCK)) return false;
      if (server_socket == INVALID_SOCKET) return false;
    }
  }
  void set_deadline(Clock::time_point deadline) { deadline_ = deadline; }

  // httplib asks for both addresses on every request: looked up once per connection.
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(false, ip, port);
  }
  void set_addresses(const Addresses* addresses) { addresses_ = addresses; }
  socket_t socket() const override { return sock_; }

 private:
  // The peer's (remote) or this end's address: the connection's, else looked up.
  void Address(bool remote, std::string& ip, int& port) const {
    if (addresses_ != nullptr && addresses_->known) {
      ip = remote ? addresses_->remote_ip : addresses_->local_ip;
      port = remote ? addresses_->remote_port : addresses_->local_port;
    } else {
      AddressOf(sock_, remote, ip, port);
    }
  }

  int sock_;
  const ConnectionLimits& limits_;
  Clock::time_point deadline_;
  static constexpr size_t kFlushAt = 64 * 1024;
  const Addresses* addresses_ = nullptr;
  char buf_[4096];
  std::string out_;
  size_t off_ = 0;
  size_t len_ = 0;
  size_t total_ = 0;
};

}  // namespace

RequestScope& CurrentRequest() { return t_request; }

// The connection pool of the server: `threads` threads serve connections in accept order, at
// most `max_queued` wait; the rest go to one extra thread that answers 503 at once (t_reject).
class BoundedServer::Pool final : public httplib::TaskQueue {
 public:
  explicit Pool(const ConnectionLimits& limits)
      : max_queued_(static_cast<size_t>(limits.max_queued)) {
    for (int i = 0; i < std::max(1, limits.threads); ++i) {
      threads_.emplace_back([this] { Loop(queue_, false); });
    }
    threads_.emplace_back([this] { Loop(rejects_, true); });
  }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      (queue_.size() >= max_queued_ ? rejects_ : queue_).push_back({std::move(fn), Clock::now()});
    }
    cond_.notify_all();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    cond_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  struct Task {
    std::function<void()> fn;
    Clock::time_point accepted;
  };

  void Loop(std::deque<Task>& from, bool reject) {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cond_.wait(lock, [&] { return !from.empty() || stopping_; });
        if (from.empty()) return;  // stopping, and nothing left to close
        task = std::move(from.front());
        from.pop_front();
      }
      t_reject = reject;
      t_accepted = task.accepted;
      task.fn();
      t_reject = false;
    }
  }

  const size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable cond_;
  std::deque<Task> queue_;
  std::deque<Task> rejects_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

BoundedServer::BoundedServer(ConnectionLimits limits) : limits_(limits) {
  new_task_queue = [this] { return new Pool(limits_); };
  // Mirrors of the bounds for the parts of httplib that still read them (the Keep-Alive header).
  set_read_timeout(std::chrono::duration_cast<std::chrono::seconds>(limits_.read_timeout).count());
  set_write_timeout(
      std::chrono::duration_cast<std::chrono::seconds>(limits_.write_timeout).count());
  set_keep_alive_max_count(static_cast<size_t>(std::max(1, limits_.keep_alive_max_requests)));
  set_keep_alive_timeout(std::max<time_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(limits_.keep_alive_timeout).count()));
  // httplib's default sets SO_REUSEPORT, which lets a second process (a leftover instance, or
  // anyone running as the same user) bind the same address and take half the connections.
  // SO_REUSEADDR alone still allows a quick restart over TIME_WAIT, and a taken port is an error.
  set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, reinterpret_cast<void*>(&yes), sizeof(yes));
  });
}

BoundedServer::~BoundedServer() = default;

void BoundedServer::RaiseListenBacklog(int backlog) {
  const socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) ::listen(sock, backlog);  // Linux: a second listen() resizes it
}

bool BoundedServer::process_and_close_socket(socket_t sock) {
  if (t_reject) return Reject(sock);
  ++active_;
  // httplib writes a response's head and body separately: without TCP_NODELAY, Nagle's algorithm
  // and the peer's delayed ACK add ~40 ms to every keep-alive request.
  const int one = 1;
  ::setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  bool ret = false;
  // Blocking reads wake up every 100 ms, so Stop() and the idle limit are noticed.
  timeval slice{0, 100 * 1000};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &slice, sizeof slice);
  Addresses addresses;
  AddressOf(sock, true, addresses.remote_ip, addresses.remote_port);
  AddressOf(sock, false, addresses.local_ip, addresses.local_port);
  addresses.known = addresses.remote_port >= 0 && addresses.local_port >= 0;
  bool first = true;
  // One stream for the whole connection: bytes read past the end of a request (the next request
  // of a pipelining client) stay in its buffer and are served next, in order.
  DeadlineStream stream(sock, limits_, Clock::now());
  stream.set_addresses(&addresses);
  for (int left = std::max(1, limits_.keep_alive_max_requests); left > 0; --left) {
    // Wait for the next request. The first request's time counts from accept(), so waiting in
    // the queue does not extend it.
    const auto idle_until = first ? std::min(t_accepted + limits_.request_timeout,
                                             Clock::now() + limits_.keep_alive_timeout)
                                  : Clock::now() + limits_.keep_alive_timeout;
    stream.set_deadline(idle_until);
    if (!stream.WaitForRequest(idle_until, svr_sock_)) break;
    t_request = RequestScope{Clock::now(), "other"};
    stream.set_deadline((first ? t_accepted : t_request.started) + limits_.request_timeout);
    first = false;
    bool closed = false;
    ret = process_request(stream, left == 1, closed, nullptr);
    if (!stream.Flush()) ret = false;
    if (!ret || closed || t_request.close) break;
  }
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  --active_;
  return ret;
}

// Too many connections: a 503 without reading the request, then close. Never blocks.
bool BoundedServer::Reject(socket_t sock) {
  ++rejected_;
  static const std::string body =
      R"({"type":"/problems/overloaded","title":"Too many connections","status":503,)"
      R"("detail":"The server is serving and queueing as many connections as it is configured for; retry shortly."})";
  const std::string response =
      "HTTP/1.1 503 Service Unavailable\r\n"
      "Content-Type: application/problem+json\r\n"
      "Retry-After: 1\r\nConnection: close\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)::send(sock, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(sock, SHUT_WR);
  // Drain what already arrived, so closing does not reset the connection before the client
  // reads the answer.
  char scratch[4096];
  while (::recv(sock, scratch, sizeof scratch, MSG_DONTWAIT) > 0) {
  }
  ::close(sock);
  return false;
}

}  // namespace taskflow::http
