#include "routes.hpp"

namespace taskflow::http {

const std::vector<RouteSpec>& RouteTable() {
  static const std::vector<RouteSpec> routes = {
      {RouteId::kCreateJob, "POST", "/jobs", "/jobs", true},
      {RouteId::kListJobs, "GET", "/jobs", "/jobs", true},
      {RouteId::kGetJob, "GET", "/jobs/{id}", "/jobs/([^/]+)", true},
      {RouteId::kJobHistory, "GET", "/jobs/{id}/history", "/jobs/([^/]+)/history", true},
      {RouteId::kCancelJob, "POST", "/jobs/{id}/cancel", "/jobs/([^/]+)/cancel", true},
      {RouteId::kRetryJob, "POST", "/jobs/{id}/retry", "/jobs/([^/]+)/retry", true},
      {RouteId::kCreateWorkflow, "POST", "/workflows", "/workflows", true},
      {RouteId::kListWorkflows, "GET", "/workflows", "/workflows", true},
      {RouteId::kGetWorkflow, "GET", "/workflows/{id}", "/workflows/([^/]+)", true},
      {RouteId::kCancelWorkflow, "POST", "/workflows/{id}/cancel", "/workflows/([^/]+)/cancel",
       true},
      {RouteId::kCreateRule, "POST", "/automation-rules", "/automation-rules", true},
      {RouteId::kListRules, "GET", "/automation-rules", "/automation-rules", true},
      {RouteId::kWebhook, "POST", "/events/webhook/{key}", "/events/webhook/([^/]+)", false},
      {RouteId::kAdminQueues, "GET", "/admin/queues", "/admin/queues", true},
      {RouteId::kAdminAutomations, "GET", "/admin/automations", "/admin/automations", true},
      {RouteId::kHealth, "GET", "/health", "/health", false},
      {RouteId::kMetrics, "GET", "/metrics", "/metrics", false},
      {RouteId::kOpenApi, "GET", "/openapi.json", "/openapi\\.json", false},
      // dashboard: queues, rules, tenants
      {RouteId::kDashQueues, "GET", "/dashboard/api/queues", "/dashboard/api/queues", true},
      {RouteId::kDashAlterQueue, "PATCH", "/dashboard/api/queues/{name}",
       "/dashboard/api/queues/([^/]+)", true},
      {RouteId::kDashPauseQueue, "POST", "/dashboard/api/queues/{name}/pause",
       "/dashboard/api/queues/([^/]+)/pause", true},
      {RouteId::kDashResumeQueue, "POST", "/dashboard/api/queues/{name}/resume",
       "/dashboard/api/queues/([^/]+)/resume", true},
      {RouteId::kDashRules, "GET", "/dashboard/api/rules", "/dashboard/api/rules", true},
      {RouteId::kDashEnableRule, "POST", "/dashboard/api/rules/{id}/enable",
       "/dashboard/api/rules/([^/]+)/enable", true},
      {RouteId::kDashDisableRule, "POST", "/dashboard/api/rules/{id}/disable",
       "/dashboard/api/rules/([^/]+)/disable", true},
      {RouteId::kDashFireRule, "POST", "/dashboard/api/rules/{id}/fire",
       "/dashboard/api/rules/([^/]+)/fire", true},
      {RouteId::kDashRuleFirings, "GET", "/dashboard/api/rules/{id}/firings",
       "/dashboard/api/rules/([^/]+)/firings", true},
      {RouteId::kDashWebhookDeliveries, "GET", "/dashboard/api/webhook-deliveries",
       "/dashboard/api/webhook-deliveries", true},
      {RouteId::kDashTenants, "GET", "/dashboard/api/tenants", "/dashboard/api/tenants", true},
      // dashboard: jobs (count before {id}: httplib takes the first pattern that matches)
      {RouteId::kDashJobs, "GET", "/dashboard/api/jobs", "/dashboard/api/jobs", true},
      {RouteId::kDashJobsCount, "GET", "/dashboard/api/jobs/count", "/dashboard/api/jobs/count",
       true},
      {RouteId::kDashJobsBulk, "POST", "/dashboard/api/jobs/bulk", "/dashboard/api/jobs/bulk",
       true},
      {RouteId::kDashJob, "GET", "/dashboard/api/jobs/{id}", "/dashboard/api/jobs/([^/]+)", true},
      {RouteId::kDashDeadLetters, "GET", "/dashboard/api/dead-letters",
       "/dashboard/api/dead-letters", true},
      {RouteId::kDashDeadLettersRedrive, "POST", "/dashboard/api/dead-letters/redrive",
       "/dashboard/api/dead-letters/redrive", true},
      {RouteId::kDashDeadLettersPurge, "POST", "/dashboard/api/dead-letters/purge",
       "/dashboard/api/dead-letters/purge", true},
      {RouteId::kDashboardSession, "GET", "/dashboard/api/session", "/dashboard/api/session", true},
      {RouteId::kDashboardOverview, "GET", "/dashboard/api/overview", "/dashboard/api/overview",
       true},
      // the worker protocol over HTTP: worker or admin keys
      {RouteId::kAcquireJobs, "POST", "/jobs/acquire", "/jobs/acquire", true},
      {RouteId::kHeartbeatJob, "POST", "/jobs/{id}/heartbeat", "/jobs/([^/]+)/heartbeat", true},
      {RouteId::kCompleteJob, "POST", "/jobs/{id}/complete", "/jobs/([^/]+)/complete", true},
      {RouteId::kFailJob, "POST", "/jobs/{id}/fail", "/jobs/([^/]+)/fail", true},
      {RouteId::kReleaseJob, "POST", "/jobs/{id}/release", "/jobs/([^/]+)/release", true},
      {RouteId::kSnoozeJob, "POST", "/jobs/{id}/snooze", "/jobs/([^/]+)/snooze", true},
  };
  return routes;
}

}  // namespace taskflow::http
