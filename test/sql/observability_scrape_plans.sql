-- Observability: a scrape reads the jobs finished since the roll-up watermark (the tail), not
-- the whole history, whatever plans the session keeps. metrics() runs PL/pgSQL statements whose
-- plans are cached and, after five calls, generic (planned without the watermark's value); here
-- every cached plan is generic from the first call (plan_cache_mode = force_generic_plan), and
-- the session scrapes while the watermark is '-infinity' (right after reset_stats(), the tail is
-- the whole history) before the roll-up catches up. Rows read are counted from
-- pg_stat_xact_user_tables (this transaction's own reads), not timed. Clean slate as in
-- observability_figures.sql, rolled back at the end.
BEGIN;
SELECT plan(7);

DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
SELECT taskflow.reset_stats();
SELECT taskflow.create_queue('obs_plan');

-- 20,000 SUCCEEDED jobs finished over the three hours before this transaction began, written
-- directly as the engine leaves them (as the benchmark's history fill), in an order unrelated
-- to their finish times (jobs finish in another order than they were created): a plan that
-- reads finished_at >= the watermark through the index is then not much cheaper than a scan of
-- the table if it cannot tell how many jobs the range holds.
INSERT INTO taskflow.jobs (job_type, queue, tenant_id, state, payload, priority, attempts,
                           max_attempts, next_run_at, created_at, started_at, finished_at,
                           worker_id, lease_token, lease_expires_at, lease_duration)
SELECT 'obs.plan', 'obs_plan', 'default', 'SUCCEEDED', '{}', 0, 1, 5, t, t, t,
       t + interval '1 millisecond', 'obs-w', gen_random_uuid(), t + interval '30 seconds',
       interval '30 seconds'
FROM generate_series(1, 20000) AS g,
     LATERAL (SELECT now() - interval '3 hours' + g * (interval '3 hours' / 20001) AS t) AS ts
ORDER BY random();
ANALYZE taskflow.jobs;
SET LOCAL plan_cache_mode = force_generic_plan;

-- Rows of taskflow.jobs this transaction has read so far: by sequential scans, and fetched
-- through index and bitmap scans.
CREATE FUNCTION pg_temp.jobs_rows_read() RETURNS bigint LANGUAGE sql AS $$
  SELECT s.seq_tup_read + COALESCE(s.idx_tup_fetch, 0) FROM pg_catalog.pg_stat_xact_user_tables s
  WHERE s.relid = 'taskflow.jobs'::regclass
$$;
-- The rows of taskflow.jobs one scrape reads, and its succeeded counter for the queue.
CREATE FUNCTION pg_temp.scrape(OUT rows_read bigint, OUT finished double precision)
LANGUAGE plpgsql AS $$
DECLARE
  before bigint := pg_temp.jobs_rows_read();
  text_ text := taskflow.metrics();
BEGIN
  rows_read := pg_temp.jobs_rows_read() - before;
  SELECT split_part(l, ' ', 2)::double precision INTO finished
  FROM regexp_split_to_table(text_, E'\n') AS l
  WHERE split_part(l, ' ', 1) = 'taskflow_jobs_finished_total{queue="obs_plan",outcome="succeeded"}';
END
$$;

-- Watermark '-infinity': six scrapes, each counting the whole history from the table.
SELECT is((SELECT rolled_up_to FROM taskflow.stats_watermark), '-infinity'::timestamptz,
  'after reset_stats() the watermark is -infinity');
SELECT is((SELECT array_agg(s.finished ORDER BY g) FROM generate_series(1, 6) AS g,
                  LATERAL pg_temp.scrape() AS s),
          array_fill(20000::double precision, ARRAY[6]),
  'six scrapes at watermark -infinity count the whole history from the jobs table');
SELECT cmp_ok((SELECT s.rows_read FROM pg_temp.scrape() s), '>=', 20000::bigint,
  'a scrape at watermark -infinity reads the history (the sanity check of the counter below)');

-- The roll-up catches up (one round: fewer than max_jobs jobs); the same session scrapes again
-- with the generic plans it kept.
SELECT is(taskflow._rollup(50000), 20000, 'the roll-up counts the history in one round');
SELECT cmp_ok((SELECT rolled_up_to FROM taskflow.stats_watermark), '>',
              (SELECT max(finished_at) FROM taskflow.jobs), 'the roll-up caught up with the history');
SELECT is((SELECT s.finished FROM pg_temp.scrape() s), 20000::double precision,
  'the scrape counts the history from the counters');
-- The tail is empty and no job is unfinished: a scrape that read more than a few rows of the
-- table would be scanning the history.
SELECT cmp_ok((SELECT s.rows_read FROM pg_temp.scrape() s), '<', 100::bigint,
  'with the watermark caught up, a scrape with generic plans does not read the history');

SELECT * FROM finish();
ROLLBACK;
