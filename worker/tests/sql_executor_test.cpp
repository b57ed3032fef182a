// The sql executor against a scripted SqlSession (JobContext::Sql()): how each SqlError becomes
// an outcome, and that a stop cancels the running statement. No server needed.
#include <gtest/gtest.h>

#include <functional>

#include "executors.hpp"

namespace taskflow {
namespace {

class ScriptedSession : public SqlSession {
 public:
  std::function<nlohmann::json()> answer = [] {
    return nlohmann::json{{"rows", nlohmann::json::array()}};
  };
  nlohmann::json Execute(const std::string& statement, const std::vector<std::string>& params,
                         std::optional<Milliseconds> timeout) override {
    this->statement = statement;
    this->params = params;
    this->timeout = timeout;
    return answer();
  }
  nlohmann::json ExecuteWithSettings(
      const std::string& statement, const std::vector<std::string>& params,
      std::optional<Milliseconds> timeout,
      const std::vector<std::pair<std::string, std::string>>& settings) override {
    this->settings = settings;
    return Execute(statement, params, timeout);
  }
  void Cancel() noexcept override { ++cancels; }

  std::vector<std::pair<std::string, std::string>> settings;
  std::string statement;
  std::vector<std::string> params;
  std::optional<Milliseconds> timeout;
  int cancels = 0;
};

Outcome RunSqlJob(JobContext& ctx, std::optional<Milliseconds> spec_timeout = std::nullopt,
                  nlohmann::json dependencies = nullptr) {
  HandlerSpec spec;
  spec.job_type = "audit";
  spec.executor = "sql";
  spec.statement = "INSERT INTO t(doc) VALUES ($1::jsonb)";
  spec.timeout = spec_timeout;
  Job job;
  job.id = 1;
  job.payload = {{"n", 2}};
  job.dependencies = std::move(dependencies);
  return MakeHandler(spec)(job, ctx);
}

TEST(SqlExecutor, TheDependenciesAreATransactionSettingOnlyForAJobWithDependencies) {
  ScriptedSession session;
  JobContext ctx([&session]() -> SqlSession& { return session; });
  const nlohmann::json deps =
      nlohmann::json::array({{{"job_id", 5}, {"state", "SUCCEEDED"}, {"result", {{"n", 1}}}}});
  ASSERT_EQ(RunSqlJob(ctx, std::nullopt, deps).kind, Outcome::Kind::kSucceeded);
  ASSERT_EQ(session.settings.size(), 1u);
  EXPECT_EQ(session.settings[0].first, "taskflow_job.dependencies");
  EXPECT_EQ(nlohmann::json::parse(session.settings[0].second), deps);
  EXPECT_EQ(session.params, std::vector<std::string>{"{\"n\":2}"})
      << "$1 is still the payload, alone";

  ASSERT_EQ(RunSqlJob(ctx).kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(session.settings.empty()) << "no dependencies: no setting, no extra round trip";
}

// A session that only implements Execute cannot pass the dependencies: the job fails, not
// retryable, instead of running without them.
class ExecuteOnlySession : public SqlSession {
 public:
  nlohmann::json Execute(const std::string&, const std::vector<std::string>&,
                         std::optional<Milliseconds>) override {
    ++calls;
    return nlohmann::json{{"affected_rows", 1}};
  }
  void Cancel() noexcept override {}
  int calls = 0;
};

TEST(SqlExecutor, ASessionWithoutSettingsRefusesAJobWithDependencies) {
  ExecuteOnlySession session;
  JobContext ctx([&session]() -> SqlSession& { return session; });
  EXPECT_EQ(RunSqlJob(ctx).kind, Outcome::Kind::kSucceeded);
  const Outcome outcome = RunSqlJob(ctx, std::nullopt, nlohmann::json::array());
  EXPECT_EQ(outcome.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(outcome.error_type, "0A000");
  EXPECT_FALSE(outcome.retryable);
  EXPECT_EQ(session.calls, 1);
}

TEST(SqlExecutor, RunsTheStatementWithThePayloadAndReturnsTheRows) {
  ScriptedSession session;
  session.answer = [] { return nlohmann::json{{"rows", {{{"doubled", 4}}}}}; };
  JobContext ctx([&session]() -> SqlSession& { return session; });
  const Outcome outcome = RunSqlJob(ctx, Milliseconds(1500));
  EXPECT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.result["rows"][0]["doubled"], 4);
  EXPECT_EQ(session.params, std::vector<std::string>{"{\"n\":2}"});
  EXPECT_EQ(session.timeout, Milliseconds(1500));
}

TEST(SqlExecutor, EachSqlErrorBecomesItsOutcome) {
  ScriptedSession session;
  JobContext ctx([&session]() -> SqlSession& { return session; });
  session.answer = []() -> nlohmann::json {
    throw SqlError(SqlError::Kind::kConnectionLost, "", "server closed\n");
  };
  Outcome outcome = RunSqlJob(ctx);
  EXPECT_EQ(outcome.error_type, "connection_error");
  EXPECT_EQ(outcome.error_message, "server closed");
  EXPECT_TRUE(outcome.retryable);

  session.answer = []() -> nlohmann::json {
    throw SqlError(SqlError::Kind::kCommitInDoubt, "", "lost");
  };
  EXPECT_EQ(RunSqlJob(ctx).error_message, "commit in doubt: lost");

  session.answer = []() -> nlohmann::json {
    throw SqlError(SqlError::Kind::kStatement, "22012", "division by zero");
  };
  outcome = RunSqlJob(ctx);
  EXPECT_EQ(outcome.error_type, "22012");
  EXPECT_FALSE(outcome.retryable) << "a data error does not go away by retrying";

  session.answer = []() -> nlohmann::json {
    throw SqlError(SqlError::Kind::kStatement, "40001", "serialization");
  };
  EXPECT_TRUE(RunSqlJob(ctx).retryable);

  session.answer = []() -> nlohmann::json {
    throw SqlError(SqlError::Kind::kStatement, "57014", "canceling");
  };
  outcome = RunSqlJob(ctx, Milliseconds(250));
  EXPECT_EQ(outcome.error_type, "timeout");
  EXPECT_NE(outcome.error_message.find("250 ms"), std::string::npos) << outcome.error_message;
}

TEST(SqlExecutor, AStopCancelsTheRunningStatement) {
  ScriptedSession session;
  JobContext ctx([&session]() -> SqlSession& { return session; });
  session.answer = [&]() -> nlohmann::json {
    ctx.RequestStop(StopReason::kCancelRequested);  // the Heartbeater, while the statement runs
    throw SqlError(SqlError::Kind::kStatement, "57014", "canceling statement due to user request");
  };
  const Outcome outcome = RunSqlJob(ctx);
  EXPECT_EQ(session.cancels, 1);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCancelled);
  EXPECT_FALSE(outcome.retryable);
}

}  // namespace
}  // namespace taskflow
