// WorkerOptions (the public options) and the parts' options: one set of defaults, one set of
// rules (WorkerOptions::Validate runs each part's Validate; Worker::Run and taskflow-worker
// both call it).
#include "worker_options.hpp"

#include <gtest/gtest.h>

#include "expect_rejected.hpp"

namespace taskflow {
namespace {

using testing::ExpectRejected;

TEST(WorkerOptions, TheDefaultsAreThePartsDefaults) {
  const WorkerParts parts = PartsOf(WorkerOptions());
  const ProducerOptions producer;
  EXPECT_EQ(parts.producer.queues, producer.queues);
  EXPECT_EQ(parts.producer.lease, producer.lease);
  EXPECT_EQ(parts.producer.poll_interval, producer.poll_interval);
  EXPECT_EQ(parts.producer.acquire_batch, producer.acquire_batch);
  EXPECT_EQ(parts.producer.prefetch, producer.prefetch);
  EXPECT_EQ(parts.producer.prefetch_max, producer.prefetch_max);
  EXPECT_EQ(parts.producer.prefetch_max_wait, producer.prefetch_max_wait);
  EXPECT_EQ(parts.producer.reconnect_min, producer.reconnect_min);
  EXPECT_EQ(parts.producer.reconnect_max, producer.reconnect_max);
  EXPECT_EQ(parts.pool.concurrency, ExecutorPoolOptions().concurrency);
  const CompleterOptions completer;
  EXPECT_EQ(parts.completer.flush_interval, completer.flush_interval);
  EXPECT_EQ(parts.completer.max_batch, completer.max_batch);
  EXPECT_EQ(parts.completer.retry_min, completer.retry_min);
  EXPECT_EQ(parts.completer.retry_max, completer.retry_max);
  const HeartbeaterOptions heartbeater;
  EXPECT_EQ(parts.heartbeater.lease, heartbeater.lease);
  EXPECT_EQ(parts.heartbeater.interval, heartbeater.interval);
  EXPECT_NO_THROW(WorkerOptions().Validate());
}

TEST(WorkerOptions, EachOptionReachesItsPart) {
  WorkerOptions options;
  options.queues = {"a", "b"};
  options.concurrency = 7;
  options.lease = Milliseconds(9000);
  options.heartbeat_interval = Milliseconds(2000);
  options.poll_interval = Milliseconds(300);
  options.acquire_batch = 5;
  options.prefetch = 4;
  options.prefetch_max = 50;
  options.prefetch_max_wait = Milliseconds(250);
  options.completion_flush_interval = Milliseconds(7);
  options.reconnect_min = Milliseconds(20);
  options.reconnect_max = Milliseconds(900);
  const WorkerParts parts = PartsOf(options);
  EXPECT_EQ(parts.producer.queues, options.queues);
  EXPECT_EQ(parts.pool.concurrency, 7);
  EXPECT_EQ(parts.producer.lease, Milliseconds(9000));
  EXPECT_EQ(parts.heartbeater.lease, Milliseconds(9000));
  EXPECT_EQ(parts.heartbeater.interval, Milliseconds(2000));
  EXPECT_EQ(parts.producer.poll_interval, Milliseconds(300));
  EXPECT_EQ(parts.producer.acquire_batch, 5);
  EXPECT_EQ(parts.producer.prefetch, 4);
  EXPECT_EQ(parts.producer.prefetch_max, 50);
  EXPECT_EQ(parts.producer.prefetch_max_wait, Milliseconds(250));
  EXPECT_EQ(parts.completer.flush_interval, Milliseconds(7));
  EXPECT_EQ(parts.completer.retry_min, Milliseconds(20));
  EXPECT_EQ(parts.producer.reconnect_max, Milliseconds(900));
}

TEST(WorkerOptions, ValidateRejectsEachBadValue) {
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.concurrency = 0; }, "--concurrency");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.concurrency = 4097; }, "--concurrency");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.queues.clear(); }, "--queue");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.lease = Milliseconds(-1); }, "--lease");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.heartbeat_interval = o.lease; },
                                "--heartbeat-interval");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.poll_interval = Milliseconds(0); },
                                "--poll-interval");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.shutdown_grace = Milliseconds(-1); },
                                "--shutdown-grace");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.prefetch = -7; }, "--prefetch");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.prefetch_max_wait = Milliseconds(0); },
                                "--prefetch-max-wait");
  ExpectRejected<WorkerOptions>(
      [](WorkerOptions& o) { o.completion_flush_interval = Milliseconds(-1); },
      "--completion-flush-interval");
  ExpectRejected<WorkerOptions>([](WorkerOptions& o) { o.acquire_batch = -1; }, "--batch");
}

TEST(WorkerOptions, RunRefusesBadOptionsBeforeConnecting) {
  WorkerOptions options;
  options.database_url = "host=/nonexistent port=1 connect_timeout=1";
  options.concurrency = 0;
  Worker worker(options);
  worker.On("t", [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  try {
    worker.Run();
    FAIL() << "no exception";
  } catch (const StartupError& e) {
    EXPECT_NE(std::string(e.what()).find("concurrency"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace taskflow
