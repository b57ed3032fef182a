#include "core/acquire_plan.hpp"

#include <gtest/gtest.h>

#include <climits>

#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

Head MakeHead(const std::string& tenant, int priority, std::int64_t next_run_at, std::int64_t id) {
  return Head{tenant, priority, next_run_at, id};
}

TEST(AcquirePlan, MaxJobsBounds) {
  EXPECT_NO_THROW(ValidateMaxJobs(1));
  EXPECT_NO_THROW(ValidateMaxJobs(kMaxAcquireJobs));
  for (int bad : {0, -1, kMaxAcquireJobs + 1, INT_MIN}) {
    EXPECT_TRUE(testing::ThrowsDomainError([&] { ValidateMaxJobs(bad); },
                                           ErrorCode::InvalidParameterValue,
                                           "max_jobs must be between 1 and 10000"));
  }
}

TEST(AcquirePlan, HeadOrderIsPriorityThenDueThenId) {
  EXPECT_TRUE(MakeHead("a", 5, 100, 9).Before(MakeHead("b", 4, 0, 1)));
  EXPECT_TRUE(MakeHead("a", 5, 10, 9).Before(MakeHead("b", 5, 20, 1)));
  EXPECT_TRUE(MakeHead("a", 5, 10, 1).Before(MakeHead("b", 5, 10, 2)));
  EXPECT_FALSE(MakeHead("a", 5, 10, 2).Before(MakeHead("b", 5, 10, 2)));
}

TEST(AcquirePlan, ContendersAreTheTopPriorityTenantsNotFullBestFirst) {
  std::map<std::string, Head> heads{{"a", MakeHead("a", 1, 0, 1)},
                                    {"b", MakeHead("b", 3, 50, 2)},
                                    {"c", MakeHead("c", 3, 10, 3)},
                                    {"d", MakeHead("d", 7, 0, 4)}};
  std::vector<Head> c = PickContenders(heads, {"d"});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].tenant, "c");
  EXPECT_EQ(c[1].tenant, "b");
  c = PickContenders(heads, {});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].tenant, "d");
  EXPECT_TRUE(PickContenders(heads, {"a", "b", "c", "d"}).empty());
  EXPECT_TRUE(PickContenders({}, {}).empty());
}

TEST(AcquirePlan, ContendersAtTheLowestPriority) {
  std::map<std::string, Head> heads{{"a", MakeHead("a", INT_MIN, 0, 1)}};
  ASSERT_EQ(PickContenders(heads, {}).size(), 1u);
}

TEST(AcquirePlan, NoContendersRescansOnlyWhenTheHeadsMayBeIncomplete) {
  EXPECT_FALSE(RescanForContenders(false, false, false));  // tenants left, all at their limit
  EXPECT_FALSE(RescanForContenders(false, true, true));
  EXPECT_FALSE(RescanForContenders(true, true, false));  // own complete scan: nothing ready
  EXPECT_TRUE(RescanForContenders(true, true, true));    // tenants dropped since the scan
  EXPECT_TRUE(RescanForContenders(true, false, false));  // a cached scan
}

TEST(AcquirePlan, RunningBoundFollowsCommitsEndsAndReservations) {
  SlotCount c{4, 100, 50, 0};
  EXPECT_EQ(RunningBound(c, {100, 50, 0}), 4);
  EXPECT_EQ(RunningBound(c, {103, 50, 0}), 7);  // three starts committed since the count
  EXPECT_EQ(RunningBound(c, {103, 52, 0}), 5);  // two ended since
  EXPECT_EQ(RunningBound(c, {103, 52, 2}), 7);  // two reserved now
  c.own_at = 2;                                 // the count saw this transaction's two
  EXPECT_EQ(RunningBound(c, {103, 52, 2}), 5);
  // More ended than counted plus started (jobs ended that acquire never started): negative.
  EXPECT_EQ(RunningBound({0, 0, 0, 0}, {0, 5, 0}), -5);
}

TEST(AcquirePlan, RoomUnderALimitIsNeverNegative) {
  EXPECT_EQ(RoomUnder(10, 4), 6);
  EXPECT_EQ(RoomUnder(10, 10), 0);
  EXPECT_EQ(RoomUnder(10, 12), 0);
  EXPECT_EQ(RoomUnder(10, -5), 15);
  EXPECT_EQ(RoomUnder(INT_MAX, -5), INT_MAX);
  EXPECT_EQ(RoomUnder(0, std::int64_t{1} << 40), 0);
}

TEST(AcquirePlan, TenantCapTrustsAValidBound) {
  TenantCap cap = PlanTenantCap(10, 4, 3, 0);
  EXPECT_EQ(cap.cap, 6);
  EXPECT_FALSE(cap.recount);
  cap = PlanTenantCap(10, 12, 3, 0);  // full: no need to count again
  EXPECT_EQ(cap.cap, 0);
  EXPECT_FALSE(cap.recount);
}

TEST(AcquirePlan, TenantCapRecountsWithoutABound) {
  TenantCap cap = PlanTenantCap(10, std::nullopt, 3, 1);
  EXPECT_EQ(cap.cap, 7);  // the limit less other transactions' reservations
  EXPECT_TRUE(cap.recount);
  cap = PlanTenantCap(2, std::nullopt, 5, 0);
  EXPECT_EQ(cap.cap, 0);
  EXPECT_TRUE(cap.recount);
  cap = PlanTenantCap(4, std::nullopt, -1, 0);  // a negative "others" counts as none
  EXPECT_EQ(cap.cap, 4);
}

TEST(AcquirePlan, TenantCapRecountsWhenFullWhileHoldingReservations) {
  // A rolled-back savepoint's jobs are PENDING again but still reserved by this transaction.
  TenantCap cap = PlanTenantCap(3, 3, 0, 2);
  EXPECT_TRUE(cap.recount);
  EXPECT_EQ(cap.cap, 3);
  cap = PlanTenantCap(3, 2, 0, 2);  // room left: trusted
  EXPECT_FALSE(cap.recount);
  EXPECT_EQ(cap.cap, 1);
}

TEST(AcquirePlan, QueueCapTakesTheConcurrencyLimitAndTheTokens) {
  EXPECT_EQ(QueueCap(std::nullopt, 7, std::nullopt), INT_MAX);
  EXPECT_EQ(QueueCap(5, 2, std::nullopt), 3);
  EXPECT_EQ(QueueCap(5, 9, std::nullopt), 0);
  EXPECT_EQ(QueueCap(5, 2, 1.9), 1);
  EXPECT_EQ(QueueCap(std::nullopt, 0, 4.5), 4);
  EXPECT_EQ(QueueCap(5, 0, 0.2), 0);
}

TEST(AcquirePlan, GroupCapIsAtMostTheRemainingAndTheQueuesTogether) {
  EXPECT_EQ(GroupCap(10, {3, 4}), 7);
  EXPECT_EQ(GroupCap(5, {3, 4}), 5);
  EXPECT_EQ(GroupCap(10, {INT_MAX, INT_MAX}), 10);  // no overflow
  EXPECT_EQ(GroupCap(10, {0, 0}), 0);
  EXPECT_EQ(GroupCap(10, {}), 0);
}

TEST(AcquirePlan, FlowCapAndQuantum) {
  EXPECT_EQ(FlowCap(10, std::nullopt, std::nullopt), 10);
  EXPECT_EQ(FlowCap(10, 4, std::nullopt), 4);
  EXPECT_EQ(FlowCap(10, 4, 2.7), 2);
  EXPECT_EQ(FlowCap(3, 4, 8.0), 3);
  EXPECT_EQ(SlotQuantum(1), 1);
  EXPECT_EQ(SlotQuantum(kTenantsPerCall), 1);
  EXPECT_EQ(SlotQuantum(kTenantsPerCall + 1), 2);
  EXPECT_EQ(SlotQuantum(kMaxAcquireJobs), kMaxAcquireJobs / kTenantsPerCall);
}

TEST(AcquirePlan, VirtualTimeFollowsTheFlowsThatWereGivenSlots) {
  Flow a;
  a.weight = 2;
  a.pass = 10;
  a.given = 1;
  Flow b;
  b.weight = 1;
  b.pass = 50;  // given nothing: does not move the virtual time
  EXPECT_DOUBLE_EQ(VirtualTimeAfter({a, b}, 3), 9.5);
  EXPECT_DOUBLE_EQ(VirtualTimeAfter({a, b}, 20), 20);  // never goes back
  a.weight = 0.5;                                      // weights below 1 count as 1
  EXPECT_DOUBLE_EQ(VirtualTimeAfter({a}, 0), 9);
}

TEST(AcquirePlan, TrimToRoomKeepsWhatTheLimitAndTheLocksAllow) {
  Trim t = TrimToRoom(5, 5, 10, true);
  EXPECT_EQ(t.keep, 5);
  EXPECT_FALSE(t.trimmed);
  EXPECT_FALSE(t.full);
  t = TrimToRoom(5, 5, 2, false);  // the bound leaves less than estimated
  EXPECT_EQ(t.keep, 2);
  EXPECT_TRUE(t.trimmed);
  t = TrimToRoom(5, 3, 10, false);  // fewer jobs locked: not a trim (the tenant ran out)
  EXPECT_EQ(t.keep, 3);
  EXPECT_FALSE(t.trimmed);
  t = TrimToRoom(5, 3, 0, true);  // counted at its limit
  EXPECT_EQ(t.keep, 0);
  EXPECT_TRUE(t.trimmed);
  EXPECT_TRUE(t.full);
  t = TrimToRoom(5, 3, 0, false);  // at its limit by the bound only: not full for the call
  EXPECT_FALSE(t.full);
  t = TrimToRoom(5, 0, 0, true);  // nothing locked: not counted, nothing to keep
  EXPECT_EQ(t.keep, 0);
  EXPECT_FALSE(t.full);
  EXPECT_FALSE(t.trimmed);
}

Candidate MakeCandidate(std::int64_t id, const std::string& queue, const std::string& tenant) {
  Candidate c;
  c.id = id;
  c.queue = queue;
  c.tenant = tenant;
  return c;
}

TEST(AcquirePlan, KeepWithinCapsHonoursSharesAndQueueCaps) {
  std::vector<Candidate> cands{MakeCandidate(1, "q1", "a"), MakeCandidate(2, "q1", "a"),
                               MakeCandidate(3, "q2", "a"), MakeCandidate(4, "q1", "b"),
                               MakeCandidate(5, "q2", "b")};
  std::map<std::string, int> queue_cap{{"q1", 2}, {"q2", 5}};
  std::vector<std::size_t> kept = KeepWithinCaps(cands, {{"a", 2}, {"b", 2}}, queue_cap);
  EXPECT_EQ(kept, (std::vector<std::size_t>{0, 1, 4}));  // q1 is full after a's two
  EXPECT_EQ(queue_cap["q1"], 0);
  EXPECT_EQ(queue_cap["q2"], 4);
  std::map<std::string, int> none{{"q1", 0}, {"q2", 0}};
  EXPECT_TRUE(KeepWithinCaps(cands, {{"a", 9}, {"b", 9}}, none).empty());
  std::map<std::string, int> many{{"q1", 9}, {"q2", 9}};
  EXPECT_TRUE(KeepWithinCaps(cands, {{"a", 0}}, many).empty());  // no share: nothing
}

TEST(AcquirePlan, RanOutAndUnusedSlots) {
  EXPECT_TRUE(RanOut(3, 2));
  EXPECT_FALSE(RanOut(3, 3));
  EXPECT_FALSE(RanOut(0, 0));
  EXPECT_DOUBLE_EQ(UnusedPassDelta(4, 1, 3), -1.0);
  EXPECT_DOUBLE_EQ(UnusedPassDelta(4, 4, 3), 0.0);
  EXPECT_DOUBLE_EQ(UnusedPassDelta(2, 0, 0.5), -2.0);
}

TEST(AcquirePlan, AnotherRoundOnlyWhenItCanGiveMore) {
  struct Case {
    RoundOutcome round;  // {exhausted, trimmed, started, allocated, group_cap}
    bool another;
    const char* why;
  };
  const Case cases[] = {
      {{false, false, 10, 10, 10}, false, "all started"},
      {{false, false, 0, 10, 10}, false, "nothing started"},
      {{false, false, 4, 4, 10}, false, "every contender at its cap"},
      {{false, false, 0, 0, 0}, false, "no slots at all"},
      {{true, false, 0, 10, 10}, true, "a tenant ran out"},
      {{true, false, 10, 10, 10}, true, "a tenant ran out, all started"},
      {{false, true, 0, 10, 10}, true, "trimmed, nothing started"},
      {{false, true, 50, 100, 100}, true, "trimmed by half"},
      {{false, true, 90, 100, 100}, false, "a tenth lost: not worth it"},
      {{false, true, 89, 100, 100}, true, "trimmed by more than a tenth"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "started " << c.round.started << " of "
                                      << c.round.allocated << " allocated, " << c.why);
    EXPECT_EQ(AnotherRound(c.round), c.another);
  }
}

}  // namespace
}  // namespace taskflow::core
