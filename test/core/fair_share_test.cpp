#include "core/fair_share.hpp"

#include <gtest/gtest.h>

#include <map>

namespace taskflow::core {
namespace {

Flow MakeFlow(const std::string& tenant, double weight, int cap, double pass = 0) {
  Flow f;
  f.tenant = tenant;
  f.weight = weight;
  f.cap = cap;
  f.pass = pass;
  return f;
}

TEST(FairShare, EqualWeightsAlternate) {
  std::vector<Flow> flows{MakeFlow("a", 1, 1000), MakeFlow("b", 1, 1000)};
  EXPECT_EQ(AllocateSlots(flows, 10), 10);
  EXPECT_EQ(flows[0].given, 5);
  EXPECT_EQ(flows[1].given, 5);
}

TEST(FairShare, WeightsGiveProportionalShares) {
  std::vector<Flow> flows{MakeFlow("a", 3, 100000), MakeFlow("b", 1, 100000)};
  EXPECT_EQ(AllocateSlots(flows, 4000), 4000);
  EXPECT_EQ(flows[0].given, 3000);
  EXPECT_EQ(flows[1].given, 1000);
}

TEST(FairShare, OneSlotAtATimeKeepsTheShareThroughPasses) {
  // A worker acquiring one job per call: the stored passes carry the rotation across calls.
  std::vector<Flow> flows{MakeFlow("a", 3, 1), MakeFlow("b", 1, 1)};
  std::map<std::string, int> got;
  for (int i = 0; i < 4000; ++i) {
    for (auto& f : flows) f.cap = 1;
    ASSERT_EQ(AllocateSlots(flows, 1), 1);
    for (auto& f : flows) got[f.tenant] += f.given;
  }
  EXPECT_EQ(got["a"], 3000);
  EXPECT_EQ(got["b"], 1000);
}

TEST(FairShare, CapsLimitAFlowAndTheRestGoesToOthers) {
  std::vector<Flow> flows{MakeFlow("a", 1, 2), MakeFlow("b", 1, 100)};
  EXPECT_EQ(AllocateSlots(flows, 10), 10);
  EXPECT_EQ(flows[0].given, 2);
  EXPECT_EQ(flows[1].given, 8);
}

TEST(FairShare, NotEnoughCapacityGivesFewerSlots) {
  std::vector<Flow> flows{MakeFlow("a", 1, 2), MakeFlow("b", 1, 0)};
  EXPECT_EQ(AllocateSlots(flows, 10), 2);
  EXPECT_EQ(flows[1].given, 0);
}

TEST(FairShare, AQuantumSpreadsACallOverFewerFlows) {
  std::vector<Flow> flows;
  for (int i = 0; i < 100; ++i) flows.push_back(MakeFlow("t" + std::to_string(i), 1, 1000));
  EXPECT_EQ(AllocateSlots(flows, 100, 4), 100);
  int served = 0;
  for (const auto& f : flows) {
    if (f.given > 0) {
      ++served;
      EXPECT_EQ(f.given, 4) << f.tenant;
      EXPECT_DOUBLE_EQ(f.pass, 4.0) << f.tenant;  // advanced by slots / weight
    }
  }
  EXPECT_EQ(served, 25);
}

TEST(FairShare, AQuantumKeepsSharesAcrossCalls) {
  // Batches of 100 with a quantum of 4 over many calls: weights 3:1 still give 75% / 25%.
  std::vector<Flow> flows{MakeFlow("a", 3, 1000), MakeFlow("b", 1, 1000), MakeFlow("c", 1, 1000)};
  std::map<std::string, int> got;
  for (int call = 0; call < 100; ++call) {
    ASSERT_EQ(AllocateSlots(flows, 100, 4), 100);
    for (auto& f : flows) got[f.tenant] += f.given;
  }
  EXPECT_NEAR(got["a"], 6000, 8);
  EXPECT_NEAR(got["b"], 2000, 8);
  EXPECT_NEAR(got["c"], 2000, 8);
}

TEST(FairShare, AQuantumNeverExceedsCapsOrSlots) {
  std::vector<Flow> flows{MakeFlow("a", 1, 3), MakeFlow("b", 1, 100)};
  EXPECT_EQ(AllocateSlots(flows, 10, 4), 10);
  EXPECT_EQ(flows[0].given, 3);
  EXPECT_EQ(flows[1].given, 7);
  std::vector<Flow> few{MakeFlow("a", 1, 100), MakeFlow("b", 1, 100)};
  EXPECT_EQ(AllocateSlots(few, 6, 4), 6);
  EXPECT_EQ(few[0].given, 4);
  EXPECT_EQ(few[1].given, 2);
}

TEST(FairShare, TiesGoToTheEarlierFlow) {
  std::vector<Flow> flows{MakeFlow("x", 1, 5), MakeFlow("y", 1, 5)};
  EXPECT_EQ(AllocateSlots(flows, 1), 1);
  EXPECT_EQ(flows[0].given, 1);
  EXPECT_EQ(flows[1].given, 0);
}

TEST(FairShare, LateTenantIsServedPromptly) {
  // A has been served 10,000 times; B arrives: JoinPass puts B near the queue's time, so B
  // is not starved, and A is not starved by B catching up from zero either.
  double vtime = 10000;
  std::vector<Flow> flows{MakeFlow("a", 1, 1, vtime), MakeFlow("b", 1, 1, JoinPass(0, vtime, 1))};
  int b = 0;
  for (int i = 0; i < 210; ++i) {
    for (auto& f : flows) f.cap = 1;
    AllocateSlots(flows, 1);
    b += flows[1].given;
  }
  EXPECT_GE(b, 100);
  EXPECT_LE(b, 106);
}

TEST(FairShare, JoinPassNeverMovesAFlowBack) {
  EXPECT_DOUBLE_EQ(JoinPass(50, 10, 1), 50);
  EXPECT_DOUBLE_EQ(JoinPass(0, 10, 1), 9);
  EXPECT_DOUBLE_EQ(JoinPass(0, 10, 4), 9.75);
  EXPECT_DOUBLE_EQ(JoinPass(0, 10, 0.1), 9);  // weights below 1 count as 1
}

TEST(FairShare, ReturnSlotsUndoesUnusedGrants) {
  std::vector<Flow> flows{MakeFlow("a", 2, 10)};
  AllocateSlots(flows, 4);
  EXPECT_DOUBLE_EQ(flows[0].pass, 2.0);
  ReturnSlots(flows[0], 3);
  EXPECT_EQ(flows[0].given, 1);
  EXPECT_DOUBLE_EQ(flows[0].pass, 0.5);
  ReturnSlots(flows[0], 5);  // never more than given
  EXPECT_EQ(flows[0].given, 0);
  EXPECT_DOUBLE_EQ(flows[0].pass, 0.0);
}

TEST(FairShare, ZeroSlotsOrNoFlows) {
  std::vector<Flow> none;
  EXPECT_EQ(AllocateSlots(none, 5), 0);
  std::vector<Flow> flows{MakeFlow("a", 1, 5)};
  EXPECT_EQ(AllocateSlots(flows, 0), 0);
  EXPECT_EQ(flows[0].given, 0);
}

}  // namespace
}  // namespace taskflow::core

namespace taskflow::core {
namespace {

TEST(TokenBucket, RefillsAtTheRateAndCapsAtMax) {
  TokenBucket b{10, 1'000'000, 0};
  EXPECT_DOUBLE_EQ(b.Available(0, 0), 0);
  EXPECT_DOUBLE_EQ(b.Available(0, 500'000), 5);
  EXPECT_DOUBLE_EQ(b.Available(0, 1'000'000), 10);
  EXPECT_DOUBLE_EQ(b.Available(0, 5'000'000), 10);
  b.tokens = 3;
  EXPECT_DOUBLE_EQ(b.Available(0, 100'000), 4);
}

TEST(TokenBucket, ClockGoingBackAndBadConfigGiveNothingExtra) {
  TokenBucket b{10, 1'000'000, 2};
  EXPECT_DOUBLE_EQ(b.Available(1'000'000, 0), 2);
  TokenBucket off{0, 1'000'000, 5};
  EXPECT_DOUBLE_EQ(off.Available(0, 10'000'000), 0);
}

}  // namespace
}  // namespace taskflow::core
