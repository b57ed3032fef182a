#pragma once

// The one field table of taskflow.schedule(): its parameters in signature order, with their SQL
// type and default, the JSON type a field has in schedule_many's elements and in the HTTP API's
// POST /jobs body, and a one-line description. The SQL signature (sql/src/030_jobs.sql) and
// taskflow._job_spec are checked against it by test/sql/schedule_fields.sql (through
// taskflow._schedule_fields()); extension/api/jobs_insert.cpp builds its field lists from it;
// the HTTP server and the OpenAPI document use it too.
//
// Dependency-free on purpose (only <array> and <string_view>): the worker and the HTTP server
// include it as well as the extension.

#include <array>
#include <string_view>
#include "cpp_only.hpp"  // last, so it checks everything included above

namespace taskflow::core {

// The JSON type a field's value has in a JSON document (schedule_many element, POST /jobs body).
// null is always accepted for a field with a default and means "the default".
enum class ScheduleJsonType : unsigned char {
  String,        // a JSON string; run_at and timeout are strings PostgreSQL parses
  Object,        // a JSON object (payload)
  Integer,       // a JSON integer
  IntegerArray,  // a JSON array of integers (depends_on)
};

struct ScheduleField {
  std::string_view name;         // the parameter name = the JSON key
  std::string_view sql_type;     // the parameter's SQL type as written in the signature
  std::string_view sql_default;  // the DEFAULT expression as written; empty: required
  ScheduleJsonType json_type;
  bool in_batch;                 // also a key of schedule_many's elements (taskflow._job_spec)
  std::string_view description;  // one line, for the OpenAPI document and the SQL function
};

inline constexpr std::array<ScheduleField, 14> kScheduleFields = {{
    {"job_type", "text", "", ScheduleJsonType::String, true,
     "The handler's name; the worker dispatches on it."},
    {"payload", "jsonb", "'{}'", ScheduleJsonType::Object, true,
     "The handler's input, a JSON object."},
    {"queue", "text", "'default'", ScheduleJsonType::String, true,
     "The queue the job runs in; it must exist."},
    {"tenant_id", "text", "'default'", ScheduleJsonType::String, true,
     "The tenant the job belongs to."},
    {"run_at", "timestamptz", "NULL", ScheduleJsonType::String, true,
     "Earliest start; a future time makes the job SCHEDULED."},
    {"priority", "integer", "0", ScheduleJsonType::Integer, true,
     "Higher runs first within its queue."},
    {"max_attempts", "integer", "NULL", ScheduleJsonType::Integer, true,
     "The attempt budget; NULL takes the queue's."},
    {"unique_key", "text", "NULL", ScheduleJsonType::String, true,
     "At most one unfinished job per tenant, queue and key."},
    {"correlation_id", "text", "NULL", ScheduleJsonType::String, true,
     "Links related jobs; a sub-job without one inherits its parent's."},
    {"parent_job_id", "bigint", "NULL", ScheduleJsonType::Integer, true,
     "The job that spawned this one (same tenant)."},
    {"timeout", "interval", "NULL", ScheduleJsonType::String, true, "Time limit of one attempt."},
    {"traceparent", "text", "NULL", ScheduleJsonType::String, true,
     "W3C trace context handed to the handler; a sub-job inherits its parent's."},
    {"depends_on", "bigint[]", "NULL", ScheduleJsonType::IntegerArray, false,
     "Jobs (same tenant) this job waits for; it stays SCHEDULED until each has finished."},
    {"on_dependency_failure", "text", "'cancel'", ScheduleJsonType::String, false,
     "What a FAILED, DEAD or CANCELLED dependency does: cancel (default) or run."},
}};

// "string", "object", "integer", "array".
constexpr std::string_view JsonTypeName(ScheduleJsonType type) noexcept {
  switch (type) {
    case ScheduleJsonType::String: return "string";
    case ScheduleJsonType::Object: return "object";
    case ScheduleJsonType::Integer: return "integer";
    case ScheduleJsonType::IntegerArray: return "array";
  }
  return "unknown";
}

// The field called `name`, or nullptr.
constexpr const ScheduleField* FindScheduleField(std::string_view name) noexcept {
  for (const ScheduleField& field : kScheduleFields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

}  // namespace taskflow::core
