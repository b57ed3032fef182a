// The Completer against an in-memory JobStore: batching, flushing on size and on time, retries
// after a lost connection, refused outcomes, giving up at exit.
#include "completer.hpp"

#include <gtest/gtest.h>

#include "fake_job_store.hpp"

namespace taskflow {
namespace {

using testing::FakeDatabase;
using Kind = StoreError::Kind;

std::shared_ptr<ActiveJob> MakeActive(ActiveJobs& jobs, std::int64_t id) {
  Job job;
  job.id = id;
  job.lease_token = "token-" + std::to_string(id);
  job.type = "t";
  auto active = std::make_shared<ActiveJob>(std::move(job));
  jobs.Add({active});
  return active;
}

Report Completion(const std::shared_ptr<ActiveJob>& active) {
  Report report;
  report.kind = Report::Kind::kComplete;
  report.active = active;
  return report;
}

CompleterOptions Fast(Milliseconds flush = Milliseconds(0)) {
  CompleterOptions options;
  options.flush_interval = flush;
  options.retry_min = Milliseconds(1);
  options.retry_max = Milliseconds(5);
  return options;
}

// Every test has an in-memory database and an active-jobs table.
class CompleterTest : public ::testing::Test {
 protected:
  // Completions of jobs 1..n, active in `jobs`, in this order.
  void EnqueueCompletions(Completer& completer, int n) {
    for (int id = 1; id <= n; ++id) completer.Enqueue(Completion(MakeActive(jobs, id)));
  }
  // A fail report of job `id`, active in `jobs`.
  Report Failure(std::int64_t id) {
    Report fail;
    fail.kind = Report::Kind::kFail;
    fail.active = MakeActive(jobs, id);
    return fail;
  }

  FakeDatabase db;
  ActiveJobs jobs;
};

TEST_F(CompleterTest, GathersOutcomesFinishingTogetherIntoOneCompleteMany) {
  Completer completer(Fast(Milliseconds(200)), db.Factory(), jobs);
  completer.Start();
  EnqueueCompletions(completer, 5);
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 5 && jobs.size() == 0; }))
      << "reported jobs leave the active table";
  const auto calls = db.Calls("complete_many");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].leases.size(), 5u);
  EXPECT_EQ(calls[0].leases[2].lease_token, "token-3");
  EXPECT_TRUE(db.Calls("complete").empty());
  completer.Stop(Milliseconds(0));
  EXPECT_EQ(completer.unreported(), 0);
}

TEST_F(CompleterTest, FlushesAFullBatchWithoutWaitingForTheInterval) {
  CompleterOptions options = Fast(Milliseconds(60000));
  options.max_batch = 3;
  Completer completer(options, db.Factory(), jobs);
  completer.Start();
  const auto start = std::chrono::steady_clock::now();
  EnqueueCompletions(completer, 3);
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 3; }, Milliseconds(5000)))
      << "a full batch is reported at once, not after the 60 s interval";
  EXPECT_LT(std::chrono::steady_clock::now() - start, Milliseconds(5000));
  ASSERT_EQ(db.Calls("complete_many").size(), 1u);
  EXPECT_EQ(db.Calls("complete_many")[0].leases.size(), 3u);
  completer.Stop(Milliseconds(0));
}

TEST_F(CompleterTest, SplitsMoreThanMaxBatchIntoRounds) {
  CompleterOptions options = Fast(Milliseconds(60000));
  options.max_batch = 4;
  Completer completer(options, db.Factory(), jobs);
  EnqueueCompletions(completer, 10);
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() >= 8; }));
  for (const auto& call : db.Calls()) EXPECT_LE(call.leases.size(), 4u);
  completer.Stop(Milliseconds(1000));  // the last 2 at Stop(), without waiting for the interval
  EXPECT_EQ(db.Reported().size(), 10u);
}

TEST_F(CompleterTest, FlushesOnTimeAfterTheFirstOutcome) {
  Completer completer(Fast(Milliseconds(150)), db.Factory(), jobs);
  completer.Start();
  const auto start = std::chrono::steady_clock::now();
  completer.Enqueue(Completion(MakeActive(jobs, 1)));
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 1; }));
  const auto waited = db.Calls("complete").at(0).at - start;
  EXPECT_GE(waited, Milliseconds(140)) << "waits the flush interval for others";
  EXPECT_LT(waited, Milliseconds(3000));
  EXPECT_TRUE(db.Calls("complete_many").empty())
      << "one completion: complete(), not complete_many()";
  completer.Stop(Milliseconds(0));
}

TEST_F(CompleterTest, ReportsEachKindWithItsCall) {
  Completer completer(Fast(Milliseconds(100)), db.Factory(), jobs);
  Report fail = Failure(1);
  fail.error_type = "boom";
  fail.retryable = false;
  Report snooze;
  snooze.kind = Report::Kind::kSnooze;
  snooze.active = MakeActive(jobs, 2);
  snooze.snooze_for = Milliseconds(30000);
  completer.Enqueue(std::move(fail));
  completer.Enqueue(std::move(snooze));
  completer.Enqueue(Report::Release(MakeActive(jobs, 3)));
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 3; }));
  ASSERT_EQ(db.Calls("fail").size(), 1u);
  EXPECT_EQ(db.Calls("fail")[0].error_type, "boom");
  EXPECT_FALSE(db.Calls("fail")[0].retryable);
  ASSERT_EQ(db.Calls("snooze").size(), 1u);
  EXPECT_EQ(db.Calls("snooze")[0].duration, Milliseconds(30000));
  ASSERT_EQ(db.Calls("release").size(), 1u);
  EXPECT_EQ(db.Calls("release")[0].leases[0].job_id, 3);
  completer.Stop(Milliseconds(0));
}

TEST_F(CompleterTest, ReportsAnAttemptOnlyOnce) {
  Completer completer(Fast(), db.Factory(), jobs);
  auto active = MakeActive(jobs, 1);
  completer.Enqueue(Completion(active));
  completer.Enqueue(
      Report::Release(active));  // e.g. the shutdown's release after the handler returned
  completer.Start();
  completer.Stop(Milliseconds(1000));
  EXPECT_EQ(db.Reported(), std::vector<std::int64_t>{1});
  EXPECT_EQ(db.Calls("complete").size(), 1u);
}

TEST_F(CompleterTest, SendsTheSameLeaseTokensAgainAfterALostConnection) {
  db.FailNext("complete_many", 1, Kind::kConnectionLost);
  db.FailNext("connect", 2, Kind::kConnectionLost);  // the first reconnects fail too
  Completer completer(Fast(Milliseconds(50)), db.Factory(), jobs);
  // The first connect fails before the first try; the lost complete_many then reconnects.
  EnqueueCompletions(completer, 3);
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("complete_many").size() == 1; }));
  completer.Stop(Milliseconds(5000));
  const auto calls = db.Calls("complete_many");
  ASSERT_EQ(calls.size(), 1u) << "the lost call was not recorded; the retry was";
  EXPECT_EQ(calls[0].leases.size(), 3u);
  EXPECT_EQ(calls[0].leases[0].lease_token, "token-1");
  EXPECT_EQ(db.connects(), 2) << "a new session after the lost one";
  EXPECT_EQ(completer.unreported(), 0);
  EXPECT_EQ(jobs.size(), 0u);
}

TEST_F(CompleterTest, SendsAgainAfterADeadlockOnTheSameSession) {
  db.FailNext("complete_many", 2, Kind::kTransient);
  Completer completer(Fast(Milliseconds(50)), db.Factory(), jobs);
  EnqueueCompletions(completer, 2);
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Reported().size() == 2; }));
  completer.Stop(Milliseconds(0));
  EXPECT_EQ(db.Calls("complete_many").size(), 1u);
  EXPECT_EQ(db.connects(), 1) << "a deadlock keeps the session";
  EXPECT_EQ(completer.unreported(), 0);
}

TEST_F(CompleterTest, ABatchTheServerRefusesIsReportedOneByOne) {
  db.Reject("complete_many", 2);  // one bad result refuses the whole complete_many
  Completer completer(Fast(Milliseconds(100)), db.Factory(), jobs);
  EnqueueCompletions(completer, 3);
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("complete").size() == 3; }));
  completer.Stop(Milliseconds(0));
  EXPECT_TRUE(db.Calls("complete_many").empty());
  EXPECT_EQ(completer.unreported(), 0);
}

TEST_F(CompleterTest, DropsAndCountsAnOutcomeTheServerRefusesWithoutBlockingTheOthers) {
  db.Reject("fail", 1);
  Completer completer(Fast(Milliseconds(100)), db.Factory(), jobs);
  Report fail = Failure(1);
  completer.Enqueue(std::move(fail));
  completer.Enqueue(Report::Release(MakeActive(jobs, 2)));
  completer.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("release").size() == 1; }));
  completer.Stop(Milliseconds(0));
  EXPECT_TRUE(db.Calls("fail").empty());
  EXPECT_EQ(completer.unreported(), 1);
  EXPECT_EQ(jobs.size(), 0u);
}

TEST_F(CompleterTest, GivesUpAtStopWhileTheServerStaysAway) {
  db.FailNext("connect", 1000000, Kind::kConnectionLost);
  Completer completer(Fast(), db.Factory(), jobs);
  completer.Start();
  EnqueueCompletions(completer, 4);
  std::this_thread::sleep_for(Milliseconds(30));
  const auto start = std::chrono::steady_clock::now();
  completer.Stop(Milliseconds(100));
  EXPECT_LT(std::chrono::steady_clock::now() - start, Milliseconds(3000));
  EXPECT_EQ(completer.unreported(), 4);
  EXPECT_TRUE(db.Reported().empty());
}

TEST(CompleterOptions, DefaultsAndValidate) {
  const CompleterOptions defaults;
  EXPECT_EQ(defaults.flush_interval, Milliseconds(2));
  EXPECT_EQ(defaults.max_batch, 1000u);
  EXPECT_NO_THROW(defaults.Validate());
  CompleterOptions bad;
  bad.flush_interval = Milliseconds(-1);
  EXPECT_THROW(bad.Validate(), std::invalid_argument);
  bad = CompleterOptions();
  bad.max_batch = 0;
  EXPECT_THROW(bad.Validate(), std::invalid_argument);
  bad = CompleterOptions();
  bad.retry_max = Milliseconds(10);
  EXPECT_THROW(bad.Validate(), std::invalid_argument);
  FakeDatabase db;
  ActiveJobs jobs;
  CompleterOptions negative;
  negative.flush_interval = Milliseconds(-5);
  EXPECT_THROW(Completer(negative, db.Factory(), jobs), std::invalid_argument)
      << "the part checks its options too";
}

}  // namespace
}  // namespace taskflow
