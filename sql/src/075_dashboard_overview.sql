-- ---------------------------------------------------------------------------------------------
-- The dashboard (docs/dashboard.md): who the caller is, and the Overview. Like every read of the
-- SQL API these confine a caller mapped to a tenant (taskflow._caller_tenant()) to that tenant;
-- the HTTP server runs them under the API key's database role and adds no check of its own.
-- Every statement is bounded: counts through the partial indexes of unfinished and kept jobs,
-- finished jobs from the roll-up tables (070_observability.sql), workers from the RUNNING index
-- and the newest finished jobs, tenants from the RUNNING index.
-- ---------------------------------------------------------------------------------------------

-- What the calling role is: 'admin' when it sees every tenant, else 'client' with its tenant.
CREATE FUNCTION taskflow.dashboard_session() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
AS $$
  SELECT jsonb_build_object(
    'role', CASE WHEN t.own IS NULL THEN 'admin' ELSE 'client' END,
    'tenant_id', t.own,
    'version', (SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'taskflow'))
  FROM (SELECT taskflow._caller_tenant() AS own) t
$$;
COMMENT ON FUNCTION taskflow.dashboard_session() IS
  'The caller as the dashboard sees it: role admin (every tenant) or client (tenant_id), and the version.';

-- The Overview's parts, row sources inlined into dashboard_overview's statement (see
-- taskflow._rows_jobs_kept in 070_observability.sql): they run under its settings, planned with
-- `own` known (NULL: every tenant).

-- Jobs per queue and state: unfinished jobs and the FAILED, DEAD and CANCELLED ones kept (one
-- branch per partial index), the SUCCEEDED ones not rolled up yet (finished at or after `w`),
-- and the SUCCEEDED ones rolled up and still in the table (the Cleaner's deletions are counted).
CREATE FUNCTION taskflow._rows_overview_counts(own text, w timestamptz)
RETURNS TABLE(queue text, state text, n bigint)
LANGUAGE sql STABLE
AS $$
  WITH
  live AS (
    -- counted per branch (a hash aggregate over a few queues), not sorted as one stream: with a
    -- long retention of FAILED/DEAD jobs the stream is most of the work
    SELECT x.queue, 'PENDING' AS state, count(*) AS n FROM taskflow.jobs x
    WHERE x.state = 'PENDING' AND (own IS NULL OR x.tenant_id = own) GROUP BY x.queue
    UNION ALL
    SELECT x.queue, 'SCHEDULED', count(*) FROM taskflow.jobs x
    WHERE x.state = 'SCHEDULED' AND (own IS NULL OR x.tenant_id = own) GROUP BY x.queue
    UNION ALL
    SELECT x.queue, 'RUNNING', count(*) FROM taskflow.jobs x
    WHERE x.state = 'RUNNING' AND (own IS NULL OR x.tenant_id = own) GROUP BY x.queue
    UNION ALL
    SELECT x.queue, x.state::text, count(*) FROM taskflow.jobs x
    WHERE x.state IN ('FAILED', 'DEAD', 'CANCELLED') AND (own IS NULL OR x.tenant_id = own)
    GROUP BY x.queue, x.state
    UNION ALL
    SELECT x.queue, 'SUCCEEDED', count(*) FROM taskflow.jobs x
    WHERE x.state = 'SUCCEEDED' AND x.finished_at >= w AND (own IS NULL OR x.tenant_id = own)
    GROUP BY x.queue),
  kept AS (
    SELECT s.queue, 'SUCCEEDED' AS state, sum(s.jobs - s.removed) AS n
    FROM taskflow.stats_queue s WHERE own IS NULL AND s.outcome = 'SUCCEEDED' GROUP BY s.queue
    UNION ALL
    SELECT s.queue, 'SUCCEEDED', sum(s.jobs - s.removed)
    FROM taskflow.stats_tenant s WHERE s.tenant_id = own AND s.outcome = 'SUCCEEDED' GROUP BY s.queue)
  SELECT c.queue, c.state, greatest(sum(c.n), 0)::bigint AS n
  FROM (SELECT * FROM live UNION ALL SELECT * FROM kept) c GROUP BY 1, 2
$$;

-- The series' rows from `since` at `bucket_width`: the percentiles stored by the roll-up for all
-- tenants; a tenant's own rows (at most one per bucket and queue) estimated from their
-- histograms now.
CREATE FUNCTION taskflow._rows_overview_series(own text, bucket_width integer, since timestamptz)
RETURNS TABLE(t timestamptz, queue text, completed bigint, failed bigint,
              wait_p50 double precision, wait_p95 double precision,
              run_p50 double precision, run_p95 double precision)
LANGUAGE sql STABLE
AS $$
  SELECT s.t, s.queue, s.completed, s.failed, s.wait_p50, s.wait_p95, s.run_p50, s.run_p95
  FROM taskflow.stats_series s WHERE own IS NULL AND s.width = bucket_width AND s.t >= since
  UNION ALL
  SELECT s.t, s.queue, s.completed, s.failed,
         taskflow._hist_quantile(0.5, s.wait_hist), taskflow._hist_quantile(0.95, s.wait_hist),
         taskflow._hist_quantile(0.5, s.run_hist), taskflow._hist_quantile(0.95, s.run_hist)
  FROM taskflow.stats_series_tenant s
  WHERE s.tenant_id = own AND s.width = bucket_width AND s.t >= since
$$;

-- The Overview's workers (one row: the JSON array): those holding leases, with what they run
-- now (the RUNNING index; at most 1000 jobs, the longest running first), and those seen lately:
-- the holders of the newest 2000 finished jobs of the last 15 minutes (through the finished_at
-- indexes; a worker idle longer drops off the list).
CREATE FUNCTION taskflow._rows_overview_workers(own text)
RETURNS TABLE(doc jsonb)
LANGUAGE sql STABLE
AS $$
  WITH
  running AS (
    SELECT j.id, j.job_type, j.queue, j.tenant_id, j.worker_id, j.started_at, j.lease_expires_at
    FROM taskflow.jobs j
    WHERE j.state = 'RUNNING' AND (own IS NULL OR j.tenant_id = own) AND j.worker_id IS NOT NULL
    ORDER BY j.started_at, j.id LIMIT 1000),
  recent AS (
    SELECT x.worker_id, x.finished_at FROM (
      (SELECT j.worker_id, j.finished_at, j.tenant_id FROM taskflow.jobs j
        WHERE j.state IN ('SUCCEEDED', 'CANCELLED') AND j.finished_at >= now() - interval '15 minutes'
        ORDER BY j.finished_at DESC LIMIT 2000)
      UNION ALL
      (SELECT j.worker_id, j.finished_at, j.tenant_id FROM taskflow.jobs j
        WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= now() - interval '15 minutes'
        ORDER BY j.finished_at DESC LIMIT 2000)) x
    WHERE x.worker_id IS NOT NULL AND (own IS NULL OR x.tenant_id = own)),
  worker_ids AS (
    SELECT u.worker_id, max(u.seen) AS last_seen_at FROM (
      SELECT r.worker_id, now() AS seen FROM running r
      UNION ALL
      SELECT r.worker_id, r.finished_at FROM recent r) u
    GROUP BY u.worker_id),
  -- what each worker runs, grouped once (not one scan of `running` per worker)
  running_by_worker AS (
    SELECT r.worker_id, jsonb_agg(jsonb_build_object(
             'job_id', r.id, 'job_type', r.job_type, 'queue', r.queue,
             'tenant_id', r.tenant_id, 'started_at', r.started_at,
             'lease_expires_at', r.lease_expires_at) ORDER BY r.started_at, r.id) AS jobs
    FROM running r GROUP BY r.worker_id)
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'worker_id', wi.worker_id, 'last_seen_at', wi.last_seen_at,
           'running', COALESCE(rw.jobs, '[]'::jsonb))
         ORDER BY wi.worker_id), '[]'::jsonb) AS doc
  FROM worker_ids wi LEFT JOIN running_by_worker rw ON rw.worker_id = wi.worker_id
$$;

-- The Overview's tenants (one row: the JSON array): an admin sees the 100 running the most
-- jobs, a tenant itself, against their limits.
CREATE FUNCTION taskflow._rows_overview_tenants(own text)
RETURNS TABLE(doc jsonb)
LANGUAGE sql STABLE
AS $$
  WITH
  tenant_running AS (
    SELECT j.tenant_id, count(*) AS running FROM taskflow.jobs j
    WHERE j.state = 'RUNNING' AND (own IS NULL OR j.tenant_id = own)
    GROUP BY j.tenant_id),
  tenant_rows AS (
    SELECT x.tenant_id, x.running FROM (
      SELECT tr.tenant_id, tr.running FROM tenant_running tr WHERE own IS NULL
      ORDER BY tr.running DESC, tr.tenant_id LIMIT 100) x
    UNION ALL
    SELECT own, COALESCE((SELECT tr.running FROM tenant_running tr WHERE tr.tenant_id = own), 0)
    WHERE own IS NOT NULL)
  SELECT COALESCE(jsonb_agg(jsonb_build_object(
           'tenant_id', r.tenant_id, 'running', r.running, 'max_running', t.max_running,
           'weight', COALESCE(t.weight, 1))
         ORDER BY r.running DESC, r.tenant_id), '[]'::jsonb) AS doc
  -- jobs.tenant_id is COLLATE "C", tenants.id is not: compare in the key's collation, or the
  -- primary key cannot serve the lookup (a sequential scan of every registered tenant)
  FROM tenant_rows r LEFT JOIN taskflow.tenants t ON t.id = r.tenant_id COLLATE "default"
$$;

-- The Overview: per queue its jobs by state, paused flag, concurrency limit and time series
-- over `range` (1 hour: 1-minute buckets; 24 hours: 15-minute buckets); the workers holding
-- leases or seen finishing jobs lately, with what they run now; the tenants running jobs,
-- against their limits. See docs/dashboard.md for each figure.
CREATE FUNCTION taskflow.dashboard_overview(range interval DEFAULT '1 hour') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET max_parallel_workers_per_gather = 0   -- small bounded scans: starting workers costs more
-- planned for each call with `own` known: an admin's plan has no tenant filter at all, so the
-- row estimates stay true (a filter like tenant_id = COALESCE(own, tenant_id) hid them, and a
-- 50,000-row count was sorted as if it had 250 rows)
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
  own text := taskflow._caller_tenant();   -- NULL: every tenant
  bucket_width integer;
  since timestamptz;
  w timestamptz;
  result jsonb;
BEGIN
  IF range IS NULL OR range NOT IN (interval '1 hour', interval '24 hours') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('range must be 1 hour or 24 hours, got %s', COALESCE(range::text, 'NULL'));
  END IF;
  bucket_width := CASE WHEN range = interval '1 hour' THEN 60 ELSE 900 END;
  -- the first bucket: the one holding now() - range
  since := to_timestamp(floor(extract(epoch FROM now() - range) / bucket_width) * bucket_width);
  w := COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity');

  WITH
  counts AS (SELECT * FROM taskflow._rows_overview_counts(own, w)),
  series_rows AS (SELECT * FROM taskflow._rows_overview_series(own, bucket_width, since)),
  -- the queues shown: every queue for an admin; for a tenant, those it has jobs in
  shown AS (
    SELECT q.name, q.paused, q.concurrency_limit FROM taskflow.queues q
    WHERE own IS NULL
       OR EXISTS (SELECT FROM counts c WHERE c.queue = q.name AND c.n > 0)
       OR EXISTS (SELECT FROM series_rows r WHERE r.queue = q.name)),
  buckets AS (
    SELECT g AS t FROM generate_series(since, now(), make_interval(secs => bucket_width)) g),
  series AS (
    SELECT sh.name AS queue, jsonb_agg(jsonb_build_object(
             't', b.t, 'completed', COALESCE(r.completed, 0), 'failed', COALESCE(r.failed, 0),
             'wait_p50_ms', round((r.wait_p50 * 1000)::numeric, 1),
             'wait_p95_ms', round((r.wait_p95 * 1000)::numeric, 1),
             'run_p50_ms', round((r.run_p50 * 1000)::numeric, 1),
             'run_p95_ms', round((r.run_p95 * 1000)::numeric, 1))
           ORDER BY b.t) AS points
    FROM shown sh CROSS JOIN buckets b
    LEFT JOIN series_rows r ON r.queue = sh.name AND r.t = b.t
    GROUP BY sh.name),
  queues AS (
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
             'name', sh.name, 'paused', sh.paused, 'concurrency_limit', sh.concurrency_limit,
             'counts', (SELECT jsonb_object_agg(st.s, COALESCE(c.n, 0) ORDER BY st.o)
                        FROM unnest(enum_range(NULL::taskflow.job_state)::text[])
                             WITH ORDINALITY AS st(s, o)
                        LEFT JOIN counts c ON c.queue = sh.name AND c.state = st.s),
             'series', COALESCE(se.points, '[]'::jsonb))
           ORDER BY sh.name), '[]'::jsonb) AS doc
    FROM shown sh LEFT JOIN series se ON se.queue = sh.name)
  SELECT jsonb_build_object(
    'generated_at', now(), 'range', CASE WHEN bucket_width = 60 THEN '1h' ELSE '24h' END,
    'bucket_seconds', bucket_width, 'rolled_up_to', w,
    'queues', (SELECT doc FROM queues),
    'workers', (SELECT doc FROM taskflow._rows_overview_workers(own)),
    'tenants', (SELECT doc FROM taskflow._rows_overview_tenants(own)))
  INTO result;
  RETURN result;
END
$$;
COMMENT ON FUNCTION taskflow.dashboard_overview(interval) IS
  'The dashboard''s Overview as one JSON document (queues, series, workers, tenants); a tenant sees only its own.';

REVOKE ALL ON FUNCTION taskflow.dashboard_session(), taskflow.dashboard_overview(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskflow.dashboard_session(), taskflow.dashboard_overview(interval)
  TO taskflow_client, taskflow_admin;
