#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/schedule_fields.hpp"

namespace taskflow::core {
namespace {

TEST(ScheduleFields, NamesAreUniqueAndOnlyJobTypeIsRequired) {
  std::set<std::string_view> names;
  for (const ScheduleField& f : kScheduleFields) {
    EXPECT_TRUE(names.insert(f.name).second) << f.name;
    EXPECT_FALSE(f.sql_type.empty()) << f.name;
    EXPECT_FALSE(f.description.empty()) << f.name;
    EXPECT_EQ(f.sql_default.empty(), f.name == "job_type") << f.name;
  }
  EXPECT_EQ(kScheduleFields.front().name, "job_type");
}

TEST(ScheduleFields, BatchFieldsArePrefixWithoutDependencies) {
  // schedule_many's elements (taskflow._job_spec) take every field but the dependency ones,
  // which come first in the signature's order so _job_spec's OUT columns line up.
  bool batch = true;
  for (const ScheduleField& f : kScheduleFields) {
    if (!f.in_batch) batch = false;
    EXPECT_EQ(f.in_batch, batch) << f.name << ": batch fields must come first";
  }
  EXPECT_FALSE(FindScheduleField("depends_on")->in_batch);
  EXPECT_FALSE(FindScheduleField("on_dependency_failure")->in_batch);
  EXPECT_TRUE(FindScheduleField("traceparent")->in_batch);
}

TEST(ScheduleFields, FindAndJsonTypes) {
  EXPECT_EQ(FindScheduleField("nope"), nullptr);
  EXPECT_EQ(FindScheduleField(""), nullptr);
  EXPECT_EQ(FindScheduleField("payload")->json_type, ScheduleJsonType::Object);
  EXPECT_EQ(FindScheduleField("parent_job_id")->sql_type, "bigint");
  EXPECT_EQ(JsonTypeName(ScheduleJsonType::String), "string");
  EXPECT_EQ(JsonTypeName(ScheduleJsonType::Object), "object");
  EXPECT_EQ(JsonTypeName(ScheduleJsonType::Integer), "integer");
  EXPECT_EQ(JsonTypeName(ScheduleJsonType::IntegerArray), "array");
  static_assert(FindScheduleField("job_type") == &kScheduleFields[0], "constexpr lookup");
}

}  // namespace
}  // namespace taskflow::core
