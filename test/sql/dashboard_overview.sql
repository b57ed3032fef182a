-- The dashboard's Overview (taskflow.dashboard_overview) and session (taskflow.dashboard_session):
-- counts by state, time series from the roll-up, workers, tenants, and tenant confinement.
-- Clean slate as in observability_figures.sql, rolled back at the end.
BEGIN;
SELECT plan(38);

DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
SELECT taskflow.reset_stats();
SELECT taskflow.create_queue('dov_a'), taskflow.create_queue('dov_b');
SELECT taskflow.pause_queue('dov_b');
SELECT taskflow.set_tenant_limit('dov_t2', 5);
CREATE ROLE dov_r1;  -- tenant dov_t1
CREATE ROLE dov_r2;  -- tenant dov_t2
CREATE ROLE dov_r3;  -- tenant dov_t3 (no jobs)
CREATE ROLE dov_lone;  -- no TaskFlow role at all
SELECT taskflow.grant_tenant('dov_r1', 'dov_t1'), taskflow.grant_tenant('dov_r2', 'dov_t2'),
       taskflow.grant_tenant('dov_r3', 'dov_t3');

CREATE FUNCTION pg_temp.as_role(r name, query text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  result jsonb;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  EXECUTE query INTO result;
  RESET ROLE;
  RETURN result;
END
$$;
CREATE FUNCTION pg_temp.queue(doc jsonb, name text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT q FROM jsonb_array_elements(doc -> 'queues') q WHERE q ->> 'name' = name
$$;
-- the series point of the minute M (two minutes before this transaction's minute)
CREATE FUNCTION pg_temp.m() RETURNS timestamptz LANGUAGE sql AS $$
  SELECT date_trunc('minute', now()) - interval '2 minutes'
$$;
CREATE FUNCTION pg_temp.point(doc jsonb, name text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT p FROM jsonb_array_elements(pg_temp.queue(doc, name) -> 'series') p
  WHERE (p ->> 't')::timestamptz = date_trunc('minute', now()) - interval '2 minutes'
$$;

-- dov_t1 in dov_a: 3 jobs SUCCEEDED, 1 DEAD (run by dov-w1), 1 PENDING.
-- dov_t2: 2 PENDING in dov_a, 1 PENDING in dov_b, 1 RUNNING in dov_a (held by dov-w2).
SELECT taskflow.schedule('dov.job', '{}', queue => 'dov_a', tenant_id => 'dov_t1', max_attempts => 1)
FROM generate_series(1, 4);
SELECT count(*) FROM (SELECT taskflow.complete(job_id, lease_token, '{}')
                      FROM taskflow.acquire('dov-w1', ARRAY['dov_a'], 3)) x;
SELECT count(*) FROM (SELECT taskflow.fail(job_id, lease_token, 'boom', 'x', true)
                      FROM taskflow.acquire('dov-w1', ARRAY['dov_a'], 1)) x;
SELECT taskflow.schedule('dov.job', '{}', queue => 'dov_a', tenant_id => 'dov_t2');
SELECT count(*) FROM taskflow.acquire('dov-w2', ARRAY['dov_a'], 1);
SELECT taskflow.schedule('dov.job', '{}', queue => 'dov_a', tenant_id => 'dov_t1');
SELECT taskflow.schedule('dov.job', '{}', queue => 'dov_a', tenant_id => 'dov_t2') FROM generate_series(1, 2);
SELECT taskflow.schedule('dov.job', '{}', queue => 'dov_b', tenant_id => 'dov_t2');
SELECT is((SELECT string_agg(state::text || ':' || tenant_id, ',' ORDER BY id) FROM taskflow.jobs),
  'SUCCEEDED:dov_t1,SUCCEEDED:dov_t1,SUCCEEDED:dov_t1,DEAD:dov_t1,RUNNING:dov_t2,PENDING:dov_t1,PENDING:dov_t2,PENDING:dov_t2,PENDING:dov_t2',
  'the jobs are set up');

-- The finished jobs finished in minute M, each waited 40 ms and ran 200 ms; roll them up.
UPDATE taskflow.jobs SET finished_at = pg_temp.m() + interval '10 seconds',
                         started_at = pg_temp.m() + interval '9.8 seconds',
                         next_run_at = pg_temp.m() + interval '9.76 seconds'
WHERE finished_at IS NOT NULL;
SELECT is(taskflow._rollup(), 4, 'the roll-up counts the 4 finished jobs');

SELECT has_function('taskflow', 'dashboard_overview', ARRAY['interval'], 'dashboard_overview(interval) exists');
SELECT throws_ok($$SELECT taskflow.dashboard_overview('2 hours')$$, '22023',
  'range must be 1 hour or 24 hours, got 02:00:00', 'another range is refused (22023)');
SELECT throws_ok($$SELECT taskflow.dashboard_overview(NULL)$$, '22023', NULL, 'a NULL range is refused');

-- --- an admin (this superuser) sees everything -------------------------------------------------
CREATE TEMP TABLE adm AS SELECT taskflow.dashboard_overview('1 hour') AS d;
SELECT is((SELECT array_agg(q ->> 'name' ORDER BY q ->> 'name') FROM adm, jsonb_array_elements(d -> 'queues') q),
  (SELECT array_agg(name ORDER BY name) FROM taskflow.queues), 'an admin sees every queue');
SELECT is((SELECT pg_temp.queue(d, 'dov_a') -> 'counts' FROM adm),
  '{"PENDING": 3, "SCHEDULED": 0, "RUNNING": 1, "SUCCEEDED": 3, "FAILED": 0, "DEAD": 1, "CANCELLED": 0}'::jsonb,
  'dov_a: jobs by state, SUCCEEDED from the roll-up');
SELECT is((SELECT (pg_temp.queue(d, 'dov_b') ->> 'paused')::boolean FROM adm), true, 'dov_b is flagged paused');
SELECT is((SELECT d ->> 'bucket_seconds' FROM adm), '60', '1 hour: 1-minute buckets');
SELECT ok((SELECT jsonb_array_length(pg_temp.queue(d, 'dov_a') -> 'series') BETWEEN 60 AND 61 FROM adm),
  'the series has a point per minute of the hour, empty minutes included');
SELECT is((SELECT pg_temp.point(d, 'dov_a') - 't' FROM adm),
  '{"completed": 3, "failed": 1, "wait_p50_ms": 37.5, "wait_p95_ms": 48.8, "run_p50_ms": 175.0, "run_p95_ms": 242.5}'::jsonb,
  'minute M: 3 succeeded, 1 failed, wait and run percentiles from the histogram buckets (25-50 ms, 100-250 ms)');
SELECT is((SELECT (d -> 'queues' -> 0 -> 'series' -> 0 ->> 'completed') FROM adm), '0', 'an empty minute is 0');
SELECT is((SELECT array_agg(w ->> 'worker_id' ORDER BY w ->> 'worker_id') FROM adm, jsonb_array_elements(d -> 'workers') w),
  ARRAY['dov-w1', 'dov-w2'], 'workers: the lease holder and the one seen finishing jobs');
SELECT is((SELECT w -> 'running' -> 0 ->> 'job_id' FROM adm, jsonb_array_elements(d -> 'workers') w WHERE w ->> 'worker_id' = 'dov-w2'),
  (SELECT id::text FROM taskflow.jobs WHERE state = 'RUNNING'), 'dov-w2 runs the RUNNING job');
SELECT is((SELECT jsonb_array_length(w -> 'running') FROM adm, jsonb_array_elements(d -> 'workers') w WHERE w ->> 'worker_id' = 'dov-w1'),
  0, 'dov-w1 runs nothing now');
SELECT is((SELECT d -> 'tenants' FROM adm),
  '[{"tenant_id": "dov_t2", "running": 1, "max_running": 5, "weight": 1}]'::jsonb,
  'tenants: those running jobs, against their limits');
SELECT is((SELECT taskflow.dashboard_overview('24 hours') ->> 'bucket_seconds'), '900', '24 hours: 15-minute buckets');
SELECT is((SELECT (p ->> 'completed')::int FROM jsonb_array_elements(pg_temp.queue(taskflow.dashboard_overview('24 hours'), 'dov_a') -> 'series') p
           WHERE (p ->> 't')::timestamptz = to_timestamp(floor(extract(epoch FROM pg_temp.m()) / 900) * 900)),
  3, '24 hours: the 15-minute bucket holding minute M has the 3 jobs');

-- --- a tenant sees only its own ------------------------------------------------------------------
CREATE TEMP TABLE t1 AS SELECT pg_temp.as_role('dov_r1', 'SELECT taskflow.dashboard_overview()') AS d;
GRANT SELECT ON pg_temp.t1 TO PUBLIC;
SELECT is((SELECT array_agg(q ->> 'name') FROM t1, jsonb_array_elements(d -> 'queues') q),
  ARRAY['dov_a'], 'dov_t1 sees only the queue it has jobs in');
SELECT is((SELECT pg_temp.queue(d, 'dov_a') -> 'counts' FROM t1),
  '{"PENDING": 1, "SCHEDULED": 0, "RUNNING": 0, "SUCCEEDED": 3, "FAILED": 0, "DEAD": 1, "CANCELLED": 0}'::jsonb,
  'dov_t1 counts only its own jobs (not dov_t2''s PENDING and RUNNING ones)');
SELECT is((SELECT pg_temp.point(d, 'dov_a') ->> 'completed' FROM t1), '3', 'dov_t1''s series from the per-tenant roll-up');
SELECT is((SELECT array_agg(w ->> 'worker_id') FROM t1, jsonb_array_elements(d -> 'workers') w),
  ARRAY['dov-w1'], 'dov_t1 sees only the worker that ran its jobs');
SELECT is((SELECT d -> 'tenants' FROM t1),
  '[{"tenant_id": "dov_t1", "running": 0, "max_running": null, "weight": 1}]'::jsonb, 'dov_t1 sees only itself among the tenants');

CREATE TEMP TABLE t2 AS SELECT pg_temp.as_role('dov_r2', 'SELECT taskflow.dashboard_overview()') AS d;
SELECT is((SELECT array_agg(q ->> 'name' ORDER BY q ->> 'name') FROM t2, jsonb_array_elements(d -> 'queues') q),
  ARRAY['dov_a', 'dov_b'], 'dov_t2 sees the two queues it has jobs in');
SELECT is((SELECT (pg_temp.queue(d, 'dov_a') -> 'counts' ->> 'SUCCEEDED') || '/' || (pg_temp.queue(d, 'dov_a') -> 'counts' ->> 'PENDING') FROM t2),
  '0/2', 'dov_t2 does not see dov_t1''s finished jobs');
SELECT is((SELECT count(*) FROM t2, jsonb_array_elements(pg_temp.queue(d, 'dov_a') -> 'series') p WHERE (p ->> 'completed')::int > 0),
  0::bigint, 'nor dov_t1''s throughput');
SELECT is((SELECT d -> 'queues' FROM (SELECT pg_temp.as_role('dov_r3', 'SELECT taskflow.dashboard_overview()') AS d) x),
  '[]'::jsonb, 'a tenant without jobs sees no queue');

-- --- the session -------------------------------------------------------------------------------------
SELECT is(pg_temp.as_role('dov_r1', 'SELECT taskflow.dashboard_session()'),
  jsonb_build_object('role', 'client', 'tenant_id', 'dov_t1', 'version', (SELECT extversion FROM pg_extension WHERE extname = 'taskflow')),
  'dashboard_session: a tenant''s role is a client of its tenant');
SELECT is(taskflow.dashboard_session() ->> 'role', 'admin', 'dashboard_session: an unconfined role is admin');
SELECT is(has_function_privilege('dov_lone', 'taskflow.dashboard_overview(interval)', 'EXECUTE'), false,
  'a role without a TaskFlow role cannot call dashboard_overview');

-- --- reads are cheap: percentiles stored by the roll-up -------------------------------------------
SELECT is((SELECT ARRAY[wait_p50, wait_p95, run_p50, run_p95] FROM taskflow.stats_series
           WHERE width = 60 AND t = pg_temp.m() AND queue = 'dov_a'),
  (SELECT ARRAY[taskflow._hist_quantile(0.5, wait_hist), taskflow._hist_quantile(0.95, wait_hist),
                taskflow._hist_quantile(0.5, run_hist), taskflow._hist_quantile(0.95, run_hist)]
   FROM taskflow.stats_series WHERE width = 60 AND t = pg_temp.m() AND queue = 'dov_a'),
  'the roll-up stores each bucket''s percentiles with its histograms');
-- the Queues view's windowed figures come from the same series: the last 1, 5, 15 complete minutes
SELECT is((SELECT ARRAY[round((q ->> 'completed_per_minute_1m')::numeric, 4), round((q ->> 'completed_per_minute_5m')::numeric, 4),
                        round((q ->> 'completed_per_minute_15m')::numeric, 4),
                        round((q ->> 'success_rate_5m')::numeric, 4), round((q ->> 'failure_rate_5m')::numeric, 4),
                        round((q ->> 'wait_p50_seconds')::numeric, 4), round((q ->> 'run_p50_seconds')::numeric, 4),
                        (q ->> 'pending')::numeric, (q ->> 'dead')::numeric]
           FROM jsonb_array_elements(taskflow.dashboard_queues() -> 'queues') q WHERE q ->> 'name' = 'dov_a'),
  ARRAY[0, 0.8, 0.2667, 0.75, 0.25, 0.0375, 0.175, 3, 1]::numeric[],
  'dashboard_queues: per-minute rates, rates and percentiles of minute M from the series; counts exact');
SET LOCAL track_functions = 'pl';
SELECT COALESCE((SELECT calls FROM pg_stat_xact_user_functions
                 WHERE funcid = 'taskflow._hist_quantile'::regproc), 0) AS q_calls \gset
SELECT taskflow.dashboard_overview('1 hour') IS NOT NULL AND taskflow.dashboard_overview('24 hours') IS NOT NULL AS read;
SELECT is(COALESCE((SELECT calls FROM pg_stat_xact_user_functions
                    WHERE funcid = 'taskflow._hist_quantile'::regproc), 0), :q_calls::bigint,
  'an admin''s Overview estimates no percentile at read time');
RESET track_functions;
-- the tenants' limits are looked up by primary key (jobs.tenant_id is COLLATE "C", tenants.id is
-- not: compared as it is, no index could serve it, and every registered tenant was read)
SET LOCAL enable_seqscan = off;
SELECT COALESCE(seq_scan, 0) AS tenant_seq FROM pg_stat_xact_user_tables WHERE relid = 'taskflow.tenants'::regclass \gset
SELECT taskflow.dashboard_overview('1 hour') IS NOT NULL AS read;
SELECT is((SELECT COALESCE(seq_scan, 0) FROM pg_stat_xact_user_tables WHERE relid = 'taskflow.tenants'::regclass),
  :tenant_seq::bigint, 'the Overview reads the tenants it shows through the primary key, not a scan of all');
RESET enable_seqscan;

-- a second round adding to the same bucket: histograms added bucket by bucket, percentiles
-- recomputed (one more SUCCEEDED job of dov_t1 in minute M: waited 4 s, ran 20 s)
CREATE FUNCTION pg_temp.apply(finished_at timestamptz, tenant text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
  EXECUTE taskflow._stats_apply_sql(format($f$SELECT 'dov_a'::text AS queue, %L::text AS tenant_id,
    'SUCCEEDED'::taskflow.job_state AS outcome, 0 AS retries, 4.0 AS wait_s, 20.0 AS run_s,
    %L::timestamptz AS finished_at, true AS counted, false AS removed$f$, tenant, finished_at)) INTO n;
  RETURN n;
END
$$;
SELECT is(pg_temp.apply(pg_temp.m() + interval '20 seconds', 'dov_t1'), 1, 'a second round counts one more job');
SELECT is((SELECT ARRAY[completed::text, wait_hist::text, run_hist::text, round(wait_p95::numeric, 3)::text]
           FROM taskflow.stats_series WHERE width = 60 AND t = pg_temp.m() AND queue = 'dov_a'),
  ARRAY['4', '{0,0,0,0,0,0,0,0,4,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0}', '{0,0,0,0,0,0,0,0,0,0,4,0,0,0,0,0,1,0,0,0,0,0,0,0}',
        round(taskflow._hist_quantile(0.95, '{0,0,0,0,0,0,0,0,4,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0}')::numeric, 3)::text],
  'the bucket''s histograms add up and its percentiles follow');
SELECT is((SELECT wait_hist::text FROM taskflow.stats_series_tenant
           WHERE tenant_id = 'dov_t1' AND width = 60 AND t = pg_temp.m() AND queue = 'dov_a'),
  '{0,0,0,0,0,0,0,0,4,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0}', 'the tenant''s bucket adds up too');
-- rolling up old history writes no series row that the prune would delete at once
SELECT COALESCE(n_tup_ins, 0) AS series_ins FROM pg_stat_xact_user_tables
WHERE relid = 'taskflow.stats_series_tenant'::regclass \gset
SELECT pg_temp.apply(now() - interval '30 hours', 'dov_old');
SELECT is((SELECT COALESCE(n_tup_ins, 0) FROM pg_stat_xact_user_tables
           WHERE relid = 'taskflow.stats_series_tenant'::regclass), :series_ins::bigint,
  'a job finished 30 hours ago adds no series row (older than the 26 hours kept)');

SELECT * FROM finish();
ROLLBACK;
