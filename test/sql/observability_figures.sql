-- Observability: queue_stats and metrics() report the right figures for a known set of jobs.
-- Runs on a clean slate: every job and counter is removed inside this transaction (rolled back
-- at the end), so jobs left by other suites do not change the expected figures.
BEGIN;
SELECT plan(42);

DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
SELECT taskflow.reset_stats();

SELECT taskflow.create_queue('obs_fig', retry_policy =>
  '{"max_attempts": 3, "strategy": "fixed", "base_delay": "0 seconds", "jitter": "none"}');

-- The value of one series in metrics(), e.g. 'taskflow_jobs{queue="obs_fig",state="pending"}'.
CREATE FUNCTION pg_temp.metric(series text, max_tenants integer DEFAULT 10) RETURNS double precision
LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2)::double precision
  FROM regexp_split_to_table(taskflow.metrics(max_tenants), E'\n') AS l
  WHERE split_part(l, ' ', 1) = series
$$;
-- Acquires the one job of this type and gives its attempt a known wait (due -> start) and run
-- time (start -> now, when it ends in this transaction).
CREATE FUNCTION pg_temp.take(job_type text, wait_s double precision, run_s double precision,
    OUT job_id bigint, OUT lease_token uuid)
LANGUAGE plpgsql AS $$
BEGIN
  SELECT a.job_id, a.lease_token INTO job_id, lease_token
  FROM taskflow.acquire('obs-w', ARRAY['obs_fig'], 1, job_types => ARRAY[job_type]) a;
  UPDATE taskflow.jobs j SET started_at = now() - make_interval(secs => run_s),
                             next_run_at = now() - make_interval(secs => run_s + wait_s)
  WHERE j.id = take.job_id;
END
$$;

-- obs_a: two SUCCEEDED (one after a retry), one FAILED.
SELECT taskflow.schedule('f.ok', queue => 'obs_fig', tenant_id => 'obs_a') AS j1 \gset
SELECT taskflow.schedule('f.retry', queue => 'obs_fig', tenant_id => 'obs_a') AS j2 \gset
SELECT taskflow.schedule('f.fail', queue => 'obs_fig', tenant_id => 'obs_a') AS j3 \gset
-- obs_b: PENDING (due 10 s ago), SCHEDULED, RUNNING, CANCELLED, DEAD after three attempts.
SELECT taskflow.schedule('f.pending', queue => 'obs_fig', tenant_id => 'obs_b') AS j4 \gset
SELECT taskflow.schedule('f.later', queue => 'obs_fig', tenant_id => 'obs_b', run_at => now() + interval '1 hour') AS j5 \gset
SELECT taskflow.schedule('f.running', queue => 'obs_fig', tenant_id => 'obs_b') AS j6 \gset
SELECT taskflow.schedule('f.cancel', queue => 'obs_fig', tenant_id => 'obs_b') AS j7 \gset
SELECT taskflow.schedule('f.dead', queue => 'obs_fig', tenant_id => 'obs_b') AS j8 \gset
UPDATE taskflow.jobs SET next_run_at = now() - interval '10 seconds' WHERE id = :j4;

SELECT * FROM pg_temp.take('f.ok', 2, 3) \gset t1_
SELECT taskflow.complete(:j1, :'t1_lease_token');
SELECT * FROM pg_temp.take('f.retry', 9, 9) \gset t2a_
SELECT taskflow.fail(:j2, :'t2a_lease_token', 'flaky');
SELECT * FROM pg_temp.take('f.retry', 4, 1) \gset t2b_
SELECT taskflow.complete(:j2, :'t2b_lease_token');
SELECT * FROM pg_temp.take('f.fail', 6, 0.5) \gset t3_
SELECT taskflow.fail(:j3, :'t3_lease_token', 'bad_input', retryable => false);
SELECT * FROM pg_temp.take('f.running', 1, 1) \gset t6_
SELECT taskflow.cancel(:j7);
SELECT * FROM pg_temp.take('f.dead', 1, 1) \gset t8a_
SELECT taskflow.fail(:j8, :'t8a_lease_token', 'flaky');
SELECT * FROM pg_temp.take('f.dead', 1, 1) \gset t8b_
SELECT taskflow.fail(:j8, :'t8b_lease_token', 'flaky');
SELECT * FROM pg_temp.take('f.dead', 8, 2) \gset t8c_
SELECT taskflow.fail(:j8, :'t8c_lease_token', 'flaky');

SELECT is(ARRAY(SELECT state::text FROM taskflow.jobs WHERE id IN (:j1, :j2, :j3, :j4, :j5, :j6, :j7, :j8) ORDER BY id),
  ARRAY['SUCCEEDED', 'SUCCEEDED', 'FAILED', 'PENDING', 'SCHEDULED', 'RUNNING', 'CANCELLED', 'DEAD'],
  'the known set of jobs is in place');

-- --- queue_stats, the queue row (all tenants) --------------------------------------------------
CREATE TEMP TABLE qs AS SELECT * FROM taskflow.queue_stats WHERE queue = 'obs_fig';
SELECT is((SELECT count(*) FROM qs), 3::bigint, 'queue_stats: one row for the queue and one per tenant');
SELECT is((SELECT ROW(pending, scheduled, running, succeeded, failed, dead, cancelled) FROM qs WHERE tenant_id IS NULL),
  ROW(1::bigint, 1::bigint, 1::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint),
  'queue row: jobs per state');
SELECT is((SELECT oldest_ready_age_seconds FROM qs WHERE tenant_id IS NULL), 10::double precision,
  'queue row: the oldest ready job became due 10 s ago');
SELECT is((SELECT ARRAY[completed_per_minute_1m, completed_per_minute_5m, completed_per_minute_15m] FROM qs WHERE tenant_id IS NULL),
  ARRAY[5, 1, 5 / 15.0]::double precision[], 'queue row: 5 jobs finished in the last minute: 5, 1 and 1/3 per minute');
SELECT is((SELECT ARRAY[success_rate_5m, failure_rate_5m] FROM qs WHERE tenant_id IS NULL),
  ARRAY[0.4, 0.4]::double precision[], 'queue row: 2 of 5 succeeded, 2 of 5 failed or dead (1 cancelled)');
SELECT is((SELECT ARRAY[round(wait_p50_seconds::numeric, 6), round(wait_p95_seconds::numeric, 6), round(wait_p99_seconds::numeric, 6)] FROM qs WHERE tenant_id IS NULL),
  ARRAY[5, 7.7, 7.94]::numeric[], 'queue row: wait p50/p95/p99 over waits 2, 4, 6, 8 s');
SELECT is((SELECT ARRAY[round(run_p50_seconds::numeric, 6), round(run_p95_seconds::numeric, 6), round(run_p99_seconds::numeric, 6)] FROM qs WHERE tenant_id IS NULL),
  ARRAY[1.5, 2.85, 2.97]::numeric[], 'queue row: run p50/p95/p99 over runs 3, 1, 0.5, 2 s');
SELECT is((SELECT ROW(finished_total, succeeded_total, failed_total, dead_total, cancelled_total, retries_total) FROM qs WHERE tenant_id IS NULL),
  ROW(5::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint, 3::bigint), 'queue row: finished and retry totals');
SELECT is((SELECT retries_per_job FROM qs WHERE tenant_id IS NULL), 0.6::double precision,
  'queue row: 3 retries over 5 finished jobs');

-- --- queue_stats, per tenant ---------------------------------------------------------------
SELECT is((SELECT ROW(pending, scheduled, running, succeeded, failed, dead, cancelled) FROM qs WHERE tenant_id = 'obs_a'),
  ROW(0::bigint, 0::bigint, 0::bigint, 2::bigint, 1::bigint, 0::bigint, 0::bigint), 'tenant obs_a: jobs per state');
SELECT is((SELECT ROW(finished_total, retries_total, success_rate_5m, wait_p50_seconds) FROM qs WHERE tenant_id = 'obs_a'),
  ROW(3::bigint, 1::bigint, 2 / 3.0::double precision, 4::double precision), 'tenant obs_a: totals, success rate, wait p50');
SELECT is((SELECT ROW(pending, scheduled, running, succeeded, failed, dead, cancelled) FROM qs WHERE tenant_id = 'obs_b'),
  ROW(1::bigint, 1::bigint, 1::bigint, 0::bigint, 0::bigint, 1::bigint, 1::bigint), 'tenant obs_b: jobs per state');
SELECT is((SELECT ROW(finished_total, retries_total, oldest_ready_age_seconds, failure_rate_5m) FROM qs WHERE tenant_id = 'obs_b'),
  ROW(2::bigint, 2::bigint, 10::double precision, 0.5::double precision), 'tenant obs_b: totals, oldest ready job, failure rate');
-- the per-queue variant behind the dashboard's Queues view: the same figures, no per-tenant grouping
SELECT results_eq('SELECT * FROM taskflow._queue_stats_per_queue()',
  'SELECT * FROM taskflow.queue_stats WHERE tenant_id IS NULL ORDER BY queue',
  '_queue_stats_per_queue() equals the per-queue rows of queue_stats (tail not rolled up)');
SELECT is((SELECT ROW(pending, finished_total) FROM taskflow.queue_stats WHERE queue = 'default' AND tenant_id IS NULL),
  ROW(0::bigint, 0::bigint), 'a queue without jobs has a row of zeros');

-- --- metrics() ---------------------------------------------------------------------------------
SELECT is(pg_temp.metric('taskflow_jobs{queue="obs_fig",state="' || s || '"}'), n::double precision,
          'taskflow_jobs ' || s || ' = ' || n)
FROM (VALUES ('pending', 1), ('scheduled', 1), ('running', 1), ('succeeded', 2), ('failed', 1),
             ('dead', 1), ('cancelled', 1)) AS v(s, n);
SELECT is(pg_temp.metric('taskflow_jobs_finished_total{queue="obs_fig",outcome="' || o || '"}'), n::double precision,
          'taskflow_jobs_finished_total ' || o || ' = ' || n)
FROM (VALUES ('succeeded', 2), ('failed', 1), ('dead', 1), ('cancelled', 1)) AS v(o, n);
SELECT is(pg_temp.metric('taskflow_job_retries_total{queue="obs_fig"}'), 3::double precision,
  'taskflow_job_retries_total: one retry of the first job, two of the dead one');
-- Checks histogram `name` (wait or run): its cumulative buckets at the bounds `les`, then its
-- sum and count (two tests).
CREATE FUNCTION pg_temp.histogram_is(name text, les text[], buckets double precision[], about_buckets text,
                                     sum_count double precision[]) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  series text := 'taskflow_job_' || name || '_seconds';
BEGIN
  RETURN NEXT is(ARRAY(SELECT pg_temp.metric(series || '_bucket{queue="obs_fig",le="' || le || '"}') FROM unnest(les) AS le),
                 buckets, name || ' histogram: ' || about_buckets);
  RETURN NEXT is(ARRAY[pg_temp.metric(series || '_sum{queue="obs_fig"}'), pg_temp.metric(series || '_count{queue="obs_fig"}')],
                 sum_count, name || ' histogram: sum and count');
END
$$;
SELECT pg_temp.histogram_is('wait', ARRAY['1', '2.5', '5', '10', '+Inf'], ARRAY[0, 1, 2, 4, 4],
  'cumulative buckets for waits 2, 4, 6, 8 s', ARRAY[20, 4]);
SELECT pg_temp.histogram_is('run', ARRAY['0.25', '0.5', '1', '2.5', '5'], ARRAY[0, 1, 2, 3, 4],
  'le is inclusive (0.5 s lands in le="0.5")', ARRAY[6.5, 4]);
SELECT is(pg_temp.metric('taskflow_oldest_ready_job_age_seconds{queue="obs_fig"}'), 10::double precision,
  'taskflow_oldest_ready_job_age_seconds');
SELECT is(pg_temp.metric('taskflow_tenant_jobs_finished_total{tenant_id="obs_a",outcome="succeeded"}'), 2::double precision,
  'per tenant: obs_a succeeded');
SELECT is(pg_temp.metric('taskflow_tenant_jobs{tenant_id="obs_b",state="running"}'), 1::double precision,
  'per tenant: obs_b running');
SELECT is(pg_temp.metric('taskflow_tenant_jobs{tenant_id="other",state="pending"}', 1), 1::double precision,
  'per tenant with max_tenants 1: obs_b (fewer finished jobs) falls into "other"');
SELECT ok((SELECT bool_and(l ~ '^(# (HELP|TYPE) [a-z_]+ .*|[a-z_]+(\{[^}]*\})? [-+0-9.e]+(Inf)?)$')
           FROM regexp_split_to_table(rtrim(taskflow.metrics(), E'\n'), E'\n') AS l),
  'every line of metrics() is a HELP/TYPE comment or a sample');
SELECT ok((SELECT count(*) FROM regexp_split_to_table(taskflow.metrics(), E'\n') AS l
           WHERE l ~ '^# TYPE (taskflow_jobs gauge|taskflow_jobs_finished_total counter|taskflow_job_retries_total counter|taskflow_job_wait_seconds histogram|taskflow_job_run_seconds histogram|taskflow_oldest_ready_job_age_seconds gauge|taskflow_rule_firings_total counter)$') = 7,
  'metrics() declares the seven families the issue names');

-- the counters still agree after the roll-up moved them out of the tail (the roll-up stops at
-- the start of this transaction: move the jobs' times one second back, keeping their durations)
UPDATE taskflow.jobs SET finished_at = finished_at - interval '1 second',
                         started_at = started_at - interval '1 second',
                         next_run_at = next_run_at - interval '1 second'
WHERE queue = 'obs_fig' AND finished_at IS NOT NULL;
SELECT cmp_ok(taskflow._rollup(), '>=', 5, 'the roll-up counts the finished jobs');
SELECT is(pg_temp.metric('taskflow_jobs_finished_total{queue="obs_fig",outcome="succeeded"}')
          + pg_temp.metric('taskflow_job_retries_total{queue="obs_fig"}')
          + pg_temp.metric('taskflow_job_wait_seconds_sum{queue="obs_fig"}')
          + pg_temp.metric('taskflow_job_run_seconds_bucket{queue="obs_fig",le="0.5"}'),
  2 + 3 + 20 + 1::double precision, 'after the roll-up: the same counters');

SELECT results_eq('SELECT * FROM taskflow._queue_stats_per_queue()',
  'SELECT * FROM taskflow.queue_stats WHERE tenant_id IS NULL ORDER BY queue',
  '_queue_stats_per_queue() equals the per-queue rows of queue_stats (rolled up)');

SELECT throws_ok($$SELECT taskflow.metrics(-1)$$, '22023', NULL, 'metrics(max_tenants < 0): 22023');

SELECT * FROM finish();
ROLLBACK;
