#pragma once
#include "cpp_only.hpp"

#include <cstddef>
#include <string_view>

namespace taskflow::core {

// Input checks shared by every entry point. Each throws
// DomainError(InvalidParameterValue) with a message naming the field.
// Text is UTF-8 (the database encoding); lengths count code points.

// Non-empty, at most 200 characters, no whitespace and no control characters.
void ValidateJobType(std::string_view job_type);
// Non-empty, at most 63 characters (PostgreSQL's identifier length, so a
// queue name can become a NOTIFY channel suffix), only [A-Za-z0-9_.:-].
void ValidateQueueName(std::string_view queue);
// Non-empty, at most 200 characters, no control characters.
void ValidateTenantId(std::string_view tenant_id);
// At least 1.
void ValidateMaxAttempts(int max_attempts);
// 1..10000: keeps a single list call from reading an unbounded result.
void ValidateMaxRows(int max_rows);

inline constexpr std::size_t kMaxJobTypeChars = 200;
// 50, so that the NOTIFY channel "taskflow_<queue>" stays within PostgreSQL's 63-byte names.
inline constexpr std::size_t kMaxQueueNameChars = 50;
inline constexpr std::size_t kMaxTenantIdChars = 200;
inline constexpr int kMaxRowsLimit = 10000;

}  // namespace taskflow::core
