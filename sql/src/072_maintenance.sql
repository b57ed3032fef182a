-- ---------------------------------------------------------------------------------------------
-- Maintenance: the three tasks the maintenance worker (extension/bgw/maintenance.cpp) runs every
-- taskflow.maintenance_interval, each in its own transaction; callable by admins for tests and
-- tooling. After 070_observability.sql, because the Cleaner rolls up the metrics counters
-- (taskflow._rollup) before it deletes.
--   Rescuer    _rescue_expired  extension/api/rescuer.cpp
--   Scheduler  _promote_due     extension/api/scheduler.cpp
--   Cleaner    _clean           below
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION taskflow._rescue_expired(max_jobs integer DEFAULT 1000) RETURNS integer
AS 'MODULE_PATHNAME', 'taskflow_rescue_expired'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE FUNCTION taskflow._promote_due(max_jobs integer DEFAULT 1000) RETURNS integer
AS 'MODULE_PATHNAME', 'taskflow_promote_due'
LANGUAGE C VOLATILE SECURITY DEFINER;

-- The Cleaner: deletes SUCCEEDED and CANCELLED jobs finished more than retention_seconds ago,
-- with their attempts, events, dependency edges and workflow nodes, at most max_jobs per call,
-- oldest first, and the workflows whose nodes are all gone. First it folds the jobs finished since
-- its last round into the metrics counters (taskflow._rollup, 070_observability.sql), so the
-- counters outlive the rows.
CREATE FUNCTION taskflow._clean(retention_seconds integer, max_jobs integer DEFAULT 1000)
RETURNS integer
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT taskflow._rollup();
  -- workflows whose every node has been cleaned away (032_workflows.sql)
  DELETE FROM taskflow.workflows w
  WHERE w.created_at < now() - make_interval(secs => retention_seconds)
    AND NOT EXISTS (SELECT FROM taskflow.workflow_nodes n WHERE n.workflow_id = w.id);
  WITH old AS (
    SELECT j.id FROM taskflow.jobs j
    WHERE j.state IN ('SUCCEEDED', 'CANCELLED')
      AND j.finished_at < now() - make_interval(secs => retention_seconds)
    ORDER BY j.finished_at LIMIT max_jobs FOR UPDATE SKIP LOCKED),
  da AS (DELETE FROM taskflow.job_attempts a USING old WHERE a.job_id = old.id),
  de AS (DELETE FROM taskflow.job_events e USING old WHERE e.job_id = old.id),
  dd AS (DELETE FROM taskflow.job_dependencies d USING old WHERE d.job_id = old.id),
  dn AS (DELETE FROM taskflow.workflow_nodes n USING old WHERE n.job_id = old.id),
  dj AS (DELETE FROM taskflow.jobs j USING old WHERE j.id = old.id RETURNING 1)
  SELECT count(*)::integer FROM dj
$$;

-- A boundary self-test for the pgTAP suites (extension/api/admin.cpp); superuser only.
CREATE FUNCTION taskflow._selftest_boundary(kind text) RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_selftest_boundary'
LANGUAGE C VOLATILE;
