-- ---------------------------------------------------------------------------------------------
-- Client side: schedule, read, cancel, retry
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION taskflow.schedule(job_type text, payload jsonb DEFAULT '{}',
    queue text DEFAULT 'default', tenant_id text DEFAULT 'default',
    run_at timestamptz DEFAULT NULL, priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL, unique_key text DEFAULT NULL,
    correlation_id text DEFAULT NULL, parent_job_id bigint DEFAULT NULL,
    timeout interval DEFAULT NULL, traceparent text DEFAULT NULL, depends_on bigint[] DEFAULT NULL,
    on_dependency_failure text DEFAULT 'cancel') RETURNS bigint
AS 'MODULE_PATHNAME', 'taskflow_schedule'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- One element of schedule_many's array as typed columns; a clear error names the element.
CREATE FUNCTION taskflow._job_spec(j jsonb, n bigint,
    OUT job_type text, OUT payload jsonb, OUT queue text, OUT tenant_id text,
    OUT run_at timestamptz, OUT priority integer, OUT max_attempts integer,
    OUT unique_key text, OUT correlation_id text, OUT parent_job_id bigint,
    OUT timeout interval, OUT traceparent text)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  k text;
  at text := format('jobs[%s]', n - 1);
BEGIN
  IF jsonb_typeof(j) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s must be a JSON object', at);
  END IF;
  FOR k IN SELECT jsonb_object_keys(j) LOOP
    IF k NOT IN ('job_type', 'payload', 'queue', 'tenant_id', 'run_at', 'priority',
                 'max_attempts', 'unique_key', 'correlation_id', 'parent_job_id', 'timeout',
                 'traceparent') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: unknown key "%s"', at, k),
        HINT = 'Keys are the parameter names of taskflow.schedule.';
    END IF;
  END LOOP;
  IF NOT j ? 'job_type' OR jsonb_typeof(j -> 'job_type') <> 'string' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: job_type (a string) is required', at);
  END IF;
  IF jsonb_typeof(j -> 'payload') NOT IN ('object', 'null') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: payload must be a JSON object', at);
  END IF;
  FOR k IN SELECT x FROM unnest(ARRAY['queue', 'tenant_id', 'run_at', 'unique_key',
                                      'correlation_id', 'timeout', 'traceparent']) x LOOP
    IF jsonb_typeof(j -> k) NOT IN ('string', 'null') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: %s must be a string', at, k);
    END IF;
  END LOOP;
  FOR k IN SELECT x FROM unnest(ARRAY['priority', 'max_attempts', 'parent_job_id']) x LOOP
    IF j ? k AND (j ->> k) !~ '^-?[0-9]+$' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('%s: %s must be an integer, got %s', at, k, j -> k);
    END IF;
  END LOOP;
  BEGIN
    job_type := j ->> 'job_type';
    payload := COALESCE(j -> 'payload', '{}'::jsonb);
    queue := COALESCE(j ->> 'queue', 'default');
    tenant_id := COALESCE(j ->> 'tenant_id', 'default');
    run_at := (j ->> 'run_at')::timestamptz;
    priority := COALESCE((j ->> 'priority')::integer, 0);
    max_attempts := (j ->> 'max_attempts')::integer;
    unique_key := j ->> 'unique_key';
    correlation_id := j ->> 'correlation_id';
    parent_job_id := (j ->> 'parent_job_id')::bigint;
    timeout := (j ->> 'timeout')::interval;
    traceparent := j ->> 'traceparent';
  EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s: %s', at, SQLERRM);
  END;
END
$$;

-- The core's vocabulary (extension/api/vocabulary.cpp), for the tests that check this file's
-- literals against it (test/sql/core_vocabulary.sql): the job states with their class, and
-- schedule()'s field table. The SQL scripts cannot call C++ while they install, so they write
-- the states and fields out; these functions make a drifted copy fail a test.
CREATE FUNCTION taskflow._core_states(OUT state text, OUT state_class text) RETURNS SETOF record
AS 'MODULE_PATHNAME', 'taskflow_core_states'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION taskflow._core_states() IS
  'Internal: the job states in enum order with their class (unfinished or final), from the C++ core.';

CREATE FUNCTION taskflow._schedule_fields(OUT name text, OUT sql_type text, OUT sql_default text,
    OUT json_type text, OUT in_batch boolean, OUT description text) RETURNS SETOF record
AS 'MODULE_PATHNAME', 'taskflow_schedule_fields'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION taskflow._schedule_fields() IS
  'Internal: taskflow.schedule''s field table (core/schedule_fields.hpp): type, default, JSON type.';

CREATE FUNCTION taskflow.schedule_many(jobs jsonb) RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'taskflow_schedule_many'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.get_job(job_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'job_type', j.job_type, 'queue', j.queue, 'tenant_id', j.tenant_id,
    'state', j.state, 'payload', j.payload, 'priority', j.priority, 'attempts', j.attempts,
    'max_attempts', j.max_attempts, 'next_run_at', j.next_run_at, 'created_at', j.created_at,
    'started_at', j.started_at, 'finished_at', j.finished_at,
    'last_error_type', j.last_error_type, 'last_error_message', j.last_error_message,
    'result', j.result, 'correlation_id', j.correlation_id, 'parent_job_id', j.parent_job_id,
    'unique_key', j.unique_key, 'cancel_requested', j.cancel_requested,
    'cancel_reason', j.cancel_reason, 'timeout', j.timeout, 'worker_id', j.worker_id,
    'lease_expires_at', j.lease_expires_at, 'traceparent', j.traceparent,
    'dependency_count', j.dependency_count, 'dependencies_pending', j.dependencies_pending,
    'workflow_id', (SELECT n.workflow_id FROM taskflow.workflow_nodes n WHERE n.job_id = j.id))
  FROM taskflow.jobs j
  WHERE j.id = get_job.job_id
    AND j.tenant_id = COALESCE(taskflow._caller_tenant(), j.tenant_id)  -- another tenant's: NULL
$$;

-- The job as clients see it: every column except the lease's secrets (token, duration).
CREATE VIEW taskflow.job_summaries WITH (security_invoker = true) AS
  SELECT j.id, j.job_type, j.queue, j.tenant_id, j.state, j.payload, j.priority, j.attempts,
         j.max_attempts, j.next_run_at, j.created_at, j.started_at, j.finished_at,
         j.last_error_type, j.last_error_message, j.result, j.correlation_id, j.parent_job_id,
         j.unique_key, j.cancel_requested, j.cancel_reason, j.timeout, j.worker_id,
         j.lease_expires_at, j.traceparent
  FROM taskflow.jobs j;
COMMENT ON VIEW taskflow.job_summaries IS 'Jobs without lease tokens; what list_jobs returns.';

CREATE FUNCTION taskflow.list_jobs(tenant_id text DEFAULT NULL, queue text DEFAULT NULL,
    state taskflow.job_state DEFAULT NULL, job_type text DEFAULT NULL,
    after_id bigint DEFAULT NULL, max_rows integer DEFAULT 100)
RETURNS SETOF taskflow.job_summaries
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  own text := taskflow._caller_tenant();  -- a confined role lists only its tenant's jobs
BEGIN
  PERFORM taskflow._check_range(max_rows, 'max_rows', 1, 10000);
  RETURN QUERY
    SELECT * FROM taskflow.job_summaries j
    WHERE (list_jobs.tenant_id IS NULL OR j.tenant_id = list_jobs.tenant_id)
      AND (list_jobs.queue IS NULL OR j.queue = list_jobs.queue)
      AND (list_jobs.state IS NULL OR j.state = list_jobs.state)
      AND (list_jobs.job_type IS NULL OR j.job_type = list_jobs.job_type)
      AND (list_jobs.after_id IS NULL OR j.id > list_jobs.after_id)
      AND j.tenant_id = COALESCE(own, j.tenant_id)
    ORDER BY j.id
    LIMIT max_rows;
END
$$;

CREATE FUNCTION taskflow.job_history(job_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT CASE WHEN NOT EXISTS (SELECT FROM taskflow.jobs j WHERE j.id = job_history.job_id
                    AND j.tenant_id = COALESCE(taskflow._caller_tenant(), j.tenant_id))
              THEN NULL ELSE
  jsonb_build_object(
    -- the trace the job belongs to (W3C traceparent), so a history links to its trace
    'traceparent', (SELECT j.traceparent FROM taskflow.jobs j WHERE j.id = job_history.job_id),
    'attempts', COALESCE((SELECT jsonb_agg(x.a ORDER BY x.n) FROM (
        SELECT a.attempt AS n, jsonb_build_object(
          'attempt', a.attempt, 'worker_id', a.worker_id, 'started_at', a.started_at,
          'finished_at', a.finished_at, 'outcome', a.outcome, 'error_type', a.error_type,
          'error_message', a.error_message, 'backoff_delay', a.backoff_delay) AS a
        FROM taskflow.job_attempts a WHERE a.job_id = job_history.job_id
        UNION ALL
        -- the attempt that is running now lives on the job row until it ends
        SELECT j.attempts, jsonb_build_object(
          'attempt', j.attempts, 'worker_id', j.worker_id, 'started_at', j.started_at,
          'finished_at', NULL, 'outcome', 'running', 'error_type', NULL,
          'error_message', NULL, 'backoff_delay', NULL,
          'lease_expires_at', j.lease_expires_at)
        FROM taskflow.jobs j WHERE j.id = job_history.job_id AND j.state = 'RUNNING') x),
      '[]'::jsonb),
    'events', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'from_state', e.from_state, 'to_state', e.to_state, 'at', e.at, 'actor', e.actor,
        'reason', e.reason) ORDER BY e.id)
      FROM taskflow.job_events e WHERE e.job_id = job_history.job_id), '[]'::jsonb))
  END
$$;

CREATE FUNCTION taskflow.cancel(job_id bigint, reason text DEFAULT NULL)
RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_cancel'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow.retry(job_id bigint) RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_retry'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- Dead letters: jobs that used up their retry budget.
CREATE VIEW taskflow.dead_letter AS
  SELECT j.id, j.job_type, j.queue, j.tenant_id, j.attempts, j.max_attempts,
         j.last_error_type, j.last_error_message, j.finished_at, j.payload, j.correlation_id
  FROM taskflow.jobs j WHERE j.state = 'DEAD';
COMMENT ON VIEW taskflow.dead_letter IS 'DEAD jobs; re-drive one with taskflow.retry(id).';

-- Deletes FAILED and DEAD jobs (with their history) finished before `older_than` ago; the
-- Cleaner never touches them. Returns how many were deleted.
CREATE FUNCTION taskflow.purge_failed(older_than interval DEFAULT '0 seconds',
    queue text DEFAULT NULL) RETURNS bigint
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  WITH old AS (
    SELECT j.id FROM taskflow.jobs j
    WHERE j.state IN ('FAILED', 'DEAD') AND j.finished_at <= now() - older_than
      AND (purge_failed.queue IS NULL OR j.queue = purge_failed.queue)
    FOR UPDATE SKIP LOCKED),
  da AS (DELETE FROM taskflow.job_attempts a USING old WHERE a.job_id = old.id),
  de AS (DELETE FROM taskflow.job_events e USING old WHERE e.job_id = old.id),
  dd AS (DELETE FROM taskflow.job_dependencies d USING old WHERE d.job_id = old.id),
  dn AS (DELETE FROM taskflow.workflow_nodes n USING old WHERE n.job_id = old.id),
  dj AS (DELETE FROM taskflow.jobs j USING old WHERE j.id = old.id RETURNING 1)
  SELECT count(*) FROM dj
$$;
