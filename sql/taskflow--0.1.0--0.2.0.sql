-- TaskFlow upgrade 0.1.0 -> 0.2.0 (ALTER EXTENSION taskflow UPDATE). Hand-written: every change
-- between sql/releases/taskflow--0.1.0.sql and the 0.2.0 sql/src/*.sql, in this order
-- (docs/releasing.md, "Adding an upgrade script"):
--   1. roles, types, tables, columns, constraints, indexes, policies (by hand: data must survive)
--   2. data migrations (rows whose meaning changed)
--   3. functions: the new definition copied from sql/src, as CREATE OR REPLACE FUNCTION (DROP
--      FUNCTION first when the arguments or the return type changed), in sql/src's file order;
--      then 095_function_settings.sql again (jit, enable_seqscan, VOLATILE), then what sql/src
--      creates after it (096_shard.sql)
--   4. grants, revokes and comments of the new or changed objects
-- Each section has one block per sql/src file, headed by the file's name: a later change to
-- that file adds its lines to the block (or a new block, in file order).
-- test/t/upgrade.t installs 0.1.0, fills it, runs this script, runs the pgTAP suites and compares
-- every object with a fresh 0.2.0 install; its output names each object that differs.
\echo Use "ALTER EXTENSION taskflow UPDATE TO '0.2.0'" to load this file. \quit

-- =============================================================================================
-- 1. roles, tables, columns, constraints, indexes
-- =============================================================================================

-- --- 010_tables.sql: trace context (W3C traceparent) kept on the job; existing jobs have none.
-- The last column of jobs in sql/src too (ADD COLUMN appends; the column order must match).
ALTER TABLE taskflow.jobs ADD COLUMN traceparent text;

-- --- 076_dashboard_jobs.sql: dead letters counted from a DEAD-only index (builds it over the
-- existing DEAD jobs: the update holds a lock on taskflow.jobs meanwhile).
CREATE INDEX jobs_dead_idx ON taskflow.jobs (tenant_id, job_type, last_error_type) INCLUDE (finished_at, id)
  WHERE state = 'DEAD';

-- --- 080_http.sql: worker API keys. Roles are cluster-wide: another database of the cluster
-- may have created taskflow_http_worker already (as 080_http.sql does, only when missing).
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskflow_http_worker') THEN
    CREATE ROLE taskflow_http_worker NOLOGIN;
  END IF;
END
$roles$;
SELECT taskflow._grant_role_once('taskflow_http_worker', 'taskflow_worker');
SELECT taskflow._grant_role_once('taskflow_http', 'taskflow_http_worker');

-- api_keys accepts role 'worker' (tenant_id NULL). The constraints keep the names PostgreSQL
-- gave them in a fresh install (column check api_keys_role_check, table checks api_keys_check
-- and api_keys_check1). Every existing key (client with a tenant, admin) satisfies them.
ALTER TABLE taskflow.api_keys
  DROP CONSTRAINT api_keys_role_check,
  DROP CONSTRAINT api_keys_check,
  ADD CONSTRAINT api_keys_role_check CHECK (role IN ('client', 'admin', 'worker')),
  ADD CONSTRAINT api_keys_check CHECK (role = 'admin' OR role = 'worker' OR tenant_id IS NOT NULL),
  ADD CONSTRAINT api_keys_check1 CHECK (role <> 'worker' OR tenant_id IS NULL);

-- =============================================================================================
-- 2. data migrations
-- =============================================================================================

-- --- 070_observability.sql: the wait/run histograms gained 5 bounds below 5 ms (0.1, 0.25,
-- 0.5, 1 and 2.5 ms; 23 bounds, 24 buckets with +Inf, were 18 and 19). Old bucket b is new
-- bucket b + 5 (the same upper bound); the five new buckets start empty. Observations of the
-- old first bucket (<= 5 ms) land in the new (2.5 ms, 5 ms] bucket: every cumulative count
-- from le="0.005" up is exact, the finer ones count only what is observed after the update.
-- The percentiles stored next to the series (wait_p50, ...) were computed from the same
-- observations and are kept.
-- stats_histogram's primary key includes the bucket and is checked row by row: move the
-- buckets out of the way (negative) first, so that no intermediate row collides.
UPDATE taskflow.stats_histogram SET bucket = -bucket WHERE bucket BETWEEN 1 AND 19;
UPDATE taskflow.stats_histogram SET bucket = 5 - bucket WHERE bucket < 0;
UPDATE taskflow.stats_series
  SET wait_hist = '{0,0,0,0,0}'::bigint[] || wait_hist, run_hist = '{0,0,0,0,0}'::bigint[] || run_hist
  WHERE pg_catalog.array_length(wait_hist, 1) = 19;
UPDATE taskflow.stats_series_tenant
  SET wait_hist = '{0,0,0,0,0}'::bigint[] || wait_hist, run_hist = '{0,0,0,0,0}'::bigint[] || run_hist
  WHERE pg_catalog.array_length(wait_hist, 1) = 19;

-- =============================================================================================
-- 3. functions
-- =============================================================================================

-- Signatures or result types that changed: dropped, created below, re-granted in section 4.
DROP FUNCTION taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval);
DROP FUNCTION taskflow._job_spec(jsonb, bigint);            -- OUT traceparent
DROP FUNCTION taskflow.acquire(text, text[], integer, interval, text[]);  -- returns traceparent
DROP FUNCTION taskflow.handle_webhook(text, text, text, text);
DROP AGGREGATE taskflow._hist_agg(integer, bigint);         -- INITCOND has 24 buckets

-- --- 030_jobs.sql
CREATE FUNCTION taskflow.schedule(job_type text, payload jsonb DEFAULT '{}',
    queue text DEFAULT 'default', tenant_id text DEFAULT 'default',
    run_at timestamptz DEFAULT NULL, priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL, unique_key text DEFAULT NULL,
    correlation_id text DEFAULT NULL, parent_job_id bigint DEFAULT NULL,
    timeout interval DEFAULT NULL, traceparent text DEFAULT NULL) RETURNS bigint
AS 'MODULE_PATHNAME', 'taskflow_schedule'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- One element of schedule_many's array as typed columns; a clear error names the element.
CREATE FUNCTION taskflow._job_spec(j jsonb, n bigint,
    OUT job_type text, OUT payload jsonb, OUT queue text, OUT tenant_id text,
    OUT run_at timestamptz, OUT priority integer, OUT max_attempts integer,
    OUT unique_key text, OUT correlation_id text, OUT parent_job_id bigint,
    OUT timeout interval, OUT traceparent text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
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

CREATE OR REPLACE FUNCTION taskflow.get_job(job_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
    'lease_expires_at', j.lease_expires_at, 'traceparent', j.traceparent)
  FROM taskflow.jobs j
  WHERE j.id = get_job.job_id
    AND j.tenant_id = COALESCE(taskflow._caller_tenant(), j.tenant_id)  -- another tenant's: NULL
$$;

-- The job as clients see it: every column except the lease's secrets (token, duration).
CREATE OR REPLACE VIEW taskflow.job_summaries WITH (security_invoker = true) AS
  SELECT j.id, j.job_type, j.queue, j.tenant_id, j.state, j.payload, j.priority, j.attempts,
         j.max_attempts, j.next_run_at, j.created_at, j.started_at, j.finished_at,
         j.last_error_type, j.last_error_message, j.result, j.correlation_id, j.parent_job_id,
         j.unique_key, j.cancel_requested, j.cancel_reason, j.timeout, j.worker_id,
         j.lease_expires_at, j.traceparent
  FROM taskflow.jobs j;

CREATE OR REPLACE FUNCTION taskflow.job_history(job_id bigint) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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

-- --- 040_worker.sql
CREATE FUNCTION taskflow.acquire(worker_id text, queues text[] DEFAULT ARRAY['default'],
    max_jobs integer DEFAULT 1, lease interval DEFAULT NULL, job_types text[] DEFAULT NULL)
RETURNS TABLE(job_id bigint, attempt integer, lease_token uuid, job_type text, payload jsonb,
              queue text, tenant_id text, correlation_id text, lease_expires_at timestamptz,
              timeout interval, traceparent text)
AS 'MODULE_PATHNAME', 'taskflow_acquire'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 10
SET search_path = pg_catalog, pg_temp;

-- Snooze: the handler asks for the job to run again after `delay`, without using up an attempt.
CREATE FUNCTION taskflow.snooze(job_id bigint, lease_token uuid, delay interval)
RETURNS taskflow.job_state
AS 'MODULE_PATHNAME', 'taskflow_snooze'
LANGUAGE C VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- --- 060_rules.sql
-- A webhook call: finds the rule by key, checks the signature (HMAC-SHA256 of the raw body),
-- deduplicates by delivery_id and fires the rule with the body in the context.
CREATE FUNCTION taskflow.handle_webhook(key text, body text, signature text DEFAULT NULL,
    delivery_id text DEFAULT NULL, traceparent text DEFAULT NULL)
RETURNS SETOF bigint
AS 'MODULE_PATHNAME', 'taskflow_handle_webhook'
LANGUAGE C VOLATILE SECURITY DEFINER ROWS 1
SET search_path = pg_catalog, pg_temp;

-- --- 065_tenancy.sql: pausing or resuming an unknown queue hints how to list and create queues.
CREATE OR REPLACE FUNCTION taskflow._set_queue_paused(name text, paused boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE taskflow.queues q SET paused = _set_queue_paused.paused, updated_at = now()
   WHERE q.name = _set_queue_paused.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name),
      HINT = 'List the queues with SELECT name FROM taskflow.queues (or: taskflow queues list); '
             'create one with SELECT taskflow.create_queue(''name'').';
  END IF;
  IF NOT paused THEN
    PERFORM pg_notify('taskflow_' || name, '');  -- wake the workers now
  END IF;
END
$$;

-- --- 070_observability.sql
-- A histogram (bigint[24]) with n more observations in bucket b; the transition function of
-- _hist_agg.
CREATE OR REPLACE FUNCTION taskflow._hist_put(h bigint[], b integer, n bigint) RETURNS bigint[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN b IS NULL OR n IS NULL OR n = 0 OR b < 1 OR b > 24 THEN h
              ELSE h[1:b - 1] || (h[b] + n) || h[b + 1:24] END
$$;

-- The histogram of (bucket, observations) rows.
CREATE AGGREGATE taskflow._hist_agg(integer, bigint) (
  SFUNC = taskflow._hist_put, STYPE = bigint[],
  INITCOND = '{0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0}'
);

-- The roll-up builds and adds histograms with built-in operators instead (the two functions
-- above are SQL functions called once per row, which made rolling up 1,000,000 jobs over 10,000
-- tenants take over a minute): the histogram of (bucket, n) rows as 24 filtered sums, and
-- the sum of two histograms element by element, as SQL expressions.
CREATE OR REPLACE FUNCTION taskflow._hist_agg_sql(bucket text, n text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT 'ARRAY[' || string_agg(format('COALESCE(sum(%2$s) FILTER (WHERE %1$s = %3$s), 0)::bigint', bucket, n, i),
                                ', ' ORDER BY i) || ']::bigint[]'
  FROM generate_series(1, 24) AS i
$$;

CREATE OR REPLACE FUNCTION taskflow._hist_add_sql(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT 'ARRAY[' || string_agg(format('COALESCE(%1$s[%3$s], 0) + COALESCE(%2$s[%3$s], 0)', a, b, i),
                                ', ' ORDER BY i) || ']::bigint[]'
  FROM generate_series(1, 24) AS i
$$;

-- The q-quantile (0..1) in seconds of a histogram, as Prometheus' histogram_quantile does it:
-- the bucket holding rank q * total, linear interpolation between its bounds (0 below the
-- first); an observation in the +Inf bucket reads as the last bound (3600 s). NULL when empty.
CREATE OR REPLACE FUNCTION taskflow._hist_quantile(q double precision, h bigint[]) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
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

-- Upper bounds (seconds) of the histogram buckets; a last bucket +Inf follows.
CREATE OR REPLACE FUNCTION taskflow._histogram_bounds() RETURNS double precision[]
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT '{0.0001,0.00025,0.0005,0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600}'::double precision[]
$$;

-- The bucket of an observation: 1 + the number of bounds below it (Prometheus' le is
-- inclusive), as an SQL expression over `seconds` (inlined: a function call per row would cost
-- more than the rest of the roll-up).
CREATE OR REPLACE FUNCTION taskflow._histogram_bucket_sql(seconds text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT format('(24 - width_bucket((-(%s))::double precision, ''{-3600,-1800,-600,-300,-120,-60,-30,-10,-5,-2.5,-1,-0.5,-0.25,-0.1,-0.05,-0.025,-0.01,-0.005,-0.0025,-0.001,-0.0005,-0.00025,-0.0001}''::double precision[]))::smallint', seconds)
$$;

-- The metric families of the jobs, one text block; `w` is the roll-up watermark.
CREATE OR REPLACE FUNCTION taskflow._metrics_jobs(w timestamptz, max_tenants integer) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
WITH
queues AS (SELECT q.name AS queue FROM taskflow.queues q
           UNION SELECT s.queue FROM taskflow.stats_queue s),
states(state, ord) AS (VALUES ('PENDING'::taskflow.job_state, 1), ('SCHEDULED', 2), ('RUNNING', 3),
                              ('SUCCEEDED', 4), ('FAILED', 5), ('DEAD', 6), ('CANCELLED', 7)),
outcomes(outcome, ord) AS (VALUES ('SUCCEEDED'::taskflow.job_state, 1), ('FAILED', 2), ('DEAD', 3),
                                  ('CANCELLED', 4)),
-- jobs not finished, and FAILED, DEAD and CANCELLED ones kept: one branch per partial index
live AS MATERIALIZED (
  SELECT j.queue, j.tenant_id, j.state, count(*) AS n,
         min(j.next_run_at) FILTER (WHERE j.state IN ('PENDING', 'SCHEDULED') AND j.next_run_at <= now())
           AS oldest_ready
  FROM (SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'PENDING'
        UNION ALL
        SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'SCHEDULED'
        UNION ALL
        SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs WHERE state = 'RUNNING'
        UNION ALL
        SELECT queue, tenant_id, state, next_run_at FROM taskflow.jobs
        WHERE state IN ('FAILED', 'DEAD', 'CANCELLED')) j
  GROUP BY j.queue, j.tenant_id, j.state),
-- finished since the watermark: not in the counter tables yet
tail AS MATERIALIZED (
  SELECT j.queue, j.tenant_id, j.state AS outcome,
         greatest(j.attempts - j.budget_offset - 1, 0) AS retries,
         CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
           greatest(extract(epoch FROM j.started_at - j.next_run_at), 0) END AS wait_s,
         CASE WHEN j.state <> 'CANCELLED' AND j.started_at IS NOT NULL THEN
           greatest(extract(epoch FROM j.finished_at - j.started_at), 0) END AS run_s
  FROM (SELECT * FROM taskflow.jobs WHERE state = 'SUCCEEDED' AND finished_at >= w
        UNION ALL
        SELECT * FROM taskflow.jobs WHERE state IN ('FAILED', 'DEAD', 'CANCELLED') AND finished_at >= w) j),
fin AS MATERIALIZED (
  SELECT f.queue, f.outcome, sum(f.jobs) AS jobs, sum(f.retries) AS retries, sum(f.removed) AS removed,
         sum(f.wait_count) AS wait_count, sum(f.wait_sum) AS wait_sum,
         sum(f.run_count) AS run_count, sum(f.run_sum) AS run_sum
  FROM (SELECT s.queue, s.outcome, s.jobs, s.retries, s.removed, s.wait_count, s.wait_sum,
               s.run_count, s.run_sum FROM taskflow.stats_queue s
        UNION ALL
        SELECT t.queue, t.outcome, 1, t.retries, 0, (t.wait_s IS NOT NULL)::int, COALESCE(t.wait_s, 0),
               (t.run_s IS NOT NULL)::int, COALESCE(t.run_s, 0) FROM tail t) f
  GROUP BY f.queue, f.outcome),
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
  -- the histograms: cumulative buckets, then _sum and _count
  SELECT CASE m.metric WHEN 'wait' THEN 4 ELSE 5 END, q.queue, b.bucket, 0,
         format('taskflow_job_%s_seconds_bucket{queue=%s,le=%s} %s', m.metric, taskflow._prom_label(q.queue),
                taskflow._prom_label(CASE WHEN b.bucket <= 23
                                          THEN (taskflow._histogram_bounds())[b.bucket]::text ELSE '+Inf' END),
                COALESCE((SELECT sum(h.observations) FROM hist h
                          WHERE h.queue = q.queue AND h.metric = m.metric AND h.bucket <= b.bucket), 0))
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
  FROM queues q CROSS JOIN (VALUES ('wait'), ('run')) AS m(metric)
  UNION ALL
  -- taskflow_oldest_ready_job_age_seconds
  SELECT 6, q.queue, 0, 0,
         format('taskflow_oldest_ready_job_age_seconds{queue=%s} %s', taskflow._prom_label(q.queue),
                taskflow._prom_value(COALESCE(
                  (SELECT extract(epoch FROM now() - min(l.oldest_ready))::double precision
                   FROM live l WHERE l.queue = q.queue), 0)))
  FROM queues q
  UNION ALL
  -- per tenant, bounded: unfinished jobs
  SELECT 7, '', t.ord, s.ord,
         format('taskflow_tenant_jobs{tenant_id=%s,state=%s} %s', taskflow._prom_label(t.label),
                taskflow._prom_label(lower(s.state::text)),
                CASE WHEN t.tenant_id IS NOT NULL
                     THEN COALESCE((SELECT tl.n FROM tenant_live tl
                                    WHERE tl.tenant_id = t.tenant_id AND tl.state = s.state), 0)
                     ELSE COALESCE((SELECT sum(l.n) FROM live l WHERE l.state = s.state), 0)
                          - COALESCE((SELECT sum(tl.n) FROM tenant_live tl WHERE tl.state = s.state), 0)
                END)
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
  FROM tenants t CROSS JOIN outcomes o),
families(family, name, type, help) AS (VALUES
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
   'Finished jobs per outcome for the top tenants by finished jobs; tenant_id="other" holds the rest.'))
SELECT string_agg(block, '' ORDER BY family) FROM (
  SELECT f.family,
         format(E'# HELP %s %s\n# TYPE %s %s\n', f.name, f.help, f.name, f.type)
         || COALESCE((SELECT string_agg(l.line || E'\n', '' ORDER BY l.k1, l.k2, l.k3)
                      FROM lines l WHERE l.family = f.family), '') AS block
  FROM families f) b
$$;

-- The git commit (short hash) the loaded taskflow library was built from, 'unknown' when it was
-- built outside a git checkout (scripts/build_commit.sh): taskflow_build_info{revision}.
CREATE FUNCTION taskflow._build_commit() RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_build_commit'
LANGUAGE C STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp;

CREATE OR REPLACE FUNCTION taskflow.metrics(max_tenants integer DEFAULT 10) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  w timestamptz;
BEGIN
  IF max_tenants IS NULL OR max_tenants < 0 OR max_tenants > 1000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_tenants must be between 0 and 1000',
      HINT = 'Per-tenant series are bounded so that many tenants cannot blow up a scrape.';
  END IF;
  -- STABLE: every statement below reads the same snapshot, so counters and tail agree.
  SELECT COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity') INTO w;
  RETURN taskflow._metrics_jobs(w, max_tenants)
      || taskflow._metrics_rules(w, 100)
      || E'# HELP taskflow_stats_rollup_lag_seconds Age of the counters\' roll-up watermark (finished jobs newer than it are counted from the jobs table at each scrape).\n'
      || E'# TYPE taskflow_stats_rollup_lag_seconds gauge\n'
      || 'taskflow_stats_rollup_lag_seconds '
      || CASE WHEN isfinite(w) THEN taskflow._prom_value(extract(epoch FROM now() - w)::double precision)
              ELSE '+Inf' END || E'\n'
      -- what runs: the installed extension version, the git commit its library was built from
      -- and the server's version (always 1)
      || E'# HELP taskflow_build_info The installed TaskFlow extension version, the git commit its library was built from and the PostgreSQL server version; always 1.\n'
      || E'# TYPE taskflow_build_info gauge\n'
      || format(E'taskflow_build_info{version=%s,revision=%s,postgresql_version=%s} 1\n',
                taskflow._prom_label((SELECT e.extversion FROM pg_catalog.pg_extension e WHERE e.extname = 'taskflow')),
                taskflow._prom_label(taskflow._build_commit()),
                taskflow._prom_label(current_setting('server_version')));
END
$$;

-- --- 075_dashboard_overview.sql
-- The Overview: per queue its jobs by state, paused flag, concurrency limit and time series
-- over `range` (1 hour: 1-minute buckets; 24 hours: 15-minute buckets); the workers holding
-- leases or seen finishing jobs lately, with what they run now; the tenants running jobs,
-- against their limits. See docs/dashboard.md for each figure.
CREATE OR REPLACE FUNCTION taskflow.dashboard_overview(range interval DEFAULT '1 hour') RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET jit = off
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
  -- unfinished jobs and the FAILED, DEAD and CANCELLED ones kept (one branch per partial
  -- index), and the SUCCEEDED ones not rolled up yet
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
  -- SUCCEEDED jobs rolled up and still in the table (the Cleaner's deletions are counted)
  kept AS (
    SELECT s.queue, 'SUCCEEDED' AS state, sum(s.jobs - s.removed) AS n
    FROM taskflow.stats_queue s WHERE own IS NULL AND s.outcome = 'SUCCEEDED' GROUP BY s.queue
    UNION ALL
    SELECT s.queue, 'SUCCEEDED', sum(s.jobs - s.removed)
    FROM taskflow.stats_tenant s WHERE s.tenant_id = own AND s.outcome = 'SUCCEEDED' GROUP BY s.queue),
  counts AS (
    SELECT c.queue, c.state, greatest(sum(c.n), 0)::bigint AS n
    FROM (SELECT * FROM live UNION ALL SELECT * FROM kept) c GROUP BY 1, 2),
  -- the percentiles: stored by the roll-up for all tenants; a tenant's own rows (at most one
  -- per bucket and queue) estimated from their histograms now
  series_rows AS (
    SELECT s.t, s.queue, s.completed, s.failed, s.wait_p50, s.wait_p95, s.run_p50, s.run_p95
    FROM taskflow.stats_series s WHERE own IS NULL AND s.width = bucket_width AND s.t >= since
    UNION ALL
    SELECT s.t, s.queue, s.completed, s.failed,
           taskflow._hist_quantile(0.5, s.wait_hist), taskflow._hist_quantile(0.95, s.wait_hist),
           taskflow._hist_quantile(0.5, s.run_hist), taskflow._hist_quantile(0.95, s.run_hist)
    FROM taskflow.stats_series_tenant s
    WHERE s.tenant_id = own AND s.width = bucket_width AND s.t >= since),
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
                        FROM unnest(ARRAY['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED',
                                          'DEAD', 'CANCELLED']) WITH ORDINALITY AS st(s, o)
                        LEFT JOIN counts c ON c.queue = sh.name AND c.state = st.s),
             'series', COALESCE(se.points, '[]'::jsonb))
           ORDER BY sh.name), '[]'::jsonb) AS doc
    FROM shown sh LEFT JOIN series se ON se.queue = sh.name),
  -- what runs now: RUNNING jobs (the RUNNING index; at most 1000, the longest running first)
  running AS (
    SELECT j.id, j.job_type, j.queue, j.tenant_id, j.worker_id, j.started_at, j.lease_expires_at
    FROM taskflow.jobs j
    WHERE j.state = 'RUNNING' AND (own IS NULL OR j.tenant_id = own) AND j.worker_id IS NOT NULL
    ORDER BY j.started_at, j.id LIMIT 1000),
  -- workers seen lately: the holders of the newest 2000 finished jobs of the last 15 minutes
  -- (through the finished_at indexes; a worker idle longer drops off the list)
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
    FROM running r GROUP BY r.worker_id),
  workers AS (
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
             'worker_id', wi.worker_id, 'last_seen_at', wi.last_seen_at,
             'running', COALESCE(rw.jobs, '[]'::jsonb))
           ORDER BY wi.worker_id), '[]'::jsonb) AS doc
    FROM worker_ids wi LEFT JOIN running_by_worker rw ON rw.worker_id = wi.worker_id),
  -- tenants: an admin sees the 100 running the most jobs, a tenant itself
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
    WHERE own IS NOT NULL),
  tenants AS (
    SELECT COALESCE(jsonb_agg(jsonb_build_object(
             'tenant_id', r.tenant_id, 'running', r.running, 'max_running', t.max_running,
             'weight', COALESCE(t.weight, 1))
           ORDER BY r.running DESC, r.tenant_id), '[]'::jsonb) AS doc
    -- jobs.tenant_id is COLLATE "C", tenants.id is not: compare in the key's collation, or the
    -- primary key cannot serve the lookup (a sequential scan of every registered tenant)
    FROM tenant_rows r LEFT JOIN taskflow.tenants t ON t.id = r.tenant_id COLLATE "default")
  SELECT jsonb_build_object(
    'generated_at', now(), 'range', CASE WHEN bucket_width = 60 THEN '1h' ELSE '24h' END,
    'bucket_seconds', bucket_width, 'rolled_up_to', w,
    'queues', (SELECT doc FROM queues), 'workers', (SELECT doc FROM workers),
    'tenants', (SELECT doc FROM tenants))
  INTO result;
  RETURN result;
END
$$;

-- --- 076_dashboard_jobs.sql
CREATE OR REPLACE FUNCTION taskflow.dead_letter_groups(max_jobs integer DEFAULT 100000) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan   -- planned with `own` known: no tenant filter for admins
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  result jsonb;
BEGIN
  IF max_jobs IS NULL OR max_jobs < 1 OR max_jobs > 1000000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_jobs must be between 1 and 1000000';
  END IF;
  WITH d AS (
    SELECT j.id, j.job_type, j.last_error_type, j.finished_at FROM taskflow.jobs j
    WHERE j.state = 'DEAD' AND (own IS NULL OR j.tenant_id = own)
    LIMIT max_jobs + 1),
  g AS (
    SELECT d.job_type, d.last_error_type AS error_type, count(*) AS n, max(d.finished_at) AS last_at,
           max(d.id) AS sample
    FROM (SELECT * FROM d LIMIT max_jobs) d GROUP BY 1, 2)
  SELECT jsonb_build_object('groups', COALESCE(jsonb_agg(jsonb_build_object('job_type', g.job_type,
           'error_type', g.error_type, 'count', g.n, 'last_at', g.last_at, 'sample_job_id', g.sample,
           'sample_error', (SELECT left(x.last_error_message, 200) FROM taskflow.jobs x WHERE x.id = g.sample))
           ORDER BY g.n DESC, g.job_type, g.error_type), '[]'),
         'capped', (SELECT count(*) FROM d) > max_jobs)
  INTO result FROM g;
  RETURN result;
END
$$;

-- --- 080_http.sql
-- Creates a key and returns it: the only time the plaintext is visible. 32 bytes from two v4
-- UUIDs (244 random bits), URL-safe base64, prefixed "tfk_".
CREATE OR REPLACE FUNCTION taskflow.create_api_key(tenant_id text, role text DEFAULT 'client')
RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  raw bytea := pg_catalog.decode(pg_catalog.replace(
      pg_catalog.gen_random_uuid()::text || pg_catalog.gen_random_uuid()::text, '-', ''), 'hex');
  k text;
  dbr name;
BEGIN
  IF role IS NULL OR role NOT IN ('client', 'admin', 'worker') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = pg_catalog.format('role must be ''client'', ''admin'' or ''worker'', got %L', role);
  END IF;
  IF role = 'client' AND (tenant_id IS NULL OR tenant_id = '') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a client key needs a tenant_id';
  END IF;
  -- The worker protocol is not tenant-confined in the SQL API (a confined role may not run it:
  -- it would see other tenants' jobs), so neither is a worker key.
  IF role = 'worker' AND tenant_id IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a worker key serves every tenant: tenant_id must be NULL',
      HINT = 'Limit what a worker key reaches by the queues its workers acquire from; see docs/http.md, "The worker protocol over HTTP".';
  END IF;
  k := 'tfk_' || pg_catalog.rtrim(pg_catalog.translate(pg_catalog.encode(raw, 'base64'),
                                                       E'+/\n', '-_'), '=');
  dbr := CASE WHEN role = 'admin' THEN 'taskflow_http_admin'::name
              WHEN role = 'worker' THEN 'taskflow_http_worker'::name
              ELSE taskflow._http_tenant_role(tenant_id) END;
  INSERT INTO taskflow.api_keys (key_hash, prefix, tenant_id, role, db_role)
  VALUES (pg_catalog.sha256(pg_catalog.convert_to(k, 'UTF8')), pg_catalog.left(k, 12),
          create_api_key.tenant_id, create_api_key.role, dbr);
  RETURN k;
END
$$;

-- authenticate_api_key: a client key whose role is not mapped to its tenant is refused (28000)
CREATE OR REPLACE FUNCTION taskflow.authenticate_api_key(key text)
RETURNS TABLE(tenant_id text, role text, db_role name)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k record;
  r regrole;
BEGIN
  SELECT a.tenant_id, a.role, a.db_role, a.prefix INTO k FROM taskflow.api_keys a
  WHERE a.key_hash = pg_catalog.sha256(pg_catalog.convert_to(authenticate_api_key.key, 'UTF8'))
    AND a.revoked_at IS NULL;
  IF NOT FOUND THEN RETURN; END IF;
  IF k.role = 'client' THEN
    r := pg_catalog.to_regrole(pg_catalog.quote_ident(k.db_role));
    IF r IS NOT NULL AND NOT EXISTS (SELECT FROM taskflow.tenant_roles m
                                     WHERE m.role_name = r AND m.tenant_id = k.tenant_id) THEN
      RAISE EXCEPTION USING ERRCODE = '28000',
        MESSAGE = pg_catalog.format('the database role %s of API key %s is not mapped to its tenant %s',
                                    k.db_role, k.prefix, pg_catalog.quote_literal(k.tenant_id)),
        DETAIL = 'Unmapped, the role would not be confined to the tenant (taskflow.tenant_roles has no row for it).',
        HINT = pg_catalog.format('Map it again as an admin: SELECT taskflow.grant_tenant(%L, %L); '
                                 'or revoke the key and create a new one (docs/deploy.md, "Restoring onto a new server").',
                                 k.db_role, k.tenant_id);
    END IF;
  END IF;
  tenant_id := k.tenant_id; role := k.role; db_role := k.db_role;
  RETURN NEXT;
END
$$;

-- --- 095_function_settings.sql, again: CREATE (OR REPLACE) FUNCTION above set only the options
-- written in the definition; these blocks add jit = off to every function, enable_seqscan = off
-- to the hot path and make the public functions VOLATILE, as in a fresh install. Over the
-- functions this script did not touch they change nothing (the same values, in place). Keep them
-- verbatim copies of 095_function_settings.sql, and keep the functions that sql/src creates
-- after that file below them (a fresh install does not give those the settings).
-- ---------------------------------------------------------------------------------------------
-- No JIT inside TaskFlow's functions. Their statements are short and planned once per backend;
-- a generic plan's pessimistic cost estimate otherwise crosses jit_above_cost and compiles
-- code on every call (measured: 86 ms JIT for a 3 ms acquire).
-- ---------------------------------------------------------------------------------------------
DO $jit$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'taskflow'::regnamespace AND p.prokind = 'f'
             AND p.prorettype <> 'trigger'::regtype LOOP
    EXECUTE format('ALTER FUNCTION %s SET jit = off', f);
  END LOOP;
END
$jit$;

-- ---------------------------------------------------------------------------------------------
-- The job hot path plans for its indexes whatever the statistics say at planning time. Plans
-- are kept per backend (generic) or made from the statistics of the moment; right after an
-- install, or after the jobs table was emptied and vacuumed, the statistics say "empty" and
-- statements chose sequential scans, kept until autovacuum's next ANALYZE (measured: a
-- worker's acquire at 19 ms instead of 1.2 ms for 90 jobs once 50,000 were queued). Every
-- statement of these functions is meant to run on an index.
-- ---------------------------------------------------------------------------------------------
DO $seqscan$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'taskflow'::regnamespace
             AND p.proname IN ('acquire', 'schedule', 'schedule_many', 'complete', 'complete_many',
                               'fail', 'release', 'snooze', 'heartbeat', 'heartbeat_many', 'cancel', 'retry',
                               'handle_webhook', '_rescue_expired', '_promote_due') LOOP
    EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off', f);
  END LOOP;
END
$seqscan$;

-- ---------------------------------------------------------------------------------------------
-- Every public function is VOLATILE, the reading ones included (get_job, job_history,
-- list_jobs, list_rules, metrics, ...): users compose calls in one statement, e.g.
-- SELECT taskflow.get_job(taskflow.schedule('a')), and a STABLE function reads with the
-- snapshot of the calling statement, which cannot see what a function called earlier in that
-- statement wrote (the job just scheduled came back NULL). A VOLATILE function takes a fresh
-- snapshot per statement of its body. The cost is nil here: SECURITY DEFINER functions with
-- SET options are never inlined, and none of them is meant for an index condition. This block
-- also covers the reading functions declared elsewhere as STABLE, and any added later; the
-- helpers behind them (names starting with "_") keep their volatility.
-- ---------------------------------------------------------------------------------------------
DO $volatile$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
           WHERE p.pronamespace = 'taskflow'::regnamespace AND p.prokind = 'f'
             AND p.proname !~ '^_' AND p.provolatile <> 'v' LOOP
    EXECUTE format('ALTER FUNCTION %s VOLATILE', f);
  END LOOP;
END
$volatile$;

-- --- 096_shard.sql (new: created after 095_function_settings.sql in sql/src, so after it here)
-- The shard this database numbers its ids for (0 unless set_shard said otherwise).
CREATE FUNCTION taskflow.shard_id() RETURNS integer
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT ((s.seqmin - 1) >> 48)::integer FROM pg_catalog.pg_sequence s
  WHERE s.seqrelid = 'taskflow.jobs_id_seq'::pg_catalog.regclass
$$;

-- Makes this database shard `shard_id` (0 to 32766): job and rule ids from then on are drawn
-- from that shard's range. Idempotent; refused once the database has jobs or rules numbered for
-- another shard (their ids would route elsewhere).
CREATE FUNCTION taskflow.set_shard(shard_id integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  cur integer := taskflow.shard_id();
  lo bigint;
  hi bigint;
  seq text;
  col text;
  last bigint;
BEGIN
  IF shard_id IS NULL OR shard_id < 0 OR shard_id > 32766 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'shard_id must be between 0 and 32766';
  END IF;
  lo := (shard_id::bigint << 48) + 1;
  hi := ((shard_id::bigint + 1) << 48) - 1;
  IF cur <> shard_id AND (
       EXISTS (SELECT FROM taskflow.jobs j WHERE (j.id >> 48) = cur)
    OR EXISTS (SELECT FROM taskflow.automation_rules r WHERE (r.id >> 48) = cur)) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot make this database shard %s: it has jobs or rules numbered for shard %s',
                       shard_id, cur),
      HINT = 'Set the shard of a new database, before it takes jobs.';
  END IF;
  FOR seq, col IN VALUES ('taskflow.jobs_id_seq', 'taskflow.jobs'),
                         ('taskflow.automation_rules_id_seq', 'taskflow.automation_rules') LOOP
    SELECT COALESCE(s.last_value, 0) INTO last FROM pg_catalog.pg_sequences s
    WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass = seq::regclass;
    IF last > hi THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('cannot make this database shard %s: %s is at %s, past the range', shard_id, seq, last);
    END IF;
    IF last < lo THEN
      EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET START WITH %s SET MINVALUE %s SET MAXVALUE %s RESTART WITH %s',
                     col, lo, lo, hi, lo);
    ELSE
      EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET START WITH %s SET MINVALUE %s SET MAXVALUE %s',
                     col, lo, lo, hi);
    END IF;
  END LOOP;
END
$$;

-- Moving a tenant between shards (taskflow_router.move_tenant drives these three):
--   export_tenant(t)        its jobs (unfinished and finished), attempts, events, rules, firings,
--                           webhook deliveries, tenant row and tenant rate limit, as one document
--   import_tenant(doc)      inserts that document here (ids kept: they are globally unique)
--   purge_tenant(t, fp)     deletes the tenant here, only if its export still has fingerprint fp
-- A tenant with RUNNING jobs is not exported (55006): their leases belong to this shard's workers.
CREATE FUNCTION taskflow.export_tenant(tenant_id text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t text := export_tenant.tenant_id;
BEGIN
  PERFORM taskflow._check_tenant_id(t);
  IF EXISTS (SELECT FROM taskflow.jobs j WHERE j.tenant_id = t AND j.state = 'RUNNING') THEN
    RAISE EXCEPTION USING ERRCODE = '55006',
      MESSAGE = format('tenant "%s" has running jobs and cannot be moved now', t),
      HINT = 'Wait until its running jobs end (or pause its queues), then move it again.';
  END IF;
  RETURN jsonb_build_object(
    'tenant_id', t,
    'tenant', (SELECT to_jsonb(x) FROM taskflow.tenants x WHERE x.id = t),
    'rate_limit', (SELECT to_jsonb(x) FROM taskflow.rate_limits x WHERE x.scope = 'tenant' AND x.name = t),
    'jobs', COALESCE((SELECT jsonb_agg(to_jsonb(j) ORDER BY j.id) FROM taskflow.jobs j
                      WHERE j.tenant_id = t), '[]'),
    'attempts', COALESCE((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.job_id, a.attempt)
                          FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
                          WHERE j.tenant_id = t), '[]'),
    'events', COALESCE((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                        FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id
                        WHERE j.tenant_id = t), '[]'),
    'rules', COALESCE((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM taskflow.automation_rules r
                       WHERE r.tenant_id = t), '[]'),
    'firings', COALESCE((SELECT jsonb_agg(to_jsonb(f) ORDER BY f.id) FROM taskflow.rule_firings f
                         WHERE f.tenant_id = t), '[]'),
    'deliveries', COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.rule_id, d.delivery_id)
                            FROM taskflow.webhook_deliveries d JOIN taskflow.automation_rules r
                              ON r.id = d.rule_id WHERE r.tenant_id = t), '[]'));
END
$$;

-- Inserts an export_tenant document. Job and rule ids are kept; event and firing ids are drawn
-- here (in their original order), so the tenant's later events sort after the moved ones.
-- Returns the number of jobs imported. Refused (23505) if the tenant already has jobs or rules here.
CREATE FUNCTION taskflow.import_tenant(doc jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t text := doc ->> 'tenant_id';
  n bigint;
  rid bigint;
BEGIN
  PERFORM taskflow._check_tenant_id(t);
  IF EXISTS (SELECT FROM taskflow.jobs j WHERE j.tenant_id = t)
     OR EXISTS (SELECT FROM taskflow.automation_rules r WHERE r.tenant_id = t) THEN
    RAISE EXCEPTION USING ERRCODE = '23505',
      MESSAGE = format('tenant "%s" already has jobs or rules on this shard', t);
  END IF;
  IF jsonb_typeof(doc -> 'tenant') = 'object' THEN
    INSERT INTO taskflow.tenants SELECT * FROM jsonb_populate_record(NULL::taskflow.tenants, doc -> 'tenant')
      ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes, max_running = EXCLUDED.max_running,
        weight = EXCLUDED.weight, updated_at = now();
  END IF;
  IF jsonb_typeof(doc -> 'rate_limit') = 'object' THEN
    INSERT INTO taskflow.rate_limits
      SELECT * FROM jsonb_populate_record(NULL::taskflow.rate_limits, doc -> 'rate_limit')
      ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
        SET max_starts = EXCLUDED.max_starts, period = EXCLUDED.period, tokens = EXCLUDED.tokens;
  END IF;
  INSERT INTO taskflow.jobs
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.jobs, doc -> 'jobs');
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO taskflow.job_attempts
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.job_attempts, doc -> 'attempts');
  INSERT INTO taskflow.job_events (job_id, from_state, to_state, at, actor, reason)
    SELECT e.job_id, e.from_state, e.to_state, e.at, e.actor, e.reason
    FROM jsonb_populate_recordset(NULL::taskflow.job_events, doc -> 'events') e ORDER BY e.id;
  INSERT INTO taskflow.automation_rules
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.automation_rules, doc -> 'rules');
  INSERT INTO taskflow.rule_firings (rule_id, fired_at, source, actor, tenant_id, context, matched,
                                     job_ids, error, error_sqlstate, source_job_id, chain_depth)
    SELECT f.rule_id, f.fired_at, f.source, f.actor, f.tenant_id, f.context, f.matched, f.job_ids,
           f.error, f.error_sqlstate, f.source_job_id, f.chain_depth
    FROM jsonb_populate_recordset(NULL::taskflow.rule_firings, doc -> 'firings') f ORDER BY f.id;
  INSERT INTO taskflow.webhook_deliveries
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.webhook_deliveries, doc -> 'deliveries');
  FOR rid IN SELECT (r ->> 'id')::bigint FROM jsonb_array_elements(doc -> 'rules') r LOOP
    PERFORM taskflow._sync_cron(rid);  -- cron rules get their pg_cron job here
  END LOOP;
  RETURN n;
END
$$;

-- Deletes the tenant's jobs, history, rules and settings from this shard, in one transaction,
-- only if they are still exactly what export_tenant returned (fingerprint = md5 of its text):
-- a job scheduled, acquired, promoted or cancelled here since the export fails the purge with
-- 40001 and nothing is deleted. Returns the number of jobs deleted.
CREATE FUNCTION taskflow.purge_tenant(tenant_id text, fingerprint text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t text := purge_tenant.tenant_id;
  n bigint;
  rids bigint[];
  doc jsonb;
BEGIN
  PERFORM FROM taskflow.jobs j WHERE j.tenant_id = t FOR UPDATE;
  doc := taskflow.export_tenant(t);
  IF fingerprint IS DISTINCT FROM md5(doc::text) THEN
    RAISE EXCEPTION USING ERRCODE = '40001',
      MESSAGE = format('tenant "%s" changed on this shard during the move', t),
      HINT = 'Nothing was deleted; move it again.';
  END IF;
  SELECT COALESCE(array_agg(r.id), '{}') INTO rids FROM taskflow.automation_rules r WHERE r.tenant_id = t;
  DELETE FROM taskflow.webhook_deliveries d WHERE d.rule_id = ANY(rids);
  DELETE FROM taskflow.rule_firings f WHERE f.tenant_id = t;
  DELETE FROM taskflow.automation_rules r WHERE r.id = ANY(rids);
  PERFORM taskflow._sync_cron(x) FROM unnest(rids) x;  -- drops their pg_cron jobs
  DELETE FROM taskflow.job_attempts a USING taskflow.jobs j WHERE j.id = a.job_id AND j.tenant_id = t;
  DELETE FROM taskflow.job_events e USING taskflow.jobs j WHERE j.id = e.job_id AND j.tenant_id = t;
  DELETE FROM taskflow.jobs j WHERE j.tenant_id = t;
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM taskflow.rate_limits r WHERE r.scope = 'tenant' AND r.name = t;
  DELETE FROM taskflow.tenants x WHERE x.id = t;
  -- a job of the tenant committed after the fingerprint was taken: undo everything
  IF n <> jsonb_array_length(doc -> 'jobs') THEN
    RAISE EXCEPTION USING ERRCODE = '40001',
      MESSAGE = format('tenant "%s" changed on this shard during the move', t),
      HINT = 'Nothing was deleted; move it again.';
  END IF;
  RETURN n;
END
$$;

-- HTTP through the router (docs/scale-out.md#http): the router connects to a shard as the role
-- a request runs as, so the HTTP key roles (created NOLOGIN by create_api_key) must be able to
-- log in to the shards (admitted by pg_hba only from the router). Only key roles qualify, and
-- taskflow_http itself (the server looks keys up as taskflow_http).
CREATE FUNCTION taskflow.allow_router_login(role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF role IS NULL OR NOT (role IN ('taskflow_http', 'taskflow_http_admin')
                         OR role ~ '^taskflow_t_[0-9a-f]{20}$') THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" is not an HTTP API key role', role);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('role "%s" does not exist', role);
  END IF;
  EXECUTE format('ALTER ROLE %I LOGIN', role);
END
$$;

-- =============================================================================================
-- 4. grants, revokes and comments
-- =============================================================================================

-- A function created by this script may be executed by PUBLIC until revoked (090_grants.sql
-- revokes all at the end of an install).
REVOKE ALL ON FUNCTION
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text),
  taskflow._job_spec(jsonb, bigint),
  taskflow.acquire(text, text[], integer, interval, text[]),
  taskflow.snooze(bigint, uuid, interval),
  taskflow.handle_webhook(text, text, text, text, text),
  taskflow._hist_agg(integer, bigint),
  taskflow.shard_id(), taskflow.set_shard(integer), taskflow.export_tenant(text),
  taskflow.import_tenant(jsonb), taskflow.purge_tenant(text, text), taskflow.allow_router_login(name),
  taskflow._build_commit()
FROM PUBLIC;

-- --- 060_rules.sql
COMMENT ON FUNCTION taskflow.handle_webhook(text, text, text, text, text) IS
  'Hands a webhook call to the rule with this key; returns the jobs created.';
GRANT EXECUTE ON FUNCTION taskflow.handle_webhook(text, text, text, text, text)
  TO taskflow_webhook, taskflow_client, taskflow_admin;

-- --- 070_observability.sql
COMMENT ON FUNCTION taskflow.metrics(integer) IS
  'Prometheus text exposition format: jobs per state, finished and retry counters, wait/run '
  'histograms, oldest ready job, rule firings; per-tenant series for the top max_tenants '
  'tenants plus tenant_id="other". See docs/observability.md.';

-- --- 080_http.sql
COMMENT ON FUNCTION taskflow.create_api_key(text, text) IS
  'Creates an HTTP API key (role client, admin or worker) and returns it; only its hash is kept.';
COMMENT ON FUNCTION taskflow.authenticate_api_key(text) IS
  'The tenant, role and database role of a live HTTP API key; no row when there is none; 28000 for a client key whose role is not mapped to its tenant.';

-- --- 090_grants.sql (in its order: the ACLs list the grantees in the order they were granted)
GRANT EXECUTE ON FUNCTION
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text)
TO taskflow_client, taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.acquire(text, text[], integer, interval, text[]),
  taskflow.snooze(bigint, uuid, interval),
  taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text)
TO taskflow_worker, taskflow_admin;

-- --- 096_shard.sql
GRANT EXECUTE ON FUNCTION taskflow.shard_id(), taskflow.set_shard(integer), taskflow.export_tenant(text),
  taskflow.import_tenant(jsonb), taskflow.purge_tenant(text, text), taskflow.allow_router_login(name)
  TO taskflow_admin;

-- --- 099_internal_functions.sql (new): internal functions (taskflow._*) are no longer callable
-- by PUBLIC or the TaskFlow roles (0.1.0 granted some to taskflow_admin), but for the
-- documented exceptions. The same block as in sql/src, last.
DO $internal$
DECLARE
  f record;
  grantee name;
BEGIN
  FOR f IN
    SELECT p.oid, format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS sig,
           p.proacl, p.proowner
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'taskflow' AND p.proname LIKE '\_%'
       AND p.proname NOT IN ('_caller_tenant', '_queue_stats', '_rescue_expired', '_promote_due',
                                '_clean', '_rollup')
     ORDER BY p.oid
  LOOP
    EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f.sig);
    FOR grantee IN
      SELECT DISTINCT r.rolname FROM pg_catalog.aclexplode(f.proacl) a
        JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
       WHERE a.grantee <> f.proowner
    LOOP
      EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', f.sig, grantee);
    END LOOP;
  END LOOP;
END
$internal$;
