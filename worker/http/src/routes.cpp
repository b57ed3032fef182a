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
      {RouteId::kCreateRule, "POST", "/automation-rules", "/automation-rules", true},
      {RouteId::kListRules, "GET", "/automation-rules", "/automation-rules", true},
      {RouteId::kWebhook, "POST", "/events/webhook/{key}", "/events/webhook/([^/]+)", false},
      {RouteId::kAdminQueues, "GET", "/admin/queues", "/admin/queues", true},
      {RouteId::kAdminAutomations, "GET", "/admin/automations", "/admin/automations", true},
      {RouteId::kHealth, "GET", "/health", "/health", false},
      {RouteId::kMetrics, "GET", "/metrics", "/metrics", false},
      {RouteId::kOpenApi, "GET", "/openapi.json", "/openapi\\.json", false},
      {RouteId::kDashboardSession, "GET", "/dashboard/api/session", "/dashboard/api/session", true},
      {RouteId::kDashboardOverview, "GET", "/dashboard/api/overview", "/dashboard/api/overview", true},
  };
  return routes;
}

}  // namespace taskflow::http
