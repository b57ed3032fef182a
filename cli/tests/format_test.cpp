#include <gtest/gtest.h>

#include <sstream>

#include "format.hpp"

namespace taskflow::cli {
namespace {

using nlohmann::json;

std::string Render(const Table& t) {
  std::ostringstream out;
  t.Render(out);
  return out.str();
}

TEST(Table, AlignsColumnsNumbersRight) {
  Table t({{"ID", true}, {"NAME"}, {"STATE"}});
  t.AddRow({"7", "email.send", "PENDING"});
  t.AddRow({"1234", "x", "DEAD"});
  EXPECT_EQ(Render(t),
            "  ID  NAME        STATE\n"
            "   7  email.send  PENDING\n"
            "1234  x           DEAD\n");
}

TEST(Table, CapsWideCellsAndCountsCodePointsNotBytes) {
  Table t({{"A", false, 6}, {"B"}});
  t.AddRow({"abcdefghij", "1"});
  t.AddRow({"ééé", "2"});  // 3 code points, 6 bytes: padded to the width of "abc..."
  EXPECT_EQ(Render(t),
            "A       B\n"
            "abc...  1\n"
            "ééé     2\n");
}

TEST(Table, ControlCharactersCannotBreakALine) {
  Table t({{"A"}, {"B"}});
  t.AddRow({"two\nlines\x1b[2J", "x"});
  EXPECT_EQ(Render(t),
            "A              B\n"
            "two lines [2J  x\n");
}

TEST(Table, MissingCellsAreEmpty) {
  Table t({{"A"}, {"B"}});
  t.AddRow({"only"});
  EXPECT_EQ(Render(t), "A     B\nonly\n");
}

TEST(Cell, RendersEachJsonKind) {
  EXPECT_EQ(Cell(json(nullptr)), "-");
  EXPECT_EQ(Cell(json("text")), "text");
  EXPECT_EQ(Cell(json(true)), "yes");
  EXPECT_EQ(Cell(json(false)), "no");
  EXPECT_EQ(Cell(json(42)), "42");
  EXPECT_EQ(Cell(json(3.0)), "3");
  EXPECT_EQ(Cell(json(0.125)), "0.125");
  EXPECT_EQ(Cell(json{{"a", 1}}), "{\"a\":1}");
  EXPECT_EQ(Cell(json{{"a", 1}}, "b"), "-");
  EXPECT_EQ(Cell(json{{"a", 1}}, "a"), "1");
}

TEST(Format, Ages) {
  EXPECT_EQ(FormatAge(0), "0s");
  EXPECT_EQ(FormatAge(-5), "0s");
  EXPECT_EQ(FormatAge(45.9), "45s");
  EXPECT_EQ(FormatAge(125), "2m05s");
  EXPECT_EQ(FormatAge(3 * 3600 + 7 * 60 + 30), "3h07m");
  EXPECT_EQ(FormatAge(4 * 86400 + 2 * 3600), "4d02h");
}

TEST(Format, MillisAndPercent) {
  EXPECT_EQ(FormatMillis(0.25), "0.25 ms");
  EXPECT_EQ(FormatMillis(12.4), "12 ms");
  EXPECT_EQ(FormatMillis(1180), "1.18 s");
  EXPECT_EQ(FormatMillis(125000), "2m05s");
  EXPECT_EQ(FormatPercent(0.125), "12.5%");
  EXPECT_EQ(FormatPercent(0), "0.0%");
}

TEST(Timestamps, ParsesPostgresJsonTimestamps) {
  EXPECT_DOUBLE_EQ(*ParseTimestamp("1970-01-01T00:00:01+00:00"), 1.0);
  EXPECT_DOUBLE_EQ(*ParseTimestamp("1970-01-01T01:00:01.5+01:00"), 1.5);
  EXPECT_DOUBLE_EQ(*ParseTimestamp("1970-01-01 00:00:00-00:30"), 1800.0);
  EXPECT_DOUBLE_EQ(*ParseTimestamp("1970-01-01T00:00:02Z"), 2.0);
  EXPECT_FALSE(ParseTimestamp("soon"));
  EXPECT_FALSE(ParseTimestamp("2026-13-01T00:00:00+00:00"));
  EXPECT_FALSE(ParseTimestamp("2026-01-01T00:00:00 junk"));
}

TEST(Timestamps, ShortFormIsUtcToTheMillisecond) {
  EXPECT_EQ(ShortTimestamp("2026-11-26T16:53:51.389175+00:00"), "2026-11-26 16:53:51.389");
  EXPECT_EQ(ShortTimestamp("2026-11-26T17:53:51+01:00"), "2026-11-26 16:53:51.000");
  EXPECT_EQ(ShortTimestamp("not a time"), "not a time");
}

TEST(Errors, DropsThePrefixAndPlpgsqlContextKeepsTheHint) {
  EXPECT_EQ(
      CleanErrorMessage(
          "ERROR:  queue \"nope\" does not exist\n"
          "HINT:  Create it with taskflow.create_queue('nope').\n"
          "CONTEXT:  PL/pgSQL function taskflow._set_queue_paused(text,boolean) line 5 at RAISE\n"
          "SQL function \"pause_queue\" statement 1\n"),
      "queue \"nope\" does not exist\nHINT:  Create it with taskflow.create_queue('nope').");
  EXPECT_EQ(CleanErrorMessage("ERROR:  cannot retry job 6: it is PENDING\n"),
            "cannot retry job 6: it is PENDING");
  EXPECT_EQ(CleanErrorMessage("ERROR:  permission denied for schema taskflow\n"
                              "LINE 1: SELECT taskflow.dashboard_queues()\n"
                              "               ^\n"),
            "permission denied for schema taskflow");
  EXPECT_EQ(CleanErrorMessage("connection to server failed\n\tIs the server running?\n"),
            "connection to server failed\n\tIs the server running?");
}

json Detail() {
  return json::parse(R"({
    "job": {"id": 15, "job_type": "charge.card", "queue": "fragile", "tenant_id": "default",
            "state": "DEAD", "attempts": 2, "max_attempts": 2, "priority": 0,
            "created_at": "2026-12-03T18:00:00+00:00", "next_run_at": "2026-12-03T18:00:00+00:00",
            "finished_at": "2026-12-03T18:00:03.500+00:00", "payload": {"card": 4},
            "last_error_type": "gateway_timeout", "last_error_message": "no answer"},
    "attempts": [
      {"attempt": 1, "worker_id": "w1", "outcome": "failed", "duration_ms": 1000,
       "error": {"type": "gateway_timeout", "message": "no answer"},
       "backoff": {"delay_ms": 1500, "next_run_at": "2026-12-03T18:00:02.500+00:00"}},
      {"attempt": 2, "worker_id": "w2", "outcome": "failed", "duration_ms": 500,
       "error": {"type": "gateway_timeout", "message": "no answer"}, "backoff": null}],
    "events": [
      {"at": "2026-12-03T18:00:00+00:00", "from_state": null, "to_state": "PENDING", "actor": "app", "reason": "scheduled"},
      {"at": "2026-12-03T18:00:00.100+00:00", "from_state": "PENDING", "to_state": "RUNNING", "actor": "w1", "reason": "acquired"},
      {"at": "2026-12-03T18:00:01.100+00:00", "from_state": "RUNNING", "to_state": "SCHEDULED", "actor": "w1", "reason": "retry"},
      {"at": "2026-12-03T18:00:03+00:00", "from_state": "SCHEDULED", "to_state": "RUNNING", "actor": "w2", "reason": "acquired"},
      {"at": "2026-12-03T18:00:03.500+00:00", "from_state": "RUNNING", "to_state": "DEAD", "actor": "w2", "reason": "exhausted"}],
    "origin": {"kind": "caller", "actor": "app"}, "lease": null, "children": []
  })");
}

TEST(JobDetail, HeaderAndTimelineWithEachAttemptUnderTheTransitionThatEndedIt) {
  const auto lines = JobDetailLines(Detail());
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  EXPECT_EQ(
      text,
      "Job 15: charge.card\n"
      "  state        DEAD (attempt 2 of 2)\n"
      "  queue        fragile\n"
      "  tenant       default\n"
      "  priority     0\n"
      "  created      2026-12-03 18:00:00.000\n"
      "  next run     2026-12-03 18:00:00.000\n"
      "  finished     2026-12-03 18:00:03.500\n"
      "  last error   gateway_timeout: no answer\n"
      "  payload      {\"card\":4}\n"
      "  origin       caller, by app\n"
      "\n"
      "Timeline\n"
      "  2026-12-03 18:00:00.000           -> PENDING            app  scheduled\n"
      "  2026-12-03 18:00:00.100  +100 ms  PENDING -> RUNNING    w1   acquired\n"
      "  2026-12-03 18:00:01.100  +1.00 s  RUNNING -> SCHEDULED  w1   retry\n"
      "      attempt 1 on w1: failed after 1.00 s, gateway_timeout: no answer; retry in 1.50 s (at 2026-12-03 18:00:02.500)\n"
      "  2026-12-03 18:00:03.000  +1.90 s  SCHEDULED -> RUNNING  w2   acquired\n"
      "  2026-12-03 18:00:03.500  +500 ms  RUNNING -> DEAD       w2   exhausted\n"
      "      attempt 2 on w2: failed after 500 ms, gateway_timeout: no answer\n");
}

TEST(JobDetail, TruncatedHistoryPairsTheLatestAttemptsWithTheLatestTransitions) {
  json d = Detail();
  d["attempts"].erase(0);  // the oldest attempt was cut off, its transition too is kept here
  const auto lines = JobDetailLines(d);
  std::string text;
  for (const auto& l : lines) text += l + "\n";
  EXPECT_EQ(text.find("attempt 1 on"), std::string::npos);
  EXPECT_NE(text.find("DEAD       w2   exhausted\n      attempt 2 on w2"), std::string::npos);
}

TEST(JobDetail, ARunningAttemptIsListedLast) {
  json d = Detail();
  d["attempts"].push_back(
      {{"attempt", 3}, {"worker_id", "w3"}, {"outcome", "running"}, {"duration_ms", 250}});
  const auto lines = JobDetailLines(d);
  EXPECT_EQ(lines.back(), "      attempt 3 on w3: running for 250 ms");
}

}  // namespace
}  // namespace taskflow::cli
