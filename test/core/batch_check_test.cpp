#include "core/batch_check.hpp"

#include <gtest/gtest.h>

#include <set>

namespace taskflow::core {
namespace {

TEST(BatchCheck, TagsRoundTripAndAreDistinct) {
  const BatchCheck all[] = {
      BatchCheck::JobType,        BatchCheck::Queue,         BatchCheck::Tenant,
      BatchCheck::MaxAttempts,    BatchCheck::Timeout,       BatchCheck::EmptyUniqueKey,
      BatchCheck::LargePayload,   BatchCheck::MissingParent, BatchCheck::RunAt,
      BatchCheck::UsesUniqueKeys, BatchCheck::Priority,      BatchCheck::Traceparent};
  std::set<int> tags;
  for (BatchCheck c : all) {
    EXPECT_TRUE(tags.insert(BatchCheckTag(c)).second);
    ASSERT_TRUE(BatchCheckOfTag(BatchCheckTag(c)).has_value());
    EXPECT_EQ(*BatchCheckOfTag(BatchCheckTag(c)), c);
  }
  EXPECT_EQ(tags.size(), 12u);
}

TEST(BatchCheck, OtherNumbersAreNoCheck) {
  EXPECT_FALSE(BatchCheckOfTag(0).has_value());
  EXPECT_FALSE(BatchCheckOfTag(13).has_value());
  EXPECT_FALSE(BatchCheckOfTag(-1).has_value());
}

}  // namespace
}  // namespace taskflow::core
