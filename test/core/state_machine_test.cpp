#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/state_machine.hpp"
#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

using S = JobState;
using E = JobEvent;

// The table as issue #2 specifies it, written out independently of
// state_machine.cpp so that a change there has to be made here too.
const std::map<std::pair<E, S>, S>& Expected() {
  static const std::map<std::pair<E, S>, S> table = {
      {{E::Acquire, S::Pending}, S::Running},
      {{E::Acquire, S::Scheduled}, S::Running},
      {{E::Complete, S::Running}, S::Succeeded},
      {{E::FailRetry, S::Running}, S::Scheduled},
      {{E::FailExhausted, S::Running}, S::Dead},
      {{E::FailPermanent, S::Running}, S::Failed},
      {{E::Release, S::Running}, S::Pending},
      {{E::Cancel, S::Pending}, S::Cancelled},
      {{E::Cancel, S::Scheduled}, S::Cancelled},
      {{E::Cancel, S::Running}, S::Cancelled},
      {{E::Retry, S::Failed}, S::Pending},
      {{E::Retry, S::Dead}, S::Pending},
      {{E::Retry, S::Cancelled}, S::Pending},
      {{E::Promote, S::Scheduled}, S::Pending},
      {{E::Snooze, S::Running}, S::Scheduled},
      // issue 13 (workflows): waiting for dependencies is SCHEDULED
      {{E::Unblock, S::Scheduled}, S::Pending},
      {{E::Rearm, S::Failed}, S::Scheduled},
      {{E::Rearm, S::Dead}, S::Scheduled},
      {{E::Rearm, S::Cancelled}, S::Scheduled},
  };
  return table;
}

std::optional<S> ExpectedTarget(S from, E ev) {
  auto it = Expected().find({ev, from});
  if (it == Expected().end()) return std::nullopt;
  return it->second;
}

// What the user-facing message says for each event.
std::string ExpectedVerb(E ev) {
  switch (ev) {
    case E::Acquire: return "acquire";
    case E::Complete: return "complete";
    case E::FailRetry:
    case E::FailExhausted:
    case E::FailPermanent: return "fail";
    case E::Release: return "release";
    case E::Cancel: return "cancel";
    case E::Retry: return "retry";
    case E::Promote: return "promote";
    case E::Snooze: return "snooze";
    case E::Unblock: return "unblock";
    case E::Rearm: return "rearm";
  }
  return "?";
}

// ---- every (state, event) pair: 7 x 10 = 70 cases ----

class TransitionPair : public ::testing::TestWithParam<std::tuple<int, int>> {
 protected:
  S from() const { return static_cast<S>(std::get<0>(GetParam())); }
  E event() const { return static_cast<E>(std::get<1>(GetParam())); }
};

TEST_P(TransitionPair, MatchesTheTable) {
  const auto expected = ExpectedTarget(from(), event());
  const auto actual = Transition(from(), event());
  ASSERT_EQ(actual.has_value(), expected.has_value());
  if (!expected) return;
  EXPECT_EQ(ToString(*actual), ToString(*expected));
}

TEST_P(TransitionPair, RequireTransitionAgreesOrThrows55000) {
  constexpr std::int64_t kJobId = 4711;
  const auto expected = ExpectedTarget(from(), event());
  if (expected) {
    EXPECT_EQ(RequireTransition(from(), event(), kJobId), *expected);
    return;
  }
  const std::string message =
      "cannot " + ExpectedVerb(event()) + " job 4711: it is " + std::string(ToString(from()));
  EXPECT_TRUE(testing::ThrowsDomainError([&] { RequireTransition(from(), event(), kJobId); },
                                         ErrorCode::ObjectNotInPrerequisiteState, message));
}

INSTANTIATE_TEST_SUITE_P(AllPairs, TransitionPair,
                         ::testing::Combine(::testing::Range(0, kJobStateCount),
                                            ::testing::Range(0, kJobEventCount)),
                         [](const ::testing::TestParamInfo<std::tuple<int, int>>& info) {
                           return std::string(ToString(static_cast<S>(std::get<0>(info.param)))) +
                                  "_" +
                                  std::string(ToString(static_cast<E>(std::get<1>(info.param))));
                         });

// ---- details of the refusal ----

TEST(RequireTransition, MessageIsExactAndHintNamesAllowedStates) {
  try {
    RequireTransition(S::Succeeded, E::Cancel, 42);
    FAIL() << "cancel of a SUCCEEDED job must be refused";
  } catch (const DomainError& e) {
    EXPECT_STREQ(e.what(), "cannot cancel job 42: it is SUCCEEDED");
    EXPECT_STREQ(SqlState(e.code()), "55000");
    EXPECT_NE(e.hint().find("PENDING, SCHEDULED or RUNNING"), std::string::npos) << e.hint();
  }
  try {
    RequireTransition(S::Pending, E::Retry, -1);
    FAIL() << "retry of a PENDING job must be refused";
  } catch (const DomainError& e) {
    EXPECT_STREQ(e.what(), "cannot retry job -1: it is PENDING");
    EXPECT_NE(e.hint().find("FAILED, DEAD or CANCELLED"), std::string::npos) << e.hint();
  }
  try {
    RequireTransition(S::Dead, E::FailRetry, 9'000'000'000'000'000'000LL);
    FAIL() << "fail of a DEAD job must be refused";
  } catch (const DomainError& e) {
    EXPECT_STREQ(e.what(), "cannot fail job 9000000000000000000: it is DEAD");
    EXPECT_NE(e.hint().find("RUNNING"), std::string::npos) << e.hint();
  }
}

// ---- SourcesOf ----

TEST(SourcesOf, EveryEventInEnumOrder) {
  EXPECT_EQ(SourcesOf(E::Acquire), (std::vector<S>{S::Pending, S::Scheduled}));
  EXPECT_EQ(SourcesOf(E::Complete), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::FailRetry), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::FailExhausted), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::FailPermanent), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::Release), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::Cancel), (std::vector<S>{S::Pending, S::Scheduled, S::Running}));
  EXPECT_EQ(SourcesOf(E::Retry), (std::vector<S>{S::Failed, S::Dead, S::Cancelled}));
  EXPECT_EQ(SourcesOf(E::Promote), (std::vector<S>{S::Scheduled}));
  EXPECT_EQ(SourcesOf(E::Snooze), (std::vector<S>{S::Running}));
  EXPECT_EQ(SourcesOf(E::Unblock), (std::vector<S>{S::Scheduled}));
  EXPECT_EQ(SourcesOf(E::Rearm), (std::vector<S>{S::Failed, S::Dead, S::Cancelled}));
}

TEST(SourcesOf, AgreesWithTransitionForEveryPair) {
  for (int e = 0; e < kJobEventCount; ++e) {
    const auto ev = static_cast<E>(e);
    const auto sources = SourcesOf(ev);
    for (int s = 0; s < kJobStateCount; ++s) {
      const auto st = static_cast<S>(s);
      const bool listed = std::find(sources.begin(), sources.end(), st) != sources.end();
      EXPECT_EQ(listed, Transition(st, ev).has_value()) << ToString(st) << " " << ToString(ev);
    }
  }
}

// ---- the table's global properties ----

// Terminal states are left only by retry, or by rearm (workflows: back to waiting, SCHEDULED).
TEST(TransitionTable, TerminalStatesOnlyLeaveThroughRetryOrRearmAndNothingEntersRunningButAcquire) {
  for (int s = 0; s < kJobStateCount; ++s) {
    for (int e = 0; e < kJobEventCount; ++e) {
      const auto st = static_cast<S>(s);
      const auto ev = static_cast<E>(e);
      const auto to = Transition(st, ev);
      if (!to) continue;
      if (IsTerminal(st)) {
        EXPECT_TRUE(ev == E::Retry || ev == E::Rearm) << ToString(st) << " " << ToString(ev);
        if (ev == E::Rearm) {
          EXPECT_EQ(*to, S::Scheduled) << ToString(st);
        }
      }
      if (*to == S::Running) {
        EXPECT_EQ(ev, E::Acquire) << ToString(st);
      }
      EXPECT_NE(*to, st) << "self-loop " << ToString(st) << " " << ToString(ev);
    }
  }
}

TEST(JobEvent, Names) {
  const std::pair<E, std::string_view> names[] = {
      {E::Acquire, "acquire"},
      {E::Complete, "complete"},
      {E::FailRetry, "fail_retry"},
      {E::FailExhausted, "fail_exhausted"},
      {E::FailPermanent, "fail_permanent"},
      {E::Release, "release"},
      {E::Cancel, "cancel"},
      {E::Retry, "retry"},
      {E::Promote, "promote"},
      {E::Snooze, "snooze"},
      {E::Unblock, "unblock"},
      {E::Rearm, "rearm"},
  };
  for (const auto& [event, name] : names) EXPECT_EQ(ToString(event), name);
}

// ---- DecideFailure: all combinations ----

struct FailureCase {
  int attempt;
  int max_attempts;
  bool retryable;
  bool cancel_requested;
  E expected;
};

TEST(DecideFailure, AllCombinations) {
  // attempt vs max_attempts: below, equal, above (above happens when the
  // budget was lowered while the job ran).
  const std::pair<int, int> budgets[] = {{1, 5}, {4, 5}, {5, 5}, {6, 5}, {1, 1}};
  for (auto [attempt, max_attempts] : budgets) {
    for (bool retryable : {false, true}) {
      for (bool cancel : {false, true}) {
        E expected;
        if (cancel) {
          expected = E::Cancel;
        } else if (!retryable) {
          expected = E::FailPermanent;
        } else if (attempt >= max_attempts) {
          expected = E::FailExhausted;
        } else {
          expected = E::FailRetry;
        }
        const E got = DecideFailure({attempt, max_attempts, retryable, cancel});
        EXPECT_EQ(got, expected) << "attempt=" << attempt << " max=" << max_attempts
                                 << " retryable=" << retryable << " cancel=" << cancel << " got "
                                 << ToString(got);
        // Whatever is decided, a RUNNING job can take it.
        EXPECT_TRUE(Transition(S::Running, got).has_value()) << ToString(got);
      }
    }
  }
}

TEST(DecideFailure, SpotChecks) {
  EXPECT_EQ(DecideFailure({1, 5, true, false}), E::FailRetry);
  EXPECT_EQ(DecideFailure({5, 5, true, false}), E::FailExhausted);
  EXPECT_EQ(DecideFailure({1, 5, false, false}), E::FailPermanent);
  EXPECT_EQ(DecideFailure({5, 5, false, false}), E::FailPermanent);
  EXPECT_EQ(DecideFailure({5, 5, false, true}), E::Cancel);
  EXPECT_EQ(DecideFailure({1, 5, true, true}), E::Cancel);
}

TEST(DecideRelease, BothCases) {
  EXPECT_EQ(DecideRelease(false), E::Release);
  EXPECT_EQ(DecideRelease(true), E::Cancel);
  EXPECT_EQ(*Transition(S::Running, DecideRelease(false)), S::Pending);
  EXPECT_EQ(*Transition(S::Running, DecideRelease(true)), S::Cancelled);
}

TEST(DecideSnooze, BothCases) {
  EXPECT_EQ(DecideSnooze(false), E::Snooze);
  EXPECT_EQ(DecideSnooze(true), E::Cancel);
  EXPECT_EQ(*Transition(S::Running, DecideSnooze(false)), S::Scheduled);
  EXPECT_EQ(*Transition(S::Running, DecideSnooze(true)), S::Cancelled);
  // only a RUNNING job can be snoozed
  EXPECT_FALSE(Transition(S::Pending, E::Snooze).has_value());
  EXPECT_FALSE(Transition(S::Scheduled, E::Snooze).has_value());
  EXPECT_FALSE(Transition(S::Succeeded, E::Snooze).has_value());
}

TEST(InitialState, FutureRunAtIsScheduledOtherwisePending) {
  EXPECT_EQ(InitialState(std::nullopt, 1000), S::Pending);
  EXPECT_EQ(InitialState(999, 1000), S::Pending);
  EXPECT_EQ(InitialState(1000, 1000), S::Pending);  // "not in the future" is ready now
  EXPECT_EQ(InitialState(1001, 1000), S::Scheduled);
}

TEST(InitialState, UnfinishedDependenciesWaitScheduled) {
  EXPECT_EQ(InitialState(std::nullopt, 1000, 1), S::Scheduled);
  EXPECT_EQ(InitialState(999, 1000, 3), S::Scheduled);
  EXPECT_EQ(InitialState(std::nullopt, 1000, 0), S::Pending);
  EXPECT_EQ(InitialState(1001, 1000, 0), S::Scheduled);
}

TEST(Dependencies, FailurePolicyPerEdge) {
  using P = OnDependencyFailure;
  EXPECT_EQ(ParseOnDependencyFailure("cancel"), P::Cancel);
  EXPECT_EQ(ParseOnDependencyFailure("run"), P::Run);
  EXPECT_EQ(ParseOnDependencyFailure("Run"), std::nullopt);
  EXPECT_EQ(ParseOnDependencyFailure(""), std::nullopt);
  EXPECT_EQ(ToString(P::Run), "run");
  EXPECT_EQ(ToString(P::Cancel), "cancel");
  for (S s : {S::Failed, S::Dead, S::Cancelled}) {
    EXPECT_TRUE(DependencyCancels(s, P::Cancel)) << ToString(s);
    EXPECT_FALSE(DependencyCancels(s, P::Run)) << ToString(s);
  }
  for (S s : {S::Succeeded, S::Pending, S::Scheduled, S::Running}) {
    EXPECT_FALSE(DependencyCancels(s, P::Cancel)) << ToString(s);
  }
}

TEST(Dependencies, RetryWaitsAgainWhileADependencyIsUnfinished) {
  EXPECT_EQ(DecideRetry(0), E::Retry);
  EXPECT_EQ(DecideRetry(2), E::Rearm);
  EXPECT_EQ(*Transition(S::Cancelled, DecideRetry(1)), S::Scheduled);
  EXPECT_EQ(*Transition(S::Failed, DecideRetry(0)), S::Pending);
}

}  // namespace
}  // namespace taskflow::core
