#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <taskflow/json_limits.hpp>

namespace taskflow {
namespace {

TEST(JsonLimits, CountsArraysAndObjectsOutsideStrings) {
  EXPECT_EQ(JsonNestingDepth("1", 100), 0u);
  EXPECT_EQ(JsonNestingDepth("{}", 100), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a": [1, {"b": []}], "c": {}})", 100), 4u);
  EXPECT_EQ(JsonNestingDepth(R"({"a": "[[[[{{{{"})", 100), 1u);
  EXPECT_EQ(JsonNestingDepth(R"({"a": "\"[[[[", "b": [[]]})", 100), 3u);
  EXPECT_EQ(JsonNestingDepth(R"(["\\", [[]]])", 100), 3u);
}

TEST(JsonLimits, StopsAtTheLimitWithoutRecursing) {
  const std::string deep = std::string(1000000, '[') + std::string(1000000, ']');
  EXPECT_EQ(JsonNestingDepth(deep, kMaxJsonDepth), kMaxJsonDepth + 1);
  EXPECT_TRUE(JsonDeeperThan(deep, kMaxJsonDepth));
  const std::string at_limit = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_FALSE(JsonDeeperThan(at_limit, kMaxJsonDepth));
  EXPECT_TRUE(JsonDeeperThan("[" + at_limit + "]", kMaxJsonDepth));
  // What passes the check can be parsed and dumped (the recursive part) safely.
  EXPECT_EQ(nlohmann::json::parse(at_limit).dump(), at_limit);
}

}  // namespace
}  // namespace taskflow
