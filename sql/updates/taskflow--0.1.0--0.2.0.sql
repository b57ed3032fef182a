-- TaskFlow upgrade 0.1.0 -> 0.2.0 (ALTER EXTENSION taskflow UPDATE), the hand-written part.
-- `make` builds sql/taskflow--0.1.0--0.2.0.sql from this file, sql/releases/taskflow--0.1.0.sql
-- and sql/src/*.sql (scripts/upgrade_script.py; docs/releasing.md, "The upgrade script"). The
-- generated part, at the `-- @generated` line below, creates or replaces every function, view,
-- trigger and new table, index or policy whose statement in sql/src differs from 0.1.0, and runs
-- sql/src's comments, grants, revokes, settings and DO blocks again. Written here is only what a
-- person must decide, each block headed by its sql/src file:
--   1. columns and constraints of existing tables (data must survive)
--   2. data migrations (rows whose meaning changed)
--   3. DROPs of what the generated part cannot replace (a changed signature or result type, an
--      aggregate's INITCOND, a removed function)
-- test/t/upgrade.t installs 0.1.0, fills it, runs the built script, runs the pgTAP suites and
-- compares every object with a fresh 0.2.0 install; its output names each object that differs.

\echo Use "ALTER EXTENSION taskflow UPDATE TO '0.2.0'" to load this file. \quit

-- =============================================================================================
-- 1. columns and constraints of existing tables
-- =============================================================================================

-- --- 010_tables.sql: trace context (W3C traceparent) kept on the job; existing jobs have none.
-- Then the workflow columns (existing jobs have no dependencies: 0, 0, NULL). Appended in
-- sql/src's order (ADD COLUMN appends; the column order must match).
ALTER TABLE taskflow.jobs ADD COLUMN traceparent text;
ALTER TABLE taskflow.jobs
  ADD COLUMN dependency_count integer NOT NULL DEFAULT 0,
  ADD COLUMN dependencies_pending integer NOT NULL DEFAULT 0,
  ADD COLUMN wait_run_at timestamptz;

-- --- 080_http.sql: worker API keys.
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
-- 3. what the generated part cannot replace
-- =============================================================================================

-- Signatures or result types that changed: dropped here, created (and granted, in sql/src's
-- order) by the generated part.
DROP FUNCTION taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval);
DROP FUNCTION taskflow._job_spec(jsonb, bigint);            -- OUT traceparent
DROP FUNCTION taskflow.acquire(text, text[], integer, interval, text[]);  -- returns traceparent
DROP FUNCTION taskflow.handle_webhook(text, text, text, text);
DROP AGGREGATE taskflow._hist_agg(integer, bigint);         -- INITCOND has 24 buckets
-- Removed: _hist_sql builds both expressions.
DROP FUNCTION taskflow._hist_agg_sql(text, text), taskflow._hist_add_sql(text, text);

-- --- 070_observability.sql: one function serves the DELETE and the TRUNCATE statistics
-- triggers (_stats_on_jobs_removed); the generated part creates them again.
DROP TRIGGER jobs_stats_on_delete ON taskflow.jobs;
DROP TRIGGER jobs_stats_on_truncate ON taskflow.jobs;
DROP FUNCTION taskflow._stats_on_delete(), taskflow._stats_on_truncate();

-- @generated
