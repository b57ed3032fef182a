// Creating jobs: the one path used by schedule(), schedule_many() and automation rules, so every
// job gets the same validation, unique-key handling, audit row and wake-up. SPI must be connected.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/state_machine.hpp"
#include "pg/spi.hpp"

namespace taskflow::api {

struct JobSpec {
  std::string job_type;
  Datum payload = 0;  // jsonb; 0 means '{}'
  std::string queue = "default";
  std::string tenant_id = "default";
  std::optional<std::int64_t> run_at;  // TimestampTz microseconds
  int priority = 0;
  std::optional<int> max_attempts;  // none: the queue's retry policy
  std::optional<std::string> unique_key;
  std::optional<std::string> correlation_id;
  std::optional<std::int64_t> parent_job_id;
  std::optional<std::int64_t> timeout_us;
  std::optional<std::string> traceparent;  // W3C trace context; none: the parent's (if any)
  // Workflows: the jobs this one waits for (bigint[]; 0: none) and what their failure does.
  Datum depends_on = 0;
  core::OnDependencyFailure on_dependency_failure = core::OnDependencyFailure::Cancel;
};

// Checks the values of one job (job type, queue, tenant, priority, max_attempts, run_at,
// timeout, unique key, traceparent) with the core rules; `where` prefixes the messages.
void ValidateScalars(const JobSpec& spec, const std::string& where = {});

// Validates and inserts one job with schedule()'s rules. Returns the new job's id, or the id of
// the unfinished job that already holds its unique key. `where` prefixes error messages
// (e.g. "jobs[3]: "). `actor` is recorded on the creation event.
std::int64_t ScheduleJob(const JobSpec& spec, const std::string& actor,
                         const std::string& where = {});

// schedule_many's body: `jobs` is a jsonb array of objects with schedule()'s parameter names.
// All or nothing; ids in input order.
// A workflow (dependencies.cpp) passes, per element, how many dependencies it waits for and the
// reason recorded on its creation event; such an element starts SCHEDULED (waiting).
std::vector<std::int64_t> ScheduleJobs(Datum jobs, const std::string& actor,
                                       const std::vector<int>* dependency_counts = nullptr,
                                       const std::vector<std::string>* wait_reasons = nullptr);

}  // namespace taskflow::api
