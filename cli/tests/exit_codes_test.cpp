#include <gtest/gtest.h>

#include "exit_codes.hpp"

namespace taskflow::cli {
namespace {

TEST(ExitCodes, NotFound) {
  EXPECT_EQ(ExitCodeForSqlstate("P0002"), kNotFound);  // cancel/retry of a missing job
  EXPECT_EQ(ExitCodeForSqlstate("42704"), kNotFound);  // unknown queue or rule
}

TEST(ExitCodes, RefusedByTheStateMachineOrAConflict) {
  EXPECT_EQ(ExitCodeForSqlstate("55000"), kRefused);  // cannot retry job 6: it is PENDING
  EXPECT_EQ(ExitCodeForSqlstate("42710"), kRefused);  // queue already exists
  EXPECT_EQ(ExitCodeForSqlstate("23505"), kRefused);
  EXPECT_EQ(ExitCodeForSqlstate("40001"), kRefused);
}

TEST(ExitCodes, InvalidInputIsAUsageError) {
  EXPECT_EQ(ExitCodeForSqlstate("22023"), kUsage);
  EXPECT_EQ(ExitCodeForSqlstate("22P02"), kUsage);
  EXPECT_EQ(ExitCodeForSqlstate("22004"), kUsage);
}

TEST(ExitCodes, ConnectionAndPermission) {
  EXPECT_EQ(ExitCodeForSqlstate("08006"), kConnection);
  EXPECT_EQ(ExitCodeForSqlstate("3D000"), kConnection);  // no such database
  EXPECT_EQ(ExitCodeForSqlstate("28P01"), kConnection);  // password authentication failed
  EXPECT_EQ(ExitCodeForSqlstate("3F000"), kConnection);  // no taskflow schema: extension missing
  EXPECT_EQ(ExitCodeForSqlstate("42501"), kPermission);
}

TEST(ExitCodes, AnythingElseIsAnError) {
  EXPECT_EQ(ExitCodeForSqlstate("XX000"), kError);
  EXPECT_EQ(ExitCodeForSqlstate("53200"), kError);
  EXPECT_EQ(ExitCodeForSqlstate(""), kError);
  EXPECT_EQ(ExitCodeForSqlstate("5500"), kError);
}

}  // namespace
}  // namespace taskflow::cli
