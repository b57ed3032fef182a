#include <gtest/gtest.h>

#include "backoff.hpp"
#include "duration.hpp"
#include "pg_array.hpp"

namespace taskflow {
namespace {

using std::chrono::milliseconds;

TEST(ParseDuration, AcceptsUnits) {
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("2s"), milliseconds(2000));
  EXPECT_EQ(ParseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(ParseDuration("3"), milliseconds(3000));
  EXPECT_EQ(ParseDuration("2m"), milliseconds(120000));
  EXPECT_EQ(ParseDuration("1min"), milliseconds(60000));
  EXPECT_EQ(ParseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(ParseDuration("0"), milliseconds(0));
}

TEST(ParseDuration, RejectsGarbage) {
  for (const char* bad : {"", "s", "-1s", "1x", "1 s", "abc", "1.2.3s", "1e400", "99999999999h"}) {
    EXPECT_THROW(ParseDuration(bad), std::invalid_argument) << bad;
  }
}

TEST(ToIntervalText, IsMilliseconds) {
  EXPECT_EQ(ToIntervalText(milliseconds(1500)), "1500 milliseconds");
}

TEST(Backoff, DoublesUpToTheCapWithEqualJitter) {
  Backoff backoff(milliseconds(100), milliseconds(1000), 42);
  const long long bases[] = {100, 200, 400, 800, 1000, 1000, 1000};
  for (long long base : bases) {
    const auto delay = backoff.Next().count();
    EXPECT_GE(delay, base - base / 2) << base;
    EXPECT_LE(delay, base) << base;
  }
}

TEST(Backoff, ResetStartsOver) {
  Backoff backoff(milliseconds(100), milliseconds(10000), 7);
  for (int i = 0; i < 10; ++i) backoff.Next();
  EXPECT_GE(backoff.Next().count(), 5000);
  backoff.Reset();
  EXPECT_LE(backoff.Next().count(), 100);
}

TEST(Backoff, ManyFailuresNeverOverflow) {
  Backoff backoff(milliseconds(1), milliseconds(5000), 1);
  for (int i = 0; i < 1000; ++i) {
    const auto delay = backoff.Next().count();
    ASSERT_GE(delay, 0);
    ASSERT_LE(delay, 5000);
  }
}

TEST(Backoff, JitterVaries) {
  Backoff a(milliseconds(1000), milliseconds(1000), 1);
  std::set<long long> seen;
  for (int i = 0; i < 50; ++i) seen.insert(a.Next().count());
  EXPECT_GT(seen.size(), 10u);
}

TEST(PgArray, QuotesEscapesAndNulls) {
  EXPECT_EQ(ToPgArray(std::vector<std::string>{}), "{}");
  EXPECT_EQ(ToPgArray(std::vector<std::string>{"a", "b c"}), R"({"a","b c"})");
  EXPECT_EQ(ToPgArray(std::vector<std::string>{R"(x"y\z)"}), R"({"x\"y\\z"})");
  EXPECT_EQ(
      ToPgArray(std::vector<std::optional<std::string>>{std::nullopt, std::string("{\"k\": 1}")}),
      R"({NULL,"{\"k\": 1}"})");
  EXPECT_EQ(ToPgArray(std::vector<std::string>{"NULL"}), R"({"NULL"})");  // the string, not NULL
}

TEST(ValidUtf8, KeepsValidTextAndReplacesTheRest) {
  EXPECT_EQ(ValidUtf8("plain"), "plain");
  EXPECT_EQ(ValidUtf8("caf\xC3\xA9"), "caf\xC3\xA9");
  EXPECT_EQ(ValidUtf8(std::string("a\0b", 3)), "ab");
  EXPECT_EQ(ValidUtf8("a\xFF"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  EXPECT_EQ(ValidUtf8("\xC3"), "\xEF\xBF\xBD");                  // truncated sequence
  EXPECT_EQ(ValidUtf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
  EXPECT_EQ(ValidUtf8("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace taskflow
