-- ---------------------------------------------------------------------------------------------
-- Observability: the view taskflow.queue_stats and taskflow.metrics() (Prometheus text format).
--
-- Counters (jobs finished, retries, the wait and run time histograms) must stay right after
-- the Cleaner deletes history, and a scrape must not recount a million history rows. Neither
-- may add a write to the hot path (acquire, complete), where a shared counter row would
-- serialize every worker. So:
--   * Roll-up: the maintenance worker (through taskflow._clean) folds the jobs that finished
--     since the last round into small counter tables (per queue, per queue and tenant) and
--     moves a watermark (stats_watermark.rolled_up_to) forward, never past the start of a
--     transaction still running in this database: every finish that can still commit carries
--     finished_at >= its transaction start, so none is skipped.
--   * Deletion: a statement trigger on DELETE (and TRUNCATE) of taskflow.jobs adds the deleted
--     finished jobs that are not rolled up yet, and counts every deleted finished job as
--     removed (which keeps the number of SUCCEEDED jobs in history exact without counting them).
--   * Readers add the tail: jobs finished at or after the watermark, found through the
--     finished_at indexes (about one maintenance interval of throughput).
-- The counter tables are not dumped by pg_dump: after a restore they start from zero and the
-- first roll-up recounts the restored history.
-- ---------------------------------------------------------------------------------------------

-- FAILED, DEAD and CANCELLED jobs by finish time: counted exactly by the gauges and read for
-- the tail (SUCCEEDED jobs use jobs_finished_idx). Only jobs that end badly enter it, so the
-- hot path (acquire, complete) never writes to it. It carries queue, tenant and state, so the
-- dashboard counts them with an index-only scan (no heap page per kept job).
CREATE INDEX jobs_unsuccessful_idx ON taskflow.jobs (finished_at) INCLUDE (queue, tenant_id, state)
  WHERE state IN ('FAILED', 'DEAD', 'CANCELLED');

CREATE TABLE taskflow.stats_watermark (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  rolled_up_to timestamptz NOT NULL
);
COMMENT ON TABLE taskflow.stats_watermark IS
  'Jobs that finished before rolled_up_to are counted in the stats_* tables.';
INSERT INTO taskflow.stats_watermark (rolled_up_to) VALUES ('-infinity');

-- Per queue and final state: how many jobs reached it (each time: a retried job that finishes
-- again counts again), their automatic retries, wait and run time sums, and how many of them
-- have been deleted since.
CREATE TABLE taskflow.stats_queue (
  queue      text NOT NULL,
  outcome    taskflow.job_state NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED')),
  jobs       bigint NOT NULL DEFAULT 0,
  retries    bigint NOT NULL DEFAULT 0,
  removed    bigint NOT NULL DEFAULT 0,
  wait_count bigint NOT NULL DEFAULT 0,
  wait_sum   numeric NOT NULL DEFAULT 0,       -- seconds; numeric: sums do not depend on order
  run_count  bigint NOT NULL DEFAULT 0,
  run_sum    numeric NOT NULL DEFAULT 0,
  PRIMARY KEY (queue, outcome)
);
COMMENT ON TABLE taskflow.stats_queue IS 'Rolled-up finished-job counters per queue and final state.';

CREATE TABLE taskflow.stats_tenant (
  tenant_id text NOT NULL,
  queue     text NOT NULL,
  outcome   taskflow.job_state NOT NULL CHECK (outcome IN ('SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED')),
  jobs      bigint NOT NULL DEFAULT 0,
  retries   bigint NOT NULL DEFAULT 0,
  removed   bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, queue, outcome)
);
COMMENT ON TABLE taskflow.stats_tenant IS 'Rolled-up finished-job counters per tenant, queue and final state.';

-- Finished jobs per tenant, indexed by volume: metrics() picks its top tenants from the index.
CREATE TABLE taskflow.stats_tenant_volume (
  tenant_id text PRIMARY KEY,
  jobs      bigint NOT NULL
);
CREATE INDEX stats_tenant_volume_jobs_idx ON taskflow.stats_tenant_volume (jobs DESC, tenant_id);
COMMENT ON TABLE taskflow.stats_tenant_volume IS 'Rolled-up finished jobs per tenant (ranking for metrics).';

-- Histogram buckets (observations per bucket, not cumulative) of wait and run time per queue.
CREATE TABLE taskflow.stats_histogram (
  queue        text NOT NULL,
  metric       text NOT NULL CHECK (metric IN ('wait', 'run')),
  bucket       smallint NOT NULL,    -- 1-based index into taskflow._histogram_bounds(); last = +Inf
  observations bigint NOT NULL,
  PRIMARY KEY (queue, metric, bucket)
);
COMMENT ON TABLE taskflow.stats_histogram IS 'Rolled-up wait and run time histogram buckets per queue.';

-- Time series for the dashboard's Overview (taskflow.dashboard_overview): per bucket of `width`
-- seconds (60: kept 2 hours, for the last hour; 900: kept 26 hours, for the last day) and queue,
-- the jobs that finished in it: SUCCEEDED (completed), FAILED or DEAD (failed), and histograms
-- of their wait and run times (observations per bucket of _histogram_bounds(), 24 elements).
-- Written by the same roll-up as the counters above (one more grouping of its rows), so a
-- bucket is complete once the watermark has passed its end; pruned by _rollup.
CREATE TABLE taskflow.stats_series (
  width     integer NOT NULL CHECK (width IN (60, 900)),
  t         timestamptz NOT NULL,            -- the bucket's start
  queue     text NOT NULL,
  completed bigint NOT NULL,
  failed    bigint NOT NULL,
  wait_hist bigint[] NOT NULL,
  run_hist  bigint[] NOT NULL,
  -- the histograms' percentiles (seconds; NULL when empty), computed when the roll-up writes the
  -- row so the Overview reads them instead of estimating 4 per point at every refresh
  wait_p50  double precision,
  wait_p95  double precision,
  run_p50   double precision,
  run_p95   double precision,
  PRIMARY KEY (width, t, queue)
);
COMMENT ON TABLE taskflow.stats_series IS
  'Rolled-up finished jobs per time bucket (1 and 15 minutes) and queue, with wait/run histograms.';

-- The same per tenant: what a tenant's key sees (dashboard_overview confines it).
CREATE TABLE taskflow.stats_series_tenant (
  tenant_id text NOT NULL,
  width     integer NOT NULL CHECK (width IN (60, 900)),
  t         timestamptz NOT NULL,
  queue     text NOT NULL,
  completed bigint NOT NULL,
  failed    bigint NOT NULL,
  wait_hist bigint[] NOT NULL,
  run_hist  bigint[] NOT NULL,
  PRIMARY KEY (tenant_id, width, t, queue)
);
CREATE INDEX stats_series_tenant_prune_idx ON taskflow.stats_series_tenant (width, t);
COMMENT ON TABLE taskflow.stats_series_tenant IS
  'Rolled-up finished jobs per tenant, time bucket (1 and 15 minutes) and queue, with wait/run histograms.';

-- A histogram (bigint[24]) with n more observations in bucket b; the transition function of
-- _hist_agg.
CREATE FUNCTION taskflow._hist_put(h bigint[], b integer, n bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE WHEN b IS NULL OR n IS NULL OR n = 0 OR b < 1 OR b > 24 THEN h
              ELSE h[1:b - 1] || (h[b] + n) || h[b + 1:24] END
$$;

-- The histogram of (bucket, observations) rows.
CREATE AGGREGATE taskflow._hist_agg(integer, bigint) (
  SFUNC = taskflow._hist_put, STYPE = bigint[],
  INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
);

-- Two histograms added bucket by bucket (the roll-up's upsert into a bucket already counted).
CREATE FUNCTION taskflow._hist_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE
AS $$
  SELECT array_agg(COALESCE(x, 0) + COALESCE(y, 0) ORDER BY i) FROM unnest(a, b) WITH ORDINALITY AS u(x, y, i)
$$;

-- The roll-up builds and adds histograms with built-in operators instead (the two functions
-- above are SQL functions called once per row, which made rolling up 1,000,000 jobs over 10,000
-- tenants take over a minute): the histogram of (bucket, n) rows as 24 filtered sums, and
-- the sum of two histograms element by element, as SQL expressions.
-- Both are `ARRAY[e(1), ..., e(24)]::bigint[]`, element i being format(element, a, b, i).
CREATE FUNCTION taskflow._hist_sql(element text, a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT 'ARRAY[' || string_agg(format(element, a, b, i), ', ' ORDER BY i) || ']::bigint[]'
  FROM generate_series(1, 24) AS i
$$;

-- The q-quantile (0..1) in seconds of a histogram, as Prometheus' histogram_quantile does it:
-- the bucket holding rank q * total, linear interpolation between its bounds (0 below the
-- first); an observation in the +Inf bucket reads as the last bound (3600 s). NULL when empty.
CREATE FUNCTION taskflow._hist_quantile(q double precision, h bigint[]) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT
AS $$
DECLARE
  -- taskflow._histogram_bounds(), inlined: no query per call (the dashboard calls this for
  -- every point of every series)
  bounds constant double precision[] :=
    '{0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600}';
  total bigint := 0;
  seen bigint := 0;
  x bigint;
  rank double precision;
  lo double precision;
BEGIN
  IF h IS NULL OR q IS NULL THEN
    RETURN NULL;
  END IF;
  FOREACH x IN ARRAY h LOOP
    total := total + COALESCE(x, 0);
  END LOOP;
  IF total = 0 THEN
    RETURN NULL;
  END IF;
  rank := q * total;
  FOR i IN 1 .. array_length(h, 1) LOOP
    x := COALESCE(h[i], 0);
    IF x > 0 AND seen + x >= rank THEN
      IF i > 23 THEN
        RETURN bounds[23];
      END IF;
      lo := CASE WHEN i = 1 THEN 0 ELSE bounds[i - 1] END;
      RETURN lo + (bounds[i] - lo) * greatest(rank - seen, 0) / x;
    END IF;
    seen := seen + x;
  END LOOP;
  RETURN bounds[23];
END
$$;

-- Automation rule firings (060_rules.sql) per rule and outcome, rolled up the same way, so
-- purge_rule_firings does not lower the counters and a scrape does not count the audit table.
CREATE TABLE taskflow.stats_rule_firings (
  rule_id bigint NOT NULL,
  outcome text NOT NULL CHECK (outcome IN ('created', 'skipped', 'error')),
  firings bigint NOT NULL,
  PRIMARY KEY (rule_id, outcome)
);
COMMENT ON TABLE taskflow.stats_rule_firings IS 'Rolled-up automation rule firings per rule and outcome.';
-- Firings by time, for the roll-up and the tail (and purge_rule_firings).
CREATE INDEX rule_firings_fired_idx ON taskflow.rule_firings (fired_at);

-- The statement adding the firings of `source` (rows of taskflow.rule_firings) to the counters.
CREATE FUNCTION taskflow._firings_apply_sql(source text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format($f$
    INSERT INTO taskflow.stats_rule_firings AS s (rule_id, outcome, firings)
    SELECT x.rule_id, CASE WHEN x.error IS NOT NULL THEN 'error' WHEN NOT x.matched THEN 'skipped'
                           ELSE 'created' END, count(*)
    FROM (%s) AS x GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (rule_id, outcome) DO UPDATE SET firings = s.firings + excluded.firings
  $f$, source)
$$;

-- Upper bounds (seconds) of the histogram buckets; a last bucket +Inf follows.
CREATE FUNCTION taskflow._histogram_bounds() RETURNS double precision[]
LANGUAGE sql IMMUTABLE
AS $$
  SELECT '{0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600}'::double precision[]
$$;

-- The bucket of an observation: 1 + the number of bounds below it (Prometheus' le is
-- inclusive), as an SQL expression over `seconds` (inlined: a function call per row would cost
-- more than the rest of the roll-up).
CREATE FUNCTION taskflow._histogram_bucket_sql(seconds text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format('(24 - width_bucket((-(%s))::double precision, ''{-3600,-1800,-600,-300,-120,-60,-30,-10,-5,-2.5,-1,-0.5,-0.25,-0.1,-0.05,-0.025,-0.01,-0.005,-0.0025,-0.001,-0.0005,-0.00025,-0.0001}''::double precision[]))::smallint', seconds)
$$;

-- What one finished job row contributes, as SQL select-list items over a row alias `j`:
-- automatic retries of its last attempt budget (releases and attempts before a retry() do not
-- count), wait (from due to start) and run time (start to finish) of its last attempt, and
-- when it finished (for the time series). Jobs cancelled before or while running have no wait
-- or run observation.
CREATE FUNCTION taskflow._observation_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT 'j.queue, j.tenant_id, j.state AS outcome, '
      || 'greatest(j.attempts - j.budget_offset - 1, 0) AS retries, '
      || 'CASE WHEN j.state <> ''CANCELLED'' AND j.started_at IS NOT NULL THEN '
      || '  greatest(extract(epoch FROM j.started_at - j.next_run_at), 0) END AS wait_s, '
      || 'CASE WHEN j.state <> ''CANCELLED'' AND j.started_at IS NOT NULL THEN '
      || '  greatest(extract(epoch FROM j.finished_at - j.started_at), 0) END AS run_s, '
      || 'j.finished_at'
$$;

-- _stats_apply_sql's first part: the rows of `source` grouped once (queue, tenant, outcome,
-- histogram buckets, minute), the CTE `g` everything else reads.
CREATE FUNCTION taskflow._stats_group_sql(source text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format($f$
  g AS MATERIALIZED (
    -- one pass over the rows; everything below reads this small grouping
    SELECT src.queue, src.tenant_id, src.outcome, %2$s AS wait_bucket, %3$s AS run_bucket,
           -- the minute it finished in, for the series (rows only removed need none)
           CASE WHEN src.counted THEN to_timestamp(floor(extract(epoch FROM src.finished_at) / 60) * 60) END
             AS minute,
           count(*) FILTER (WHERE src.counted) AS jobs,
           COALESCE(sum(src.retries) FILTER (WHERE src.counted), 0) AS retries,
           count(*) FILTER (WHERE src.removed) AS removed,
           count(src.wait_s) FILTER (WHERE src.counted) AS wait_count,
           COALESCE(sum(src.wait_s) FILTER (WHERE src.counted), 0) AS wait_sum,
           count(src.run_s) FILTER (WHERE src.counted) AS run_count,
           COALESCE(sum(src.run_s) FILTER (WHERE src.counted), 0) AS run_sum
    FROM (%1$s) AS src
    GROUP BY 1, 2, 3, 4, 5, 6)
  $f$, source, taskflow._histogram_bucket_sql('src.wait_s'), taskflow._histogram_bucket_sql('src.run_s'))
$$;

-- _stats_apply_sql's counter upserts (CTEs q, t, v, h over `g`): per queue, per tenant, the
-- tenant volumes and the histograms.
CREATE FUNCTION taskflow._stats_counters_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT $f$
  q AS (
    INSERT INTO taskflow.stats_queue AS s
      (queue, outcome, jobs, retries, removed, wait_count, wait_sum, run_count, run_sum)
    SELECT queue, outcome, sum(jobs), sum(retries), sum(removed), sum(wait_count), sum(wait_sum),
           sum(run_count), sum(run_sum)
    FROM g GROUP BY queue, outcome ORDER BY queue, outcome
    ON CONFLICT (queue, outcome) DO UPDATE SET
      jobs = s.jobs + excluded.jobs, retries = s.retries + excluded.retries,
      removed = s.removed + excluded.removed,
      wait_count = s.wait_count + excluded.wait_count, wait_sum = s.wait_sum + excluded.wait_sum,
      run_count = s.run_count + excluded.run_count, run_sum = s.run_sum + excluded.run_sum),
  t AS (
    INSERT INTO taskflow.stats_tenant AS s (tenant_id, queue, outcome, jobs, retries, removed)
    SELECT tenant_id, queue, outcome, sum(jobs), sum(retries), sum(removed)
    FROM g GROUP BY tenant_id, queue, outcome ORDER BY tenant_id, queue, outcome
    ON CONFLICT (tenant_id, queue, outcome) DO UPDATE SET
      jobs = s.jobs + excluded.jobs, retries = s.retries + excluded.retries,
      removed = s.removed + excluded.removed),
  v AS (
    INSERT INTO taskflow.stats_tenant_volume AS s (tenant_id, jobs)
    SELECT tenant_id, sum(jobs) FROM g GROUP BY tenant_id HAVING sum(jobs) > 0 ORDER BY tenant_id
    ON CONFLICT (tenant_id) DO UPDATE SET jobs = s.jobs + excluded.jobs),
  h AS (
    INSERT INTO taskflow.stats_histogram AS s (queue, metric, bucket, observations)
    SELECT queue, metric, bucket, sum(n) FROM (
      SELECT queue, 'wait' AS metric, wait_bucket AS bucket, wait_count AS n FROM g WHERE wait_bucket IS NOT NULL
      UNION ALL
      SELECT queue, 'run', run_bucket, run_count FROM g WHERE run_bucket IS NOT NULL) x
    GROUP BY 1, 2, 3 HAVING sum(n) > 0 ORDER BY 1, 2, 3
    ON CONFLICT (queue, metric, bucket) DO UPDATE SET observations = s.observations + excluded.observations)
  $f$
$$;

-- _stats_apply_sql's time series upserts (CTEs b, sq, st over `g`).
CREATE FUNCTION taskflow._stats_series_sql() RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format($f$
  -- the time series: each minute's rows in its 1-minute and its 15-minute bucket, for the
  -- buckets the series keep (rolling up old history writes no row that the prune would delete)
  b AS MATERIALIZED (
    SELECT wd.width, to_timestamp(floor(extract(epoch FROM g.minute) / wd.width) * wd.width) AS t,
           g.queue, g.tenant_id, g.outcome, g.wait_bucket, g.run_bucket, g.jobs, g.wait_count, g.run_count
    FROM g CROSS JOIN (VALUES (60, interval '2 hours'), (900, interval '26 hours')) AS wd(width, kept)
    WHERE g.minute IS NOT NULL AND g.jobs > 0 AND g.outcome <> 'CANCELLED'
      AND g.minute >= now() - wd.kept - make_interval(secs => wd.width)),
  sq AS (
    INSERT INTO taskflow.stats_series AS s
      (width, t, queue, completed, failed, wait_hist, run_hist, wait_p50, wait_p95, run_p50, run_p95)
    SELECT x.*, taskflow._hist_quantile(0.5, x.wh), taskflow._hist_quantile(0.95, x.wh),
           taskflow._hist_quantile(0.5, x.rh), taskflow._hist_quantile(0.95, x.rh)
    FROM (SELECT width, t, queue, COALESCE(sum(jobs) FILTER (WHERE outcome = 'SUCCEEDED'), 0) AS completed,
                 COALESCE(sum(jobs) FILTER (WHERE outcome <> 'SUCCEEDED'), 0) AS failed,
                 %1$s AS wh, %2$s AS rh
          FROM b GROUP BY width, t, queue) x
    ORDER BY x.width, x.t, x.queue
    ON CONFLICT (width, t, queue) DO UPDATE SET
      completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
      wait_hist = %3$s, run_hist = %4$s,
      wait_p50 = taskflow._hist_quantile(0.5, %3$s), wait_p95 = taskflow._hist_quantile(0.95, %3$s),
      run_p50 = taskflow._hist_quantile(0.5, %4$s), run_p95 = taskflow._hist_quantile(0.95, %4$s)),
  -- per tenant: one row per tenant, bucket and queue of this round (no percentiles stored: a
  -- tenant's Overview reads only its own rows and estimates them then)
  st AS (
    INSERT INTO taskflow.stats_series_tenant AS s
      (tenant_id, width, t, queue, completed, failed, wait_hist, run_hist)
    SELECT tenant_id, width, t, queue, COALESCE(sum(jobs) FILTER (WHERE outcome = 'SUCCEEDED'), 0),
           COALESCE(sum(jobs) FILTER (WHERE outcome <> 'SUCCEEDED'), 0), %1$s, %2$s
    FROM b GROUP BY tenant_id, width, t, queue ORDER BY tenant_id, width, t, queue
    ON CONFLICT (tenant_id, width, t, queue) DO UPDATE SET
      completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
      wait_hist = %3$s, run_hist = %4$s)
  $f$, taskflow._hist_sql(e.agg, 'wait_bucket', 'wait_count'), taskflow._hist_sql(e.agg, 'run_bucket', 'run_count'),
     taskflow._hist_sql(e.added, 's.wait_hist', 'excluded.wait_hist'),
     taskflow._hist_sql(e.added, 's.run_hist', 'excluded.run_hist'))
  -- a histogram of (bucket, n) rows: 24 filtered sums; two histograms added element by element
  FROM (VALUES ('COALESCE(sum(%2$s) FILTER (WHERE %1$s = %3$s), 0)::bigint',
                'COALESCE(%1$s[%3$s], 0) + COALESCE(%2$s[%3$s], 0)')) AS e(agg, added)
$$;

-- The statement that adds the rows of `source` (a query with the columns of
-- _observation_sql() plus `counted` and `removed` booleans) to the counter tables and returns
-- how many were counted. Upserts go in key order so concurrent callers lock rows alike.
CREATE FUNCTION taskflow._stats_apply_sql(source text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT 'WITH ' || taskflow._stats_group_sql(source) || ',' || taskflow._stats_counters_sql() || ','
      || taskflow._stats_series_sql() || ' SELECT COALESCE(sum(jobs), 0)::integer FROM g'
$$;

-- The finished jobs with finished_at in [since, until), one index range scan per index.
CREATE FUNCTION taskflow._finished_between_sql(since timestamptz, until timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT format('SELECT %1$s FROM taskflow.jobs j WHERE j.state = ''SUCCEEDED'' '
                '  AND j.finished_at >= %2$L AND j.finished_at < %3$L '
                'UNION ALL '
                'SELECT %1$s FROM taskflow.jobs j WHERE j.state IN (''FAILED'', ''DEAD'', ''CANCELLED'') '
                '  AND j.finished_at >= %2$L AND j.finished_at < %3$L',
                taskflow._observation_sql(), since, until)
$$;

-- The roll-up: counts the jobs finished since the watermark (at most about 2 * max_jobs per
-- call) and moves the watermark. Never waits: when a deletion holds the watermark, it returns
-- 0 and the next round does the work. Returns the number of jobs counted.
CREATE FUNCTION taskflow._rollup(max_jobs integer DEFAULT 50000) RETURNS integer
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  w timestamptz;
  bound timestamptz;
  oldest_running timestamptz;
  cut_ok timestamptz;
  cut_bad timestamptz;
  w_new timestamptz;
  n integer;
BEGIN
  IF max_jobs IS NULL OR max_jobs < 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_jobs must be at least 1';
  END IF;
  SELECT m.rolled_up_to INTO w FROM taskflow.stats_watermark m FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN 0;
  END IF;
  -- No transaction still running here, this one included, may leave a finish behind the new
  -- watermark: stop at the earliest start of one (read fresh, not from this transaction's
  -- statistics snapshot). Needs the rights to see other sessions' xact_start (the extension
  -- owner, a superuser, has them).
  bound := now();
  PERFORM pg_stat_clear_snapshot();
  SELECT min(a.xact_start) INTO oldest_running FROM pg_stat_activity a
  WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL;
  bound := least(bound, oldest_running);
  IF bound <= w THEN
    RETURN 0;
  END IF;
  -- At most max_jobs jobs per index: stop at the finish time of the next one.
  SELECT j.finished_at INTO cut_ok FROM taskflow.jobs j
  WHERE j.state = 'SUCCEEDED' AND j.finished_at >= w AND j.finished_at < bound
  ORDER BY j.finished_at OFFSET max_jobs LIMIT 1;
  SELECT j.finished_at INTO cut_bad FROM taskflow.jobs j
  WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= w AND j.finished_at < bound
  ORDER BY j.finished_at OFFSET max_jobs LIMIT 1;
  w_new := least(bound, cut_ok, cut_bad);
  IF w_new <= w THEN
    -- more than max_jobs jobs finished at the instant w: take that instant whole
    w_new := w + interval '1 microsecond';
  END IF;
  EXECUTE taskflow._stats_apply_sql(
    'SELECT o.*, true AS counted, false AS removed FROM ('
    || taskflow._finished_between_sql(w, w_new) || ') o') INTO n;
  EXECUTE taskflow._firings_apply_sql(format(
    'SELECT * FROM taskflow.rule_firings f WHERE f.fired_at >= %L AND f.fired_at < %L', w, w_new));
  PERFORM taskflow._rollup_starts(w, w_new);  -- the dashboard's starts per minute (075_dashboard_admin.sql)
  UPDATE taskflow.stats_watermark SET rolled_up_to = w_new;
  -- the series keep what the dashboard shows: 1-minute buckets for 2 hours, 15-minute ones for 26
  DELETE FROM taskflow.stats_series s
   WHERE (s.width = 60 AND s.t < w_new - interval '2 hours') OR (s.width = 900 AND s.t < w_new - interval '26 hours');
  DELETE FROM taskflow.stats_series_tenant s
   WHERE (s.width = 60 AND s.t < w_new - interval '2 hours') OR (s.width = 900 AND s.t < w_new - interval '26 hours');
  RETURN n;
END
$$;

-- Finished jobs leaving the table: the ones not rolled up yet are counted now, and all are
-- removed. AFTER DELETE: the deleted rows (transition table gone); BEFORE TRUNCATE (TRUNCATE fires
-- no DELETE trigger): the whole table, counted before it is emptied. Holds the watermark
-- (FOR SHARE) so a concurrent roll-up cannot count them as well.
CREATE FUNCTION taskflow._stats_on_jobs_removed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  w timestamptz;
BEGIN
  SELECT m.rolled_up_to INTO w FROM taskflow.stats_watermark m FOR SHARE;
  EXECUTE taskflow._stats_apply_sql(format(
    'SELECT %s, j.finished_at >= %L AS counted, true AS removed FROM %s j '
    'WHERE j.state = ANY (taskflow._final_states())',
    taskflow._observation_sql(), COALESCE(w, '-infinity'),
    CASE TG_OP WHEN 'TRUNCATE' THEN 'taskflow.jobs' ELSE 'gone' END));
  RETURN NULL;
END
$$;

CREATE TRIGGER jobs_stats_on_delete AFTER DELETE ON taskflow.jobs
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION taskflow._stats_on_jobs_removed();
CREATE TRIGGER jobs_stats_on_truncate BEFORE TRUNCATE ON taskflow.jobs
  FOR EACH STATEMENT EXECUTE FUNCTION taskflow._stats_on_jobs_removed();

-- Deleted rule firings (purge_rule_firings) not rolled up yet are counted now.
CREATE FUNCTION taskflow._stats_on_firings_delete() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  w timestamptz;
BEGIN
  SELECT m.rolled_up_to INTO w FROM taskflow.stats_watermark m FOR SHARE;
  EXECUTE taskflow._firings_apply_sql(format(
    'SELECT * FROM gone f WHERE f.fired_at >= %L', COALESCE(w, '-infinity')));
  RETURN NULL;
END
$$;

CREATE TRIGGER rule_firings_stats_on_delete AFTER DELETE ON taskflow.rule_firings
  REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION taskflow._stats_on_firings_delete();

-- Starts the counters again from the jobs in the table (history already deleted is lost):
-- for jobs written around the API (e.g. restored or inserted directly). The maintenance
-- worker then recounts the history in rounds; admins only.
CREATE FUNCTION taskflow.reset_stats() RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  PERFORM 1 FROM taskflow.stats_watermark FOR UPDATE;
  DELETE FROM taskflow.stats_queue;
  DELETE FROM taskflow.stats_tenant;
  DELETE FROM taskflow.stats_tenant_volume;
  DELETE FROM taskflow.stats_histogram;
  DELETE FROM taskflow.stats_rule_firings;
  DELETE FROM taskflow.stats_tenant_starts;  -- 075_dashboard_admin.sql
  DELETE FROM taskflow.stats_starts;
  DELETE FROM taskflow.stats_series;
  DELETE FROM taskflow.stats_series_tenant;
  UPDATE taskflow.stats_watermark SET rolled_up_to = '-infinity';
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The view
-- ---------------------------------------------------------------------------------------------
-- Row sources (taskflow._rows_*): one named part of a larger statement, written as a LANGUAGE sql
-- function so that the planner inlines it into its caller's statement (same plan as a CTE written
-- in place). They carry no SET options and are not SECURITY DEFINER, as inlining requires: they
-- run under their callers' settings (search_path, jit), and only their owner may call them
-- (099_internal_functions.sql). 095_function_settings.sql leaves them out of its search_path and jit rows.

-- The jobs the counts read: unfinished, and the FAILED, DEAD and CANCELLED ones kept (one
-- branch per partial index).
CREATE FUNCTION taskflow._rows_jobs_kept()
RETURNS TABLE(queue text, tenant_id text, state taskflow.job_state, next_run_at timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'PENDING'
  UNION ALL
  SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'SCHEDULED'
  UNION ALL
  SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'RUNNING'
  UNION ALL
  SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs
  WHERE state IN ('FAILED', 'DEAD', 'CANCELLED')
$$;

-- queue_stats' counts of the jobs kept, per queue and tenant and per queue (all_tenants = 1).
CREATE FUNCTION taskflow._rows_queue_live()
RETURNS TABLE(queue text, tenant_id text, all_tenants integer, pending bigint, scheduled bigint,
              running bigint, failed bigint, dead bigint, cancelled bigint, oldest_ready timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT j.queue, j.tenant_id, GROUPING(j.tenant_id) AS all_tenants,
         count(*) FILTER (WHERE j.state = 'PENDING') AS pending,
         count(*) FILTER (WHERE j.state = 'SCHEDULED') AS scheduled,
         count(*) FILTER (WHERE j.state = 'RUNNING') AS running,
         count(*) FILTER (WHERE j.state = 'FAILED') AS failed,
         count(*) FILTER (WHERE j.state = 'DEAD') AS dead,
         count(*) FILTER (WHERE j.state = 'CANCELLED') AS cancelled,
         min(j.next_run_at) FILTER (WHERE j.state IN ('PENDING', 'SCHEDULED') AND j.next_run_at <= now())
           AS oldest_ready
  FROM taskflow._rows_jobs_kept() j
  GROUP BY GROUPING SETS ((j.queue, j.tenant_id), (j.queue))
$$;

-- queue_stats' windowed figures from the jobs finished in the last 15 minutes.
CREATE FUNCTION taskflow._rows_queue_windows()
RETURNS TABLE(queue text, tenant_id text, all_tenants integer, done_1m bigint, done_5m bigint,
              done_15m bigint, ok_5m bigint, bad_5m bigint,
              wait_p double precision[], run_p double precision[])
LANGUAGE sql STABLE
AS $$
  WITH
  recent AS (
    SELECT j.queue, j.tenant_id, j.state, j.finished_at,
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.started_at - j.next_run_at)::double precision, 0) END AS wait_s,
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.finished_at - j.started_at)::double precision, 0) END AS run_s
    FROM (SELECT * FROM taskflow.jobs WHERE state = 'SUCCEEDED' AND finished_at > now() - interval '15 minutes'
          UNION ALL
          SELECT * FROM taskflow.jobs WHERE state IN ('FAILED', 'DEAD', 'CANCELLED')
            AND finished_at > now() - interval '15 minutes') j)
  SELECT r.queue, r.tenant_id, GROUPING(r.tenant_id) AS all_tenants,
         count(*) FILTER (WHERE r.finished_at > now() - interval '1 minute') AS done_1m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS done_5m,
         count(*) AS done_15m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes' AND r.state = 'SUCCEEDED') AS ok_5m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes' AND r.state IN ('FAILED', 'DEAD')) AS bad_5m,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.wait_s)
           FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS wait_p,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.run_s)
           FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS run_p
  FROM recent r
  GROUP BY GROUPING SETS ((r.queue, r.tenant_id), (r.queue))
$$;

-- queue_stats' finished-job counters: rolled up, plus the tail since the watermark.
CREATE FUNCTION taskflow._rows_queue_counted()
RETURNS TABLE(queue text, tenant_id text, all_tenants integer, finished numeric,
              succeeded_total numeric, failed_total numeric, dead_total numeric,
              cancelled_total numeric, succeeded_kept numeric, retries numeric)
LANGUAGE sql STABLE
AS $$
  WITH w AS (SELECT COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity') AS at)
  SELECT c.queue, c.tenant_id, GROUPING(c.tenant_id) AS all_tenants,
         sum(c.jobs) AS finished,
         sum(c.jobs) FILTER (WHERE c.outcome = 'SUCCEEDED') AS succeeded_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'FAILED') AS failed_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'DEAD') AS dead_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'CANCELLED') AS cancelled_total,
         sum(c.jobs - c.removed) FILTER (WHERE c.outcome = 'SUCCEEDED') AS succeeded_kept,
         sum(c.retries) AS retries
  FROM (SELECT s.queue, s.tenant_id, s.outcome, s.jobs, s.retries, s.removed FROM taskflow.stats_tenant s
        UNION ALL
        SELECT j.queue, j.tenant_id, j.state, 1, greatest(j.attempts - j.budget_offset - 1, 0), 0
        FROM taskflow.jobs j, w WHERE j.state = 'SUCCEEDED' AND j.finished_at >= w.at
        UNION ALL
        SELECT j.queue, j.tenant_id, j.state, 1, greatest(j.attempts - j.budget_offset - 1, 0), 0
        FROM taskflow.jobs j, w WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= w.at) c
  GROUP BY GROUPING SETS ((c.queue, c.tenant_id), (c.queue))
$$;

-- The figures of queue_stats. A function so that it can pin its settings: the planner's cost
-- estimate for this query is high enough to trigger JIT compilation, which costs seconds.
CREATE FUNCTION taskflow._queue_stats()
RETURNS TABLE(queue text, tenant_id text, pending bigint, scheduled bigint, running bigint,
              succeeded bigint, failed bigint, dead bigint, cancelled bigint,
              oldest_ready_age_seconds double precision,
              completed_per_minute_1m double precision, completed_per_minute_5m double precision,
              completed_per_minute_15m double precision,
              success_rate_5m double precision, failure_rate_5m double precision,
              wait_p50_seconds double precision, wait_p95_seconds double precision,
              wait_p99_seconds double precision, run_p50_seconds double precision,
              run_p95_seconds double precision, run_p99_seconds double precision,
              finished_total bigint, succeeded_total bigint, failed_total bigint,
              dead_total bigint, cancelled_total bigint, retries_total bigint,
              retries_per_job double precision)
LANGUAGE sql STABLE SECURITY DEFINER
AS $$
WITH
live AS (SELECT * FROM taskflow._rows_queue_live()),
windows AS (SELECT * FROM taskflow._rows_queue_windows()),
counted AS (SELECT * FROM taskflow._rows_queue_counted()),
keys AS (
  SELECT queue, tenant_id, all_tenants FROM live
  UNION SELECT queue, tenant_id, all_tenants FROM windows
  UNION SELECT queue, tenant_id, all_tenants FROM counted
  UNION SELECT q.name, NULL, 1 FROM taskflow.queues q)
SELECT k.queue, k.tenant_id,
       COALESCE(l.pending, 0) AS pending,
       COALESCE(l.scheduled, 0) AS scheduled,
       COALESCE(l.running, 0) AS running,
       greatest(COALESCE(c.succeeded_kept, 0), 0)::bigint AS succeeded,
       COALESCE(l.failed, 0) AS failed,
       COALESCE(l.dead, 0) AS dead,
       COALESCE(l.cancelled, 0) AS cancelled,
       COALESCE(extract(epoch FROM now() - l.oldest_ready)::double precision, 0) AS oldest_ready_age_seconds,
       COALESCE(wn.done_1m, 0)::double precision AS completed_per_minute_1m,
       COALESCE(wn.done_5m, 0) / 5.0::double precision AS completed_per_minute_5m,
       COALESCE(wn.done_15m, 0) / 15.0::double precision AS completed_per_minute_15m,
       wn.ok_5m::double precision / NULLIF(wn.done_5m, 0) AS success_rate_5m,
       wn.bad_5m::double precision / NULLIF(wn.done_5m, 0) AS failure_rate_5m,
       wn.wait_p[1] AS wait_p50_seconds, wn.wait_p[2] AS wait_p95_seconds, wn.wait_p[3] AS wait_p99_seconds,
       wn.run_p[1] AS run_p50_seconds, wn.run_p[2] AS run_p95_seconds, wn.run_p[3] AS run_p99_seconds,
       COALESCE(c.finished, 0)::bigint AS finished_total,
       COALESCE(c.succeeded_total, 0)::bigint AS succeeded_total,
       COALESCE(c.failed_total, 0)::bigint AS failed_total,
       COALESCE(c.dead_total, 0)::bigint AS dead_total,
       COALESCE(c.cancelled_total, 0)::bigint AS cancelled_total,
       COALESCE(c.retries, 0)::bigint AS retries_total,
       c.retries::double precision / NULLIF(c.finished, 0) AS retries_per_job
FROM keys k
LEFT JOIN live l ON l.queue = k.queue AND l.all_tenants = k.all_tenants
  AND COALESCE(l.tenant_id, '') = COALESCE(k.tenant_id, '')
LEFT JOIN windows wn ON wn.queue = k.queue AND wn.all_tenants = k.all_tenants
  AND COALESCE(wn.tenant_id, '') = COALESCE(k.tenant_id, '')
LEFT JOIN counted c ON c.queue = k.queue AND c.all_tenants = k.all_tenants
  AND COALESCE(c.tenant_id, '') = COALESCE(k.tenant_id, '')
ORDER BY k.queue, k.all_tenants DESC, k.tenant_id;
$$;

CREATE VIEW taskflow.queue_stats AS SELECT * FROM taskflow._queue_stats();

-- _queue_stats_per_queue's counts of the jobs kept, per queue: PENDING from jobs_ready_idx, the
-- FAILED, DEAD and CANCELLED ones from jobs_unsuccessful_idx (index-only).
CREATE FUNCTION taskflow._rows_queue_live_per_queue()
RETURNS TABLE(queue text, pending bigint, scheduled bigint, running bigint, failed bigint,
              dead bigint, cancelled bigint, oldest_ready timestamptz)
LANGUAGE sql STABLE
AS $$
  SELECT j.queue,
         count(*) FILTER (WHERE j.state = 'PENDING') AS pending,
         count(*) FILTER (WHERE j.state = 'SCHEDULED') AS scheduled,
         count(*) FILTER (WHERE j.state = 'RUNNING') AS running,
         count(*) FILTER (WHERE j.state = 'FAILED') AS failed,
         count(*) FILTER (WHERE j.state = 'DEAD') AS dead,
         count(*) FILTER (WHERE j.state = 'CANCELLED') AS cancelled,
         min(j.next_run_at) FILTER (WHERE j.state IN ('PENDING', 'SCHEDULED') AND j.next_run_at <= now())
           AS oldest_ready
  FROM (SELECT x.queue, 'PENDING'::taskflow.job_state AS state, x.next_run_at FROM taskflow.jobs x
        WHERE x.state = 'PENDING'
        UNION ALL
        SELECT x.queue, x.state, x.next_run_at FROM taskflow.jobs x WHERE x.state = 'SCHEDULED'
        UNION ALL
        SELECT x.queue, x.state, NULL FROM taskflow.jobs x WHERE x.state = 'RUNNING'
        UNION ALL
        SELECT x.queue, x.state, NULL FROM taskflow.jobs x
        WHERE x.state IN ('FAILED', 'DEAD', 'CANCELLED')) j
  GROUP BY j.queue
$$;

-- _queue_stats_per_queue's windowed figures from the 1-minute series (from_series: the last 15
-- complete minutes, the histograms of the last 5 merged).
CREATE FUNCTION taskflow._rows_queue_windows_from_series(from_series boolean)
RETURNS TABLE(queue text, done_1m bigint, done_5m bigint, done_15m bigint, ok_5m bigint, bad_5m bigint,
              wait_p double precision[], run_p double precision[])
LANGUAGE sql STABLE
AS $$
  WITH
  series AS (
    SELECT s.queue, s.t, s.completed, s.failed, s.wait_hist, s.run_hist FROM taskflow.stats_series s
    WHERE from_series AND s.width = 60 AND s.t >= date_trunc('minute', now()) - interval '15 minutes'
      AND s.t < date_trunc('minute', now())),
  merged AS (
    SELECT m.queue, array_agg(m.w ORDER BY m.i) AS wait_hist, array_agg(m.r ORDER BY m.i) AS run_hist
    FROM (SELECT s.queue, u.i, sum(u.w)::bigint AS w, sum(u.r)::bigint AS r
          FROM series s, unnest(s.wait_hist, s.run_hist) WITH ORDINALITY AS u(w, r, i)
          WHERE s.t >= date_trunc('minute', now()) - interval '5 minutes'
          GROUP BY s.queue, u.i) m
    GROUP BY m.queue)
  SELECT s.queue,
         COALESCE(sum(s.completed + s.failed) FILTER (WHERE s.t >= date_trunc('minute', now()) - interval '1 minute'), 0)::bigint AS done_1m,
         COALESCE(sum(s.completed + s.failed) FILTER (WHERE s.t >= date_trunc('minute', now()) - interval '5 minutes'), 0)::bigint AS done_5m,
         sum(s.completed + s.failed)::bigint AS done_15m,
         COALESCE(sum(s.completed) FILTER (WHERE s.t >= date_trunc('minute', now()) - interval '5 minutes'), 0)::bigint AS ok_5m,
         COALESCE(sum(s.failed) FILTER (WHERE s.t >= date_trunc('minute', now()) - interval '5 minutes'), 0)::bigint AS bad_5m,
         (SELECT ARRAY[taskflow._hist_quantile(0.5, mg.wait_hist), taskflow._hist_quantile(0.95, mg.wait_hist),
                       taskflow._hist_quantile(0.99, mg.wait_hist)] FROM merged mg WHERE mg.queue = s.queue) AS wait_p,
         (SELECT ARRAY[taskflow._hist_quantile(0.5, mg.run_hist), taskflow._hist_quantile(0.95, mg.run_hist),
                       taskflow._hist_quantile(0.99, mg.run_hist)] FROM merged mg WHERE mg.queue = s.queue) AS run_p
  FROM series s
  GROUP BY s.queue
$$;

-- _queue_stats_per_queue's windowed figures from the jobs finished in the last 15 minutes
-- (unless from_series).
CREATE FUNCTION taskflow._rows_queue_windows_from_jobs(from_series boolean)
RETURNS TABLE(queue text, done_1m bigint, done_5m bigint, done_15m bigint, ok_5m bigint, bad_5m bigint,
              wait_p double precision[], run_p double precision[])
LANGUAGE sql STABLE
AS $$
  WITH
  recent AS (
    SELECT j.queue, j.state, j.finished_at,
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.started_at - j.next_run_at)::double precision, 0) END AS wait_s,
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.finished_at - j.started_at)::double precision, 0) END AS run_s
    FROM (SELECT x.queue, x.state, x.finished_at, x.started_at, x.next_run_at FROM taskflow.jobs x
          WHERE x.state = 'SUCCEEDED' AND x.finished_at > now() - interval '15 minutes'
          UNION ALL
          SELECT x.queue, x.state, x.finished_at, x.started_at, x.next_run_at FROM taskflow.jobs x
          WHERE x.state IN ('FAILED', 'DEAD', 'CANCELLED') AND x.finished_at > now() - interval '15 minutes') j
    WHERE NOT from_series)
  SELECT r.queue,
         count(*) FILTER (WHERE r.finished_at > now() - interval '1 minute') AS done_1m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS done_5m,
         count(*) AS done_15m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes' AND r.state = 'SUCCEEDED') AS ok_5m,
         count(*) FILTER (WHERE r.finished_at > now() - interval '5 minutes' AND r.state IN ('FAILED', 'DEAD')) AS bad_5m,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.wait_s)
           FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS wait_p,
         percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.run_s)
           FILTER (WHERE r.finished_at > now() - interval '5 minutes') AS run_p
  FROM recent r
  GROUP BY r.queue
$$;

-- _queue_stats_per_queue's finished-job counters: stats_queue (one row per queue and outcome),
-- plus the tail since the watermark.
CREATE FUNCTION taskflow._rows_queue_counted_per_queue()
RETURNS TABLE(queue text, finished numeric, succeeded_total numeric, failed_total numeric,
              dead_total numeric, cancelled_total numeric, succeeded_kept numeric, retries numeric)
LANGUAGE sql STABLE
AS $$
  WITH w AS (SELECT COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity') AS at)
  SELECT c.queue,
         sum(c.jobs) AS finished,
         sum(c.jobs) FILTER (WHERE c.outcome = 'SUCCEEDED') AS succeeded_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'FAILED') AS failed_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'DEAD') AS dead_total,
         sum(c.jobs) FILTER (WHERE c.outcome = 'CANCELLED') AS cancelled_total,
         sum(c.jobs - c.removed) FILTER (WHERE c.outcome = 'SUCCEEDED') AS succeeded_kept,
         sum(c.retries) AS retries
  FROM (SELECT s.queue, s.outcome, s.jobs, s.retries, s.removed FROM taskflow.stats_queue s
        UNION ALL
        SELECT j.queue, j.state, 1, greatest(j.attempts - j.budget_offset - 1, 0), 0
        FROM taskflow.jobs j, w WHERE j.state = 'SUCCEEDED' AND j.finished_at >= w.at
        UNION ALL
        SELECT j.queue, j.state, 1, greatest(j.attempts - j.budget_offset - 1, 0), 0
        FROM taskflow.jobs j, w WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= w.at) c
  GROUP BY c.queue
$$;

-- The per-queue rows of queue_stats (tenant_id NULL), the same figures computed without the
-- per-tenant grouping: the kept FAILED, DEAD and CANCELLED jobs counted per queue straight from
-- jobs_unsuccessful_idx (index-only), PENDING from jobs_ready_idx, the finished-job counters from
-- stats_queue (one row per queue and outcome) instead of summing stats_tenant's rows of every
-- tenant. The pgTAP suite checks that it equals the view's per-queue rows.
-- from_series: the windowed figures (completions per minute, success and failure rates,
-- percentiles) from the roll-up's 1-minute series instead of the jobs that finished in the last
-- 15 minutes (which a busy queue has hundreds of thousands of, each read from the heap and
-- sorted): over the last 1, 5 and 15 complete minutes (the current minute is left out: it is
-- not over, and not rolled up yet), percentiles estimated from the merged histograms, CANCELLED
-- jobs not counted (the series hold SUCCEEDED, FAILED and DEAD jobs). At most 15 rows per queue.
-- What the dashboard's Queues view reads (taskflow.dashboard_queues).
CREATE FUNCTION taskflow._queue_stats_per_queue(from_series boolean DEFAULT false)
RETURNS SETOF taskflow.queue_stats
LANGUAGE sql STABLE SECURITY DEFINER
SET max_parallel_workers_per_gather = 0
AS $$
WITH
live AS (SELECT * FROM taskflow._rows_queue_live_per_queue()),
windows AS (
  SELECT * FROM taskflow._rows_queue_windows_from_series(from_series)
  UNION ALL
  SELECT * FROM taskflow._rows_queue_windows_from_jobs(from_series)),
counted AS (SELECT * FROM taskflow._rows_queue_counted_per_queue()),
keys AS (
  SELECT queue FROM live UNION SELECT queue FROM windows UNION SELECT queue FROM counted
  UNION SELECT q.name FROM taskflow.queues q)
SELECT k.queue, NULL::text AS tenant_id,
       COALESCE(l.pending, 0), COALESCE(l.scheduled, 0), COALESCE(l.running, 0),
       greatest(COALESCE(c.succeeded_kept, 0), 0)::bigint,
       COALESCE(l.failed, 0), COALESCE(l.dead, 0), COALESCE(l.cancelled, 0),
       COALESCE(extract(epoch FROM now() - l.oldest_ready)::double precision, 0),
       COALESCE(wn.done_1m, 0)::double precision,
       COALESCE(wn.done_5m, 0) / 5.0::double precision,
       COALESCE(wn.done_15m, 0) / 15.0::double precision,
       wn.ok_5m::double precision / NULLIF(wn.done_5m, 0),
       wn.bad_5m::double precision / NULLIF(wn.done_5m, 0),
       wn.wait_p[1], wn.wait_p[2], wn.wait_p[3], wn.run_p[1], wn.run_p[2], wn.run_p[3],
       COALESCE(c.finished, 0)::bigint, COALESCE(c.succeeded_total, 0)::bigint,
       COALESCE(c.failed_total, 0)::bigint, COALESCE(c.dead_total, 0)::bigint,
       COALESCE(c.cancelled_total, 0)::bigint, COALESCE(c.retries, 0)::bigint,
       c.retries::double precision / NULLIF(c.finished, 0)
FROM keys k
LEFT JOIN live l ON l.queue = k.queue
LEFT JOIN windows wn ON wn.queue = k.queue
LEFT JOIN counted c ON c.queue = k.queue
ORDER BY k.queue;
$$;

COMMENT ON VIEW taskflow.queue_stats IS
  'Per queue (tenant_id NULL) and per queue and tenant: jobs per state, oldest ready job, '
  'completions per minute (1, 5, 15 min), success/failure rates and wait/run percentiles '
  '(5 min), finished and retry totals that survive the Cleaner. See docs/observability.md.';

-- ---------------------------------------------------------------------------------------------
-- metrics(): the Prometheus text exposition format
-- ---------------------------------------------------------------------------------------------

-- A label value escaped for the text format (backslash, double quote, newline).
CREATE FUNCTION taskflow._prom_label(v text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT '"' || replace(replace(replace(v, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n') || '"'
$$;

-- A sample value: integers as they are, other numbers in Go-parsable form.
CREATE FUNCTION taskflow._prom_value(v double precision) RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
  SELECT CASE WHEN v IS NULL OR v = 'NaN'::double precision THEN 'NaN'
              WHEN v = 'Infinity'::double precision THEN '+Inf'
              WHEN v = '-Infinity'::double precision THEN '-Inf'
              ELSE v::text END
$$;


-- The queues the per-queue metric families have lines for: the queues now, and those that had
-- finished jobs (their counters stay after the queue is dropped).
CREATE FUNCTION taskflow._rows_metrics_queues() RETURNS TABLE(queue text)
LANGUAGE sql STABLE
AS $$
  SELECT q.name FROM taskflow.queues q UNION SELECT s.queue FROM taskflow.stats_queue s
$$;

-- The metric families of the jobs (number, name, type, help): the order of the text.
CREATE FUNCTION taskflow._rows_metrics_families()
RETURNS TABLE(family integer, name text, type text, help text)
LANGUAGE sql IMMUTABLE
AS $$
  SELECT * FROM (VALUES
  (1, 'taskflow_jobs', 'gauge',
   'Jobs per queue and state now; succeeded and cancelled jobs count until the Cleaner deletes them.'),
  (2, 'taskflow_jobs_finished_total', 'counter',
   'Jobs that reached a final state, per queue and outcome (a re-driven job counts each time it ends).'),
  (3, 'taskflow_job_retries_total', 'counter',
   'Automatic retries (failed attempts followed by another attempt) of finished jobs, per queue.'),
  (4, 'taskflow_job_wait_seconds', 'histogram',
   'Time from when a job was due to the start of its last attempt, per queue (succeeded, failed and dead jobs).'),
  (5, 'taskflow_job_run_seconds', 'histogram',
   'Time from the start to the end of a job''s last attempt, per queue (succeeded, failed and dead jobs).'),
  (6, 'taskflow_oldest_ready_job_age_seconds', 'gauge',
   'Seconds since the oldest ready (due, not running) job of the queue became due; 0 when none is ready.'),
  (7, 'taskflow_tenant_jobs', 'gauge',
   'Unfinished jobs per state for the top tenants by finished jobs; tenant_id="other" holds the rest.'),
  (8, 'taskflow_tenant_jobs_finished_total', 'counter',
   'Finished jobs per outcome for the top tenants by finished jobs; tenant_id="other" holds the rest.')) AS f(family, name, type, help)
$$;

-- The jobs finished at or after `w` (the roll-up watermark): not in the counter tables yet.
-- EXECUTE: planned at every call with the watermark's value, so the read is an index range
-- over the tail (about one maintenance interval of jobs) whatever plan the calling statements
-- keep. Those are cached (PL/pgSQL) and, after five calls, generic: planned without the value,
-- `finished_at >= $1` is estimated at a third of the history, and a generic plan that scanned
-- the table (made, say, right after reset_stats(), when the tail is the whole history) would
-- read the whole history at every later scrape. Here the callers' plans see only a function
-- scan, whose shape cannot depend on `w`. Not a row source (taskflow._rows_*): it is never
-- inlined. STABLE: it reads its caller's snapshot, as the counter tables are read.
CREATE FUNCTION taskflow._metrics_tail(w timestamptz)
RETURNS TABLE(queue text, tenant_id text, outcome taskflow.job_state, retries integer,
              wait_s numeric, run_s numeric)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN QUERY EXECUTE $q$
    SELECT j.queue, j.tenant_id, j.state,
           greatest(j.attempts - j.budget_offset - 1, 0),
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.started_at - j.next_run_at), 0) END,
           CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
             greatest(extract(epoch FROM j.finished_at - j.started_at), 0) END
    FROM (SELECT * FROM taskflow.jobs WHERE state = 'SUCCEEDED' AND finished_at >= $1
          UNION ALL
          SELECT * FROM taskflow.jobs WHERE state IN ('FAILED', 'DEAD', 'CANCELLED') AND finished_at >= $1) j
  $q$ USING w;
END
$$;

-- The lines of the metric families of the jobs per queue but the histograms: taskflow_jobs,
-- taskflow_jobs_finished_total, taskflow_job_retries_total, taskflow_oldest_ready_job_age_seconds
-- (families 1, 2, 3 and 6), each with its family and sort keys; `w` is the roll-up watermark.
CREATE FUNCTION taskflow._metrics_queue_lines(w timestamptz)
RETURNS TABLE(family integer, k1 text, k2 integer, k3 integer, line text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
RETURN QUERY
WITH
queues AS MATERIALIZED (SELECT q.queue FROM taskflow._rows_metrics_queues() q),
states(state, ord) AS (VALUES ('PENDING'::taskflow.job_state, 1), ('SCHEDULED', 2), ('RUNNING', 3),
                              ('SUCCEEDED', 4), ('FAILED', 5), ('DEAD', 6), ('CANCELLED', 7)),
outcomes(outcome, ord) AS (VALUES ('SUCCEEDED'::taskflow.job_state, 1), ('FAILED', 2), ('DEAD', 3),
                                  ('CANCELLED', 4)),
-- jobs not finished, and FAILED, DEAD and CANCELLED ones kept: one branch per partial index
live AS MATERIALIZED (
  SELECT j.queue, j.state, count(*) AS n,
         min(j.next_run_at) FILTER (WHERE j.state IN ('PENDING', 'SCHEDULED') AND j.next_run_at <= now())
           AS oldest_ready
  FROM taskflow._rows_jobs_kept() j GROUP BY j.queue, j.state),
fin AS MATERIALIZED (
  SELECT f.queue, f.outcome, sum(f.jobs) AS jobs, sum(f.retries) AS retries, sum(f.removed) AS removed
  FROM (SELECT s.queue, s.outcome, s.jobs, s.retries, s.removed FROM taskflow.stats_queue s
        UNION ALL
        SELECT t.queue, t.outcome, 1, t.retries, 0 FROM taskflow._metrics_tail(w) t) f
  GROUP BY f.queue, f.outcome),
lines AS (
  -- taskflow_jobs
  SELECT 1 AS family, q.queue AS k1, s.ord AS k2, 0 AS k3,
         format('taskflow_jobs{queue=%s,state=%s} %s', taskflow._prom_label(q.queue),
                taskflow._prom_label(lower(s.state::text)),
                CASE WHEN s.state = 'SUCCEEDED'
                     THEN greatest((SELECT f.jobs - f.removed FROM fin f
                                    WHERE f.queue = q.queue AND f.outcome = 'SUCCEEDED'), 0)
                     ELSE COALESCE((SELECT sum(l.n) FROM live l WHERE l.queue = q.queue AND l.state = s.state), 0)
                END::bigint) AS line
  FROM queues q CROSS JOIN states s
  UNION ALL
  -- taskflow_jobs_finished_total
  SELECT 2, q.queue, o.ord, 0,
         format('taskflow_jobs_finished_total{queue=%s,outcome=%s} %s', taskflow._prom_label(q.queue),
                taskflow._prom_label(lower(o.outcome::text)),
                COALESCE((SELECT f.jobs FROM fin f WHERE f.queue = q.queue AND f.outcome = o.outcome), 0))
  FROM queues q CROSS JOIN outcomes o
  UNION ALL
  -- taskflow_job_retries_total
  SELECT 3, q.queue, 0, 0,
         format('taskflow_job_retries_total{queue=%s} %s', taskflow._prom_label(q.queue),
                COALESCE((SELECT sum(f.retries) FROM fin f WHERE f.queue = q.queue), 0))
  FROM queues q
  UNION ALL
  -- taskflow_oldest_ready_job_age_seconds
  SELECT 6, q.queue, 0, 0,
         format('taskflow_oldest_ready_job_age_seconds{queue=%s} %s', taskflow._prom_label(q.queue),
                taskflow._prom_value(COALESCE(
                  (SELECT extract(epoch FROM now() - min(l.oldest_ready))::double precision
                   FROM live l WHERE l.queue = q.queue), 0)))
  FROM queues q)
SELECT * FROM lines;
END
$$;

-- The lines of the histograms of the jobs per queue: taskflow_job_wait_seconds and
-- taskflow_job_run_seconds (families 4 and 5: cumulative buckets, then _sum and _count), each with
-- its family and sort keys; `w` is the roll-up watermark.
CREATE FUNCTION taskflow._metrics_histogram_lines(w timestamptz)
RETURNS TABLE(family integer, k1 text, k2 integer, k3 integer, line text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
RETURN QUERY
WITH
tail AS MATERIALIZED (SELECT * FROM taskflow._metrics_tail(w)),
queues AS MATERIALIZED (SELECT q.queue FROM taskflow._rows_metrics_queues() q),
fin AS MATERIALIZED (
  SELECT f.queue, sum(f.wait_count) AS wait_count, sum(f.wait_sum) AS wait_sum,
         sum(f.run_count) AS run_count, sum(f.run_sum) AS run_sum
  FROM (SELECT s.queue, s.wait_count, s.wait_sum, s.run_count, s.run_sum FROM taskflow.stats_queue s
        UNION ALL
        SELECT t.queue, (t.wait_s IS NOT NULL)::int, COALESCE(t.wait_s, 0),
               (t.run_s IS NOT NULL)::int, COALESCE(t.run_s, 0) FROM tail t) f
  GROUP BY f.queue),
hist AS MATERIALIZED (
  SELECT h.queue, h.metric, h.bucket, sum(h.observations) AS observations
  FROM (SELECT s.queue, s.metric, s.bucket, s.observations FROM taskflow.stats_histogram s
        UNION ALL
        SELECT t.queue, m.metric,
               (24 - width_bucket((-m.v)::double precision, '{-3600,-1800,-600,-300,-120,-60,-30,-10,-5,-2.5,-1,-0.5,-0.25,-0.1,-0.05,-0.025,-0.01,-0.005,-0.0025,-0.001,-0.0005,-0.00025,-0.0001}'::double precision[]))::smallint,
               1
        FROM tail t, LATERAL (VALUES ('wait', t.wait_s), ('run', t.run_s)) AS m(metric, v)
        WHERE m.v IS NOT NULL) h
  GROUP BY h.queue, h.metric, h.bucket),
lines AS (
  -- the histograms: cumulative buckets, then _sum and _count
  SELECT CASE m.metric WHEN 'wait' THEN 4 ELSE 5 END AS family, q.queue AS k1, b.bucket AS k2, 0 AS k3,
         format('taskflow_job_%s_seconds_bucket{queue=%s,le=%s} %s', m.metric, taskflow._prom_label(q.queue),
                taskflow._prom_label(CASE WHEN b.bucket <= 23
                                          THEN (taskflow._histogram_bounds())[b.bucket]::text ELSE '+Inf' END),
                COALESCE((SELECT sum(h.observations) FROM hist h
                          WHERE h.queue = q.queue AND h.metric = m.metric AND h.bucket <= b.bucket), 0)) AS line
  FROM queues q CROSS JOIN (VALUES ('wait'), ('run')) AS m(metric)
       CROSS JOIN generate_series(1, 24) AS b(bucket)
  UNION ALL
  SELECT CASE m.metric WHEN 'wait' THEN 4 ELSE 5 END, q.queue, 20, 0,
         format('taskflow_job_%s_seconds_sum{queue=%s} %s', m.metric, taskflow._prom_label(q.queue),
                COALESCE((SELECT sum(CASE m.metric WHEN 'wait' THEN f.wait_sum ELSE f.run_sum END)
                          FROM fin f WHERE f.queue = q.queue), 0))
  FROM queues q CROSS JOIN (VALUES ('wait'), ('run')) AS m(metric)
  UNION ALL
  SELECT CASE m.metric WHEN 'wait' THEN 4 ELSE 5 END, q.queue, 21, 0,
         format('taskflow_job_%s_seconds_count{queue=%s} %s', m.metric, taskflow._prom_label(q.queue),
                COALESCE((SELECT sum(CASE m.metric WHEN 'wait' THEN f.wait_count ELSE f.run_count END)
                          FROM fin f WHERE f.queue = q.queue), 0))
  FROM queues q CROSS JOIN (VALUES ('wait'), ('run')) AS m(metric))
SELECT * FROM lines;
END
$$;

-- The lines of the per-tenant metric families of the jobs, taskflow_tenant_jobs and
-- taskflow_tenant_jobs_finished_total (7 and 8), each with its family and sort keys, bounded to
-- the `max_tenants` top tenants by finished jobs plus tenant_id="other"; `w` is the roll-up
-- watermark.
CREATE FUNCTION taskflow._metrics_tenant_lines(w timestamptz, max_tenants integer)
RETURNS TABLE(family integer, k1 text, k2 bigint, k3 integer, line text)
LANGUAGE plpgsql STABLE
AS $$
BEGIN
RETURN QUERY
WITH
states(state, ord) AS (VALUES ('PENDING'::taskflow.job_state, 1), ('SCHEDULED', 2), ('RUNNING', 3)),
outcomes(outcome, ord) AS (VALUES ('SUCCEEDED'::taskflow.job_state, 1), ('FAILED', 2), ('DEAD', 3),
                                  ('CANCELLED', 4)),
-- unfinished jobs per tenant and state: one branch per partial index
live AS MATERIALIZED (
  SELECT j.tenant_id, j.state, count(*) AS n
  FROM (SELECT tenant_id, state FROM taskflow.jobs WHERE state = 'PENDING'
        UNION ALL
        SELECT tenant_id, state FROM taskflow.jobs WHERE state = 'SCHEDULED'
        UNION ALL
        SELECT tenant_id, state FROM taskflow.jobs WHERE state = 'RUNNING') j
  GROUP BY j.tenant_id, j.state),
tail AS MATERIALIZED (SELECT * FROM taskflow._metrics_tail(w)),
-- finished jobs per outcome, all tenants: the counters plus the tail
fin AS MATERIALIZED (
  SELECT f.outcome, sum(f.jobs) AS jobs
  FROM (SELECT s.outcome, s.jobs FROM taskflow.stats_queue s
        UNION ALL SELECT t.outcome, 1 FROM tail t) f
  GROUP BY f.outcome),
-- the top tenants by finished jobs: the volume index's first ones and the tail's tenants are
-- the only candidates (nobody else can rank above the last of the index's first ones)
tail_volume AS MATERIALIZED (SELECT t.tenant_id, count(*) AS jobs FROM tail t GROUP BY t.tenant_id),
candidates AS MATERIALIZED (
  SELECT c.tenant_id,
         COALESCE((SELECT v.jobs FROM taskflow.stats_tenant_volume v WHERE v.tenant_id = c.tenant_id), 0)
         + COALESCE(tv.jobs, 0) AS volume
  FROM ((SELECT v.tenant_id FROM taskflow.stats_tenant_volume v WHERE v.tenant_id <> 'other'
         ORDER BY v.jobs DESC, v.tenant_id LIMIT max_tenants)
        UNION SELECT t.tenant_id FROM tail_volume t WHERE t.tenant_id <> 'other') c
  LEFT JOIN tail_volume tv ON tv.tenant_id = c.tenant_id),
top AS MATERIALIZED (SELECT c.tenant_id, row_number() OVER (ORDER BY c.volume DESC, c.tenant_id) AS ord
        FROM candidates c ORDER BY c.volume DESC, c.tenant_id LIMIT max_tenants),
tenants AS MATERIALIZED (SELECT tp.tenant_id AS label, tp.tenant_id, tp.ord FROM top tp
            UNION ALL SELECT 'other', NULL, max_tenants + 1),
tenant_fin AS MATERIALIZED (
  SELECT x.tenant_id, x.outcome, sum(x.jobs) AS jobs
  FROM (SELECT s.tenant_id, s.outcome, s.jobs
        FROM top tp CROSS JOIN LATERAL (   -- OFFSET 0: one primary key lookup per top tenant
          SELECT * FROM taskflow.stats_tenant s WHERE s.tenant_id = tp.tenant_id OFFSET 0) s
        UNION ALL
        SELECT t.tenant_id, t.outcome, 1 FROM tail t WHERE t.tenant_id IN (SELECT tenant_id FROM top)) x
  GROUP BY x.tenant_id, x.outcome),
tenant_live AS MATERIALIZED (
  SELECT l.tenant_id, l.state, sum(l.n) AS n FROM live l
  WHERE l.tenant_id IN (SELECT tenant_id FROM top) GROUP BY l.tenant_id, l.state),
lines AS (
  -- per tenant, bounded: unfinished jobs
  SELECT 7 AS family, '' AS k1, t.ord AS k2, s.ord AS k3,
         format('taskflow_tenant_jobs{tenant_id=%s,state=%s} %s', taskflow._prom_label(t.label),
                taskflow._prom_label(lower(s.state::text)),
                CASE WHEN t.tenant_id IS NOT NULL
                     THEN COALESCE((SELECT tl.n FROM tenant_live tl
                                    WHERE tl.tenant_id = t.tenant_id AND tl.state = s.state), 0)
                     ELSE COALESCE((SELECT sum(l.n) FROM live l WHERE l.state = s.state), 0)
                          - COALESCE((SELECT sum(tl.n) FROM tenant_live tl WHERE tl.state = s.state), 0)
                END) AS line
  FROM tenants t CROSS JOIN states s WHERE s.ord <= 3
  UNION ALL
  -- per tenant, bounded: finished jobs
  SELECT 8, '', t.ord, o.ord,
         format('taskflow_tenant_jobs_finished_total{tenant_id=%s,outcome=%s} %s', taskflow._prom_label(t.label),
                taskflow._prom_label(lower(o.outcome::text)),
                CASE WHEN t.tenant_id IS NOT NULL
                     THEN COALESCE((SELECT tf.jobs FROM tenant_fin tf
                                    WHERE tf.tenant_id = t.tenant_id AND tf.outcome = o.outcome), 0)
                     ELSE COALESCE((SELECT sum(f.jobs) FROM fin f WHERE f.outcome = o.outcome), 0)
                          - COALESCE((SELECT sum(tf.jobs) FROM tenant_fin tf WHERE tf.outcome = o.outcome), 0)
                END)
  FROM tenants t CROSS JOIN outcomes o)
SELECT * FROM lines;
END
$$;

-- The metric families of the jobs, one text block; `w` is the roll-up watermark. Each family is
-- its HELP and TYPE lines, then its lines in the order of their sort keys. Three statements
-- make the lines (per queue, histograms, per tenant): each reads the tail (the jobs finished since
-- the watermark, about one maintenance interval of them), the per-tenant one counts the
-- unfinished jobs again in its own grouping; the kept FAILED, DEAD and CANCELLED jobs are read
-- once. PL/pgSQL, as the three are: their plans are kept for the session (a LANGUAGE sql
-- function that is not inlined is planned again at every call, which was most of a scrape's
-- time); taskflow._metrics_tail keeps those plans independent of the watermark.
CREATE FUNCTION taskflow._metrics_jobs(w timestamptz, max_tenants integer) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN (
    WITH lines AS MATERIALIZED (
      SELECT * FROM taskflow._metrics_queue_lines(w)
      UNION ALL SELECT * FROM taskflow._metrics_histogram_lines(w)
      UNION ALL SELECT * FROM taskflow._metrics_tenant_lines(w, max_tenants))
    SELECT string_agg(
             format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, f.help, f.name, f.type)
             || COALESCE((SELECT string_agg(l.line || E'\n', '' ORDER BY l.k1, l.k2, l.k3)
                          FROM lines l WHERE l.family = f.family), ''),
             '' ORDER BY f.family)
    FROM taskflow._rows_metrics_families() f);
END
$$;

-- Automation rule firings per rule and outcome (created: jobs were created; skipped: the
-- condition did not hold; error: the firing failed: evaluating it raised, or it held but no job
-- could be created): rolled up, plus the
-- firings since the watermark. The max_rules most fired rules, the rest as rule="other".
CREATE FUNCTION taskflow._metrics_rules(w timestamptz, max_rules integer) RETURNS text
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  body text;
BEGIN
  -- EXECUTE: planned with the watermark's value, so the tail is an index range scan
  EXECUTE $q$
    WITH f AS MATERIALIZED (
      SELECT y.rule_id, y.outcome, sum(y.n) AS n
      FROM (SELECT s.rule_id, s.outcome, s.firings AS n FROM taskflow.stats_rule_firings s
            UNION ALL
            SELECT x.rule_id, CASE WHEN x.error IS NOT NULL THEN 'error' WHEN NOT x.matched THEN 'skipped'
                                   ELSE 'created' END, 1
            FROM taskflow.rule_firings x WHERE x.fired_at >= $1) y
      GROUP BY 1, 2),
    ranked AS MATERIALIZED (
      SELECT f.rule_id, row_number() OVER (ORDER BY sum(f.n) DESC, f.rule_id) AS ord
      FROM f GROUP BY f.rule_id),
    outcomes(outcome, ord) AS (VALUES ('created', 1), ('skipped', 2), ('error', 3)),
    rules AS (
      SELECT r.rule_id::text AS rule_id, COALESCE(a.name, '(dropped)') AS name, r.ord
      FROM ranked r LEFT JOIN taskflow.automation_rules a ON a.id = r.rule_id WHERE r.ord <= $2
      UNION ALL
      SELECT 'other', 'other', $2 + 1 WHERE EXISTS (SELECT FROM ranked WHERE ord > $2))
    SELECT string_agg(format('taskflow_rule_firings_total{rule=%s,rule_id=%s,outcome=%s} %s',
                             taskflow._prom_label(r.name), taskflow._prom_label(r.rule_id),
                             taskflow._prom_label(o.outcome),
                             COALESCE((SELECT sum(f.n) FROM f JOIN ranked k ON k.rule_id = f.rule_id
                                       WHERE f.outcome = o.outcome
                                         AND CASE WHEN r.rule_id = 'other' THEN k.ord > $2
                                                  ELSE f.rule_id::text = r.rule_id END), 0)) || E'\n',
                      '' ORDER BY r.ord, o.ord)
    FROM rules r CROSS JOIN outcomes o
  $q$ INTO body USING w, max_rules;
  RETURN E'# HELP taskflow_rule_firings_total Automation rule firings per rule and outcome (created, skipped, error); rules beyond the most fired ones are summed as rule="other".\n'
      || E'# TYPE taskflow_rule_firings_total counter\n' || COALESCE(body, '');
END
$$;

-- The git commit (short hash) the loaded taskflow library was built from, 'unknown' when it was
-- built outside a git checkout (scripts/build_commit.sh): taskflow_build_info{revision}.
CREATE FUNCTION taskflow._build_commit() RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_build_commit'
LANGUAGE C STABLE PARALLEL SAFE;

CREATE FUNCTION taskflow.metrics(max_tenants integer DEFAULT 10) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  IF max_tenants IS NULL OR max_tenants < 0 OR max_tenants > 1000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_tenants must be between 0 and 1000',
      HINT = 'Per-tenant series are bounded so that many tenants cannot blow up a scrape.';
  END IF;
  -- One statement, so one snapshot: the watermark and the counters it goes with are read
  -- together (the functions called are STABLE and read this statement's snapshot). Read in two
  -- statements, a roll-up committing in between moved jobs from the tail (finished since the
  -- watermark read) into the counters read next, and the scrape counted them twice
  -- (test/t/metrics_snapshot.t).
  RETURN (
    SELECT taskflow._metrics_jobs(m.w, max_tenants)
        || taskflow._metrics_rules(m.w, 100)
        || E'# HELP taskflow_stats_rollup_lag_seconds Age of the counters\' roll-up watermark (finished jobs newer than it are counted from the jobs table at each scrape).\n'
        || E'# TYPE taskflow_stats_rollup_lag_seconds gauge\n'
        || 'taskflow_stats_rollup_lag_seconds '
        || CASE WHEN isfinite(m.w) THEN taskflow._prom_value(extract(epoch FROM now() - m.w)::double precision)
                ELSE '+Inf' END || E'\n'
        -- what runs: the installed extension version, the git commit its library was built from
        -- and the server's version (always 1)
        || E'# HELP taskflow_build_info The installed TaskFlow extension version, the git commit its library was built from and the PostgreSQL server version; always 1.\n'
        || E'# TYPE taskflow_build_info gauge\n'
        || format(E'taskflow_build_info{version=%s,revision=%s,postgresql_version=%s} 1\n',
                  taskflow._prom_label((SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'taskflow')),
                  taskflow._prom_label(taskflow._build_commit()),
                  taskflow._prom_label(current_setting('server_version')))
    FROM (SELECT COALESCE((SELECT x.rolled_up_to FROM taskflow.stats_watermark x), '-infinity') AS w) m);
END
$$;

COMMENT ON FUNCTION taskflow.metrics(integer) IS
  'Prometheus text exposition format: jobs per state, finished and retry counters, wait/run '
  'histograms, oldest ready job, rule firings; per-tenant series for the top max_tenants '
  'tenants plus tenant_id="other". See docs/observability.md.';
COMMENT ON FUNCTION taskflow.reset_stats() IS
  'Restarts the metrics counters from the jobs in the table (history already deleted is lost).';
COMMENT ON FUNCTION taskflow._rollup(integer) IS
  'Folds jobs finished since the watermark into the stats_* counters (called by _clean).';

-- ---------------------------------------------------------------------------------------------
-- Privileges (090_grants.sql revokes everything from PUBLIC again after all files)
-- ---------------------------------------------------------------------------------------------
REVOKE ALL ON FUNCTION
  taskflow._histogram_bounds(), taskflow._histogram_bucket_sql(text),
  taskflow._observation_sql(), taskflow._stats_apply_sql(text),
  taskflow._finished_between_sql(timestamptz, timestamptz), taskflow._rollup(integer),
  taskflow._stats_on_jobs_removed(), taskflow.reset_stats(),
  taskflow._prom_label(text), taskflow._prom_value(double precision),
  taskflow._metrics_jobs(timestamptz, integer), taskflow._metrics_rules(timestamptz, integer),
  taskflow._firings_apply_sql(text), taskflow._stats_on_firings_delete(),
  taskflow._queue_stats(),
  taskflow._hist_put(bigint[], integer, bigint), taskflow._hist_add(bigint[], bigint[]),
  taskflow._hist_quantile(double precision, bigint[]),
  taskflow._hist_sql(text, text, text),
  taskflow._queue_stats_per_queue(boolean),
  taskflow.metrics(integer)
FROM PUBLIC;
REVOKE ALL ON taskflow.stats_watermark, taskflow.stats_queue, taskflow.stats_tenant,
  taskflow.stats_tenant_volume, taskflow.stats_histogram, taskflow.stats_rule_firings,
  taskflow.stats_series, taskflow.stats_series_tenant,
  taskflow.queue_stats FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskflow.metrics(integer) TO taskflow_admin, taskflow_worker;
-- Admins may run everything; the helpers write nothing of their own (_rollup and reset_stats
-- only rebuild counters), so this gives them nothing the view and metrics() do not show.
GRANT EXECUTE ON FUNCTION
  taskflow._histogram_bounds(), taskflow._histogram_bucket_sql(text),
  taskflow._observation_sql(), taskflow._stats_apply_sql(text),
  taskflow._finished_between_sql(timestamptz, timestamptz), taskflow._rollup(integer),
  taskflow._stats_on_jobs_removed(), taskflow.reset_stats(),
  taskflow._prom_label(text), taskflow._prom_value(double precision),
  taskflow._metrics_jobs(timestamptz, integer), taskflow._metrics_rules(timestamptz, integer),
  taskflow._firings_apply_sql(text), taskflow._stats_on_firings_delete(),
  taskflow._queue_stats(),
  taskflow._hist_put(bigint[], integer, bigint), taskflow._hist_add(bigint[], bigint[]),
  taskflow._hist_quantile(double precision, bigint[]),
  taskflow._hist_sql(text, text, text),
  taskflow._queue_stats_per_queue(boolean)
TO taskflow_admin;
GRANT SELECT ON taskflow.queue_stats, taskflow.stats_watermark, taskflow.stats_queue,
  taskflow.stats_tenant, taskflow.stats_tenant_volume, taskflow.stats_histogram,
  taskflow.stats_rule_firings, taskflow.stats_series, taskflow.stats_series_tenant TO taskflow_admin;
