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
#include <set>
#include <thread>
#include <vector>

#include "executors.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The spec of an http handler of job type "hook" posting to `url`.
HandlerSpec HttpSpec(const std::string& url) {
  HandlerSpec spec;
  spec.job_type = "hook";
  spec.executor = "http";
  spec.url = url;
  return spec;
}

// A thread that requests ctx's stop (as a cancel would) after `delay`; join it.
std::thread CancelAfter(JobContext& ctx, milliseconds delay) {
  return std::thread([&ctx, delay] {
    std::this_thread::sleep_for(delay);
    ctx.RequestStop(StopReason::kCancelRequested);
  });
}

class HttpExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.Post("/ok", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      last_ = req;
      res.set_content(R"({"received": )" + req.body + "}", "application/json");
    });
    server_.Post("/text", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("fine", "text/plain");
    });
    server_.Post(R"(/status/(\d+))", [](const httplib::Request& req, httplib::Response& res) {
      res.status = std::stoi(req.matches[1]);
      res.set_content("status body " + std::string(req.matches[1]), "text/plain");
    });
    server_.Post("/slow", [](const httplib::Request&, httplib::Response& res) {
      std::this_thread::sleep_for(milliseconds(1500));
      res.set_content("{}", "application/json");
    });
    server_.Post("/count", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mutex_);
      // A client port identifies a TCP connection: a closed one's port stays in TIME_WAIT.
      ports_.insert(req.remote_port);
      ++requests_;
      res.set_content("{}", "application/json");
    });
    server_.Post("/big", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(std::string(2 * kMaxHttpResponseBytes, 'x'), "text/plain");
    });
    server_.Post("/big400", [](const httplib::Request&, httplib::Response& res) {
      res.status = 400;
      res.set_content(std::string(2 * kMaxHttpResponseBytes, 'y'), "text/plain");
    });
    server_.Post("/retry-after", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "120");
      res.set_content("slow down", "text/plain");
    });
    server_.set_keep_alive_max_count(1000);
    server_.set_keep_alive_timeout(1);  // so stop() does not wait 5 s for the pooled connection
    server_.set_tcp_nodelay(true);
    port_ = server_.bind_to_any_port("127.0.0.1");
    ASSERT_GT(port_, 0);
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(milliseconds(1));
  }
  void TearDown() override {
    server_.stop();
    thread_.join();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  Outcome Post(const std::string& path, std::optional<milliseconds> timeout = std::nullopt) {
    HandlerSpec spec = HttpSpec(Url(path));
    spec.headers = {{"Authorization", "Bearer secret"}};
    spec.timeout = timeout;
    JobContext ctx;
    return MakeHandler(spec)(job_, ctx);
  }

  // Posts to /status/<status>: a failure named http_<status>, retryable or not.
  Outcome PostFailing(int status, bool retryable) {
    const auto outcome = Post("/status/" + std::to_string(status));
    EXPECT_EQ(outcome.kind, Outcome::Kind::kFailed) << status;
    EXPECT_EQ(outcome.error_type, "http_" + std::to_string(status));
    EXPECT_EQ(outcome.retryable, retryable) << status;
    return outcome;
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
    job.lease_token = "5f0c1a52-8c53-4f55-9d0e-6a1a3c0ffee0";
    job.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    return job;
  }();
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::mutex mutex_;
  httplib::Request last_;
  std::set<int> ports_;
  int requests_ = 0;
};

TEST_F(HttpExecutorTest, TwoHundredCompletesWithTheJsonBodyAndSendsTheHeaders) {
  const auto outcome = Post("/ok");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result, nlohmann::json({{"received", {{"order", 99}}}}));
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(last_.get_header_value("TaskFlow-Job-Id"), "1234");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Attempt"), "2");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Job-Type"), "hook");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Queue"), "web");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Correlation-Id"), "req-7");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Lease-Token"), "5f0c1a52-8c53-4f55-9d0e-6a1a3c0ffee0");
  EXPECT_EQ(last_.get_header_value("traceparent"),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(last_.get_header_value("Idempotency-Key"), "1234:2");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Tenant-Id"), "acme");
  EXPECT_FALSE(last_.has_header("TaskFlow-Signature"));  // no secret: unsigned
  EXPECT_EQ(last_.get_header_value("Authorization"), "Bearer secret");
  EXPECT_EQ(last_.get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(nlohmann::json::parse(last_.body), job_.payload);
}

TEST_F(HttpExecutorTest, TheEnvelopeBodyCarriesThePayloadAndTheDependenciesSigned) {
  job_.dependencies = nlohmann::json::array({{{"job_id", 7},
                                              {"key", "render-1"},
                                              {"state", "SUCCEEDED"},
                                              {"result", {{"pdf", "p1.pdf"}}}}});
  HandlerSpec spec = HttpSpec(Url("/ok"));
  spec.secret = "0123456789abcdef-secret";
  spec.envelope = true;
  JobContext ctx;
  ASSERT_EQ(MakeHandler(spec)(job_, ctx).kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto body = nlohmann::json::parse(last_.body);
  EXPECT_EQ(body,
            nlohmann::json({{"payload", {{"order", 99}}}, {"dependencies", job_.dependencies}}));
  const std::int64_t seconds = std::stoll(last_.get_header_value("TaskFlow-Timestamp"));
  EXPECT_EQ(last_.get_header_value("TaskFlow-Signature"),
            HttpSignature(spec.secret, seconds, last_.body))
      << "the signature covers the dependencies with the payload";
}

TEST(HttpRequestBody, PayloadByDefaultEvenWithDependenciesAndAnEnvelopeOnRequest) {
  HandlerSpec spec;
  Job job;
  job.payload = nlohmann::json::array({1, 2});
  EXPECT_EQ(HttpRequestBody(spec, job), "[1,2]");
  job.dependencies = nlohmann::json::array({{{"job_id", 3}, {"result", nullptr}}});
  EXPECT_EQ(HttpRequestBody(spec, job), "[1,2]")
      << "the default body stays the payload, as scheduled";
  spec.envelope = true;
  EXPECT_EQ(nlohmann::json::parse(HttpRequestBody(spec, job)),
            nlohmann::json({{"payload", {1, 2}}, {"dependencies", job.dependencies}}));
  job.dependencies = nullptr;
  EXPECT_EQ(nlohmann::json::parse(HttpRequestBody(spec, job)),
            nlohmann::json({{"payload", {1, 2}}, {"dependencies", nullptr}}))
      << "a job without dependencies: the same shape, dependencies null";
}

TEST_F(HttpExecutorTest, TraceparentHeaderOnlyWhenTheJobHasOne) {
  job_.traceparent.clear();  // the fixture's job has one
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
  HandlerSpec spec = HttpSpec(Url("/ok"));
  spec.headers = {{"TraceParent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}};
  JobContext ctx;
  ASSERT_EQ(MakeHandler(spec)(job_, ctx).kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(last_.get_header_value_count("traceparent"), 1u);
  EXPECT_EQ(last_.get_header_value("traceparent"),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
}

TEST_F(HttpExecutorTest, NonJsonBodyCompletesWithoutAResult) {
  const auto outcome = Post("/text");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(outcome.result.is_null());
}

TEST_F(HttpExecutorTest, ServerErrorsAndThrottlingAreRetryable) {
  for (int status : {500, 502, 503, 504, 408, 409, 425, 429}) {
    const auto outcome = PostFailing(status, true);
    EXPECT_NE(outcome.error_message.find("status body"), std::string::npos)
        << outcome.error_message;
  }
}

TEST_F(HttpExecutorTest, OtherClientErrorsAreNotRetryable) {
  for (int status : {301, 400, 401, 403, 404, 410, 413, 422}) PostFailing(status, false);
}

TEST_F(HttpExecutorTest, TimeoutFailsWithTimeout) {
  const auto start = Clock::now();
  const auto outcome = Post("/slow", milliseconds(300));
  EXPECT_EQ(outcome.error_type, "timeout") << outcome.error_message;
  EXPECT_TRUE(outcome.retryable);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1400);
}

TEST_F(HttpExecutorTest, StopRequestAbortsTheRequest) {
  HandlerSpec spec = HttpSpec(Url("/slow"));
  auto handler = MakeHandler(spec);
  JobContext ctx;
  std::thread canceller = CancelAfter(ctx, milliseconds(200));
  const auto start = Clock::now();
  const auto outcome = handler(job_, ctx);
  canceller.join();
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCancelled);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1400);
}

TEST_F(HttpExecutorTest, RequestsAreSignedWithTheHandlersSecret) {
  HandlerSpec spec = HttpSpec(Url("/ok"));
  spec.secret = "0123456789abcdef-test";
  JobContext ctx;
  const auto before = std::chrono::system_clock::now();
  ASSERT_EQ(MakeHandler(spec)(job_, ctx).kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  const std::string timestamp = last_.get_header_value("TaskFlow-Timestamp");
  ASSERT_FALSE(timestamp.empty());
  const long long seconds = std::stoll(timestamp);
  const long long now =
      std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count();
  EXPECT_GE(seconds, now - 1);
  EXPECT_LE(seconds, now + 5);
  EXPECT_EQ(last_.get_header_value("TaskFlow-Signature"),
            HttpSignature(spec.secret, seconds, last_.body));
  EXPECT_NE(last_.get_header_value("TaskFlow-Signature"),
            HttpSignature("another-secret-0123", seconds, last_.body));
}

TEST(HttpSignature, IsHmacSha256OfTimestampDotBodyInLowercaseHex) {
  // Computed independently: python3 -c 'import hmac,hashlib;
  // print(hmac.new(b"0123456789abcdef-test",
  //   b"1700000000.{\"order\":99}", hashlib.sha256).hexdigest())'
  EXPECT_EQ(HttpSignature("0123456789abcdef-test", 1700000000, R"({"order":99})"),
            "v1=49d440ec0e0accc8dc986089231d9f11d6910060f371965458b5f1dffcc83061");
}

TEST_F(HttpExecutorTest, TenantValuesCannotInjectHeaders) {
  job_.correlation_id = "req\r\nX-Evil: 1\r\n\r\nGET / HTTP/1.1";
  job_.tenant_id = "acme\n";
  job_.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-Evil: 2";
  ASSERT_EQ(Post("/ok").kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  // On the wire the values are percent-encoded (SafeHeaderValue, tested below); cpp-httplib's
  // server decodes header values again. What matters: one header each, nothing injected.
  EXPECT_FALSE(last_.has_header("X-Evil"));
  EXPECT_EQ(last_.get_header_value_count("TaskFlow-Correlation-Id"), 1u);
  EXPECT_EQ(last_.get_header_value("TaskFlow-Correlation-Id"), job_.correlation_id);
  EXPECT_EQ(last_.get_header_value("TaskFlow-Tenant-Id"), "acme\n");
  EXPECT_EQ(last_.get_header_value("TaskFlow-Job-Id"), "1234");
  EXPECT_FALSE(last_.has_header("traceparent"));  // not a valid traceparent: left out
}

TEST_F(HttpExecutorTest, NoTraceparentHeaderWhenTheJobHasNone) {
  job_.traceparent.clear();
  job_.correlation_id.clear();
  ASSERT_EQ(Post("/ok").kind, Outcome::Kind::kSucceeded);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_FALSE(last_.has_header("traceparent"));
  EXPECT_FALSE(last_.has_header("TaskFlow-Correlation-Id"));
}

TEST_F(HttpExecutorTest, SequentialRequestsReuseOneConnection) {
  const auto opened = HttpConnectionsOpened();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(Post("/count").kind, Outcome::Kind::kSucceeded) << i;
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(requests_, 50);
  EXPECT_EQ(ports_.size(), 1u);
  EXPECT_EQ(HttpConnectionsOpened() - opened, 1u);
}

TEST_F(HttpExecutorTest, ConcurrentRequestsUseAtMostOneConnectionPerThread) {
  HandlerSpec spec = HttpSpec(Url("/count"));
  const Handler handler = MakeHandler(spec);
  std::atomic<int> succeeded{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 25; ++i) {
        JobContext ctx;
        if (handler(job_, ctx).kind == Outcome::Kind::kSucceeded) ++succeeded;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(succeeded.load(), 100);
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(requests_, 100);
  EXPECT_LE(ports_.size(), 4u);
}

TEST_F(HttpExecutorTest, AConnectionTheServerClosedIsNotReused) {
  server_.set_keep_alive_timeout(1);  // the server closes an idle connection after 1 s
  ASSERT_EQ(Post("/count").kind, Outcome::Kind::kSucceeded);
  std::this_thread::sleep_for(milliseconds(1600));
  const auto outcome = Post("/count");
  EXPECT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(requests_, 2);
  EXPECT_EQ(ports_.size(), 2u);
}

TEST_F(HttpExecutorTest, ServerClosingEveryConnectionStillWorks) {
  server_.set_keep_alive_max_count(1);  // "Connection: close" on every response
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Post("/count").kind, Outcome::Kind::kSucceeded) << i;
  std::lock_guard<std::mutex> lock(mutex_);
  EXPECT_EQ(ports_.size(), 5u);
}

TEST_F(HttpExecutorTest, ResponseBodiesAreReadOnlyUpToTheBound) {
  const auto big = Post("/big");
  ASSERT_EQ(big.kind, Outcome::Kind::kSucceeded) << big.error_message;
  EXPECT_TRUE(big.result.is_null());
  const auto big400 = Post("/big400");
  ASSERT_EQ(big400.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(big400.error_type, "http_400");
  EXPECT_FALSE(big400.retryable);
  EXPECT_LT(big400.error_message.size(), 4096u);
  EXPECT_NE(big400.error_message.find("yyyy"), std::string::npos);
  // The pool is not poisoned by the connection left half read.
  EXPECT_EQ(Post("/ok").kind, Outcome::Kind::kSucceeded);
}

TEST_F(HttpExecutorTest, TooManyRequestsWithRetryAfterSnoozes) {
  const auto outcome = Post("/retry-after");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed) << outcome.error_message;
  EXPECT_EQ(outcome.snooze_for, milliseconds(120000));
}

TEST_F(HttpExecutorTest, AStoppedRequestDoesNotPoisonThePool) {
  HandlerSpec spec = HttpSpec(Url("/slow"));
  JobContext ctx;
  std::thread canceller = CancelAfter(ctx, milliseconds(200));
  EXPECT_EQ(MakeHandler(spec)(job_, ctx).kind, Outcome::Kind::kCancelled);
  canceller.join();
  const auto after = Post("/ok");
  EXPECT_EQ(after.kind, Outcome::Kind::kSucceeded) << after.error_message;
}

class ClassifyHttpReplyTest : public ::testing::Test {
 protected:
  Outcome Classify(int status, std::string retry_after = "", std::string body = "",
                   bool truncated = false) {
    HttpReply reply;
    reply.status = status;
    reply.retry_after = std::move(retry_after);
    reply.body = std::move(body);
    reply.body_truncated = truncated;
    return ClassifyHttpReply(reply, milliseconds(3600 * 1000), now_);
  }
  // Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date.
  std::chrono::system_clock::time_point now_ = std::chrono::system_clock::from_time_t(784111777);
};

TEST_F(ClassifyHttpReplyTest, SuccessKeepsAJsonBodyAsTheResult) {
  EXPECT_EQ(Classify(200, "", R"({"a": 1})").result, nlohmann::json({{"a", 1}}));
  EXPECT_EQ(Classify(204).kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(Classify(200, "", "plain text").result.is_null());
  EXPECT_TRUE(Classify(200, "", R"({"a": 1})", true).result.is_null());
  EXPECT_TRUE(Classify(202, "", std::string(100, '[') + std::string(100, ']')).result.is_null());
}

TEST_F(ClassifyHttpReplyTest, RetryAfterSecondsAndDatesSnoozeOn429And503) {
  auto outcome = Classify(429, "30");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(30000));
  EXPECT_NE(outcome.error_message.find("Retry-After: 30"), std::string::npos)
      << outcome.error_message;
  outcome = Classify(503, "Sun, 06 Nov 1994 08:51:37 GMT");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(120000));
  outcome = Classify(503, "Sunday, 06-Nov-94 08:50:37 GMT");  // RFC 850
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(60000));
  outcome = Classify(429, "Sun Nov  6 08:49:47 1994");  // asctime
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(10000));
}

TEST_F(ClassifyHttpReplyTest, SnoozesAreClampedToTheBounds) {
  EXPECT_EQ(Classify(429, "0").snooze_for, kMinHttpSnooze);
  EXPECT_EQ(Classify(429, "Sun, 06 Nov 1994 08:00:00 GMT").snooze_for,
            kMinHttpSnooze);  // in the past
  EXPECT_EQ(Classify(429, "99999999999999999999999999").snooze_for, milliseconds(3600 * 1000));
  EXPECT_EQ(Classify(429, "Fri, 31 Dec 9999 23:59:59 GMT").snooze_for, milliseconds(3600 * 1000));
  HttpReply reply;
  reply.status = 429;
  reply.retry_after = "600";
  EXPECT_EQ(ClassifyHttpReply(reply, milliseconds(60000), now_).snooze_for, milliseconds(60000));
}

TEST_F(ClassifyHttpReplyTest, AJsonBodyCanAskForASnooze) {
  auto outcome = Classify(429, "", R"({"snooze_seconds": 2.5})");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(2500));
  outcome = Classify(503, "", R"({"snooze_seconds": 5})");
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(5000));
  // The header wins over the body.
  EXPECT_EQ(Classify(429, "7", R"({"snooze_seconds": 5})").snooze_for, milliseconds(7000));
}

TEST_F(ClassifyHttpReplyTest, WithoutAUsableDelayThrottlingIsARetryableFailure) {
  for (const auto& [retry_after, body] :
       std::vector<std::pair<std::string, std::string>>{{"", ""},
                                                        {"soon", ""},
                                                        {"-5", ""},
                                                        {"1.5", ""},
                                                        {"", R"({"snooze_seconds": -1})"},
                                                        {"", R"({"snooze_seconds": "10"})"},
                                                        {"", "[1]"},
                                                        {"", "not json"}}) {
    const auto outcome = Classify(429, retry_after, body);
    EXPECT_EQ(outcome.kind, Outcome::Kind::kFailed) << retry_after << body;
    EXPECT_EQ(outcome.error_type, "http_429");
    EXPECT_TRUE(outcome.retryable);
  }
}

TEST_F(ClassifyHttpReplyTest, OnlyTooManyRequestsAndUnavailableSnooze) {
  for (int status : {500, 502, 504, 408, 200, 400}) {
    EXPECT_NE(Classify(status, "30", R"({"snooze_seconds": 5})").kind, Outcome::Kind::kSnoozed)
        << status;
  }
}

TEST(HttpHeaders, SafeHeaderValueEscapesControlsAndBoundsTheLength) {
  EXPECT_EQ(SafeHeaderValue("plain value"), "plain value");
  EXPECT_EQ(SafeHeaderValue("tab\tok"), "tab\tok");
  EXPECT_EQ(SafeHeaderValue("a\r\nb\x7f%"), "a%0D%0Ab%7F%25");
  EXPECT_EQ(SafeHeaderValue(std::string(5000, 'x')).size(), 1024u);
  // A cut never leaves half of a UTF-8 character.
  const std::string cut = SafeHeaderValue(std::string(1023, 'x') + "\xC3\xA9");
  EXPECT_EQ(cut, std::string(1023, 'x'));
}

TEST(HttpHeaders, ValidTraceparent) {
  EXPECT_TRUE(ValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ValidTraceparent(""));
  EXPECT_FALSE(
      ValidTraceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"));  // uppercase
  EXPECT_FALSE(ValidTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"));
  EXPECT_FALSE(ValidTraceparent("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
  EXPECT_FALSE(ValidTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"));
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
  HandlerSpec spec = HttpSpec("http://127.0.0.1:" + std::to_string(port) + "/x");
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
