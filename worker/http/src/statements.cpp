// The HTTP server's SQL, all of it (statements.hpp). Each statement calls a function of the
// taskflow SQL API with parameters; the exceptions say why they read something else.
#include "statements.hpp"

#include <stdexcept>

#include <pqxx/pqxx>

#include "core/schedule_fields.hpp"

namespace taskflow::http {
namespace {

// POST /jobs: taskflow.schedule's parameters by name, generated from core::kScheduleFields:
// $n is the n-th field, cast to its SQL type; an absent one (NULL) takes schedule's default.
// The correlation id is `correlation` (the two statements below bind it differently).
std::string ScheduleArgs(const std::string& correlation) {
  std::string args;
  const auto& fields = core::kScheduleFields;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const core::ScheduleField& f = fields[i];
    const std::string name(f.name), sql_default(f.sql_default);
    const std::string param = "$" + std::to_string(i + 1) + "::" + std::string(f.sql_type);
    std::string value = param;
    if (name == "correlation_id") {
      value = correlation;
    } else if (!sql_default.empty() && sql_default != "NULL") {
      value = "COALESCE(" + param + ", " + sql_default + ")";
    }
    args += (args.empty() ? "" : ", ") + name + " => " + value;
  }
  return args;
}

// The search_jobs / count_jobs filter, $1..$9 (the dashboard's job views).
constexpr const char* kDashFilterArgs =
    "state => $1::taskflow.job_state[], queue => $2, tenant_id => $3, job_type => $4, "
    "correlation_id => $5, created_from => $6::timestamptz, created_to => $7::timestamptz, "
    "payload => $8, error_type => $9";

std::vector<Statement> Build() {
  const std::string correlation = "$" + std::to_string(ScheduleFieldIndex("correlation_id") + 1);
  const std::string parent = "$" + std::to_string(ScheduleFieldIndex("parent_job_id") + 1);
  std::vector<Statement> t = {
      // --- the connection and its role -------------------------------------------------------
      {Stmt::kSessionSettings, "tf_http_session",
       "SELECT pg_catalog.set_config('statement_timeout', $1, false), "
       "pg_catalog.set_config('application_name', $2, false)"},
      // SET ROLE takes no parameter; set_config('role') is the same setting with the same check.
      {Stmt::kSetRole, "tf_http_set_role", "SELECT pg_catalog.set_config('role', $1, false)"},
      {Stmt::kResetRole, "tf_http_reset_role", "RESET ROLE"},
      // Not the SQL API: whether a key's database role exists (a restore without the roles).
      {Stmt::kRoleMissing, "tf_http_role_missing",
       "SELECT pg_catalog.to_regrole(pg_catalog.quote_ident($1)) IS NULL"},
      // Not the SQL API (it may not be installed): the extension's version and the roles the
      // login role cannot SET ROLE to but must (empty: none): taskflow_http (key lookups, and
      // through it every key role), taskflow_http_admin (/metrics, admin keys) and
      // taskflow_webhook (webhooks). No row: no extension. taskflow_router: the server in front
      // of a scale-out router (docs/scale-out.md).
      {Stmt::kReadiness, "tf_http_readiness",
       "SELECT e.extversion, pg_catalog.concat_ws(', ', "
       "  CASE WHEN NOT pg_catalog.pg_has_role('taskflow_http', 'MEMBER') THEN 'taskflow_http' END, "
       "  CASE WHEN NOT pg_catalog.pg_has_role('taskflow_http_admin', 'MEMBER') THEN 'taskflow_http_admin' END, "
       "  CASE WHEN NOT pg_catalog.pg_has_role('taskflow_webhook', 'MEMBER') THEN 'taskflow_webhook' END) "
       "FROM pg_catalog.pg_extension e WHERE e.extname IN ('taskflow', 'taskflow_router')"},
      {Stmt::kAuthenticate, "tf_http_authenticate",
       "SELECT tenant_id, role, db_role FROM taskflow.authenticate_api_key($1)"},
      {Stmt::kMetrics, "tf_http_metrics", "SELECT taskflow.metrics()"},

      // --- jobs ---------------------------------------------------------------------------------
      {Stmt::kSchedule, "tf_http_schedule",
       "SELECT taskflow.schedule(" + ScheduleArgs(correlation) + "), " + correlation + "::text"},
      // With a unique_key or a parent the answer's correlation id is read back: get_job of the
      // returned id (an existing job; get_job is STABLE and does not see a row this statement
      // inserts, which then has the one it was given), else the parent's.
      {Stmt::kScheduleReadBack, "tf_http_schedule_read_back",
       "SELECT s.id, CASE WHEN g.j IS NULL THEN s.c ELSE g.j ->> 'correlation_id' END "
       "FROM (SELECT taskflow.schedule(" +
           ScheduleArgs("p.c") +
           ") AS id, p.c FROM (SELECT "
           "COALESCE(" +
           correlation + "::text, taskflow.get_job(" + parent +
           "::bigint) ->> 'correlation_id') AS c) p "
           "OFFSET 0) s "
           "CROSS JOIN LATERAL (SELECT taskflow.get_job(s.id) AS j) g"},
      {Stmt::kGetJob, "tf_http_get_job", "SELECT taskflow.get_job($1::bigint)::text"},
      {Stmt::kListJobs, "tf_http_list_jobs",
       "SELECT coalesce(jsonb_agg(to_jsonb(j) ORDER BY j.id), '[]')::text, count(*), max(j.id) "
       "FROM taskflow.list_jobs(tenant_id => $1, queue => $2, state => $3::taskflow.job_state, "
       "job_type => $4, after_id => $5::bigint, max_rows => $6::integer) j"},
      {Stmt::kJobHistory, "tf_http_job_history", "SELECT taskflow.job_history($1::bigint)::text"},
      {Stmt::kCancelJob, "tf_http_cancel", "SELECT taskflow.cancel($1::bigint, $2)::text"},
      {Stmt::kRetryJob, "tf_http_retry", "SELECT taskflow.retry($1::bigint)::text"},

      // --- rules, webhooks, admin views ---------------------------------------------------------
      {Stmt::kCreateRule, "tf_http_create_rule",
       "SELECT taskflow.create_rule(name => $1, trigger => $2::jsonb, actions => $3::jsonb, "
       "condition => $4, tenant_id => COALESCE($5, 'default'))"},
      {Stmt::kListRules, "tf_http_list_rules",
       "SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]')::text "
       "FROM taskflow.list_rules(tenant_id => $1, trigger_type => $2, enabled => $3::boolean) r"},
      {Stmt::kWebhook, "tf_http_webhook",
       "SELECT coalesce(jsonb_agg(t.id), '[]')::text "
       "FROM taskflow.handle_webhook($1, $2, $3, $4, $5) AS t(id)"},
      // queue_stats is a public view of the SQL API (docs/observability.md).
      {Stmt::kAdminQueues, "tf_http_admin_queues",
       "SELECT coalesce(jsonb_agg(to_jsonb(s)), '[]')::text FROM taskflow.queue_stats s"},
      // Reads taskflow.rule_firings (granted to taskflow_admin): no SQL API function returns a
      // rule's last firings as rows (dashboard_rule_firings has another shape and order).
      {Stmt::kAdminAutomations, "tf_http_admin_automations",
       "SELECT coalesce(jsonb_agg(to_jsonb(r) || jsonb_build_object('last_firings', "
       "  coalesce((SELECT jsonb_agg(to_jsonb(f) ORDER BY f.fired_at DESC, f.id DESC) FROM ("
       "    SELECT * FROM taskflow.rule_firings x WHERE x.rule_id = r.rule_id"
       "    ORDER BY x.fired_at DESC, x.id DESC LIMIT $1::integer) f), '[]'))"
       "  ORDER BY r.rule_id), '[]')::text FROM taskflow.list_rules() r"},

      // --- workflows ----------------------------------------------------------------------------
      {Stmt::kScheduleWorkflow, "tf_http_schedule_workflow",
       "SELECT taskflow.schedule_workflow($1::jsonb)::text"},
      {Stmt::kListWorkflows, "tf_http_list_workflows",
       "SELECT coalesce(jsonb_agg(to_jsonb(w) ORDER BY w.id), '[]')::text, count(*), max(w.id) "
       "FROM taskflow.list_workflows($1, $2::bigint, $3::integer) w"},
      {Stmt::kWorkflowStatus, "tf_http_workflow_status",
       "SELECT taskflow.workflow_status($1::bigint)::text"},
      {Stmt::kCancelWorkflow, "tf_http_cancel_workflow",
       "SELECT taskflow.cancel_workflow($1::bigint, $2)"},

      // --- the worker protocol ------------------------------------------------------------------
      // Numbers where a worker in any language wants numbers: the timeout in seconds; the
      // lease's end as an RFC 3339 time.
      {Stmt::kAcquire, "tf_http_acquire",
       "SELECT coalesce(jsonb_agg(jsonb_build_object("
       "  'job_id', a.job_id, 'attempt', a.attempt, 'lease_token', a.lease_token, "
       "  'job_type', a.job_type, 'payload', a.payload, 'queue', a.queue, 'tenant_id', a.tenant_id, "
       "  'correlation_id', a.correlation_id, 'traceparent', a.traceparent, "
       "  'dependencies', a.dependencies, "
       "  'lease_expires_at', to_char(a.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), "
       "  'timeout_seconds', extract(epoch FROM a.timeout)::float8) ORDER BY a.n), '[]')::text "
       "FROM taskflow.acquire(worker_id => $1, "
       "  queues => COALESCE(ARRAY(SELECT jsonb_array_elements_text($2::jsonb)), ARRAY['default']), "
       "  max_jobs => COALESCE($3::integer, 1), lease => $4::interval, "
       "  job_types => CASE WHEN $5::jsonb IS NULL THEN NULL "
       "                    ELSE ARRAY(SELECT jsonb_array_elements_text($5::jsonb)) END) "
       "  WITH ORDINALITY AS a(job_id, attempt, lease_token, job_type, payload, queue, tenant_id, "
       "                       correlation_id, lease_expires_at, timeout, traceparent, "
       "                       dependencies, n)"},
      {Stmt::kHeartbeat, "tf_http_heartbeat",
       "SELECT taskflow.heartbeat($1::bigint, $2::uuid, $3::interval)"},
      {Stmt::kComplete, "tf_http_complete",
       "SELECT taskflow.complete($1::bigint, $2::uuid, $3::jsonb)::text"},
      {Stmt::kFail, "tf_http_fail",
       "SELECT taskflow.fail($1::bigint, $2::uuid, $3, $4, COALESCE($5::boolean, true))::text"},
      {Stmt::kRelease, "tf_http_release", "SELECT taskflow.release($1::bigint, $2::uuid)::text"},
      {Stmt::kSnooze, "tf_http_snooze",
       "SELECT taskflow.snooze($1::bigint, $2::uuid, $3::interval)::text"},

      // --- the dashboard ------------------------------------------------------------------------
      {Stmt::kDashSession, "tf_http_dashboard_session",
       "SELECT taskflow.dashboard_session()::text"},
      {Stmt::kDashOverview, "tf_http_dashboard_overview",
       "SELECT taskflow.dashboard_overview($1::interval)::text"},
      {Stmt::kDashQueues, "tf_dash_queues", "SELECT taskflow.dashboard_queues()::text"},
      {Stmt::kDashAlterQueue, "tf_dash_alter_queue",
       "SELECT taskflow.dashboard_alter_queue($1, $2::jsonb)::text"},
      {Stmt::kDashPauseQueue, "tf_dash_pause_queue", "SELECT taskflow.pause_queue($1)"},
      {Stmt::kDashResumeQueue, "tf_dash_resume_queue", "SELECT taskflow.resume_queue($1)"},
      {Stmt::kDashRules, "tf_dash_rules",
       "SELECT taskflow.dashboard_rules($1::bigint, $2::integer)::text"},
      {Stmt::kDashEnableRule, "tf_dash_enable_rule", "SELECT taskflow.enable_rule($1::bigint)"},
      {Stmt::kDashDisableRule, "tf_dash_disable_rule", "SELECT taskflow.disable_rule($1::bigint)"},
      {Stmt::kDashFireRule, "tf_dash_fire_rule",
       "SELECT taskflow.dashboard_fire_rule($1::bigint)::text"},
      {Stmt::kDashRuleFirings, "tf_dash_rule_firings",
       "SELECT taskflow.dashboard_rule_firings($1::bigint, $2::bigint, $3::integer)::text"},
      {Stmt::kDashWebhookDeliveries, "tf_dash_webhook_deliveries",
       "SELECT taskflow.dashboard_webhook_deliveries($1::bigint, $2::bigint, $3::integer)::text"},
      {Stmt::kDashTenants, "tf_dash_tenants",
       "SELECT taskflow.dashboard_tenants($1, $2::integer)::text"},
      {Stmt::kDashSearchJobs, "tf_dash_search_jobs",
       std::string(
           "SELECT coalesce(jsonb_agg(s.j ORDER BY (s.j ->> 'id')::bigint DESC), '[]')::text, "
           "count(*), min((s.j ->> 'id')::bigint) FROM taskflow.search_jobs(") +
           kDashFilterArgs + ", after_id => $10::bigint, max_rows => $11::integer) AS s(j)"},
      {Stmt::kDashCountJobs, "tf_dash_count_jobs",
       std::string("SELECT json_build_object('count', c.count, 'capped', c.capped)::text "
                   "FROM taskflow.count_jobs(") +
           kDashFilterArgs + ") c"},
      // admins' roles only: the SQL function's grant decides (42501, 403 for a client key)
      {Stmt::kDashPurgeJobs, "tf_dash_purge_jobs",
       "SELECT taskflow.purge_jobs(ids => $1::bigint[], filter => $2::jsonb, "
       "expected_count => $3::bigint)::text"},
      {Stmt::kDashBulkJobs, "tf_dash_bulk_jobs",
       "SELECT taskflow.bulk_jobs($1, ids => $2::bigint[], filter => $3::jsonb, "
       "expected_count => $4::bigint, reason => $5)::text"},
      {Stmt::kDashJobDetail, "tf_dash_job_detail", "SELECT taskflow.job_detail($1::bigint)::text"},
      {Stmt::kDashDeadLetters, "tf_dash_dead_letters",
       "SELECT taskflow.dead_letter_groups()::text"},
      {Stmt::kDashDeadPurge, "tf_dash_dead_purge",
       "SELECT taskflow.dead_letter_purge($1, $2)::text"},
      {Stmt::kDashDeadRedrive, "tf_dash_dead_redrive",
       "SELECT taskflow.dead_letter_redrive($1, $2)::text"},
  };
  // One entry per Stmt, in its order: StatementName() indexes the table.
  if (t.size() != static_cast<std::size_t>(Stmt::kCount)) {
    throw std::logic_error("statements.cpp: the table does not have one entry per Stmt");
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (static_cast<std::size_t>(t[i].id) != i) {
      throw std::logic_error(std::string("statements.cpp: ") + t[i].name + " is out of Stmt order");
    }
  }
  return t;
}

}  // namespace

std::size_t ScheduleFieldIndex(const std::string& name) {
  const auto& fields = core::kScheduleFields;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (name == fields[i].name) return i;
  }
  throw std::logic_error("schedule() has no parameter " + name);
}

const std::vector<Statement>& Statements() {
  static const std::vector<Statement> table = Build();
  return table;
}

const char* StatementName(Stmt id) { return Statements()[static_cast<std::size_t>(id)].name; }

void PrepareStatements(pqxx::connection_base& conn) {
  for (const Statement& s : Statements()) conn.prepare(s.name, s.sql);
}

}  // namespace taskflow::http
