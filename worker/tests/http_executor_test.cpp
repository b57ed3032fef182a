// The http executor against a local httplib::Server on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "executors.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class HttpExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      last_ = req;
      res.set_content(R"({"received": )" + req.body + "}", "application/json");
    });
    server_.Post("/text", [](const httplib::Request&, httplib::Response& res) { res.set_content("fine", "text/plain"); });
    server_.Post(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("status body " + std::string(req.matches[1]), "text/plain");
    });
    server_.Post("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(milliseconds(1500));
      res.set_content("{}", "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  Outcome Post(const std::string& path, std::optional<milliseconds> timeout = std::nullopt) {
    HandlerSpec spec;
    spec.job_type = "hook";
    spec.executor = "http";
    spec.url = Url(path);
    spec.headers = {{"Authorization", "Bearer secret"}};
    spec.timeout = timeout;
    JobContext ctx;
    return MakeHandler(spec)(job_, ctx);
  }

  Job job_ = [] {
    Job job;
    job.id = 1234;
    job.attempt = 2;
    job.type = "hook";
    job.payload = {{"order", 99}};
    job.queue = "web";
    job.tenant_id = "acme";
    job.correlation_id = "req-7";
    return job;
  }();
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  httplib::Request last_;
};

TEST_F(HttpExecutorTest, TwoHundredCompletesWithTheJsonBodyAndSendsTheHeaders) {
  const auto outcome = Post("/ok");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result, nlohmann::json({{"received", {{"order", 99}}}}));
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(last_.get_header_value("X-TaskFlow-Job-Id"), "1234");
  EXPECT_EQ(last_.get_header_value("X-TaskFlow-Attempt"), "2");
  EXPECT_EQ(last_.get_header_value("X-Correlation-ID"), "req-7");
  EXPECT_EQ(last_.get_header_value("Idempotency-Key"), "1234:2");
  EXPECT_EQ(last_.get_header_value("X-TaskFlow-Tenant-Id"), "acme");
  EXPECT_EQ(last_.get_header_value("Authorization"), "Bearer secret");
  EXPECT_EQ(last_.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(last_.body), job_.payload);
}

TEST_F(HttpExecutorTest, TraceparentHeaderOnlyWhenTheJobHasOne) {
  ASSERT_EQ(Post("/ok").kind, Outcome::Kind::kSucceeded);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    EXPECT_FALSE(last_.has_header("traceparent"));
  }
  job_.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_EQ(Post("/ok").kind, Outcome::Kind::kSucceeded);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    EXPECT_EQ(last_.get_header_value_count("traceparent"), 1u);
    EXPECT_EQ(last_.get_header_value("traceparent"), job_.traceparent);
  }
  // A configured header of that name (any case) replaces the job's, never sent twice.
  HandlerSpec spec;
  spec.job_type = "hook";
  spec.executor = "http";
  spec.url = Url("/ok");
  spec.headers = {{"TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}};
  JobContext ctx;
  ASSERT_EQ(MakeHandler(spec)(job_, ctx).kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(last_.get_header_value_count("traceparent"), 1u);
  EXPECT_EQ(last_.get_header_value("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
}

TEST_F(HttpExecutorTest, NonJsonBodyCompletesWithoutAResult) {
  const auto outcome = Post("/text");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(HttpExecutorTest, ServerErrorsAndThrottlingAreRetryable) {
  for (int status : {500, 502, 503, 408, 429}) {
    const auto outcome = Post("/status/" + std::to_string(status));
    ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed) << status;
    EXPECT_EQ(outcome.error_type, "http_" + std::to_string(status));
    EXPECT_TRUE(outcome.retryable) << status;
    EXPECT_NE(outcome.error_message.find("status body"), std::string::npos) << outcome.error_message;
  }
}

TEST_F(HttpExecutorTest, OtherClientErrorsAreNotRetryable) {
  for (int status : {400, 401, 404, 422}) {
    const auto outcome = Post("/status/" + std::to_string(status));
    ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed) << status;
    EXPECT_EQ(outcome.error_type, "http_" + std::to_string(status));
    EXPECT_FALSE(outcome.retryable) << status;
  }
}

TEST_F(HttpExecutorTest, TimeoutFailsWithTimeout) {
  const auto start = Clock::now();
  const auto outcome = Post("/slow", milliseconds(300));
  EXPECT_EQ(outcome.error_type, "timeout") << outcome.error_message;
  EXPECT_TRUE(outcome.retryable);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1400);
}

TEST_F(HttpExecutorTest, StopRequestAbortsTheRequest) {
  HandlerSpec spec;
  spec.job_type = "hook";
  spec.executor = "http";
  spec.url = Url("/slow");
  auto handler = MakeHandler(spec);
  JobContext ctx;
  std::thread canceller([&ctx] {
    std::this_thread::sleep_for(milliseconds(200));
    ctx.RequestStop(StopReason::kCancelRequested);
  });
  const auto start = Clock::now();
  const auto outcome = handler(job_, ctx);
  canceller.join();
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCancelled);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1400);
}

TEST(HttpExecutor, ConnectionRefusedIsRetryable) {
  // Bind a port without listening, so connecting to it is refused.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const int port = ntohs(addr.sin_port);
  HandlerSpec spec;
  spec.job_type = "hook";
  spec.executor = "http";
  spec.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  spec.timeout = milliseconds(2000);
  JobContext ctx;
  Job job;
  const auto outcome = MakeHandler(spec)(job, ctx);
  EXPECT_EQ(outcome.error_type, "connection_error") << outcome.error_message;
  EXPECT_TRUE(outcome.retryable);
  close(fd);
}

}  // namespace
}  // namespace taskflow
