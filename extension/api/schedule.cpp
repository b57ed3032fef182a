// Client side: taskflow.schedule and taskflow.schedule_many (thin: read arguments, then the
// shared job-creation path in jobs_insert.cpp).
#include "core/errors.hpp"
#include "api/common.hpp"
#include "api/jobs_insert.hpp"
#include "api/tenancy.hpp"
#include "api/dependencies.hpp"

using namespace taskflow;

// taskflow.schedule(job_type, payload, queue, tenant_id, run_at, priority, max_attempts,
//                   unique_key, correlation_id, parent_job_id, timeout, traceparent,
//                   depends_on, on_dependency_failure) RETURNS bigint
TF_FUNCTION(taskflow_schedule) {
  pg::RequireArg(fcinfo, 0, "job_type");
  api::JobSpec spec;
  spec.job_type = pg::ArgText(fcinfo, 0);
  spec.payload = pg::ArgIsNull(fcinfo, 1) ? Datum(0) : PG_GETARG_DATUM(1);
  if (auto q = pg::ArgOptText(fcinfo, 2)) spec.queue = *q;
  std::optional<std::string> tenant = pg::ArgOptText(fcinfo, 3);
  if (!pg::ArgIsNull(fcinfo, 4)) spec.run_at = PG_GETARG_TIMESTAMPTZ(4);
  spec.priority = pg::ArgOptInt32(fcinfo, 5).value_or(0);
  spec.max_attempts = pg::ArgOptInt32(fcinfo, 6);
  spec.unique_key = pg::ArgOptText(fcinfo, 7);
  spec.correlation_id = pg::ArgOptText(fcinfo, 8);
  spec.parent_job_id = pg::ArgOptInt64(fcinfo, 9);
  spec.timeout_us = pg::ArgOptIntervalMicros(fcinfo, 10);
  spec.traceparent = pg::ArgOptText(fcinfo, 11);
  if (!pg::ArgIsNull(fcinfo, 12)) spec.depends_on = PG_GETARG_DATUM(12);
  if (PG_NARGS() > 13) {
    std::string policy = pg::ArgOptText(fcinfo, 13).value_or("cancel");
    auto parsed = core::ParseOnDependencyFailure(policy);
    if (!parsed) {
      throw core::DomainError(
          core::ErrorCode::InvalidParameterValue,
          "on_dependency_failure must be 'cancel' or 'run', got \"" + policy + "\"");
    }
    spec.on_dependency_failure = *parsed;
  }

  std::int64_t id = 0;
  {
    pg::SpiConnection spi;
    spec.tenant_id = api::ResolveTenant(tenant);
    id = api::ScheduleJob(spec, api::CallerName());
  }
  return Int64GetDatum(id);
}

// taskflow.schedule_many(jobs jsonb) RETURNS SETOF bigint
TF_FUNCTION(taskflow_schedule_many) {
  pg::RequireArg(fcinfo, 0, "jobs");
  Datum jobs = PG_GETARG_DATUM(0);
  pg::SetResult out(fcinfo, INT8OID);
  std::vector<std::int64_t> ids;
  {
    pg::SpiConnection spi;
    ids = api::ScheduleJobs(jobs, api::CallerName());
  }
  for (std::int64_t id : ids) {
    Datum v = Int64GetDatum(id);
    bool null = false;
    out.PutValues(&v, &null);
  }
  return Datum(0);
}

// taskflow.schedule_workflow(spec jsonb) RETURNS jsonb
TF_FUNCTION(taskflow_schedule_workflow) {
  pg::RequireArg(fcinfo, 0, "spec");
  Datum spec = PG_GETARG_DATUM(0);
  Datum result;
  {
    pg::SpiConnection spi;
    result = api::ScheduleWorkflow(spec, api::CallerName()).answer;
  }
  return result;
}
