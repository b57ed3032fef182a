// The core's vocabulary handed to the SQL side: the SQL scripts cannot call C++ at install
// time, so they write job states and schedule()'s fields as literals, and the test suite checks
// those literals against these functions (test/sql/core_vocabulary.sql): the jobs.state CHECK
// constraint, the partial index predicates, the SQL functions that list unfinished or final
// states, schedule()'s signature and taskflow._job_spec.
#include <array>

#include "core/job_state.hpp"
#include "core/schedule_fields.hpp"
#include "pg/guard.hpp"
#include "pg/spi.hpp"

using namespace taskflow;

// taskflow._core_states(OUT state text, OUT state_class text) RETURNS SETOF record: every job
// state in the enum's order with its class, 'unfinished' or 'final' (core/job_state.hpp).
TF_FUNCTION(taskflow_core_states) {
  pg::SetResult out(fcinfo);
  for (core::JobState state : core::kAllJobStates) {
    const std::array<Datum, 2> values = {pg::TextDatum(core::ToString(state)),
                                         pg::TextDatum(core::StateClassName(state))};
    const std::array<bool, 2> nulls = {false, false};
    out.PutValues(values.data(), nulls.data());
  }
  return Datum(0);
}

// taskflow._schedule_fields(OUT name text, OUT sql_type text, OUT sql_default text,
// OUT json_type text, OUT in_batch boolean, OUT description text) RETURNS SETOF record:
// core::kScheduleFields in signature order; sql_default is NULL for a required field.
TF_FUNCTION(taskflow_schedule_fields) {
  pg::SetResult out(fcinfo);
  for (const core::ScheduleField& field : core::kScheduleFields) {
    const std::array<Datum, 6> values = {
        pg::TextDatum(field.name),
        pg::TextDatum(field.sql_type),
        field.sql_default.empty() ? Datum(0) : pg::TextDatum(field.sql_default),
        pg::TextDatum(core::JsonTypeName(field.json_type)),
        BoolGetDatum(field.in_batch),
        pg::TextDatum(field.description)};
    const std::array<bool, 6> nulls = {false, false, field.sql_default.empty(),
                                       false, false, false};
    out.PutValues(values.data(), nulls.data());
  }
  return Datum(0);
}
