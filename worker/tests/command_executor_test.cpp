// The command executor against real /bin/sh scripts.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "executors.hpp"
#include "process.hpp"

namespace taskflow {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Job TestJob() {
  Job job;
  job.id = 42;
  job.attempt = 3;
  job.lease_token = "00000000-0000-0000-0000-000000000001";
  job.type = "script";
  job.payload = {{"n", 7}, {"text", "hé \"quoted\""}};
  job.queue = "q1";
  job.tenant_id = "acme";
  job.correlation_id = "corr-1";
  return job;
}

HandlerSpec Script(const std::string& script) {
  HandlerSpec spec;
  spec.job_type = "script";
  spec.executor = "command";
  spec.command = {"/bin/sh", "-c", script};
  spec.kill_grace = milliseconds(300);
  return spec;
}

Outcome RunSpec(const HandlerSpec& spec, const Job& job = TestJob()) {
  JobContext ctx;
  return MakeHandler(spec)(job, ctx);
}

// A killed process lingers as a zombie until its new parent reaps it: that counts as dead.
bool Alive(pid_t pid) {
  if (kill(pid, 0) != 0) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  stat >> pid_field >> comm >> state;
  return state != "Z";
}

// The process whose pid `pidfile` holds was killed and, with init reaping it, is gone (allow
// the reaper a moment).
void ExpectGoneSoon(const std::string& pidfile) {
  std::ifstream in(pidfile);
  pid_t pid = 0;
  ASSERT_TRUE(in >> pid) << pidfile;
  for (int i = 0; i < 100 && Alive(pid); ++i) std::this_thread::sleep_for(milliseconds(20));
  EXPECT_FALSE(Alive(pid)) << pid;
}

TEST(CommandExecutor, ExitZeroWithJsonStdoutIsTheResult) {
  const auto outcome = RunSpec(Script(R"(echo '{"ok": true, "n": 1}')"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.result, nlohmann::json({{"ok", true}, {"n", 1}}));
}

TEST(CommandExecutor, ExitZeroWithTextStdoutHasNoResult) {
  const auto outcome = RunSpec(Script("echo just text"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(outcome.result.is_null());
}

TEST(CommandExecutor, PayloadOnStdinAndJobEnvironment) {
  const auto outcome = RunSpec(Script(
      R"(payload=$(cat); printf '{"payload": %s, "id": "%s", "attempt": "%s", "tenant": "%s", "corr": "%s", "type": "%s", "queue": "%s"}' )"
      R"("$payload" "$TASKFLOW_JOB_ID" "$TASKFLOW_ATTEMPT" "$TASKFLOW_TENANT_ID" "$TASKFLOW_CORRELATION_ID" "$TASKFLOW_JOB_TYPE" "$TASKFLOW_QUEUE")"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result["payload"], TestJob().payload);
  EXPECT_EQ(outcome.result["id"], "42");
  EXPECT_EQ(outcome.result["attempt"], "3");
  EXPECT_EQ(outcome.result["tenant"], "acme");
  EXPECT_EQ(outcome.result["corr"], "corr-1");
  EXPECT_EQ(outcome.result["type"], "script");
  EXPECT_EQ(outcome.result["queue"], "q1");
}

TEST(CommandExecutor, DependenciesInTheEnvironmentOnlyForAJobWithDependencies) {
  // The worker's own environment must not reach a job as its dependencies.
  setenv("TASKFLOW_DEPENDENCIES", "[\"the worker's\"]", 1);
  setenv("TASKFLOW_DEPENDENCIES_FILE", "/the/workers", 1);
  const auto spec = Script(
      R"(printf '{"deps": %s, "file": "%s"}' "${TASKFLOW_DEPENDENCIES:-null}" "${TASKFLOW_DEPENDENCIES_FILE-}")");
  Job job = TestJob();
  job.dependencies = nlohmann::json::array(
      {{{"job_id", 5}, {"key", "a"}, {"state", "SUCCEEDED"}, {"result", {{"pdf", "p1 \"x\".pdf"}}}},
       {{"job_id", 6}, {"key", "b"}, {"state", "FAILED"}, {"result", nullptr}}});
  auto outcome = RunSpec(spec, job);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result, nlohmann::json({{"deps", job.dependencies}, {"file", ""}}));

  outcome = RunSpec(spec, TestJob());  // no dependencies
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result, nlohmann::json({{"deps", nullptr}, {"file", ""}}));
  unsetenv("TASKFLOW_DEPENDENCIES");
  unsetenv("TASKFLOW_DEPENDENCIES_FILE");
}

TEST(CommandExecutor, LargeDependenciesGoToAPrivateFileRemovedAfterTheRun) {
  Job job = TestJob();
  job.dependencies = nlohmann::json::array(
      {{{"job_id", 5}, {"result", std::string(kMaxDependenciesEnvBytes, 'r')}}});
  const auto spec = Script(
      R"sh(f=$TASKFLOW_DEPENDENCIES_FILE; printf '{"env": "%s", "mode": "%s", "file": "%s", "deps": ' "${TASKFLOW_DEPENDENCIES+set}" "$(stat -c %a "$f")" "$f"; cat "$f"; printf '}')sh");
  const auto outcome = RunSpec(spec, job);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded) << outcome.error_message;
  EXPECT_EQ(outcome.result["env"], "") << "over the bound, not in the environment";
  EXPECT_EQ(outcome.result["mode"], "600");
  EXPECT_EQ(outcome.result["deps"], job.dependencies);
  const std::string file = outcome.result["file"].get<std::string>();
  EXPECT_NE(file.find("taskflow-dependencies-"), std::string::npos) << file;
  EXPECT_NE(access(file.c_str(), F_OK), 0) << "the file is removed when the command ends";

  // Just at the bound: still the variable.
  const std::string small = nlohmann::json::array({{{"r", ""}}}).dump();
  job.dependencies =
      nlohmann::json::array({{{"r", std::string(kMaxDependenciesEnvBytes - small.size(), 'r')}}});
  ASSERT_EQ(job.dependencies.dump().size(), kMaxDependenciesEnvBytes);
  EXPECT_EQ(DependencyEnvironment(job, "").at(0).first, "TASKFLOW_DEPENDENCIES");
  const auto at_bound = RunSpec(Script(R"(printf '%s' "${#TASKFLOW_DEPENDENCIES}")"), job);
  EXPECT_EQ(at_bound.result, nlohmann::json(kMaxDependenciesEnvBytes));
}

TEST(CommandExecutor, ConfiguredEnvironmentAndWorkingDirectory) {
  auto spec = Script(R"sh(printf '{"v": "%s", "cwd": "%s"}' "$MY_SETTING" "$(pwd)")sh");
  spec.env = {{"MY_SETTING", "on"}};
  spec.cwd = "/tmp";
  const auto outcome = RunSpec(spec);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.result["v"], "on");
  EXPECT_EQ(outcome.result["cwd"], "/tmp");
}

TEST(CommandExecutor, NonZeroExitIsRetryableWithTheStderrTail) {
  const auto outcome = RunSpec(Script("echo 'disk on fire' >&2; exit 3"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(outcome.error_type, "exit_code");
  EXPECT_TRUE(outcome.retryable);
  EXPECT_EQ(outcome.error_message, "exit code 3: disk on fire");
}

TEST(CommandExecutor, PermanentExitCodeIsNotRetryable) {
  auto outcome = RunSpec(Script("exit 65"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(outcome.error_type, "exit_code");
  EXPECT_FALSE(outcome.retryable);

  auto spec = Script("exit 66");
  spec.permanent_exit_codes = {66, 67};
  EXPECT_FALSE(RunSpec(spec).retryable);
  spec = Script("exit 65");
  spec.permanent_exit_codes = {66};
  EXPECT_TRUE(RunSpec(spec).retryable);
}

TEST(CommandExecutor, ExitTempfailWithSnoozeObjectSnoozes) {
  auto outcome = RunSpec(Script(R"(echo '{"snooze": 2.5}'; exit 75)"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(2500));
  outcome = RunSpec(Script(R"(echo '{"snooze": 0}'; exit 75)"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(0));
  // clamped to the extension's bound (100 years)
  outcome = RunSpec(Script(R"(echo '{"snooze": 1e300}'; exit 75)"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSnoozed);
  EXPECT_EQ(outcome.snooze_for, milliseconds(36525LL * 86400 * 1000));
}

TEST(CommandExecutor, ExitTempfailWithoutSnoozeObjectIsAnOrdinaryFailure) {
  for (const char* script :
       {"exit 75", R"(echo '{"snooze": -1}'; exit 75)", R"(echo '{"snooze": "10"}'; exit 75)",
        R"(echo '[1]'; exit 75)", R"(echo 'snooze 10'; exit 75)"}) {
    const auto outcome = RunSpec(Script(script));
    ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed) << script;
    EXPECT_EQ(outcome.error_type, "exit_code") << script;
    EXPECT_TRUE(outcome.retryable) << script;
  }
  // another exit code with the snooze object fails as usual
  const auto outcome = RunSpec(Script(R"(echo '{"snooze": 5}'; exit 3)"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed);
  // and exit 0 with it succeeds, the object as its result
  const auto ok = RunSpec(Script(R"(echo '{"snooze": 5}')"));
  ASSERT_EQ(ok.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(ok.result, nlohmann::json({{"snooze", 5}}));
}

TEST(Outcome, SnoozeClampsNegativeDelaysToZero) {
  EXPECT_EQ(Outcome::Snooze(milliseconds(-5)).snooze_for, milliseconds(0));
  EXPECT_EQ(Outcome::Snooze(milliseconds(1500)).kind, Outcome::Kind::kSnoozed);
}

TEST(CommandExecutor, StderrTailIsTheLastTwoKilobytes) {
  const auto outcome = RunSpec(
      Script("i=0; while [ $i -lt 2000 ]; do echo \"line $i\" >&2; i=$((i+1)); done; exit 1"));
  ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed);
  EXPECT_LE(outcome.error_message.size(), 2048u + 40u);
  EXPECT_NE(outcome.error_message.find("line 1999"), std::string::npos);
  EXPECT_EQ(outcome.error_message.find("line 10\n"), std::string::npos);
}

TEST(CommandExecutor, TimeoutKillsTheWholeProcessGroup) {
  const std::string pidfile = ::testing::TempDir() + "/taskflow_grandchild.pid";
  std::remove(pidfile.c_str());
  // The grandchild ignores SIGTERM: only the SIGKILL after kill_grace ends it.
  auto spec = Script("sh -c 'trap \"\" TERM; echo $$ > " + pidfile + "; sleep 60' & sleep 60");
  spec.timeout = milliseconds(500);
  const auto start = Clock::now();
  const auto outcome = RunSpec(spec);
  const auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kFailed);
  EXPECT_EQ(outcome.error_type, "timeout");
  EXPECT_TRUE(outcome.retryable);
  EXPECT_GE(elapsed.count(), 500);
  EXPECT_LT(elapsed.count(), 3000);
  ExpectGoneSoon(pidfile);
}

TEST(CommandExecutor, TheJobTimeoutOverridesTheExecutors) {
  auto spec = Script("sleep 5");
  spec.timeout = milliseconds(60000);
  Job job = TestJob();
  job.timeout = milliseconds(300);
  const auto start = Clock::now();
  const auto outcome = RunSpec(spec, job);
  EXPECT_EQ(outcome.error_type, "timeout");
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 2500);
}

TEST(CommandExecutor, StopRequestKillsTheProcessAndCancels) {
  auto handler = MakeHandler(Script("sleep 30"));
  JobContext ctx;
  std::thread canceller([&ctx] {
    std::this_thread::sleep_for(milliseconds(200));
    ctx.RequestStop(StopReason::kCancelRequested);
  });
  const auto start = Clock::now();
  const auto outcome = handler(TestJob(), ctx);
  canceller.join();
  EXPECT_EQ(outcome.kind, Outcome::Kind::kCancelled);
  EXPECT_EQ(outcome.error_type, "cancelled");
  EXPECT_FALSE(outcome.retryable);
  EXPECT_NE(outcome.error_message.find("cancel_requested"), std::string::npos);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 2000);
}

TEST(CommandExecutor, KilledBySignalIsRetryable) {
  const auto outcome = RunSpec(Script("kill -9 $$"));
  EXPECT_EQ(outcome.error_type, "signal");
  EXPECT_TRUE(outcome.retryable);
  EXPECT_NE(outcome.error_message.find("signal 9"), std::string::npos);
}

TEST(CommandExecutor, MissingProgramIsASpawnError) {
  HandlerSpec spec;
  spec.job_type = "x";
  spec.executor = "command";
  spec.command = {"taskflow-no-such-program-anywhere"};
  const auto outcome = RunSpec(spec);
  EXPECT_EQ(outcome.error_type, "spawn_error");
  EXPECT_NE(outcome.error_message.find("No such file"), std::string::npos);
}

TEST(CommandExecutor, LargePayloadAndOutputDoNotDeadlock) {
  Job job = TestJob();
  job.payload = {{"blob", std::string(1 << 20, 'x')}};
  // cat echoes 1 MB back while we are still writing: both pipes must be served at once.
  const auto outcome = RunSpec(Script("cat"), job);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.result, job.payload);
}

TEST(CommandExecutor, ChildThatIgnoresStdinStillWorks) {
  Job job = TestJob();
  job.payload = {{"blob", std::string(1 << 20, 'x')}};
  const auto outcome = RunSpec(Script("exec 0<&-; echo '[1,2]'"), job);
  ASSERT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_EQ(outcome.result, nlohmann::json({1, 2}));
}

TEST(RunProcess, StragglersAreKilledWhenTheMainProcessExits) {
  const std::string pidfile = ::testing::TempDir() + "/taskflow_straggler.pid";
  std::remove(pidfile.c_str());
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $! > " + pidfile + "; exit 0"};
  spec.env = MergeEnvironment({});
  const auto start = Clock::now();
  const auto result = RunProcess(spec, nullptr);
  EXPECT_EQ(result.end, ProcessResult::End::kExited);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 2000);
  ExpectGoneSoon(pidfile);
}

TEST(SleepExecutor, SleepsForThePayloadSecondsAndStopsOnRequest) {
  HandlerSpec spec;
  spec.job_type = "wait";
  spec.executor = "sleep";
  auto handler = MakeHandler(spec);
  Job job = TestJob();
  job.payload = {{"seconds", 0.2}};
  JobContext ctx;
  auto start = Clock::now();
  EXPECT_EQ(handler(job, ctx).kind, Outcome::Kind::kSucceeded);
  EXPECT_GE(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 190);

  job.payload = {{"seconds", 30}};
  JobContext cancelled;
  std::thread stopper([&cancelled] {
    std::this_thread::sleep_for(milliseconds(100));
    cancelled.RequestStop(StopReason::kShutdown);
  });
  start = Clock::now();
  EXPECT_EQ(handler(job, cancelled).kind, Outcome::Kind::kCancelled);
  stopper.join();
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(Clock::now() - start).count(), 1000);

  job.payload = {{"seconds", "soon"}};
  JobContext bad;
  const auto outcome = handler(job, bad);
  EXPECT_EQ(outcome.error_type, "bad_payload");
  EXPECT_FALSE(outcome.retryable);

  job.payload = {{"seconds", 5}};
  job.timeout = milliseconds(100);
  JobContext timed;
  EXPECT_EQ(handler(job, timed).error_type, "timeout");
}

TEST(NoopExecutor, Succeeds) {
  HandlerSpec spec;
  spec.job_type = "ping";
  spec.executor = "noop";
  JobContext ctx;
  const auto outcome = MakeHandler(spec)(TestJob(), ctx);
  EXPECT_EQ(outcome.kind, Outcome::Kind::kSucceeded);
  EXPECT_TRUE(outcome.result.is_null());
}

}  // namespace
}  // namespace taskflow
