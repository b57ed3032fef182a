#include <gtest/gtest.h>

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
