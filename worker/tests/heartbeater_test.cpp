// The Heartbeater against an in-memory JobStore: it extends the leases of the jobs held (not of
// those whose outcome is queued), stops handlers on cancel_requested and lost, and stops beating
// for finished jobs.
#include "heartbeater.hpp"

#include <gtest/gtest.h>

#include "fake_job_store.hpp"

namespace taskflow {
namespace {

using testing::FakeDatabase;

std::shared_ptr<ActiveJob> MakeActive(ActiveJobs& jobs, std::int64_t id) {
  Job job;
  job.id = id;
  job.lease_token = "token-" + std::to_string(id);
  auto active = std::make_shared<ActiveJob>(std::move(job));
  jobs.Add({active});
  return active;
}

HeartbeaterOptions Options(Milliseconds lease, Milliseconds interval = Milliseconds(0)) {
  HeartbeaterOptions options;
  options.lease = lease;
  options.interval = interval;
  return options;
}

TEST(Heartbeater, ExtendsTheLeasesOfHeldJobsByTheLeaseInOneCall) {
  FakeDatabase db;
  ActiveJobs jobs;
  MakeActive(jobs, 1);
  MakeActive(jobs, 2);
  MakeActive(jobs, 3)->reported.store(true);  // its outcome is queued: the Completer's now
  Heartbeater heartbeater(Options(Milliseconds(30000)), db.Factory(), jobs);
  EXPECT_EQ(heartbeater.Beat(), 2u);
  const auto calls = db.Calls("heartbeat");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].duration, Milliseconds(30000));
  std::vector<std::int64_t> ids;
  for (const auto& lease : calls[0].leases) ids.push_back(lease.job_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::int64_t>{1, 2}));
}

TEST(Heartbeater, NothingHeldNoCallAndNoConnection) {
  FakeDatabase db;
  ActiveJobs jobs;
  Heartbeater heartbeater(Options(Milliseconds(30000)), db.Factory(), jobs);
  EXPECT_EQ(heartbeater.Beat(), 0u);
  EXPECT_TRUE(db.Calls().empty());
  EXPECT_EQ(db.connects(), 0);
}

TEST(Heartbeater, CancelRequestedAndLostStopTheirHandlers) {
  FakeDatabase db;
  ActiveJobs jobs;
  auto running = MakeActive(jobs, 1);
  auto cancelled = MakeActive(jobs, 2);
  auto lost = MakeActive(jobs, 3);
  db.Answer(2, "cancel_requested");
  db.Answer(3, "lost");
  Heartbeater heartbeater(Options(Milliseconds(30000)), db.Factory(), jobs);
  heartbeater.Beat();
  EXPECT_EQ(running->ctx.Reason(), StopReason::kNone);
  EXPECT_EQ(cancelled->ctx.Reason(), StopReason::kCancelRequested);
  EXPECT_EQ(lost->ctx.Reason(), StopReason::kLeaseLost);
}

TEST(Heartbeater, AFailedBeatReconnectsAtTheNext) {
  FakeDatabase db;
  ActiveJobs jobs;
  MakeActive(jobs, 1);
  Heartbeater heartbeater(Options(Milliseconds(30000)), db.Factory(), jobs);
  EXPECT_EQ(heartbeater.Beat(), 1u);
  db.FailNext("heartbeat", 1, StoreError::Kind::kConnectionLost);
  EXPECT_EQ(heartbeater.Beat(), 0u);
  EXPECT_EQ(heartbeater.Beat(), 1u);
  EXPECT_EQ(db.connects(), 2) << "a lost connection is replaced";
  EXPECT_EQ(db.Calls("heartbeat").size(), 2u);
}

TEST(Heartbeater, BeatsEveryIntervalAndStopsForFinishedJobs) {
  FakeDatabase db;
  ActiveJobs jobs;
  MakeActive(jobs, 7);
  Heartbeater heartbeater(Options(Milliseconds(1000), Milliseconds(20)), db.Factory(), jobs);
  heartbeater.Start();
  ASSERT_TRUE(db.WaitFor([&] { return db.Calls("heartbeat").size() >= 3; }));
  jobs.Remove(7);                                 // the Completer reported it
  std::this_thread::sleep_for(Milliseconds(40));  // a beat in flight may still carry it
  const std::size_t before = db.Calls("heartbeat").size();
  std::this_thread::sleep_for(Milliseconds(150));
  EXPECT_EQ(db.Calls("heartbeat").size(), before) << "no heartbeat without held jobs";
  heartbeater.Stop();
  for (const auto& call : db.Calls("heartbeat")) {
    ASSERT_EQ(call.leases.size(), 1u);
    EXPECT_EQ(call.leases[0].lease_token, "token-7");
  }
}

TEST(HeartbeaterOptions, DefaultsAndValidate) {
  const HeartbeaterOptions defaults;
  EXPECT_EQ(defaults.lease, Milliseconds(30000));
  EXPECT_EQ(defaults.EffectiveInterval(), Milliseconds(10000)) << "lease / 3";
  EXPECT_NO_THROW(defaults.Validate());
  EXPECT_EQ(Options(Milliseconds(150)).EffectiveInterval(), Milliseconds(100)) << "at least 100 ms";
  EXPECT_NO_THROW(Options(Milliseconds(2000), Milliseconds(1999)).Validate());
  EXPECT_THROW(Options(Milliseconds(2000), Milliseconds(2000)).Validate(), std::invalid_argument);
  EXPECT_THROW(Options(Milliseconds(2000), Milliseconds(-1)).Validate(), std::invalid_argument);
  EXPECT_THROW(Options(Milliseconds(100)).Validate(), std::invalid_argument)
      << "lease / 3 rounds up to the lease";
  EXPECT_THROW(Options(Milliseconds(0)).Validate(), std::invalid_argument);
  try {
    Options(Milliseconds(2000), Milliseconds(3000)).Validate();
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("--heartbeat-interval"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace taskflow
