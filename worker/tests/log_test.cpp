#include <gtest/gtest.h>

#include <spdlog/spdlog.h>

#include <taskflow/log_format.hpp>

#include "log.hpp"

namespace taskflow {
namespace {

Job SampleJob() {
  Job job;
  job.id = 7;
  job.attempt = 2;
  job.type = "resize";
  job.queue = "images";
  job.tenant_id = "acme";
  job.correlation_id = "req 1";
  return job;
}

TEST(Log, JsonLinesAreObjectsWithTheJobFields) {
  auto fields = log::JobFields(SampleJob());
  fields["duration_ms"] = 12;
  fields["error_message"] = "line1\nline2 \"quoted\"";
  const std::string member_list = log::Render(log::Format::kJson, "job failed", fields);
  // The logger pattern wraps the members in braces, after ts and level.
  const auto line = nlohmann::json::parse("{\"ts\":\"x\",\"level\":\"info\"," + member_list + "}");
  EXPECT_EQ(line["msg"], "job failed");
  EXPECT_EQ(line["job_id"], 7);
  EXPECT_EQ(line["job_type"], "resize");
  EXPECT_EQ(line["queue"], "images");
  EXPECT_EQ(line["tenant_id"], "acme");
  EXPECT_EQ(line["attempt"], 2);
  EXPECT_EQ(line["correlation_id"], "req 1");
  EXPECT_EQ(line["duration_ms"], 12);
  EXPECT_EQ(line["error_message"], "line1\nline2 \"quoted\"");
  EXPECT_EQ(member_list.find('\n'), std::string::npos);
}

TEST(Log, TextLinesAreKeyValue) {
  auto fields = log::JobFields(SampleJob());
  fields["duration_ms"] = 12;
  EXPECT_EQ(log::Render(log::Format::kText, "job succeeded", fields),
            "job succeeded job_id=7 job_type=resize queue=images tenant_id=acme attempt=2 "
            "correlation_id=\"req 1\" duration_ms=12");
}

TEST(Log, MissingCorrelationIdIsOmittedInTextAndNullInJson) {
  Job job = SampleJob();
  job.correlation_id.clear();
  const auto fields = log::JobFields(job);
  EXPECT_EQ(log::Render(log::Format::kText, "m", fields).find("correlation_id"), std::string::npos);
  const auto line = nlohmann::json::parse("{" + log::Render(log::Format::kJson, "m", fields) + "}");
  EXPECT_TRUE(line["correlation_id"].is_null());
}

TEST(Log, UnknownLevelIsRejected) {
  EXPECT_THROW(log::Init(log::Format::kText, "loud"), std::invalid_argument);
  EXPECT_NO_THROW(log::Init(log::Format::kText, "warn"));
}

}  // namespace
}  // namespace taskflow

namespace taskflow {
namespace {

// In json mode every line is one object, also from code that calls spdlog directly (the
// embedded HTTP server), and job lines carry worker_id.
TEST(Log, JsonModeTurnsEveryLineIntoAnObject) {
  spdlog::memory_buf_t out;
  log::JsonLineFormatter formatter;
  const std::string text = "GET /x: \"quoted\"\nsecond line";
  spdlog::details::log_msg msg("taskflow-http", spdlog::level::warn,
                               spdlog::string_view_t(text.data(), text.size()));
  formatter.format(msg, out);
  const std::string line(out.data(), out.size());
  ASSERT_FALSE(line.empty());
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  const auto parsed = nlohmann::json::parse(line);
  EXPECT_EQ(parsed["msg"], text);
  EXPECT_EQ(parsed["level"], "warning");
  EXPECT_EQ(parsed["ts"].get<std::string>().size(), 27u);  // 2026-01-02T03:04:05.123456Z

  log::Init(log::Format::kJson, "info");
  log::SetWorkerId("w-1");
  const log::Fields fields = log::JobFields(SampleJob());
  log::LineFields() = &fields;
  spdlog::memory_buf_t out2;
  formatter.format(msg, out2);
  log::LineFields() = nullptr;
  const auto job_line = nlohmann::json::parse(std::string(out2.data(), out2.size()));
  EXPECT_EQ(job_line["worker_id"], "w-1");
  EXPECT_EQ(job_line["job_id"], 7);
  log::SetWorkerId("");
  log::Init(log::Format::kText, "info");
}

}  // namespace
}  // namespace taskflow
