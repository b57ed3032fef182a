#include <gtest/gtest.h>

#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/errors.hpp"
#include "core/job_state.hpp"

namespace taskflow::core {
namespace {

const JobState kAllStates[] = {JobState::Pending,   JobState::Scheduled, JobState::Running,
                               JobState::Succeeded, JobState::Failed,    JobState::Dead,
                               JobState::Cancelled};

TEST(JobState, LabelsMatchTheSqlEnum) {
  const std::pair<JobState, std::string_view> labels[] = {
      {JobState::Pending, "PENDING"},     {JobState::Scheduled, "SCHEDULED"},
      {JobState::Running, "RUNNING"},     {JobState::Succeeded, "SUCCEEDED"},
      {JobState::Failed, "FAILED"},       {JobState::Dead, "DEAD"},
      {JobState::Cancelled, "CANCELLED"},
  };
  for (const auto& [state, label] : labels) EXPECT_EQ(ToString(state), label);
  EXPECT_EQ(std::size(kAllStates), static_cast<std::size_t>(kJobStateCount));
}

TEST(JobState, ParseRoundTripsEveryLabel) {
  for (JobState s : kAllStates) {
    auto parsed = ParseJobState(ToString(s));
    ASSERT_TRUE(parsed.has_value()) << ToString(s);
    EXPECT_EQ(*parsed, s);
  }
}

TEST(JobState, ParseRejectsAnythingButExactLabels) {
  for (const char* bad : {"", "pending", "Pending", " PENDING", "PENDING ", "PEND", "PENDINGS",
                          "CANCELED", "UNKNOWN", "running"}) {
    EXPECT_FALSE(ParseJobState(bad).has_value()) << '"' << bad << '"';
  }
  // An embedded NUL must not make a prefix match.
  EXPECT_FALSE(ParseJobState(std::string_view("DEAD\0", 5)).has_value());
}

TEST(JobState, TerminalAndUnfinishedPartitionTheStates) {
  EXPECT_TRUE(IsUnfinished(JobState::Pending));
  EXPECT_TRUE(IsUnfinished(JobState::Scheduled));
  EXPECT_TRUE(IsUnfinished(JobState::Running));
  EXPECT_TRUE(IsTerminal(JobState::Succeeded));
  EXPECT_TRUE(IsTerminal(JobState::Failed));
  EXPECT_TRUE(IsTerminal(JobState::Dead));
  EXPECT_TRUE(IsTerminal(JobState::Cancelled));
  for (JobState s : kAllStates) {
    EXPECT_NE(IsTerminal(s), IsUnfinished(s)) << ToString(s);
  }
}

TEST(JobState, AllStatesInEnumOrder) {
  ASSERT_EQ(kAllJobStates.size(), std::size(kAllStates));
  for (std::size_t i = 0; i < kAllJobStates.size(); ++i) {
    EXPECT_EQ(kAllJobStates[i], kAllStates[i]) << i;
    EXPECT_EQ(static_cast<std::size_t>(kAllJobStates[i]), i);
  }
}

TEST(JobState, ClassListsAreTheSqlLists) {
  // The lists every SQL text renders (api::StateListSql) and taskflow._core_states() returns.
  EXPECT_EQ(UnfinishedStates(),
            (std::vector<JobState>{JobState::Pending, JobState::Scheduled, JobState::Running}));
  EXPECT_EQ(FinalStates(), (std::vector<JobState>{JobState::Succeeded, JobState::Failed,
                                                  JobState::Dead, JobState::Cancelled}));
  for (JobState s : kAllStates) {
    EXPECT_EQ(StateClassName(s), IsUnfinished(s) ? "unfinished" : "final") << ToString(s);
  }
  EXPECT_EQ(StateClassName(JobState::Running), "unfinished");
  EXPECT_EQ(StateClassName(JobState::Cancelled), "final");
  EXPECT_EQ(UnfinishedStates().size() + FinalStates().size(),
            static_cast<std::size_t>(kJobStateCount));
}

TEST(Errors, SqlStates) {
  const std::pair<ErrorCode, const char*> sqlstates[] = {
      {ErrorCode::InvalidParameterValue, "22023"},
      {ErrorCode::ObjectNotInPrerequisiteState, "55000"},
      {ErrorCode::UndefinedObject, "42704"},
      {ErrorCode::ForeignKeyViolation, "23503"},
      {ErrorCode::InsufficientPrivilege, "42501"},
      {ErrorCode::InvalidAuthorization, "28000"},
      {ErrorCode::ProgramLimitExceeded, "54000"},
      {ErrorCode::DuplicateObject, "42710"},
      {ErrorCode::Internal, "XX000"},
  };
  for (const auto& [code, sqlstate] : sqlstates) EXPECT_STREQ(SqlState(code), sqlstate) << sqlstate;
}

TEST(Errors, DomainErrorCarriesAllParts) {
  const DomainError e(ErrorCode::UndefinedObject, "queue \"x\" does not exist", "Create it first.",
                      "some detail");
  EXPECT_EQ(e.code(), ErrorCode::UndefinedObject);
  EXPECT_STREQ(e.what(), "queue \"x\" does not exist");
  EXPECT_EQ(e.hint(), "Create it first.");
  EXPECT_EQ(e.detail(), "some detail");

  const DomainError bare(ErrorCode::Internal, "boom");
  EXPECT_TRUE(bare.hint().empty());
  EXPECT_TRUE(bare.detail().empty());
  // Catchable as std::runtime_error, which the boundary guard relies on.
  const std::runtime_error& base = bare;
  EXPECT_STREQ(base.what(), "boom");
}

}  // namespace
}  // namespace taskflow::core
