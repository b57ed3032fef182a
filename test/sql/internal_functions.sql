-- Internal functions (taskflow._*) are not callable outside the extension (099_internal_functions.sql):
-- every one found in pg_proc is refused to each role the extension defines and to PUBLIC, except
-- the documented ones (docs/functions.md, "Internal functions"); the public API that uses them
-- still works as those roles (its functions are SECURITY DEFINER).
BEGIN;
SELECT plan(19);

CREATE ROLE tfi_client;
CREATE ROLE tfi_worker IN ROLE taskflow_worker;
CREATE ROLE tfi_admin IN ROLE taskflow_admin;
CREATE ROLE tfi_none;
SELECT taskflow.grant_tenant('tfi_client', 'tfi_t');

-- The documented exceptions and who may call them.
CREATE TEMP TABLE exceptions (fn text PRIMARY KEY, roles text[] NOT NULL);
INSERT INTO exceptions VALUES
  ('_caller_tenant',  '{taskflow_admin,taskflow_client,taskflow_http_admin,taskflow_http_worker,taskflow_worker}'),
  ('_queue_stats',    '{taskflow_admin,taskflow_http_admin}'),
  ('_rescue_expired', '{taskflow_admin,taskflow_http_admin}'),
  ('_promote_due',    '{taskflow_admin,taskflow_http_admin}'),
  ('_clean',          '{taskflow_admin,taskflow_http_admin}'),
  ('_rollup',         '{taskflow_admin,taskflow_http_admin}');
GRANT SELECT ON exceptions TO PUBLIC;

-- every role the extension creates (005_roles.sql, 060_rules.sql, 080_http.sql), a member of
-- each group role, and a role with no TaskFlow grant
CREATE TEMP TABLE app_roles AS
SELECT unnest(ARRAY['taskflow_client', 'taskflow_worker', 'taskflow_admin', 'taskflow_webhook',
                    'taskflow_http', 'taskflow_http_admin', 'taskflow_http_worker',
                    'tfi_client', 'tfi_worker', 'tfi_admin', 'tfi_none']) AS role;

CREATE TEMP TABLE internal AS
SELECT p.oid, p.oid::regprocedure::text AS sig, p.proname::text AS fn, p.proacl
FROM pg_proc p WHERE p.pronamespace = 'taskflow'::regnamespace AND p.proname LIKE '\_%';

SELECT cmp_ok((SELECT count(*) FROM internal), '>=', 60::bigint,
  'pg_proc lists the internal functions (taskflow._*)');
SELECT ok((SELECT count(*) FROM internal WHERE fn IN ('_set_queue_paused', '_resolve_tenant')) = 2,
  'among them _set_queue_paused and _resolve_tenant');

-- One test per role: the internal functions it may execute (none but the exceptions).
SELECT is(
  ARRAY(SELECT i.sig FROM internal i
        WHERE has_function_privilege(r.role, i.oid, 'EXECUTE')
          AND i.fn NOT IN (SELECT fn FROM exceptions) ORDER BY 1),
  '{}'::text[],
  format('%s may execute no internal function', r.role))
FROM (SELECT role FROM app_roles WHERE role IN ('taskflow_client', 'taskflow_worker', 'taskflow_admin',
      'taskflow_webhook', 'taskflow_http', 'taskflow_http_admin', 'taskflow_http_worker', 'tfi_none')
      ORDER BY role) r;

SELECT is(
  ARRAY(SELECT i.sig FROM internal i
        WHERE i.fn NOT IN (SELECT fn FROM exceptions)
          AND (i.proacl IS NULL OR EXISTS (SELECT FROM aclexplode(i.proacl) a WHERE a.grantee = 0))
        ORDER BY 1),
  '{}'::text[],
  'PUBLIC may execute no internal function');

SELECT is(
  ARRAY(SELECT e.fn || ' ' || ARRAY(SELECT r.role FROM app_roles r
                                     WHERE r.role LIKE 'taskflow\_%'
                                       AND EXISTS (SELECT FROM internal i WHERE i.fn = e.fn
                                                   AND has_function_privilege(r.role, i.oid, 'EXECUTE'))
                                     ORDER BY 1)::text
        FROM exceptions e ORDER BY 1),
  ARRAY(SELECT e.fn || ' ' || e.roles::text FROM exceptions e ORDER BY 1),
  'the documented exceptions: exactly their roles');

-- Real calls as a member of each group role: the helpers are refused, the public API works.
SET ROLE tfi_admin;
SELECT throws_ok($$SELECT taskflow._set_queue_paused('default', true)$$, '42501', NULL,
  'an admin cannot call _set_queue_paused');
SELECT lives_ok($$SELECT taskflow.create_queue('tfi_q'); SELECT taskflow.pause_queue('tfi_q');
                  SELECT taskflow.resume_queue('tfi_q')$$,
  'an admin creates, pauses and resumes a queue (pause_queue uses _set_queue_paused)');
SELECT ok(taskflow.metrics() LIKE '%taskflow_build_info{%', 'an admin scrapes the metrics');
SELECT ok((SELECT count(*) FROM taskflow.queue_stats WHERE queue = 'tfi_q') = 1,
  'an admin reads the view taskflow.queue_stats (it calls _queue_stats as the admin)');
RESET ROLE;
SET ROLE tfi_client;
SELECT throws_ok($$SELECT taskflow._resolve_tenant(NULL)$$, '42501', NULL,
  'a tenant role cannot call _resolve_tenant');
SELECT is((taskflow.get_job(taskflow.schedule('tfi.job', queue => 'tfi_q')) ->> 'tenant_id'), 'tfi_t',
  'a tenant role schedules and reads a job (schedule resolves its tenant with _resolve_tenant)');
RESET ROLE;
SET ROLE tfi_worker;
SELECT is((SELECT taskflow.complete(a.job_id, a.lease_token, '{}')
           FROM taskflow.acquire('tfi-w', ARRAY['tfi_q']) a)::text, 'SUCCEEDED',
  'a worker role acquires and completes it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
