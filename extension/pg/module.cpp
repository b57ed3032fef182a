// Module entry: refuses to load outside shared_preload_libraries, defines the settings and
// registers the launcher background worker (which starts one maintenance worker per database
// with the extension, bgw/launcher.hpp).
#include "pg/postgres.hpp"
#include "pg/settings.hpp"
#include "bgw/launcher.hpp"
#include "bgw/wakeup.hpp"
#include "pg/shared_state.hpp"
#include "pg/guard.hpp"

extern "C" {
PG_MODULE_MAGIC;

char* taskflow_database_name = nullptr;
int taskflow_maintenance_interval_ms = 1000;
int taskflow_default_lease_s = 30;
int taskflow_retention_s = 7 * 24 * 3600;
int taskflow_max_payload_bytes = 1024 * 1024;
int taskflow_cleaner_batch = 1000;
int taskflow_max_chain_depth = 10;
int taskflow_max_rule_render_bytes = 64 * 1024 * 1024;
int taskflow_max_workflow_nodes = 10000;
int taskflow_max_dependency_results_bytes = 16 * 1024 * 1024;
int taskflow_max_workflow_edges = 50000;

PGDLLEXPORT void _PG_init(void);
}

void _PG_init(void) {
  // Plain C from here: nothing below allocates C++ objects, so an ereport is safe.
  if (!process_shared_preload_libraries_in_progress) {
    ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                    errmsg("taskflow must be loaded via shared_preload_libraries"),
                    errhint("Add taskflow to shared_preload_libraries in postgresql.conf "
                            "(e.g. shared_preload_libraries = 'pg_cron,taskflow') and restart "
                            "PostgreSQL.")));
  }

  DefineCustomStringVariable(
      "taskflow.database_name", "Deprecated and ignored.",
      "TaskFlow's background workers serve every database in which the extension is installed. "
      "The setting is still accepted so that existing configuration files keep working.",
      &taskflow_database_name, "postgres", PGC_POSTMASTER, GUC_SUPERUSER_ONLY, nullptr, nullptr,
      nullptr);
  DefineCustomIntVariable("taskflow.maintenance_interval",
                          "How often the maintenance worker rescues expired leases, promotes "
                          "due jobs and cleans old ones.",
                          nullptr, &taskflow_maintenance_interval_ms, 1000, 10, 3600 * 1000,
                          PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("taskflow.default_lease",
                          "Lease length when neither acquire() nor the queue sets one.", nullptr,
                          &taskflow_default_lease_s, 30, 1, 7 * 24 * 3600, PGC_USERSET, GUC_UNIT_S,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable("taskflow.retention",
                          "How long SUCCEEDED and CANCELLED jobs are kept before the Cleaner "
                          "deletes them with their history.",
                          nullptr, &taskflow_retention_s, 7 * 24 * 3600, 0, INT_MAX, PGC_SIGHUP,
                          GUC_UNIT_S, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("taskflow.max_payload_bytes", "Largest accepted job payload.", nullptr,
                          &taskflow_max_payload_bytes, 1024 * 1024, 2, 256 * 1024 * 1024, PGC_SUSET,
                          GUC_UNIT_BYTE, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "taskflow.maintenance_batch", "Rows the maintenance worker handles per batch and task.",
      nullptr, &taskflow_cleaner_batch, 1000, 1, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "taskflow.max_chain_depth", "Longest chain of jobs created by event rules from one another.",
      "A follow-up job deeper than this (counted through parent_job_id) is "
      "not created; the firing records an error instead.",
      &taskflow_max_chain_depth, 10, 1, 1000, PGC_SUSET, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("taskflow.max_workflow_nodes",
                          "Most jobs in one workflow, and in one depends_on list.", nullptr,
                          &taskflow_max_workflow_nodes, 10000, 1, 1000000, PGC_SUSET, 0, nullptr,
                          nullptr, nullptr);
  DefineCustomIntVariable("taskflow.max_workflow_edges", "Most dependency edges in one workflow.",
                          nullptr, &taskflow_max_workflow_edges, 50000, 0, 10000000, PGC_SUSET, 0,
                          nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "taskflow.max_dependency_results_bytes",
      "Most bytes of results and error messages of its dependencies handed to one job.",
      "acquire() and dependency_results() pass the dependencies' results in order of id until "
      "this many bytes (JSON text); the later ones come with \"omitted\": true and no result.",
      &taskflow_max_dependency_results_bytes, 16 * 1024 * 1024, 0, 256 * 1024 * 1024, PGC_SUSET,
      GUC_UNIT_BYTE, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("taskflow.max_rule_render_bytes",
                          "Most bytes one rule firing call may build for all its firings.",
                          "Contexts, placeholder values and filled payloads of one fire_rule, "
                          "one handle_webhook call or one rule firing for one finished job, over "
                          "all its tenants; past it the remaining firings are recorded as failed "
                          "(54000).",
                          &taskflow_max_rule_render_bytes, 64 * 1024 * 1024, 1024, INT_MAX,
                          PGC_SUSET, GUC_UNIT_BYTE, nullptr, nullptr, nullptr);
  MarkGUCPrefixReserved("taskflow");

  taskflow::bgw::InitLauncher();
  taskflow::bgw::InitWakeups();
  taskflow::pg::InitSharedState();
  taskflow::pg::InitErrorContextHook();
}
