// Every SQL statement the HTTP server sends, in one table (statements.cpp): each a named
// prepared statement with fixed text that calls the taskflow SQL API, the request's values only
// ever as parameters ($1, $2, ...). DbPool registers the whole table on each connection it
// opens (libpqxx 6 prepares a statement on the server when it is first executed, so under the
// role of the request that first runs it; privileges are checked at every execution). The lint
// (test/lint.sh) refuses SQL text anywhere else in worker/http/src.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "dashboard_admin_operations.hpp"

namespace pqxx {
class connection_base;
}

namespace taskflow::http {

enum class Stmt : std::size_t {
  // the connection and its role
  kSessionSettings,
  kSetRole,
  kResetRole,
  kRoleMissing,
  kReadiness,
  kAuthenticate,
  kMetrics,
  // jobs
  kSchedule,
  kScheduleReadBack,
  kGetJob,
  kListJobs,
  kJobHistory,
  kCancelJob,
  kRetryJob,
  // rules, webhooks, admin views
  kCreateRule,
  kListRules,
  kWebhook,
  kAdminQueues,
  kAdminAutomations,
  // workflows
  kScheduleWorkflow,
  kListWorkflows,
  kWorkflowStatus,
  kCancelWorkflow,
  // the worker protocol
  kAcquire,
  kHeartbeat,
  kComplete,
  kFail,
  kRelease,
  kSnooze,
  // the dashboard
  kDashSession,
  kDashOverview,
  TASKFLOW_DASHBOARD_ADMIN_OPERATIONS(TASKFLOW_ENUMERATOR)
  // the dashboard's jobs, job detail, bulk actions, dead letters
  kDashSearchJobs,
  kDashCountJobs,
  kDashPurgeJobs,
  kDashBulkJobs,
  kDashJobDetail,
  kDashDeadLetters,
  kDashDeadPurge,
  kDashDeadRedrive,
  kCount
};

// The place of taskflow.schedule()'s parameter `name` in core::kScheduleFields
// (core/schedule_fields.hpp, schedule's signature order): POST /jobs binds the body member
// `name` as parameter $(place + 1) of the schedule statements. Throws std::logic_error when
// there is no such parameter.
std::size_t ScheduleFieldIndex(const std::string& name);

struct Statement {
  Stmt id;
  const char* name;  // the prepared statement's name on the server
  std::string sql;
};

// The table, in Stmt order.
const std::vector<Statement>& Statements();

// The prepared statement's name of `id`.
const char* StatementName(Stmt id);

// Registers every statement of the table on `conn`.
void PrepareStatements(pqxx::connection_base& conn);

}  // namespace taskflow::http
