// The taskflow.* settings (GUCs), defined in module.cpp. See docs/settings.md.
#pragma once

extern "C" {
extern char* taskflow_database_name;          // deprecated, ignored (workers serve every database)
extern int taskflow_maintenance_interval_ms;  // how often the maintenance worker runs
extern int taskflow_default_lease_s;          // lease when neither acquire nor queue sets one
extern int taskflow_retention_s;              // how long SUCCEEDED/CANCELLED jobs are kept
extern int taskflow_max_payload_bytes;        // largest accepted payload (jsonb size)
extern int taskflow_cleaner_batch;            // rows per Cleaner/Rescuer/promoter batch
extern int taskflow_max_chain_depth;          // longest chain of event-rule follow-up jobs
extern int taskflow_max_rule_render_bytes;    // bytes one rule firing call may build in total
extern int taskflow_max_workflow_nodes;       // most jobs in one workflow (and in one depends_on)
extern int taskflow_max_workflow_edges;       // most dependency edges in one workflow
extern int taskflow_max_dependency_results_bytes;  // dependencies' results handed to one job
}
