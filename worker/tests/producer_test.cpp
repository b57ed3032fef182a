// The Producer and the ExecutorPool against an in-memory JobStore: never more jobs than the
// free slots, the acquire cap, jobs no handler here can run, the first acquire refused, a lost
// connection, and the outcome of each kind of handler return.
#include "producer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

#include "expect_rejected.hpp"
#include "fake_job_store.hpp"

namespace taskflow {
namespace {

using testing::ExpectRejected;

using testing::Call;
using testing::FakeDatabase;

// A handler that blocks until Open(); counts the handlers running.
class Gate {
 public:
  Handler MakeHandler() {
    return [this](const Job&, JobContext&) {
      running_.fetch_add(1);
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [this] { return open_; });
      }
      running_.fetch_sub(1);
      return Outcome::Succeeded();
    };
  }
  void Open() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    cv_.notify_all();
  }
  int running() const { return running_.load(); }

  // Opens the gate when the test leaves, even by a failed ASSERT (declare it after the Rig, so
  // the handler threads can end before the Rig joins them).
  struct OpenOnExit {
    Gate& gate;
    ~OpenOnExit() { gate.Open(); }
  };

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool open_ = false;
  std::atomic<int> running_{0};
};

// The parts of one worker, as Worker::Impl wires them, on a FakeDatabase.
struct Rig {
  Rig(FakeDatabase& db, ProducerOptions producer_options, int concurrency, Handler handler,
      CompleterOptions completer_options = CompleterOptions())
      : handler(std::move(handler)) {
    completer_options.retry_min = Milliseconds(1);
    completer_options.retry_max = Milliseconds(5);
    completer = std::make_unique<Completer>(completer_options, db.Factory(), jobs);
    ExecutorPoolOptions pool_options;
    pool_options.concurrency = concurrency;
    pool = std::make_unique<ExecutorPool>(pool_options, *completer,
                                          [this](int busy) { producer->OnHandlerFinished(busy); });
    producer_options.worker_id = "test:1";
    producer_options.reconnect_min = Milliseconds(1);
    producer_options.reconnect_max = Milliseconds(5);
    producer = std::make_unique<Producer>(
        producer_options, std::nullopt, *pool, *completer, jobs,
        [this](const std::string& type) -> const Handler* {
          return type == "t" ? &this->handler : nullptr;
        },
        nullptr);
    completer->Start();
    pool->Start();
  }
  // Runs the Producer on its own thread until Stop().
  void Start(FakeDatabase& db) {
    thread = std::thread([this, &db] {
      try {
        producer->Run(db.Factory()(), db.Factory());
      } catch (const std::exception& e) {
        error = e.what();
      }
    });
  }
  ~Rig() { Stop(); }
  // Idempotent.
  void Stop() {
    producer->Stop();
    if (thread.joinable()) thread.join();
    pool->Join(false);
    completer->Stop(Milliseconds(1000));
  }

  Handler handler;
  ActiveJobs jobs;
  std::unique_ptr<Completer> completer;
  std::unique_ptr<ExecutorPool> pool;
  std::unique_ptr<Producer> producer;
  std::thread thread;
  std::string error;
};

ProducerOptions FixedPrefetch(int prefetch) {
  ProducerOptions options;
  options.prefetch = prefetch;
  options.poll_interval = Milliseconds(20);
  return options;
}

TEST(Producer, NeverAcquiresMoreThanTheFreeSlots) {
  FakeDatabase db;
  db.AddJobs(60);
  Gate gate;
  Rig rig(db, FixedPrefetch(3), /*concurrency=*/2, gate.MakeHandler());
  Gate::OpenOnExit open_on_exit{gate};
  // Slots: 2 handler threads + 3 prefetched. The pool's busy jobs (running or waiting for a
  // thread) plus what the Producer asks for never exceed them.
  std::atomic<int> asked_beyond_free{0};
  std::atomic<int> max_busy{0};
  db.OnAcquire([&](int max_jobs) {
    const int busy = rig.pool->busy();
    if (max_jobs > 5 - busy) asked_beyond_free.fetch_add(1);
    max_busy.store(std::max(max_busy.load(), busy));
  });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return rig.pool->busy() == 5 && gate.running() == 2; }))
      << "fills the slots: 2 running, 3 waiting for a thread";
  std::this_thread::sleep_for(Milliseconds(100));  // several poll intervals: no acquire while full
  EXPECT_EQ(db.pending(), 55u);
  gate.Open();
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 60; }));
  rig.Stop();
  EXPECT_EQ(rig.error, "");
  EXPECT_EQ(asked_beyond_free.load(), 0);
  EXPECT_LE(max_busy.load(), 5);
  for (const auto& call : db.Calls("acquire")) EXPECT_LE(call.max_jobs, 5);
}

TEST(Producer, AFullWorkerWaitsForHalfTheSlotsBeforeAcquiringAgain) {
  FakeDatabase db;
  db.AddJobs(40);
  Rig rig(db, FixedPrefetch(6), /*concurrency=*/2,
          [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 40; }));
  rig.Stop();
  // 8 slots: after the first full batch, a busy worker acquires once half (4) are free, or
  // when a handler thread would idle; never one job per finished handler.
  const auto calls = db.Calls("acquire");
  ASSERT_GE(calls.size(), 2u);
  EXPECT_EQ(calls[0].max_jobs, 8);
  for (const auto& call : calls)
    EXPECT_GE(call.max_jobs, 4) << "batches, not one acquire per finished job";
}

TEST(Producer, AcquireBatchCapsEachCall) {
  FakeDatabase db;
  db.AddJobs(12);
  ProducerOptions options = FixedPrefetch(10);
  options.acquire_batch = 3;
  Rig rig(db, options, /*concurrency=*/4,
          [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 12; }));
  rig.Stop();
  for (const auto& call : db.Calls("acquire")) EXPECT_LE(call.max_jobs, 3);
}

// The Producer's session commits its acquisitions without waiting for the WAL flush unless
// durable_acquire, set before its first acquire and again on every new session.
TEST(Producer, AcquisitionsSkipTheFlushUnlessDurableAcquire) {
  for (const bool durable : {false, true}) {
    FakeDatabase db;
    db.AddJobs(4);
    ProducerOptions options = FixedPrefetch(0);
    options.poll_interval = Milliseconds(20);
    options.durable_acquire = durable;
    db.FailNext("acquire", 1);  // a lost connection: the new session is set up again
    Rig rig(db, options, /*concurrency=*/2,
            [](const Job&, JobContext&) { return Outcome::Succeeded(); });
    rig.Start(db);
    ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 4; }));
    rig.Stop();
    const auto sets = db.Calls("synchronous_commit");
    ASSERT_EQ(sets.size(), 2u) << "once per Producer session (the first and the reconnected one)";
    for (const auto& call : sets) EXPECT_EQ(call.on, durable);
    const auto all = db.Calls();
    const auto first_set = std::find_if(
        all.begin(), all.end(), [](const Call& c) { return c.kind == "synchronous_commit"; });
    const auto first_acquire =
        std::find_if(all.begin(), all.end(), [](const Call& c) { return c.kind == "acquire"; });
    EXPECT_LT(first_set - all.begin(), first_acquire - all.begin())
        << "set before the first acquire";
  }
}

TEST(Producer, AutoPrefetchStartsWithTheHandlerThreadsOnly) {
  FakeDatabase db;
  db.AddJobs(3);
  Gate gate;
  ProducerOptions options;  // prefetch auto: an idle worker has measured no rate yet
  options.poll_interval = Milliseconds(20);
  Rig rig(db, options, /*concurrency=*/3, gate.MakeHandler());
  Gate::OpenOnExit open_on_exit{gate};
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return gate.running() == 3; }));
  EXPECT_EQ(db.Calls("acquire").at(0).max_jobs, 3);
  gate.Open();
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 3; }));
  rig.Stop();
}

TEST(Producer, FailsJobsNoHandlerHereCanRunWithoutRetry) {
  FakeDatabase db;
  db.AddJobs(1, "unknown");
  Job deep;
  deep.id = 100;
  deep.lease_token = "token-100";
  deep.type = "t";
  deep.payload_error = "too deep";
  db.AddJob(deep);
  Rig rig(db, FixedPrefetch(0), 2, [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("fail").size() == 2; }));
  rig.Stop();
  const auto fails = db.Calls("fail");
  EXPECT_EQ(fails[0].error_type, "no_handler");
  EXPECT_FALSE(fails[0].retryable);
  EXPECT_EQ(fails[1].error_type, "payload_too_deep");
  EXPECT_FALSE(fails[1].retryable);
  EXPECT_TRUE(db.Calls("complete").empty()) << "the handler never ran";
}

TEST(Producer, ARefusedFirstAcquireIsAStartupError) {
  FakeDatabase db;
  db.FailNext("acquire", 1, StoreError::Kind::kRejected);  // e.g. an unknown queue
  Rig rig(db, FixedPrefetch(0), 1, [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  rig.Start(db);
  rig.thread.join();
  EXPECT_NE(rig.error.find("taskflow.acquire failed"), std::string::npos) << rig.error;
  rig.Stop();
}

TEST(Producer, ReconnectsAfterALostConnection) {
  FakeDatabase db;
  db.AddJobs(2);
  db.FailNext("acquire", 1, StoreError::Kind::kConnectionLost);
  Rig rig(db, FixedPrefetch(0), 1, [](const Job&, JobContext&) { return Outcome::Succeeded(); });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 2; }));
  rig.Stop();
  EXPECT_EQ(rig.error, "");
  EXPECT_GE(db.connects(), 3) << "the first session, the Completer's, and the Producer's new one";
}

TEST(ExecutorPool, TheOutcomeOfAHandlerBecomesItsReport) {
  auto active = std::make_shared<ActiveJob>(Job{});
  Report report = ExecutorPool::ReportOf(active, Outcome::Succeeded({{"n", 1}}));
  EXPECT_EQ(report.kind, Report::Kind::kComplete);
  EXPECT_EQ(report.result, std::optional<std::string>("{\"n\":1}"));
  EXPECT_EQ(ExecutorPool::ReportOf(active, Outcome::Succeeded()).result, std::nullopt);

  report = ExecutorPool::ReportOf(active, Outcome::Snoozed(Milliseconds(5000), "HTTP 429"));
  EXPECT_EQ(report.kind, Report::Kind::kSnooze);
  EXPECT_EQ(report.snooze_for, Milliseconds(5000));
  EXPECT_EQ(report.error_message, "HTTP 429");

  report = ExecutorPool::ReportOf(active, Outcome::Failed("", "x", true));
  EXPECT_EQ(report.kind, Report::Kind::kFail);
  EXPECT_EQ(report.error_type, "error");
  EXPECT_TRUE(report.retryable);
  EXPECT_FALSE(ExecutorPool::ReportOf(active, Outcome::Cancelled("stopped")).retryable);

  active->ctx.RequestStop(StopReason::kShutdown);
  EXPECT_EQ(ExecutorPool::ReportOf(active, Outcome::Cancelled("stopped")).kind,
            Report::Kind::kRelease)
      << "a handler stopped by the shutdown gives its attempt back";
  EXPECT_EQ(ExecutorPool::ReportOf(active, Outcome::Snooze(Milliseconds(1))).kind,
            Report::Kind::kSnooze)
      << "a snooze during shutdown is still a snooze";
}

TEST(ExecutorPool, AThrowingHandlerFailsRetryable) {
  FakeDatabase db;
  db.AddJobs(1);
  Rig rig(db, FixedPrefetch(0), 1,
          [](const Job&, JobContext&) -> Outcome { throw std::runtime_error("boom"); });
  rig.Start(db);
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("fail").size() == 1; }));
  rig.Stop();
  EXPECT_EQ(db.Calls("fail")[0].error_type, "handler_exception");
  EXPECT_TRUE(db.Calls("fail")[0].retryable);
}

TEST(ProducerOptions, DefaultsAndValidate) {
  const ProducerOptions defaults;
  EXPECT_EQ(defaults.queues, std::vector<std::string>{"default"});
  EXPECT_EQ(defaults.prefetch, ProducerOptions::kPrefetchAuto);
  EXPECT_EQ(defaults.poll_interval, Milliseconds(1000));
  EXPECT_EQ(defaults.prefetch_max_wait, Milliseconds(100));
  EXPECT_EQ(defaults.PrefetchCeiling(16), 128);
  EXPECT_EQ(defaults.PrefetchCeiling(500), 1000);
  EXPECT_NO_THROW(defaults.Validate());
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.queues.clear(); }, "--queue");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.queues = {""}; }, "--queue");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.lease = Milliseconds(0); }, "--lease");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.poll_interval = Milliseconds(0); },
                                  "--poll-interval");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.acquire_batch = -1; }, "--batch");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.prefetch = -2; }, "--prefetch");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.prefetch = 100001; }, "--prefetch");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.prefetch_max = -1; },
                                  "--prefetch-max");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.prefetch_max_wait = Milliseconds(0); },
                                  "--prefetch-max-wait");
  ExpectRejected<ProducerOptions>([](ProducerOptions& o) { o.reconnect_max = Milliseconds(1); },
                                  "reconnect_max");
}

}  // namespace
}  // namespace taskflow
