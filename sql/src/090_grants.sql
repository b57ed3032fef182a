-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each group role gets what its job needs.
-- ---------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA taskflow FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA taskflow FROM PUBLIC;
GRANT USAGE ON SCHEMA taskflow TO taskflow_client, taskflow_worker, taskflow_admin;
GRANT USAGE ON TYPE taskflow.job_state TO taskflow_client, taskflow_worker, taskflow_admin;

GRANT EXECUTE ON FUNCTION
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text, bigint[], text),
  taskflow.schedule_many(jsonb),
  taskflow.get_job(bigint),
  taskflow.list_jobs(text, text, taskflow.job_state, text, bigint, integer),
  taskflow.job_history(bigint),
  taskflow.cancel(bigint, text),
  taskflow.retry(bigint),
  taskflow.schedule_workflow(jsonb),
  taskflow.dependency_results(bigint),
  taskflow.workflow_status(bigint),
  taskflow.cancel_workflow(bigint, text),
  taskflow.list_workflows(text, bigint, integer)
TO taskflow_client, taskflow_admin;

GRANT EXECUTE ON FUNCTION
  taskflow.acquire(text, text[], integer, interval, text[]),
  taskflow.heartbeat(bigint, uuid, interval),
  taskflow.heartbeat_many(bigint[], uuid[], interval),
  taskflow.complete(bigint, uuid, jsonb),
  taskflow.complete_many(bigint[], uuid[], jsonb[]),
  taskflow.fail(bigint, uuid, text, text, boolean),
  taskflow.release(bigint, uuid),
  taskflow.snooze(bigint, uuid, interval),
  taskflow.get_job(bigint),
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text, bigint[], text),
  taskflow.schedule_many(jsonb),
  taskflow.schedule_workflow(jsonb),
  taskflow.dependency_results(bigint)
TO taskflow_worker, taskflow_admin;

GRANT EXECUTE ON FUNCTION
  taskflow.create_queue(text, integer, integer, jsonb, interval),
  taskflow.alter_queue(text, integer, integer, jsonb, interval),
  taskflow.drop_queue(text),
  taskflow.queue_retry_policy(text),
  taskflow.purge_failed(interval, text),
  taskflow._rescue_expired(integer),
  taskflow._promote_due(integer),
  taskflow._clean(integer, integer)
TO taskflow_admin;

GRANT SELECT ON taskflow.jobs, taskflow.job_attempts, taskflow.job_events, taskflow.queues,
  taskflow.dead_letter, taskflow.job_summaries, taskflow.job_dependencies, taskflow.workflows,
  taskflow.workflow_nodes TO taskflow_admin;

-- Tenancy (065_tenancy.sql). Row level security policies call _caller_tenant() as the querying
-- role, so every TaskFlow role may execute it.
GRANT EXECUTE ON FUNCTION taskflow._caller_tenant()
TO taskflow_client, taskflow_worker, taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.grant_tenant(name, text),
  taskflow.revoke_tenant(name),
  taskflow.set_tenant_limit(text, integer),
  taskflow.set_tenant_weight(text, integer),
  taskflow.set_rate_limit(text, text, integer, interval),
  taskflow.pause_queue(text),
  taskflow.resume_queue(text)
TO taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow._resolve_tenant(text),
  taskflow._tenant_mapping_changed(),
  taskflow._check_tenant_id(text)
TO taskflow_admin;
