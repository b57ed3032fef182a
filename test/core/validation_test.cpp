#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <limits>
#include <string>

#include "core/errors.hpp"
#include "core/validation.hpp"
#include "expect_domain_error.hpp"

namespace taskflow::core {
namespace {

using testing::ThrowsDomainError;

constexpr auto kInvalid = ErrorCode::InvalidParameterValue;

std::string Repeat(const std::string& piece, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += piece;
  return out;
}

const std::string kEAcute = "\xC3\xA9";         // U+00E9, 2 bytes
const std::string kEuro = "\xE2\x82\xAC";       // U+20AC, 3 bytes
const std::string kEmoji = "\xF0\x9F\x98\x80";  // U+1F600, 4 bytes
// The six ASCII whitespace characters named by the API.
const char kWhitespace[] = {' ', '\t', '\n', '\r', '\v', '\f'};

// ---- job_type ----

TEST(ValidateErrorType, BoundsTheErrorClass) {
  EXPECT_NO_THROW(ValidateErrorType("exit_code"));
  EXPECT_NO_THROW(ValidateErrorType(std::string(kMaxErrorTypeChars, 'e')));
  EXPECT_THROW(ValidateErrorType(""), DomainError);
  EXPECT_THROW(ValidateErrorType(std::string(kMaxErrorTypeChars + 1, 'e')), DomainError);
}

// `validate` takes 200 characters of any width (1-byte `ascii`, 2-, 3- and 4-byte) and refuses
// 201 with "<field> is too long: 201 characters".
template <typename Validate>
void ExpectLimitOf200CodePoints(Validate validate, const std::string& ascii,
                                const std::string& field) {
  for (const std::string& ch : {ascii, kEAcute, kEuro, kEmoji}) {
    EXPECT_NO_THROW(validate(Repeat(ch, 200))) << ch.size() << "-byte characters";
    EXPECT_TRUE(ThrowsDomainError([&] { validate(Repeat(ch, 201)); }, kInvalid,
                                  field + " is too long: 201 characters"))
        << ch.size() << "-byte characters";
  }
}

TEST(ValidateJobType, AcceptsOrdinaryNames) {
  for (const char* ok : {"email.send", "report_daily", "a", "Billing:Invoice-v2", "x/y"}) {
    EXPECT_NO_THROW(ValidateJobType(ok)) << ok;
  }
  EXPECT_NO_THROW(ValidateJobType("r\xC3\xA9sum\xC3\xA9.build"));  // non-ASCII is fine
}

TEST(ValidateJobType, RejectsEmpty) {
  EXPECT_TRUE(
      ThrowsDomainError([] { ValidateJobType(""); }, kInvalid, "job_type must not be empty"));
}

TEST(ValidateJobType, LengthLimitCountsCodePointsNotBytes) {
  ExpectLimitOf200CodePoints([](const std::string& v) { ValidateJobType(v); }, "a", "job_type");
  // Mixed widths: 199 four-byte characters plus one ASCII = 200 characters, 797 bytes.
  EXPECT_NO_THROW(ValidateJobType(Repeat(kEmoji, 199) + "z"));
  EXPECT_TRUE(ThrowsDomainError([&] { ValidateJobType(Repeat(kEmoji, 199) + "zz"); }, kInvalid,
                                "too long"));
}

TEST(ValidateJobType, RejectsEachWhitespaceCharacterAnywhere) {
  for (char ws : kWhitespace) {
    for (const std::string& s : {std::string(1, ws) + "job", "jo" + std::string(1, ws) + "b",
                                 "job" + std::string(1, ws)}) {
      EXPECT_TRUE(ThrowsDomainError([&] { ValidateJobType(s); }, kInvalid,
                                    "job_type must not contain whitespace"))
          << "char code " << static_cast<int>(ws);
    }
  }
}

TEST(ValidateJobType, RejectsControlCharacters) {
  for (char c : {'\x01', '\x07', '\x1B', '\x1F', '\x7F'}) {
    const std::string s = "job" + std::string(1, c) + "x";
    EXPECT_TRUE(ThrowsDomainError([&] { ValidateJobType(s); }, kInvalid,
                                  "job_type must not contain control characters"))
        << "char code " << static_cast<int>(c);
  }
}

// ---- queue name ----

TEST(ValidateQueueName, AcceptsTheWholeCharset) {
  EXPECT_NO_THROW(ValidateQueueName("default"));
  EXPECT_NO_THROW(ValidateQueueName("abcdefghijklmnopqrstuvwxyz"));
  EXPECT_NO_THROW(ValidateQueueName("ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
  EXPECT_NO_THROW(ValidateQueueName("0123456789"));
  EXPECT_NO_THROW(ValidateQueueName("_.:-"));
  EXPECT_NO_THROW(ValidateQueueName("tenant-1:emails.high_priority"));
}

TEST(ValidateQueueName, RejectsEmpty) {
  EXPECT_TRUE(
      ThrowsDomainError([] { ValidateQueueName(""); }, kInvalid, "queue name must not be empty"));
}

TEST(ValidateQueueName, RejectsCharactersOutsideTheCharset) {
  for (const std::string& bad :
       {std::string("my queue"), std::string("a/b"), std::string("a*"), std::string("q$"),
        std::string("\"q\""), std::string("q'"), std::string("a,b"), std::string("a;b"),
        std::string("tab\t"), std::string("nl\n"), std::string("del\x7F"), "caf" + kEAcute,
        kEmoji}) {
    EXPECT_TRUE(ThrowsDomainError([&] { ValidateQueueName(bad); }, kInvalid,
                                  "queue name contains a character that is not allowed"))
        << bad;
  }
}

TEST(ValidateQueueName, AtMost50Characters) {
  EXPECT_NO_THROW(ValidateQueueName(std::string(50, 'q')));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateQueueName(std::string(51, 'q')); }, kInvalid,
                                "queue name is too long: 51 characters"));
}

// ---- traceparent ----

constexpr const char* kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

// ValidateTraceparent(tp) throws 22023 with `message`.
::testing::AssertionResult TraceparentRejected(const std::string& tp, const std::string& message) {
  return ThrowsDomainError([&] { ValidateTraceparent(tp); }, kInvalid, message);
}

TEST(ValidateTraceparent, AcceptsVersion00) {
  EXPECT_NO_THROW(ValidateTraceparent(kTraceparent));
  EXPECT_NO_THROW(ValidateTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  EXPECT_NO_THROW(ValidateTraceparent("00-00000000000000000000000000000001-0000000000000001-ff"));
}

TEST(ValidateTraceparent, RejectsWrongLength) {
  std::string tp = kTraceparent;
  EXPECT_TRUE(TraceparentRejected(tp + "-extra", "traceparent must be 55 characters long, got 61"));
  EXPECT_TRUE(
      TraceparentRejected(tp.substr(0, 54), "traceparent must be 55 characters long, got 54"));
  EXPECT_TRUE(TraceparentRejected("", "traceparent must be 55 characters long, got 0"));
}

TEST(ValidateTraceparent, RejectsUppercaseNonHexAndMisplacedDashes) {
  EXPECT_TRUE(TraceparentRejected("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                                  "traceparent is malformed at character 5"));
  EXPECT_TRUE(TraceparentRejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bg-01",
                                  "traceparent is malformed at character 52"));
  EXPECT_TRUE(TraceparentRejected("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                  "traceparent is malformed at character 3"));
  EXPECT_TRUE(TraceparentRejected("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0\n",
                                  "traceparent is malformed at character 55"));
}

TEST(ValidateTraceparent, RejectsOtherVersions) {
  EXPECT_TRUE(TraceparentRejected("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                  "traceparent version 01 is not supported"));
  EXPECT_TRUE(TraceparentRejected("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                                  "traceparent version ff is not supported"));
}

TEST(ValidateTraceparent, RejectsAllZeroIds) {
  EXPECT_TRUE(TraceparentRejected("00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                                  "traceparent trace-id must not be all zeros"));
  EXPECT_TRUE(TraceparentRejected("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                                  "traceparent parent-id must not be all zeros"));
}

// ---- tenant_id ----

TEST(ValidateTenantId, AcceptsSpacesAndNonAscii) {
  EXPECT_NO_THROW(ValidateTenantId("default"));
  EXPECT_NO_THROW(ValidateTenantId("Acme Corp"));
  EXPECT_NO_THROW(ValidateTenantId("acme/eu-west:42"));
  EXPECT_NO_THROW(ValidateTenantId("Caf" + kEAcute + " " + kEuro));
}

TEST(ValidateTenantId, RejectsEmpty) {
  EXPECT_TRUE(
      ThrowsDomainError([] { ValidateTenantId(""); }, kInvalid, "tenant_id must not be empty"));
}

TEST(ValidateTenantId, LengthLimitCountsCodePointsNotBytes) {
  ExpectLimitOf200CodePoints([](const std::string& v) { ValidateTenantId(v); }, "t", "tenant_id");
}

TEST(ValidateTenantId, RejectsControlCharacters) {
  for (char c : {'\x01', '\t', '\n', '\r', '\x1F', '\x7F'}) {
    const std::string s = "acme" + std::string(1, c);
    EXPECT_TRUE(ThrowsDomainError([&] { ValidateTenantId(s); }, kInvalid,
                                  "tenant_id must not contain control characters"))
        << "char code " << static_cast<int>(c);
  }
}

// ---- numbers ----

TEST(ValidateMaxAttempts, AtLeastOne) {
  EXPECT_NO_THROW(ValidateMaxAttempts(1));
  EXPECT_NO_THROW(ValidateMaxAttempts(25));
  EXPECT_NO_THROW(ValidateMaxAttempts(INT_MAX));
  for (int bad : {0, -1, INT_MIN}) {
    EXPECT_TRUE(ThrowsDomainError([&] { ValidateMaxAttempts(bad); }, kInvalid,
                                  "max_attempts must be at least 1, got " + std::to_string(bad)));
  }
}

TEST(ValidateMaxRows, BetweenOneAndTenThousand) {
  EXPECT_NO_THROW(ValidateMaxRows(1));
  EXPECT_NO_THROW(ValidateMaxRows(100));
  EXPECT_NO_THROW(ValidateMaxRows(10000));
  for (int bad : {0, -1, 10001, INT_MAX, INT_MIN}) {
    EXPECT_TRUE(
        ThrowsDomainError([&] { ValidateMaxRows(bad); }, kInvalid,
                          "max_rows must be between 1 and 10000, got " + std::to_string(bad)));
  }
}

TEST(ValidatePriority, SmallintRange) {
  for (long long ok : {0LL, 5LL, -5LL, -32768LL, 32767LL}) EXPECT_NO_THROW(ValidatePriority(ok));
  for (long long bad : {-32769LL, 32768LL, 2147483647LL, -2147483648LL}) {
    EXPECT_TRUE(
        ThrowsDomainError([&] { ValidatePriority(bad); }, kInvalid,
                          "priority must be between -32768 and 32767, got " + std::to_string(bad)));
  }
  EXPECT_TRUE(ThrowsDomainError([] { ValidatePriority(INT_MIN, "jobs[2].priority"); }, kInvalid,
                                "jobs[2].priority must be between"));
}

TEST(ValidateTimestamp, RefusesInfinity) {
  EXPECT_NO_THROW(ValidateTimestamp(0));
  EXPECT_NO_THROW(ValidateTimestamp(std::numeric_limits<std::int64_t>::min() + 1));
  EXPECT_NO_THROW(ValidateTimestamp(std::numeric_limits<std::int64_t>::max() - 1));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateTimestamp(std::numeric_limits<std::int64_t>::min()); },
                                kInvalid, "run_at must be a finite timestamp, got -infinity"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateTimestamp(std::numeric_limits<std::int64_t>::max()); },
                                kInvalid, "run_at must be a finite timestamp, got infinity"));
}

TEST(ValidateDuration, PositiveAndAtMostAHundredYears) {
  EXPECT_NO_THROW(ValidateDuration(1, "timeout"));
  EXPECT_NO_THROW(ValidateDuration(kMaxDurationUs, "timeout"));
  EXPECT_NO_THROW(ValidateDuration(0, "base_delay", true));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateDuration(0, "timeout"); }, kInvalid,
                                "timeout must be greater than zero"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateDuration(-1, "base_delay", true); }, kInvalid,
                                "base_delay must not be negative"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateDuration(kMaxDurationUs + 1, "lease"); }, kInvalid,
                                "lease is too long"));
}

TEST(JsonTextDepth, CountsWithoutRecursionAndSkipsStrings) {
  EXPECT_EQ(JsonTextDepth("1", 64), 0);
  EXPECT_EQ(JsonTextDepth("{\"a\": [1, {\"b\": []}]}", 64), 4);
  EXPECT_EQ(JsonTextDepth("{\"a\": \"[[[[\\\"[[[\"}", 64), 1);  // brackets inside a string
  const std::string deep = Repeat("[", 200000) + Repeat("]", 200000);
  EXPECT_EQ(JsonTextDepth(deep, 64), 65);  // stops counting past the limit
  EXPECT_NO_THROW(ValidateJsonDepth(64, "body"));
  EXPECT_TRUE(ThrowsDomainError([] { ValidateJsonDepth(65, "webhook body"); }, kInvalid,
                                "webhook body nests too deep: more than 64 levels"));
}

TEST(IntervalMicros, SaturatesInsteadOfWrapping) {
  constexpr std::int64_t kDay = 86400LL * 1000000LL;
  EXPECT_EQ(IntervalMicros(0, 0, 5), 5);
  EXPECT_EQ(IntervalMicros(1, 1, 1), 31 * kDay + 1);
  EXPECT_EQ(IntervalMicros(0, -1, 0), -kDay);
  // 2^31-1 days plus the largest time would overflow int64 and wrap negative.
  EXPECT_EQ(IntervalMicros(INT_MAX, INT_MAX, std::numeric_limits<std::int64_t>::max()),
            std::numeric_limits<std::int64_t>::max());
  EXPECT_LT(IntervalMicros(INT_MIN, INT_MIN, -1), -kMaxDurationUs);
  EXPECT_GT(IntervalMicros(0, 2000000000, 0), kMaxDurationUs);
}

}  // namespace
}  // namespace taskflow::core

namespace taskflow::core {
namespace {

TEST(ValidateJobTypeUnicode, RejectsUnicodeWhitespaceAndC1Controls) {
  EXPECT_THROW(ValidateJobType("a\xC2\xA0"
                               "b"),
               DomainError);  // U+00A0 no-break space
  EXPECT_THROW(ValidateJobType("a\xE2\x80\x83"
                               "b"),
               DomainError);  // U+2003 em space
  EXPECT_THROW(ValidateJobType("a\xE3\x80\x80"
                               "b"),
               DomainError);  // U+3000 ideographic space
  EXPECT_THROW(ValidateJobType("a\xC2\x85"
                               "b"),
               DomainError);  // U+0085 NEL
  EXPECT_THROW(ValidateJobType("a\xC2\x9F"
                               "b"),
               DomainError);                                  // U+009F C1 control
  EXPECT_NO_THROW(ValidateJobType("caf\xC3\xA9.send"));       // é is fine
  EXPECT_NO_THROW(ValidateJobType("\xF0\x9F\x93\xA7.send"));  // an emoji is fine
}

}  // namespace
}  // namespace taskflow::core
