-- Issue 10: DROP EXTENSION taskflow leaves nothing behind: the pg_cron jobs of cron rules are
-- removed (event trigger taskflow_drop_extension) and the schema taskflow, created by the install
-- script as a member of the extension, is dropped with it. CREATE EXTENSION works again.
-- Everything happens in one transaction that is rolled back.
BEGIN;
SELECT plan(9);

SELECT taskflow.create_rule('rde cron', '{"type": "cron", "schedule": "0 7 * * *"}', '[{"job_type": "rde"}]') AS r \gset
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'taskflow-rule-' || :r), 1::bigint, 'the cron rule has its pg_cron job');
SELECT is((SELECT count(*) FROM pg_catalog.pg_depend d
           WHERE d.classid = 'pg_catalog.pg_namespace'::regclass
             AND d.objid = 'taskflow'::regnamespace
             AND d.refclassid = 'pg_catalog.pg_extension'::regclass
             AND d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'taskflow')
             AND d.deptype = 'e'), 1::bigint,
  'the schema taskflow is a member of the extension');
SELECT is((SELECT count(*) FROM pg_catalog.pg_proc p
           JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
           WHERE d.refobjid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'taskflow')
             AND p.pronamespace <> 'taskflow'::regnamespace), 0::bigint,
  'every function of the extension is in the schema taskflow (none landed in pg_catalog)');

-- Another extension's drop does not touch the cron jobs.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DROP EXTENSION pg_trgm;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'taskflow-rule-' || :r), 1::bigint,
  'dropping another extension leaves the cron rule''s pg_cron job alone');

DROP EXTENSION taskflow;
SELECT is((SELECT count(*) FROM cron.job WHERE jobname LIKE 'taskflow-rule-%'), 0::bigint,
  'DROP EXTENSION taskflow removes the pg_cron jobs of its cron rules');
SELECT hasnt_schema('taskflow', 'and the schema taskflow');
SELECT is((SELECT count(*) FROM pg_catalog.pg_event_trigger WHERE evtname = 'taskflow_drop_extension'), 0::bigint,
  'and its event trigger');

CREATE EXTENSION taskflow;
SELECT has_schema('taskflow', 'CREATE EXTENSION taskflow works again');
SELECT cmp_ok(taskflow.schedule('rde.again'), '>', 0::bigint, 'and the new install schedules jobs');

SELECT * FROM finish();
ROLLBACK;
