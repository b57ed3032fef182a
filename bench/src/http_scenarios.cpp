// HTTP scenario: POST /jobs through the HTTP API (worker/http), served in this process on
// 127.0.0.1 by the same taskflow::http::Server that taskflow-http and taskflow-worker --http run,
// from 8 keep-alive clients. Compared with `enqueue` (taskflow.schedule over SQL, 8 connections).
// The clients are minimal (one send, usually one recv per request), like libpq on the SQL side,
// so the figure is the server's, not a client library's.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <taskflow/http/server.hpp>

#include "context.hpp"
#include "http_scenarios.hpp"

namespace taskflow::bench {

namespace {

// One keep-alive HTTP/1.1 connection to 127.0.0.1:port.
class KeepAliveClient {
 public:
  explicit KeepAliveClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("http-enqueue: cannot connect to the HTTP server");
    }
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~KeepAliveClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  KeepAliveClient(const KeepAliveClient&) = delete;
  KeepAliveClient& operator=(const KeepAliveClient&) = delete;

  // Sends a complete request; returns the response's status, its body in *body.
  int Send(const std::string& request, std::string* body) {
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("http-enqueue: send failed");
      sent += static_cast<size_t>(n);
    }
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) Fill();
    const std::string head = buf_.substr(0, head_end);
    const int status = std::stoi(head.substr(9, 3));
    size_t length = 0;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t cl = lower.find("\r\ncontent-length:");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 17));
    while (buf_.size() < head_end + 4 + length) Fill();
    *body = buf_.substr(head_end + 4, length);
    buf_.erase(0, head_end + 4 + length);
    return status;
  }

 private:
  void Fill() {
    char chunk[4096];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) throw std::runtime_error("http-enqueue: the server closed the connection");
    buf_.append(chunk, static_cast<size_t>(n));
  }
  int fd_ = -1;
  std::string buf_;
};

}  // namespace

Measurement HttpEnqueue(Context& ctx) {
  ctx.EnsureQueue();
  ctx.ResetTaskflow();
  const Sizes& s = ctx.sizes();
  constexpr int kClients = 8;
  // An admin key: its jobs go to tenant 'default', like the SQL enqueue's.
  const std::string key = ctx.QueryText("SELECT taskflow.create_api_key(NULL, 'admin')");

  http::ServerConfig config;
  config.db = ctx.db();
  config.host = "127.0.0.1";
  config.port = 0;
  config.threads = kClients;
  config.keep_alive_max_requests = 1000000;
  http::Server server(config);
  const int port = server.Bind();
  server.Start();

  const std::string body =
      std::string(R"({"job_type":")") + kJobType + R"(","queue":")" + kQueue + R"(","payload":{}})";
  const std::string request =
      "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  std::vector<std::unique_ptr<KeepAliveClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    auto c = std::make_unique<KeepAliveClient>(port);
    // Warm up: open the keep-alive connection and one of the server's database connections.
    std::string answer;
    if (c->Send("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", &answer) != 200) {
      throw std::runtime_error("http-enqueue: the server does not answer /health");
    }
    clients.push_back(std::move(c));
  }

  std::atomic<std::int64_t> next{0};
  std::atomic<bool> go{false}, failed{false};
  std::string error;
  std::mutex error_mutex;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      std::string answer;
      try {
        while (!failed.load() && next.fetch_add(1) < s.enqueue_jobs) {
          const int status = clients[i]->Send(request, &answer);
          if (status != 201)
            throw std::runtime_error("status " + std::to_string(status) + ": " + answer);
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!failed.exchange(true)) error = e.what();
      }
    });
  }
  const auto start = std::chrono::steady_clock::now();
  go.store(true);
  for (std::thread& t : threads) t.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  clients.clear();
  server.Stop();
  ctx.Exec("SELECT taskflow.revoke_api_key('" + key + "')");
  if (failed.load()) throw std::runtime_error("http-enqueue: POST /jobs " + error);

  Measurement m;
  m.seconds = seconds;
  m.jobs = s.enqueue_jobs;
  Expect("PENDING jobs after http-enqueue", s.enqueue_jobs, ctx.CountJobs("PENDING"));
  m.notes.push_back({"clients", std::to_string(kClients) + " keep-alive, server threads " +
                                    std::to_string(config.threads)});
  return m;
}

}  // namespace taskflow::bench
