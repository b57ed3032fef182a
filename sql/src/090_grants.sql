-- ---------------------------------------------------------------------------------------------
-- Privileges: nothing for PUBLIC; each group role gets what its job needs.
-- ---------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA taskflow FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA taskflow FROM PUBLIC;
GRANT USAGE ON SCHEMA taskflow TO taskflow_client, taskflow_worker, taskflow_admin;
GRANT USAGE ON TYPE taskflow.job_state TO taskflow_client, taskflow_worker, taskflow_admin;

GRANT EXECUTE ON FUNCTION
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval),
  taskflow.schedule_many(jsonb),
  taskflow.get_job(bigint),
  taskflow.list_jobs(text, text, taskflow.job_state, text, bigint, integer),
  taskflow.job_history(bigint),
  taskflow.cancel(bigint, text),
  taskflow.retry(bigint)
TO taskflow_client, taskflow_admin;

GRANT EXECUTE ON FUNCTION
  taskflow.acquire(text, text[], integer, interval, text[]),
  taskflow.heartbeat(bigint, uuid, interval),
  taskflow.heartbeat_many(bigint[], uuid[], interval),
  taskflow.complete(bigint, uuid, jsonb),
  taskflow.complete_many(bigint[], uuid[], jsonb[]),
  taskflow.fail(bigint, uuid, text, text, boolean),
  taskflow.release(bigint, uuid),
  taskflow.get_job(bigint),
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval),
  taskflow.schedule_many(jsonb)
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
  taskflow.dead_letter, taskflow.job_summaries TO taskflow_admin;
