// The public headers (what `cmake --install` puts under include/taskflow) do not pull in
// libpqxx: not its headers, not even a forward declaration. This file includes only them, so
// it stops compiling if one does: a namespace alias cannot reuse the name of a namespace.
// (test/t/package.t checks the installed copies the same way, with no libpqxx on the path.)
#include <taskflow/json_limits.hpp>
#include <taskflow/log_format.hpp>
#include <taskflow/version.hpp>
#include <taskflow/worker.hpp>

namespace pqxx = std;  // ill-formed if a public header declared namespace pqxx

#if defined(PQXX_H_PQXX) || defined(PQXX_H_CONNECTION) || defined(PQXX_H_CONNECTION_BASE)
#error "a public header includes libpqxx"
#endif

#include <gtest/gtest.h>

namespace {

// A handler that runs SQL sees only SqlSession (JobContext::Sql()); a fake one stands in here.
class RecordingSession : public taskflow::SqlSession {
 public:
  nlohmann::json Execute(const std::string& statement, const std::vector<std::string>& params,
                         std::optional<taskflow::Milliseconds> timeout) override {
    statements.push_back(statement);
    last_params = params;
    last_timeout = timeout;
    if (statement == "broken")
      throw taskflow::SqlError(taskflow::SqlError::Kind::kConnectionLost, "", "gone");
    return {{"rows", nlohmann::json::array({{{"n", 1}}})}};
  }
  void Cancel() noexcept override { ++cancels; }

  std::vector<std::string> statements;
  std::vector<std::string> last_params;
  std::optional<taskflow::Milliseconds> last_timeout;
  int cancels = 0;
};

TEST(PublicHeaders, AHandlerReachesTheDatabaseThroughSqlSession) {
  RecordingSession session;
  taskflow::JobContext ctx([&session]() -> taskflow::SqlSession& { return session; });
  const nlohmann::json rows =
      ctx.Sql().Execute("SELECT $1::int AS n", {"1"}, taskflow::Milliseconds(500));
  EXPECT_EQ(rows["rows"][0]["n"], 1);
  EXPECT_EQ(session.last_params, std::vector<std::string>{"1"});
  EXPECT_EQ(session.last_timeout, taskflow::Milliseconds(500));
  ctx.OnStop([&] { ctx.Sql().Cancel(); });
  ctx.RequestStop(taskflow::StopReason::kCancelRequested);
  EXPECT_EQ(session.cancels, 1) << "a stop can cancel the running statement";
  try {
    ctx.Sql().Execute("broken");
    FAIL() << "no exception";
  } catch (const taskflow::SqlError& e) {
    EXPECT_EQ(e.kind(), taskflow::SqlError::Kind::kConnectionLost);
  }
}

TEST(PublicHeaders, AContextWithoutASessionSaysSo) {
  taskflow::JobContext ctx;
  EXPECT_THROW(ctx.Sql(), std::logic_error);
}

}  // namespace
