// An httplib::Server whose connections are bounded in number and in time.
//
// cpp-httplib 0.11 serves each connection on a pool thread and bounds only single socket reads,
// so a client sending one byte every few seconds holds a thread for hours, and accepted
// connections queue without limit. BoundedServer replaces the per-connection loop:
//  - receiving one request (head and body) must finish within `request_timeout`, however the
//    bytes trickle in; an idle keep-alive connection is closed after `keep_alive_timeout`;
//  - at most `threads` connections are served at once and at most `max_queued` wait; any
//    connection beyond that gets an immediate 503 from a separate thread and is closed.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

namespace taskflow::http {

struct ConnectionLimits {
  int threads = 16;
  int max_queued = 64;
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds read_timeout{5000};
  std::chrono::milliseconds write_timeout{5000};
  std::chrono::milliseconds keep_alive_timeout{5000};
  int keep_alive_max_requests = 1000;
  // Most bytes read for one request (head and body): a hard cap on top of the body limit.
  std::size_t max_request_bytes = 4u << 20;
};

// Per-request facts the handlers and the logger of the same thread share (a connection is served
// by one thread from accept to close).
struct RequestScope {
  std::chrono::steady_clock::time_point started;
  const char* route = "other";  // the OpenAPI path of the route that handled it
  bool close = false;           // close the connection after this response (unreadable request)
};
RequestScope& CurrentRequest();

class BoundedServer : public httplib::Server {
 public:
  explicit BoundedServer(ConnectionLimits limits);
  ~BoundedServer() override;

  // httplib listens with a backlog of 5; bursts of connections need more. Call after binding.
  void RaiseListenBacklog(int backlog);

  std::uint64_t rejected_connections() const { return rejected_.load(); }
  int active_connections() const { return active_.load(); }

 private:
  bool process_and_close_socket(socket_t sock) override;
  bool Reject(socket_t sock);

  class Pool;
  ConnectionLimits limits_;
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<int> active_{0};
};

}  // namespace taskflow::http
