// The one table of the routes the server serves. server.cpp registers exactly these, and a unit
// test checks that /openapi.json documents exactly these. The dashboard's own files (/ and
// /assets/*) are not API routes: server.cpp serves them beside this table.
#pragma once

#include <string>
#include <vector>

#include "dashboard_admin_operations.hpp"

namespace taskflow::http {

enum class RouteId {
  kCreateJob,
  kGetJob,
  kListJobs,
  kJobHistory,
  kCancelJob,
  kRetryJob,
  kCreateWorkflow,
  kListWorkflows,
  kGetWorkflow,
  kCancelWorkflow,
  kCreateRule,
  kListRules,
  kWebhook,
  kAdminQueues,
  kAdminAutomations,
  kHealth,
  kMetrics,
  kOpenApi,
  // dashboard: queues, rules, tenants (dashboard_admin_handlers.inc)
  TASKFLOW_DASHBOARD_ADMIN_OPERATIONS(TASKFLOW_ENUMERATOR)
  // dashboard: jobs, job detail, bulk actions, dead letters
  kDashJobs,
  kDashJobsCount,
  kDashJobsBulk,
  kDashJob,
  kDashDeadLetters,
  kDashDeadLettersRedrive,
  kDashDeadLettersPurge,
  kDashboardSession,
  kDashboardOverview,
  // the worker protocol over HTTP (worker_protocol_handlers.inc)
  kAcquireJobs,
  kHeartbeatJob,
  kCompleteJob,
  kFailJob,
  kReleaseJob,
  kSnoozeJob,
};

struct RouteSpec {
  RouteId id;
  const char* method;   // "GET", "POST" or "PATCH"
  const char* path;     // OpenAPI form, e.g. "/jobs/{id}"; also the metrics label
  std::string pattern;  // the httplib regex matched against the whole path, from `path`
  bool needs_key;       // Authorization: Bearer <API key> required
};

const std::vector<RouteSpec>& RouteTable();

}  // namespace taskflow::http
