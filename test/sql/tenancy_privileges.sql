-- Multi-tenancy: the privilege matrix. For each taskflow function and table, what a tenant role
-- (mapped with grant_tenant), a worker role (taskflow_worker), an admin role (taskflow_admin)
-- and a role with no TaskFlow grant can do: first the catalog (EXECUTE and table privileges of
-- every object), then each call actually made as each role (SET ROLE inside the test).
BEGIN;
SELECT plan(14);
\ir helpers.psql

CREATE ROLE tfp_tenant;
CREATE ROLE tfp_worker;
CREATE ROLE tfp_admin;
CREATE ROLE tfp_none;
CREATE ROLE tfp_spare;
GRANT taskflow_worker TO tfp_worker;
GRANT taskflow_admin TO tfp_admin;
SELECT taskflow.grant_tenant('tfp_tenant', 'tfp_t');

-- ---------------------------------------------------------------------------------------------
-- 1. Catalog: EXECUTE on every function, privileges on every table and view.
-- ---------------------------------------------------------------------------------------------
-- Public functions per role; every other taskflow function is admin-only or internal.
CREATE TEMP TABLE fn_expect (fn text PRIMARY KEY, roles text[] NOT NULL);
INSERT INTO fn_expect VALUES
  ('schedule',           '{tenant,worker,admin}'),
  ('schedule_many',      '{tenant,worker,admin}'),
  -- workflows (032_workflows.sql)
  ('schedule_workflow',  '{tenant,worker,admin}'),
  ('dependency_results', '{tenant,worker,admin}'),
  ('workflow_status',    '{tenant,admin}'),
  ('cancel_workflow',    '{tenant,admin}'),
  ('list_workflows',     '{tenant,admin}'),
  ('get_job',            '{tenant,worker,admin}'),
  ('list_jobs',          '{tenant,admin}'),
  ('job_history',        '{tenant,admin}'),
  ('cancel',             '{tenant,admin}'),
  ('retry',              '{tenant,admin}'),
  ('search_jobs',        '{tenant,admin}'),
  ('count_jobs',         '{tenant,admin}'),
  ('bulk_jobs',          '{tenant,admin}'),
  ('job_detail',         '{tenant,admin}'),
  ('dead_letter_groups', '{tenant,admin}'),
  ('dead_letter_redrive', '{tenant,admin}'),
  ('handle_webhook',     '{tenant,admin}'),
  ('create_rule',        '{tenant,admin}'),
  ('alter_rule',         '{tenant,admin}'),
  ('enable_rule',        '{tenant,admin}'),
  ('disable_rule',       '{tenant,admin}'),
  ('drop_rule',          '{tenant,admin}'),
  ('list_rules',         '{tenant,admin}'),
  ('webhook_credentials', '{tenant,admin}'),
  -- the dashboard's rules and tenants views (075_dashboard_admin.sql), confined like the above
  ('dashboard_rules',    '{tenant,admin}'),
  ('dashboard_rule_firings', '{tenant,admin}'),
  ('dashboard_webhook_deliveries', '{tenant,admin}'),
  ('dashboard_fire_rule', '{tenant,admin}'),
  ('dashboard_tenants',  '{tenant,admin}'),
  ('dashboard_session',  '{tenant,admin}'),
  ('dashboard_overview', '{tenant,admin}'),
  ('_caller_tenant',     '{tenant,worker,admin}'),
  ('acquire',            '{worker,admin}'),
  ('heartbeat',          '{worker,admin}'),
  ('heartbeat_many',     '{worker,admin}'),
  ('complete',           '{worker,admin}'),
  ('complete_many',      '{worker,admin}'),
  ('fail',               '{worker,admin}'),
  ('release',            '{worker,admin}'),
  ('snooze',             '{worker,admin}'),
  ('metrics',            '{worker,admin}');

-- Every function of the schema with who may execute it, as the catalog says.
CREATE TEMP TABLE fn_actual AS
SELECT p.oid::regprocedure::text AS sig, p.proname::text AS fn,
       ARRAY(SELECT r FROM unnest(ARRAY['tenant', 'worker', 'admin', 'none']) r
             WHERE has_function_privilege('tfp_' || r, p.oid, 'EXECUTE')) AS roles
FROM pg_proc p WHERE p.pronamespace = 'taskflow'::regnamespace;

SELECT is(
  ARRAY(SELECT a.sig || ' ' || a.roles::text FROM fn_actual a JOIN fn_expect e USING (fn)
        WHERE a.roles <> e.roles ORDER BY 1),
  '{}'::text[],
  'client, worker and admin functions: EXECUTE for exactly the expected roles');

SELECT is(
  ARRAY(SELECT a.sig || ' ' || a.roles::text FROM fn_actual a
        WHERE a.fn NOT IN (SELECT fn FROM fn_expect) AND a.roles NOT IN ('{admin}', '{}')
        ORDER BY 1),
  '{}'::text[],
  'every other function (queues, tenancy, webhooks, keys, internals) is admin-only or not granted at all');

SELECT is(
  ARRAY(SELECT a.sig FROM fn_actual a WHERE 'none' = ANY (a.roles) ORDER BY 1),
  '{}'::text[],
  'a role with no TaskFlow grant may execute no taskflow function (EXECUTE revoked from PUBLIC)');

SELECT is(
  ARRAY(SELECT a.sig FROM fn_actual a
        WHERE a.fn IN ('grant_tenant', 'revoke_tenant', 'set_tenant_limit', 'set_tenant_weight',
                       'set_rate_limit', 'pause_queue', 'resume_queue', 'upsert_tenant')
          AND a.roles = '{admin}' ORDER BY 1),
  ARRAY['taskflow.grant_tenant(name,text)', 'taskflow.pause_queue(text)',
        'taskflow.resume_queue(text)', 'taskflow.revoke_tenant(name)',
        'taskflow.set_rate_limit(text,text,integer,interval)',
        'taskflow.set_tenant_limit(text,integer)', 'taskflow.set_tenant_weight(text,integer)',
        'taskflow.upsert_tenant(text,jsonb)'],
  'the tenancy management functions exist and are for admins only');

-- Tables and views: SELECT for the roles below, no writes for anybody but the owner.
CREATE TEMP TABLE tbl_expect (tbl text PRIMARY KEY, readers text[] NOT NULL);
INSERT INTO tbl_expect VALUES
  ('jobs',          '{tenant,admin}'),
  ('job_summaries', '{tenant,admin}'),
  ('tenants',       '{tenant,admin}'),
  ('job_attempts',  '{admin}'),
  ('job_events',    '{admin}'),
  ('queues',        '{admin}'),
  ('dead_letter',   '{admin}'),
  ('tenant_roles',  '{admin}'),
  ('rate_limits',   '{admin}'),
  ('rule_firings',  '{admin}');

SELECT is(
  ARRAY(SELECT e.tbl || ' ' || ARRAY(SELECT r FROM unnest(ARRAY['tenant', 'worker', 'admin', 'none']) r
                                    WHERE has_table_privilege('tfp_' || r, 'taskflow.' || e.tbl, 'SELECT'))::text
        FROM tbl_expect e
        WHERE ARRAY(SELECT r FROM unnest(ARRAY['tenant', 'worker', 'admin', 'none']) r
                    WHERE has_table_privilege('tfp_' || r, 'taskflow.' || e.tbl, 'SELECT')) <> e.readers
        ORDER BY 1),
  '{}'::text[],
  'SELECT on the job, tenant, queue and audit tables: exactly the expected roles');

-- The taskflow tables and views (relation names) on which role r holds privilege priv.
CREATE FUNCTION pg_temp.relations_with(r name, priv text) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT c.relname::text FROM pg_class c
   WHERE c.relnamespace = 'taskflow'::regnamespace AND c.relkind IN ('r', 'v', 'p')
     AND has_table_privilege(r, c.oid, priv)
$$;

SELECT is(
  ARRAY(SELECT rel || ' ' || r || ' ' || priv
        FROM unnest(ARRAY['tenant', 'worker', 'admin', 'none']) r,
             unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) priv,
             pg_temp.relations_with('tfp_' || r, priv) rel
        ORDER BY 1),
  '{}'::text[],
  'no role but the owner may INSERT, UPDATE, DELETE or TRUNCATE any taskflow table or view');

SELECT is(ARRAY(SELECT pg_temp.relations_with(r, 'SELECT') ORDER BY 1), '{}'::text[], description)
FROM (VALUES ('tfp_none', 'a role with no TaskFlow grant may read no taskflow table or view'),
             ('tfp_worker', 'the worker role reads no table directly (it works through the worker protocol)'))
     AS readers(r, description);

-- ---------------------------------------------------------------------------------------------
-- 2. Each call made as each role: 'ok' or the SQLSTATE it raised.
-- ---------------------------------------------------------------------------------------------
SELECT taskflow.create_queue('tfp_q');
SELECT taskflow.create_queue('tfp_empty');
SELECT taskflow.schedule('tfp.job', queue => 'tfp_q', tenant_id => 'tfp_t') AS tjob \gset

-- Runs `stmt` as role `r` and answers 'ok' or the SQLSTATE (helpers.psql's attempt without the
-- message); pgTAP itself runs as the caller.
CREATE FUNCTION pg_temp.sqlstate_as(r name, stmt text) RETURNS text LANGUAGE sql AS $$
  SELECT split_part(pg_temp.attempt(r, stmt), ':', 1)
$$;

-- %R is replaced by the role's short name (tenant, worker, admin, none), so calls that create
-- something do not collide. Columns: the outcome for tenant, worker, admin, none.
CREATE TEMP TABLE calls (n serial, stmt text, tenant text, worker text, admin text, nobody text);
INSERT INTO calls (stmt, tenant, worker, admin, nobody) VALUES
  ($$SELECT taskflow.schedule('tfp.%R', queue => 'tfp_q')$$,                         'ok',    'ok',    'ok',    '42501'),
  ($$SELECT taskflow.schedule_many('[{"job_type": "tfp.%R", "queue": "tfp_q"}]')$$,  'ok',    'ok',    'ok',    '42501'),
  ($$SELECT taskflow.get_job(:tjob)$$,                                               'ok',    'ok',    'ok',    '42501'),
  ($$SELECT taskflow.list_jobs()$$,                                                  'ok',    '42501', 'ok',    '42501'),
  ($$SELECT taskflow.job_history(:tjob)$$,                                           'ok',    '42501', 'ok',    '42501'),
  ($$SELECT taskflow.cancel(-1)$$,                                                   'P0002', '42501', 'P0002', '42501'),
  ($$SELECT taskflow.retry(-1)$$,                                                    'P0002', '42501', 'P0002', '42501'),
  ($$SELECT taskflow.acquire('w-%R', ARRAY['tfp_empty'])$$,                          '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.heartbeat(-1, gen_random_uuid())$$,                             '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.heartbeat_many(ARRAY[-1]::bigint[], ARRAY[gen_random_uuid()])$$, '42501', 'ok',  'ok',    '42501'),
  ($$SELECT taskflow.complete(-1, gen_random_uuid())$$,                              '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.complete_many(ARRAY[-1]::bigint[], ARRAY[gen_random_uuid()])$$, '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.fail(-1, gen_random_uuid(), 'e')$$,                             '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.release(-1, gen_random_uuid())$$,                               '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.snooze(-1, gen_random_uuid(), interval '1 minute')$$,           '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.metrics()$$,                                                    '42501', 'ok',    'ok',    '42501'),
  ($$SELECT taskflow.create_queue('tfp_new_%R')$$,                                   '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.alter_queue('tfp_q', priority => 1)$$,                          '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.queue_retry_policy('tfp_q')$$,                                  '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.drop_queue('tfp_no_such_queue')$$,                              '42501', '42501', '42704', '42501'),
  ($$SELECT taskflow.purge_failed(interval '1000 years', 'tfp_q')$$,                 '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.grant_tenant('tfp_spare', 'tfp_s_%R')$$,                        '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.revoke_tenant('tfp_none')$$,                                    '42501', '42501', '42704', '42501'),
  ($$SELECT taskflow.set_tenant_limit('tfp_t', 3)$$,                                 '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.set_tenant_weight('tfp_t', 2)$$,                                '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.set_rate_limit('queue', 'tfp_q', 100)$$,                        '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.pause_queue('tfp_empty')$$,                                     '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.resume_queue('tfp_empty')$$,                                    '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.upsert_tenant('tfp_u_%R')$$,                                    '42501', '42501', 'ok',    '42501'),
  ($$SELECT taskflow.create_rule('tfp rule %R', '{"type": "event", "on": "job_dead"}', '[{"job_type": "tfp.alert"}]')$$,
                                                                                     'ok',    '42501', 'ok',    '42501'),
  ($$SELECT taskflow.list_rules()$$,                                                 'ok',    '42501', 'ok',    '42501'),
  ($$SELECT taskflow.drop_rule(-1)$$,                                                '42704', '42501', '42704', '42501'),
  ($$SELECT taskflow._rescue_expired(10)$$,                                          '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.jobs$$,                                           'ok',    '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.job_summaries$$,                                  'ok',    '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.tenants$$,                                        'ok',    '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.job_attempts$$,                                   '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.job_events$$,                                     '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.queues$$,                                         '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.dead_letter$$,                                    '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.tenant_roles$$,                                   '42501', '42501', 'ok',    '42501'),
  ($$SELECT count(*) FROM taskflow.rate_limits$$,                                    '42501', '42501', 'ok',    '42501'),
  ($$INSERT INTO taskflow.jobs (job_type, queue, tenant_id) VALUES ('x', 'tfp_q', 'tfp_t')$$,
                                                                                     '42501', '42501', '42501', '42501'),
  ($$UPDATE taskflow.jobs SET priority = 5 WHERE id = :tjob$$,                       '42501', '42501', '42501', '42501'),
  ($$DELETE FROM taskflow.jobs WHERE id = :tjob$$,                                   '42501', '42501', '42501', '42501'),
  ($$UPDATE taskflow.tenants SET max_running = NULL$$,                               '42501', '42501', '42501', '42501'),
  ($$INSERT INTO taskflow.tenant_roles (role_name, tenant_id) VALUES ('tfp_none', 'tfp_t')$$,
                                                                                     '42501', '42501', '42501', '42501');

-- psql variables are not expanded inside dollar quotes: put the job id in.
UPDATE calls SET stmt = replace(stmt, ':tjob', :'tjob');

CREATE TEMP TABLE outcomes AS
SELECT c.n, c.stmt, r.role, r.want,
       pg_temp.sqlstate_as(('tfp_' || r.role)::name, replace(c.stmt, '%R', r.role)) AS got
FROM calls c,
     LATERAL (VALUES ('tenant', c.tenant), ('worker', c.worker), ('admin', c.admin), ('none', c.nobody)) AS r(role, want)
ORDER BY c.n, r.role;

SELECT is(ARRAY(SELECT o.role || ': ' || o.stmt || ' -> ' || o.got || ' (want ' || o.want || ')'
                FROM outcomes o WHERE o.role = r.role AND o.got <> o.want ORDER BY o.n), '{}'::text[],
          r.who || ': each call gives the expected outcome')
FROM (VALUES ('tenant', 'tenant role'), ('worker', 'worker role'), ('admin', 'admin role'),
             ('none', 'role with no TaskFlow grant')) AS r(role, who);
SELECT is((SELECT count(*)::int FROM outcomes), (SELECT 4 * count(*)::int FROM calls),
  'every call was made as each of the four roles');
SELECT is(ARRAY(SELECT job_type || ' ' || tenant_id FROM taskflow.jobs WHERE job_type LIKE 'tfp.%' AND queue = 'tfp_q'
                ORDER BY job_type, tenant_id),
  ARRAY['tfp.admin default', 'tfp.admin default', 'tfp.job tfp_t', 'tfp.tenant tfp_t', 'tfp.tenant tfp_t',
        'tfp.worker default', 'tfp.worker default'],
  'the calls really ran as the roles: the tenant role''s jobs went to its tenant, the others'' to default');

SELECT * FROM finish();
ROLLBACK;
