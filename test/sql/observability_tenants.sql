-- Observability: per-tenant series of metrics() are bounded to the top tenants by finished
-- jobs plus tenant_id="other", however many tenants there are. Clean slate as in
-- observability_figures.sql, rolled back at the end.
BEGIN;
SELECT plan(14);

DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
SELECT taskflow.reset_stats();
SELECT taskflow.create_queue('obs_ten');

-- Finished jobs: big1..big5 with 20, 19, 18, 17, 16; a tenant really named "other" with 30;
-- 2,000 small tenants with one each. Then one PENDING job per small tenant.
SELECT count(*) FROM taskflow.schedule_many((
  SELECT jsonb_agg(jsonb_build_object('job_type', 't', 'queue', 'obs_ten', 'tenant_id', t))
  FROM (SELECT 'big' || b AS t FROM generate_series(1, 5) b, generate_series(1, 21 - b)
        UNION ALL SELECT 'other' FROM generate_series(1, 30)
        UNION ALL SELECT format('s%s', lpad(s::text, 4, '0')) FROM generate_series(1, 2000) s) x));
CREATE FUNCTION pg_temp.drain() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n bigint := 0;
  got bigint;
BEGIN
  LOOP
    WITH a AS (SELECT * FROM taskflow.acquire('obs-w', ARRAY['obs_ten'], 1000))
    SELECT CASE WHEN count(*) > 0 THEN taskflow.complete_many(array_agg(job_id), array_agg(lease_token)) ELSE 0 END
    INTO got FROM a;
    EXIT WHEN got IS NULL OR got = 0;
    n := n + got;
  END LOOP;
  RETURN n;
END
$$;
SELECT is(pg_temp.drain(), 2120::bigint, '2,120 jobs of 2,006 tenants finished');
SELECT count(*) FROM taskflow.schedule_many((
  SELECT jsonb_agg(jsonb_build_object('job_type', 't', 'queue', 'obs_ten', 'tenant_id', format('s%s', lpad(s::text, 4, '0'))))
  FROM generate_series(1, 2000) s));

CREATE FUNCTION pg_temp.tenant_lines(max_tenants integer) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT l FROM regexp_split_to_table(taskflow.metrics(max_tenants), E'\n') AS l
  WHERE l LIKE 'taskflow_tenant_%'
$$;
CREATE FUNCTION pg_temp.tenants(max_tenants integer) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(DISTINCT substring(l FROM 'tenant_id="([^"]*)"') ORDER BY substring(l FROM 'tenant_id="([^"]*)"'))
  FROM pg_temp.tenant_lines(max_tenants) AS l
$$;
CREATE FUNCTION pg_temp.value(max_tenants integer, series text) RETURNS double precision LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2)::double precision FROM pg_temp.tenant_lines(max_tenants) AS l
  WHERE split_part(l, ' ', 1) = series
$$;

-- from the tail (nothing rolled up yet)
SELECT is(pg_temp.tenants(5), ARRAY['big1', 'big2', 'big3', 'big4', 'big5', 'other'],
  'max_tenants 5: the five biggest tenants and "other" (a tenant named "other" is folded into it)');
SELECT is((SELECT count(*) FROM pg_temp.tenant_lines(5)), 42::bigint,
  '42 per-tenant lines: 6 tenants x (3 unfinished states + 4 outcomes), not 2,006 x 7');
SELECT is(pg_temp.value(5, 'taskflow_tenant_jobs_finished_total{tenant_id="big1",outcome="succeeded"}'), 20::double precision,
  'big1 finished 20');
SELECT is(pg_temp.value(5, 'taskflow_tenant_jobs_finished_total{tenant_id="other",outcome="succeeded"}'), 2030::double precision,
  '"other" holds the 2,000 small tenants and the tenant named "other"');
SELECT is(pg_temp.value(5, 'taskflow_tenant_jobs{tenant_id="other",state="pending"}'), 2000::double precision,
  '"other" holds the pending jobs of the small tenants');
SELECT is((SELECT sum(split_part(l, ' ', 2)::bigint) FROM pg_temp.tenant_lines(5) AS l
           WHERE l LIKE 'taskflow_tenant_jobs_finished_total%'), 2120::numeric,
  'the per-tenant finished series add up to the total');
SELECT is(pg_temp.tenants(0), ARRAY['other'], 'max_tenants 0: only "other"');

-- rolled up: the top tenants now come from the volume index (the roll-up stops at the start of
-- this transaction: move the finish times one second back)
UPDATE taskflow.jobs SET finished_at = finished_at - interval '1 second',
                         started_at = started_at - interval '1 second',
                         next_run_at = next_run_at - interval '1 second'
WHERE queue = 'obs_ten' AND finished_at IS NOT NULL;
SELECT cmp_ok(taskflow._rollup(), '>=', 2120, 'the roll-up counts the finished jobs');
SELECT is(pg_temp.tenants(3), ARRAY['big1', 'big2', 'big3', 'other'], 'after the roll-up, max_tenants 3: big1..big3 and "other"');
SELECT is(pg_temp.value(3, 'taskflow_tenant_jobs_finished_total{tenant_id="other",outcome="succeeded"}'), (2030 + 17 + 16)::double precision,
  '"other" now also holds big4 and big5');
SELECT is((SELECT count(*) FROM pg_temp.tenant_lines(10)), 11 * 7::bigint, 'max_tenants 10: 11 tenants x 7 lines');
SELECT is(pg_temp.tenants(10), ARRAY['big1', 'big2', 'big3', 'big4', 'big5', 'other', 's0001', 's0002', 's0003', 's0004', 's0005'],
  'the next ones by volume are small tenants (ties broken by tenant id)');
SELECT is((SELECT count(*) FROM taskflow.queue_stats WHERE queue = 'obs_ten'), 2007::bigint,
  'queue_stats itself is not bounded: one row per tenant plus the queue row');

SELECT * FROM finish();
ROLLBACK;
