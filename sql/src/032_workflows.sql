-- ---------------------------------------------------------------------------------------------
-- Workflows: jobs that wait for other jobs (docs/workflows.md). The tables are in
-- 010_tables.sql; waiting, release, propagation and re-arming are in extension/api/dependencies.cpp.
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION taskflow.schedule_workflow(spec jsonb) RETURNS jsonb
AS 'MODULE_PATHNAME', 'taskflow_schedule_workflow'
LANGUAGE C VOLATILE SECURITY DEFINER;
COMMENT ON FUNCTION taskflow.schedule_workflow(jsonb) IS
  'Creates a whole graph of jobs atomically; returns {"workflow_id": .., "jobs": {key: id}}.';

-- The dependencies of a job with their outcome: what a fan-in job aggregates. Rows in order of
-- the dependency's id; "key" is the dependency's workflow key (NULL outside a workflow); a
-- dependency removed by the Cleaner keeps its state from the edge, without result. Results and
-- error messages are passed in that order up to `budget` bytes in all (JSON text;
-- taskflow.max_dependency_results_bytes); each later one comes with "omitted": true and neither: a fan-in over thousands
-- of large results must not build one value past jsonb's 255 MB limit, which would fail every
-- acquire that picks the job, in a queue other tenants share. acquire (extension/api/acquire.cpp)
-- runs the same query inline.
CREATE FUNCTION taskflow._dependency_results(job_id bigint, budget bigint) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
      'job_id', e.depends_on, 'key', e.node_key, 'job_type', e.job_type, 'state', e.state,
      'on_failure', e.on_failure, 'result', CASE WHEN e.passed THEN e.result END,
      'error_type', e.last_error_type,
      'error_message', CASE WHEN e.passed THEN e.last_error_message END,
      'finished_at', e.finished_at)
      || CASE WHEN e.passed THEN '{}' ELSE '{"omitted": true}' END::jsonb
      ORDER BY e.depends_on), '[]'::jsonb)
  FROM (SELECT d.depends_on, n.node_key, p.job_type, COALESCE(p.state, d.parent_state) AS state,
               d.on_failure, p.result, p.last_error_type, p.last_error_message, p.finished_at,
               sum(COALESCE(octet_length(p.result::text), 0)
                   + COALESCE(octet_length(p.last_error_message), 0)) OVER (ORDER BY d.depends_on)
                 <= budget AS passed
          FROM taskflow.job_dependencies d
          LEFT JOIN taskflow.jobs p ON p.id = d.depends_on
          LEFT JOIN taskflow.workflow_nodes n ON n.job_id = d.depends_on
         WHERE d.job_id = _dependency_results.job_id) e
$$;

CREATE FUNCTION taskflow.dependency_results(job_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  -- the setting in bytes: current_setting says '16MB' or '12B' (pg_size_bytes wants '12 bytes')
  SELECT taskflow._dependency_results(j.id, pg_size_bytes(regexp_replace(
           current_setting('taskflow.max_dependency_results_bytes'), '(\d)B$', '\1 bytes')))
  FROM taskflow.jobs j
  WHERE j.id = dependency_results.job_id
    AND j.tenant_id = COALESCE(taskflow._caller_tenant(), j.tenant_id)  -- another tenant's: NULL
$$;

-- A workflow's overall state from its nodes' states: running while any node is unfinished,
-- then succeeded (all SUCCEEDED), failed (any FAILED or DEAD) or cancelled.
CREATE FUNCTION taskflow._workflow_state(counts jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE
    WHEN COALESCE((counts ->> 'PENDING')::int, 0) + COALESCE((counts ->> 'SCHEDULED')::int, 0)
         + COALESCE((counts ->> 'RUNNING')::int, 0) > 0 THEN 'running'
    WHEN COALESCE((counts ->> 'FAILED')::int, 0) + COALESCE((counts ->> 'DEAD')::int, 0) > 0
      THEN 'failed'
    WHEN COALESCE((counts ->> 'CANCELLED')::int, 0) > 0 THEN 'cancelled'
    ELSE 'succeeded' END
$$;

CREATE FUNCTION taskflow.workflow_status(workflow_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  WITH w AS (SELECT * FROM taskflow.workflows w WHERE w.id = workflow_status.workflow_id
               AND w.tenant_id = COALESCE(taskflow._caller_tenant(), w.tenant_id)),
  nodes AS (SELECT n.node_key, j.id, j.job_type, j.queue, j.state, j.attempts, j.created_at,
                   j.started_at, j.finished_at, j.dependencies_pending, j.cancel_reason,
                   j.last_error_type, j.last_error_message
            FROM w JOIN taskflow.workflow_nodes n ON n.workflow_id = w.id
            LEFT JOIN taskflow.jobs j ON j.id = n.job_id),
  counts AS (SELECT COALESCE(jsonb_object_agg(s, c), '{}'::jsonb) AS c FROM
               (SELECT COALESCE(state::text, 'REMOVED') AS s, count(*) AS c FROM nodes GROUP BY 1) x)
  SELECT jsonb_build_object(
    'id', w.id, 'name', w.name, 'tenant_id', w.tenant_id, 'created_at', w.created_at,
    'created_by', w.created_by, 'node_count', w.node_count, 'edge_count', w.edge_count,
    'state', taskflow._workflow_state(counts.c), 'counts', counts.c,
    'started_at', (SELECT min(started_at) FROM nodes),
    'finished_at', CASE WHEN taskflow._workflow_state(counts.c) <> 'running'
                        THEN (SELECT max(finished_at) FROM nodes) END,
    'nodes', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
        'key', node_key, 'job_id', id, 'job_type', job_type, 'queue', queue, 'state', state,
        'attempts', attempts, 'started_at', started_at, 'finished_at', finished_at,
        'dependencies_pending', dependencies_pending, 'cancel_reason', cancel_reason,
        'last_error_type', last_error_type, 'last_error_message', last_error_message)
        ORDER BY id), '[]'::jsonb) FROM nodes),
    'edges', (SELECT COALESCE(jsonb_agg(jsonb_build_object(
        'from', np.node_key, 'to', nc.node_key, 'on_failure', d.on_failure,
        'parent_state', d.parent_state) ORDER BY d.job_id, d.depends_on), '[]'::jsonb)
      FROM taskflow.workflow_nodes nc
      JOIN taskflow.job_dependencies d ON d.job_id = nc.job_id
      JOIN taskflow.workflow_nodes np ON np.job_id = d.depends_on
      WHERE nc.workflow_id = w.id))
  FROM w, counts
$$;

-- Cancels every unfinished node of a workflow (a running one is asked to stop, as cancel()
-- does); the waiting ones that depend on them are cancelled by propagation. Returns how many
-- nodes this call cancelled or asked to stop.
CREATE FUNCTION taskflow.cancel_workflow(workflow_id bigint, reason text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  n bigint;
  done integer := 0;
BEGIN
  IF NOT EXISTS (SELECT FROM taskflow.workflows w WHERE w.id = cancel_workflow.workflow_id
                 AND w.tenant_id = COALESCE(own, w.tenant_id)) THEN
    RAISE EXCEPTION USING ERRCODE = 'P0002',
      MESSAGE = format('workflow %s does not exist', cancel_workflow.workflow_id);
  END IF;
  -- In id order (creation order), the same order every caller locks them in.
  FOR n IN SELECT wn.job_id FROM taskflow.workflow_nodes wn
           WHERE wn.workflow_id = cancel_workflow.workflow_id ORDER BY wn.job_id LOOP
    -- Propagation may have cancelled it since the loop started: re-read under the lock.
    IF EXISTS (SELECT FROM taskflow.jobs j WHERE j.id = n
               AND j.state = ANY (taskflow._unfinished_states()) AND NOT j.cancel_requested) THEN
      PERFORM taskflow.cancel(n, COALESCE(reason, format('workflow %s cancelled', workflow_id)));
      done := done + 1;
    END IF;
  END LOOP;
  RETURN done;
END
$$;

CREATE FUNCTION taskflow.list_workflows(tenant_id text DEFAULT NULL, after_id bigint DEFAULT NULL,
    max_rows integer DEFAULT 100)
RETURNS TABLE(id bigint, tenant text, name text, created_at timestamptz, node_count integer,
              state text, counts jsonb, started_at timestamptz, finished_at timestamptz)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  own text := taskflow._caller_tenant();  -- a confined role lists only its tenant's workflows
BEGIN
  PERFORM taskflow._check_range(max_rows, 'max_rows', 1, 1000);
  RETURN QUERY
    SELECT w.id, w.tenant_id::text, w.name, w.created_at, w.node_count,
           taskflow._workflow_state(c.counts), c.counts, c.started_at,
           CASE WHEN taskflow._workflow_state(c.counts) <> 'running' THEN c.finished_at END
    FROM (SELECT * FROM taskflow.workflows w
          WHERE (list_workflows.tenant_id IS NULL OR w.tenant_id = list_workflows.tenant_id)
            AND (list_workflows.after_id IS NULL OR w.id > list_workflows.after_id)
            AND w.tenant_id = COALESCE(own, w.tenant_id)
          ORDER BY w.id LIMIT max_rows) w
    CROSS JOIN LATERAL (   -- as workflow_status: the first node's start, the last node's finish
      SELECT COALESCE(jsonb_object_agg(x.s, x.k), '{}'::jsonb) AS counts,
             min(x.started_at) AS started_at, max(x.finished_at) AS finished_at FROM (
        SELECT COALESCE(j.state::text, 'REMOVED') AS s, count(*) AS k,
               min(j.started_at) AS started_at, max(j.finished_at) AS finished_at
        FROM taskflow.workflow_nodes n LEFT JOIN taskflow.jobs j ON j.id = n.job_id
        WHERE n.workflow_id = w.id GROUP BY 1) x) c
    ORDER BY w.id;
END
$$;
