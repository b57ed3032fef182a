#include "routes.hpp"

#include <algorithm>
#include <string_view>

namespace taskflow::http {
namespace {

// A route as the table writes it: its pattern is derived from its path (PathPattern).
struct Route {
  RouteId id;
  const char* method;
  const char* path;
  bool needs_key;
};

constexpr Route kRoutes[] = {
    {RouteId::kCreateJob, "POST", "/jobs", true},
    {RouteId::kListJobs, "GET", "/jobs", true},
    {RouteId::kGetJob, "GET", "/jobs/{id}", true},
    {RouteId::kJobHistory, "GET", "/jobs/{id}/history", true},
    {RouteId::kCancelJob, "POST", "/jobs/{id}/cancel", true},
    {RouteId::kRetryJob, "POST", "/jobs/{id}/retry", true},
    {RouteId::kCreateWorkflow, "POST", "/workflows", true},
    {RouteId::kListWorkflows, "GET", "/workflows", true},
    {RouteId::kGetWorkflow, "GET", "/workflows/{id}", true},
    {RouteId::kCancelWorkflow, "POST", "/workflows/{id}/cancel", true},
    {RouteId::kCreateRule, "POST", "/automation-rules", true},
    {RouteId::kListRules, "GET", "/automation-rules", true},
    {RouteId::kWebhook, "POST", "/events/webhook/{key}", false},
    {RouteId::kAdminQueues, "GET", "/admin/queues", true},
    {RouteId::kAdminAutomations, "GET", "/admin/automations", true},
    {RouteId::kHealth, "GET", "/health", false},
    {RouteId::kMetrics, "GET", "/metrics", false},
    {RouteId::kOpenApi, "GET", "/openapi.json", false},
    // dashboard: queues, rules, tenants
    {RouteId::kDashQueues, "GET", "/dashboard/api/queues", true},
    {RouteId::kDashAlterQueue, "PATCH", "/dashboard/api/queues/{name}", true},
    {RouteId::kDashPauseQueue, "POST", "/dashboard/api/queues/{name}/pause", true},
    {RouteId::kDashResumeQueue, "POST", "/dashboard/api/queues/{name}/resume", true},
    {RouteId::kDashRules, "GET", "/dashboard/api/rules", true},
    {RouteId::kDashEnableRule, "POST", "/dashboard/api/rules/{id}/enable", true},
    {RouteId::kDashDisableRule, "POST", "/dashboard/api/rules/{id}/disable", true},
    {RouteId::kDashFireRule, "POST", "/dashboard/api/rules/{id}/fire", true},
    {RouteId::kDashRuleFirings, "GET", "/dashboard/api/rules/{id}/firings", true},
    {RouteId::kDashWebhookDeliveries, "GET", "/dashboard/api/webhook-deliveries", true},
    {RouteId::kDashTenants, "GET", "/dashboard/api/tenants", true},
    // dashboard: jobs (count before {id}: httplib takes the first pattern that matches)
    {RouteId::kDashJobs, "GET", "/dashboard/api/jobs", true},
    {RouteId::kDashJobsCount, "GET", "/dashboard/api/jobs/count", true},
    {RouteId::kDashJobsBulk, "POST", "/dashboard/api/jobs/bulk", true},
    {RouteId::kDashJob, "GET", "/dashboard/api/jobs/{id}", true},
    {RouteId::kDashDeadLetters, "GET", "/dashboard/api/dead-letters", true},
    {RouteId::kDashDeadLettersRedrive, "POST", "/dashboard/api/dead-letters/redrive", true},
    {RouteId::kDashDeadLettersPurge, "POST", "/dashboard/api/dead-letters/purge", true},
    {RouteId::kDashboardSession, "GET", "/dashboard/api/session", true},
    {RouteId::kDashboardOverview, "GET", "/dashboard/api/overview", true},
    // the worker protocol over HTTP: worker or admin keys
    {RouteId::kAcquireJobs, "POST", "/jobs/acquire", true},
    {RouteId::kHeartbeatJob, "POST", "/jobs/{id}/heartbeat", true},
    {RouteId::kCompleteJob, "POST", "/jobs/{id}/complete", true},
    {RouteId::kFailJob, "POST", "/jobs/{id}/fail", true},
    {RouteId::kReleaseJob, "POST", "/jobs/{id}/release", true},
    {RouteId::kSnoozeJob, "POST", "/jobs/{id}/snooze", true},
};

// The httplib regex of an OpenAPI path: each {parameter} matches one path segment, the rest
// stands for itself.
std::string PathPattern(std::string_view path) {
  std::string pattern;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (path[i] == '{') {
      pattern += "([^/]+)";
      i = std::min(path.find('}', i), path.size());  // past the parameter's name
    } else {
      if (std::string_view(".^$|?*+()[]\\").find(path[i]) != std::string_view::npos)
        pattern += '\\';
      pattern += path[i];
    }
  }
  return pattern;
}

}  // namespace

const std::vector<RouteSpec>& RouteTable() {
  static const std::vector<RouteSpec> routes = [] {
    std::vector<RouteSpec> table;
    for (const Route& r : kRoutes) {
      table.push_back({r.id, r.method, r.path, PathPattern(r.path), r.needs_key});
    }
    return table;
  }();
  return routes;
}

}  // namespace taskflow::http
