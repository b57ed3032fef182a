-- ---------------------------------------------------------------------------------------------
-- Worker protocol
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION taskflow.acquire(worker_id text, queues text[] DEFAULT ARRAY['default'],
    max_jobs integer DEFAULT 1, lease interval DEFAULT NULL, job_types text[] DEFAULT NULL)
RETURNS TABLE(job_id bigint, attempt integer, lease_token uuid, job_type text, payload jsonb,
              queue text, tenant_id text, correlation_id text, lease_expires_at timestamptz,
              timeout interval, traceparent text, dependencies jsonb)
AS 'MODULE_PATHNAME', 'taskflow_acquire'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 10;

CREATE FUNCTION taskflow.heartbeat(job_id bigint, lease_token uuid, extend interval DEFAULT NULL)
RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_heartbeat'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.complete(job_id bigint, lease_token uuid, result jsonb DEFAULT NULL)
RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_complete'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.complete_many(job_ids bigint[], lease_tokens uuid[],
    results jsonb[] DEFAULT NULL) RETURNS integer
AS 'MODULE_PATHNAME', 'taskflow_complete_many'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.fail(job_id bigint, lease_token uuid, error_type text,
    error_message text DEFAULT NULL, retryable boolean DEFAULT true)
RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_fail'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.release(job_id bigint, lease_token uuid) RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_release'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- Snooze: the handler asks for the job to run again after `delay`, without using up an attempt.
CREATE FUNCTION taskflow.snooze(job_id bigint, lease_token uuid, delay interval)
RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_snooze'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- Heartbeats for many jobs at once: one row per job with its answer (ok, cancel_requested, lost).
CREATE FUNCTION taskflow.heartbeat_many(job_ids bigint[], lease_tokens uuid[],
    extend interval DEFAULT NULL)
RETURNS TABLE(job_id bigint, status text)
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT t.id, taskflow.heartbeat(t.id, t.token, extend)
  FROM unnest(job_ids, lease_tokens) AS t(id, token) ORDER BY t.id
$$;
