#pragma once

#include <optional>

#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// What schedule_many checks per distinct value of a batch (extension/api/jobs_insert.cpp): the
// distinct-values query tags each row with one of these (its first column), and the check of
// that row follows from the tag. The numbers are only tags inside that one statement.
enum class BatchCheck : int {
  JobType = 1,          // each distinct job_type: ValidateJobType
  Queue = 2,            // each distinct queue: valid name, exists (its default max_attempts)
  Tenant = 3,           // each distinct tenant_id: valid, and the caller may name it
  MaxAttempts = 4,      // each distinct max_attempts
  Timeout = 5,          // each distinct timeout
  EmptyUniqueKey = 6,   // a unique_key that is '' (rejected)
  LargePayload = 7,     // the first element whose payload may exceed max_payload_bytes
  MissingParent = 8,    // a parent_job_id the caller cannot see (rejected)
  RunAt = 9,            // each distinct run_at: valid, and whether it makes the job wait
  UsesUniqueKeys = 10,  // the batch has unique keys (the insert needs ON CONFLICT)
  Priority = 11,        // each distinct priority
  Traceparent = 12,     // each distinct traceparent
};

// The tag as it appears in SQL text.
constexpr int BatchCheckTag(BatchCheck c) noexcept { return static_cast<int>(c); }
// The check a tag read back from SQL stands for; nullopt for any other number.
constexpr std::optional<BatchCheck> BatchCheckOfTag(int tag) noexcept {
  if (tag < BatchCheckTag(BatchCheck::JobType) || tag > BatchCheckTag(BatchCheck::Traceparent))
    return std::nullopt;
  return static_cast<BatchCheck>(tag);
}

}  // namespace taskflow::core
