// The dashboard's queue, rule and tenant operations (dashboard_admin_handlers.inc). Each is one
// route (RouteId, routes.hpp) answered by one prepared statement of the same name (Stmt,
// statements.hpp): both enumerations list them from here, so that they cannot drift apart.
#pragma once

// TASKFLOW_DASHBOARD_ADMIN_OPERATIONS(X) calls X(name) for each operation, in table order.
#define TASKFLOW_DASHBOARD_ADMIN_OPERATIONS(X) \
  X(kDashQueues)                               \
  X(kDashAlterQueue)                           \
  X(kDashPauseQueue)                           \
  X(kDashResumeQueue)                          \
  X(kDashRules)                                \
  X(kDashEnableRule)                           \
  X(kDashDisableRule)                          \
  X(kDashFireRule)                             \
  X(kDashRuleFirings)                          \
  X(kDashWebhookDeliveries)                    \
  X(kDashTenants)

// An enumerator per operation: TASKFLOW_DASHBOARD_ADMIN_OPERATIONS(TASKFLOW_ENUMERATOR).
#define TASKFLOW_ENUMERATOR(name) name,
