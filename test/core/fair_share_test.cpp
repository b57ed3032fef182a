#include "core/fair_share.hpp"

#include <gtest/gtest.h>

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace taskflow::core {
namespace {

Flow MakeFlow(const std::string& tenant, double weight, int cap, double pass = 0) {
  return Flow{tenant, weight, pass, cap};
}

// Two flows "a" and "b" (stored pass 0) share `slots`, `quantum` at a time.
struct TwoFlows {
  const char* name;
  double weight_a, weight_b;
  int cap_a, cap_b;
  int slots, quantum;
  int total, given_a, given_b;  // expected
};

void PrintTo(const TwoFlows& c, std::ostream* os) { *os << c.name; }

class FairShareTwoFlows : public ::testing::TestWithParam<TwoFlows> {};

TEST_P(FairShareTwoFlows, Allocates) {
  const TwoFlows& c = GetParam();
  std::vector<Flow> flows{MakeFlow("a", c.weight_a, c.cap_a), MakeFlow("b", c.weight_b, c.cap_b)};
  EXPECT_EQ(AllocateSlots(flows, c.slots, c.quantum), c.total);
  EXPECT_EQ(flows[0].given, c.given_a);
  EXPECT_EQ(flows[1].given, c.given_b);
}

INSTANTIATE_TEST_SUITE_P(
    FairShare, FairShareTwoFlows,
    ::testing::Values(
        // name, weights a/b, caps a/b, slots, quantum, total given, given a/b
        TwoFlows{"EqualWeightsAlternate", 1, 1, 1000, 1000, 10, 1, 10, 5, 5},
        TwoFlows{"WeightsGiveProportionalShares", 3, 1, 100000, 100000, 4000, 1, 4000, 3000, 1000},
        TwoFlows{"CapsLimitAFlowAndTheRestGoesToOthers", 1, 1, 2, 100, 10, 1, 10, 2, 8},
        TwoFlows{"NotEnoughCapacityGivesFewerSlots", 1, 1, 2, 0, 10, 1, 2, 2, 0},
        TwoFlows{"AQuantumNeverExceedsCaps", 1, 1, 3, 100, 10, 4, 10, 3, 7},
        TwoFlows{"AQuantumNeverExceedsSlots", 1, 1, 100, 100, 6, 4, 6, 4, 2},
        TwoFlows{"TiesGoToTheEarlierFlow", 1, 1, 5, 5, 1, 1, 1, 1, 0}),
    [](const ::testing::TestParamInfo<TwoFlows>& info) { return std::string(info.param.name); });

// Totals of `calls` acquire calls of one slot each, every flow able to take one per call (the
// stored passes carry the rotation across calls); `empty_calls` counts calls that gave nothing.
struct OneAtATime {
  std::map<std::string, int> got;
  int empty_calls = 0;
};
OneAtATime AcquireOneAtATime(std::vector<Flow>& flows, int calls) {
  OneAtATime r;
  for (int i = 0; i < calls; ++i) {
    for (auto& f : flows) f.cap = 1;
    if (AllocateSlots(flows, 1) != 1) ++r.empty_calls;
    for (auto& f : flows) r.got[f.tenant] += f.given;
  }
  return r;
}

TEST(FairShare, OneSlotAtATimeKeepsTheShareThroughPasses) {
  // A worker acquiring one job per call: the stored passes carry the rotation across calls.
  std::vector<Flow> flows{MakeFlow("a", 3, 1), MakeFlow("b", 1, 1)};
  OneAtATime r = AcquireOneAtATime(flows, 4000);
  EXPECT_EQ(r.empty_calls, 0);
  EXPECT_EQ(r.got["a"], 3000);
  EXPECT_EQ(r.got["b"], 1000);
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

TEST(FairShare, LateTenantIsServedPromptly) {
  // A has been served 10,000 times; B arrives: JoinPass puts B near the queue's time, so B
  // is not starved, and A is not starved by B catching up from zero either.
  double vtime = 10000;
  std::vector<Flow> flows{MakeFlow("a", 1, 1, vtime), MakeFlow("b", 1, 1, JoinPass(0, vtime, 1))};
  const int b = AcquireOneAtATime(flows, 210).got["b"];
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
