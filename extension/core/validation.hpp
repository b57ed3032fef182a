#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// Input checks shared by every entry point. Each throws
// DomainError(InvalidParameterValue) with a message naming the field.
// Text is UTF-8 (the database encoding); lengths count code points.

// Non-empty, at most 200 characters, no whitespace and no control characters.
void ValidateJobType(std::string_view job_type);
// The error class a worker reports with fail(): not empty, at most kMaxErrorTypeChars (it is
// indexed with the dead letters, and grouped on).
void ValidateErrorType(std::string_view error_type);
// Non-empty, at most 63 characters (PostgreSQL's identifier length, so a
// queue name can become a NOTIFY channel suffix), only [A-Za-z0-9_.:-].
void ValidateQueueName(std::string_view queue);
// Non-empty, at most 200 characters, no control characters.
void ValidateTenantId(std::string_view tenant_id);
// At least 1.
void ValidateMaxAttempts(int max_attempts);
// 1..10000: keeps a single list call from reading an unbounded result.
void ValidateMaxRows(int max_rows);
// kMinPriority..kMaxPriority, for jobs (schedule, schedule_many, rule actions) and queues.
// `field` names the value in the message ("priority", "jobs[3].priority", ...).
void ValidatePriority(long long priority, std::string_view field = "priority");
// A client-given point in time (TimestampTz microseconds): finite. PostgreSQL stores
// -infinity/infinity as INT64_MIN/INT64_MAX; neither has a meaning as a due time, and every
// interval computed from one raises (22008) in the statistics and the Cleaner.
void ValidateTimestamp(std::int64_t micros, std::string_view field = "run_at");
// A client-given duration in microseconds (timeout, lease, extend, retry delays): greater than
// zero (or zero when allow_zero), at most kMaxDurationUs, so now() + duration stays a valid
// timestamp whatever the duration.
void ValidateDuration(std::int64_t micros, std::string_view field, bool allow_zero = false);
// The deepest nesting of arrays and objects in JSON text (0 for a scalar), counted without
// recursion; stops counting once past `stop_above`. Strings (with escapes) are skipped.
int JsonTextDepth(std::string_view json, int stop_above) noexcept;
// Refuses (22023) a JSON value nesting deeper than kMaxJsonDepth, naming `what`.
void ValidateJsonDepth(int depth, std::string_view what);

// A W3C Trace Context `traceparent` header
// (https://www.w3.org/TR/trace-context/#traceparent-header) of version 00, checked strictly:
// exactly 55 characters "00-<trace-id>-<parent-id>-<flags>", the three fields lowercase hex of 32,
// 16 and 2 digits, neither id all zeros. TaskFlow stores and forwards the header; it never parses a
// version it does not know (a future version may change the layout), so anything else is refused
// (22023) instead of being passed on.
void ValidateTraceparent(std::string_view traceparent);
inline constexpr std::size_t kTraceparentChars = 55;

// The interval fields (months, days, microseconds) as microseconds, a month counted as 30 days
// (as PostgreSQL compares intervals), saturating at the int64 limits instead of overflowing.
std::int64_t IntervalMicros(std::int32_t months, std::int32_t days, std::int64_t micros) noexcept;

inline constexpr std::size_t kMaxJobTypeChars = 200;
inline constexpr std::size_t kMaxErrorTypeChars = 200;
// 50, so that the NOTIFY channel "taskflow_<queue>" stays within PostgreSQL's 63-byte names.
inline constexpr std::size_t kMaxQueueNameChars = 50;
inline constexpr std::size_t kMaxTenantIdChars = 200;
inline constexpr int kMaxRowsLimit = 10000;
// Arrays and objects nested deeper than this are refused at every SQL input (payloads,
// results, rule triggers and actions, tenant attributes, retry policies, webhook bodies):
// the code that walks JSON (rendering, serialising) must never recurse on untrusted depth.
inline constexpr int kMaxJsonDepth = 64;
// smallint's range: job priorities are small ordinal levels (Graphile Worker uses the same
// range), and INT_MIN stays free as a sentinel below every real priority.
inline constexpr int kMinPriority = -32768;
inline constexpr int kMaxPriority = 32767;
// 100 years (36,525 days; '100 years' as an interval counts 36,000).
inline constexpr std::int64_t kMaxDurationUs = 36525LL * 86400LL * 1000000LL;

}  // namespace taskflow::core
