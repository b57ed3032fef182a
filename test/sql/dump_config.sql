-- pg_dump keeps the user data of the extension: every table and sequence that belongs to the
-- extension (pg_depend, deptype 'e') and holds user data must be registered with
-- pg_extension_config_dump (pg_extension.extconfig), or a dump and restore silently loses it
-- (a sequence that is not registered restarts at 1: the next id collides with a restored row).
-- Tables that hold no user data are listed below, each with the reason.
BEGIN;
SELECT plan(5);

CREATE TEMP TABLE not_dumped (relname name PRIMARY KEY, reason text NOT NULL);
INSERT INTO not_dumped VALUES
  -- 070_observability.sql: counters derived from job and firing history; after a restore they
  -- start from zero and the first roll-up recounts the restored history.
  ('stats_watermark',     'roll-up position, derived'),
  ('stats_queue',         'roll-up counters, derived from taskflow.jobs'),
  ('stats_tenant',        'roll-up counters, derived from taskflow.jobs'),
  ('stats_tenant_volume', 'roll-up counters, derived from taskflow.jobs'),
  ('stats_histogram',     'roll-up counters, derived from taskflow.jobs'),
  ('stats_rule_firings',  'roll-up counters, derived from taskflow.rule_firings'),
  -- 075_dashboard_admin.sql: the last two hours' starts, derived from taskflow.jobs
  ('stats_tenant_starts', 'roll-up counters, derived from taskflow.jobs'),
  ('stats_starts',        'roll-up counters, derived from taskflow.jobs'),
  ('stats_series',        'roll-up time series, derived from taskflow.jobs'),
  ('stats_series_tenant', 'roll-up time series, derived from taskflow.jobs');

CREATE TEMP VIEW members AS
  SELECT c.oid, c.relname, c.relkind, c.oid = ANY (COALESCE(e.extconfig, '{}')) AS marked
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_extension'::regclass
   AND d.refobjid = e.oid AND d.deptype = 'e' AND d.classid = 'pg_catalog.pg_class'::regclass
  JOIN pg_catalog.pg_class c ON c.oid = d.objid
  WHERE e.extname = 'taskflow' AND c.relkind IN ('r', 'p', 'S');

SELECT is(ARRAY(SELECT relname::text FROM members WHERE relkind IN ('r', 'p') AND NOT marked
                  AND relname NOT IN (SELECT relname FROM not_dumped) ORDER BY 1),
          '{}'::text[],
  'every table of the extension that holds user data is registered with pg_extension_config_dump');

SELECT is(ARRAY(SELECT relname::text FROM members WHERE relkind = 'S' AND NOT marked ORDER BY 1),
          '{}'::text[],
  'every sequence of the extension is registered with pg_extension_config_dump');

-- A sequence is useful only with its table: each registered table's identity / serial
-- sequence is registered too (the case of api_keys_id_seq).
SELECT is(ARRAY(SELECT s.relname::text FROM members t
                  JOIN pg_catalog.pg_depend d ON d.refobjid = t.oid AND d.classid = 'pg_catalog.pg_class'::regclass
                   AND d.deptype IN ('a', 'i')
                  JOIN members s ON s.oid = d.objid AND s.relkind = 'S'
                WHERE t.marked AND NOT s.marked ORDER BY 1),
          '{}'::text[],
  'the id sequence of every registered table is registered too');

SELECT ok((SELECT marked FROM members WHERE relname = 'api_keys_id_seq'),
  'taskflow.api_keys_id_seq is registered (create_api_key after a restore got a duplicate key)');

-- The allow-list stays honest: each entry is a table of the extension that is not registered.
SELECT is(ARRAY(SELECT n.relname::text FROM not_dumped n
                WHERE NOT EXISTS (SELECT FROM members m WHERE m.relname = n.relname
                                  AND m.relkind IN ('r', 'p') AND NOT m.marked) ORDER BY 1),
          '{}'::text[],
  'every table of the allow-list exists in the extension and is indeed not registered');

SELECT * FROM finish();
ROLLBACK;
