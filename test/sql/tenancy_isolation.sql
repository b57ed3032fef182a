-- Multi-tenancy: isolation. A role mapped to a tenant (grant_tenant) sees and touches only its
-- tenant's jobs, through the functions and through the tables (forced row level security);
-- worker and admin roles see every tenant; an unmapped client acts as tenant 'default'.
-- grant_tenant / revoke_tenant errors.
BEGIN;
SELECT plan(70);
\ir helpers.psql

CREATE ROLE tfi_a;        -- mapped to tenant tfi_ta
CREATE ROLE tfi_b;        -- mapped to tenant tfi_tb
CREATE ROLE tfi_client;   -- a plain taskflow_client: acts as tenant 'default'
CREATE ROLE tfi_worker;
CREATE ROLE tfi_admin;
CREATE ROLE tfi_lone;     -- exists, never mapped
GRANT taskflow_client TO tfi_client;
GRANT taskflow_worker TO tfi_worker;
GRANT taskflow_admin TO tfi_admin;
SELECT taskflow.grant_tenant('tfi_a', 'tfi_ta');
SELECT taskflow.grant_tenant('tfi_b', 'tfi_tb');
SELECT taskflow.create_queue('tfi_q');


-- Jobs of three tenants, scheduled by the admin session.
SELECT taskflow.schedule('tfi.a', '{"n": 1}', queue => 'tfi_q', tenant_id => 'tfi_ta') AS a1 \gset
SELECT taskflow.schedule('tfi.b', '{"n": 2}', queue => 'tfi_q', tenant_id => 'tfi_tb') AS b1 \gset
SELECT taskflow.schedule('tfi.b', '{"n": 3}', queue => 'tfi_q', tenant_id => 'tfi_tb') AS b2 \gset
SELECT taskflow.schedule('tfi.d', '{"n": 4}', queue => 'tfi_q') AS d1 \gset
SELECT taskflow.cancel(:b2) AS b2_state \gset

-- ---------------------------------------------------------------------------------------------
-- What a tenant role sees through the functions
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.val('tfi_a', 'SELECT taskflow._caller_tenant()'), 'tfi_ta', 'tfi_a is confined to tenant tfi_ta');
SELECT is(pg_temp.val('tfi_a', format('SELECT taskflow.get_job(%s) ->> ''tenant_id''', :a1)), 'tfi_ta',
  'get_job of its own job works');
SELECT is(pg_temp.val('tfi_a', format('SELECT taskflow.get_job(%s)::text', :b1)), NULL,
  'get_job of another tenant''s job returns NULL');
SELECT is(pg_temp.val('tfi_a', format('SELECT taskflow.get_job(%s)::text', :d1)), NULL,
  'get_job of a default-tenant job returns NULL too');
SELECT is(pg_temp.val('tfi_a', format('SELECT taskflow.job_history(%s)::text', :b1)), NULL,
  'job_history of another tenant''s job returns NULL');
SELECT isnt(pg_temp.val('tfi_a', format('SELECT taskflow.job_history(%s)::text', :a1)), NULL,
  'job_history of its own job works');
SELECT is(pg_temp.val('tfi_a', 'SELECT array_agg(id ORDER BY id)::text FROM taskflow.list_jobs(queue => ''tfi_q'')'),
  format('{%s}', :a1), 'list_jobs shows only its own jobs');
SELECT is(pg_temp.val('tfi_a', 'SELECT count(*)::text FROM taskflow.list_jobs(tenant_id => ''tfi_tb'')'), '0',
  'list_jobs(tenant_id => another tenant) shows nothing');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.cancel(%s)', :b1)),
  format('P0002: job %s does not exist', :b1), 'cancel of another tenant''s job: P0002, as if it did not exist');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.retry(%s)', :b2)),
  format('P0002: job %s does not exist', :b2), 'retry of another tenant''s job: P0002, as if it did not exist');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :b1) || ' ' || (SELECT state::text FROM taskflow.jobs WHERE id = :b2),
  'PENDING CANCELLED', 'the other tenant''s jobs are unchanged');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.cancel(%s)', :a1)), 'ok', 'cancel of its own job works');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.retry(%s)', :a1)), 'ok', 'retry of its own job works');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :a1), 'PENDING', 'its own job was cancelled and retried');

-- Scheduling: its own tenant only.
SELECT pg_temp.val('tfi_a', 'SELECT taskflow.schedule(''tfi.s'', queue => ''tfi_q'')') AS sj1 \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :sj1),
  'tfi_ta', 'schedule without tenant_id: the job belongs to the role''s tenant');
SELECT pg_temp.val('tfi_a', 'SELECT taskflow.schedule(''tfi.s'', queue => ''tfi_q'', tenant_id => ''default'')') AS sj2 \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :sj2),
  'tfi_ta', 'schedule with tenant_id ''default'': the role''s own tenant');
SELECT pg_temp.val('tfi_a', 'SELECT taskflow.schedule(''tfi.s'', queue => ''tfi_q'', tenant_id => ''tfi_ta'')') AS sj3 \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :sj3),
  'tfi_ta', 'schedule with its own tenant_id works');
SELECT is(pg_temp.attempt('tfi_a', 'SELECT taskflow.schedule(''tfi.s'', queue => ''tfi_q'', tenant_id => ''tfi_tb'')'),
  '42501: permission denied for tenant "tfi_tb"', 'schedule for another tenant: 42501');
SELECT is(pg_temp.attempt('tfi_a',
  'SELECT taskflow.schedule_many(''[{"job_type": "tfi.m", "queue": "tfi_q"}, {"job_type": "tfi.m", "queue": "tfi_q", "tenant_id": "tfi_tb"}]'')'),
  '42501: jobs[1]: permission denied for tenant "tfi_tb"', 'schedule_many with an element for another tenant: 42501 naming the element');
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE job_type = 'tfi.m'), 0, 'the refused schedule_many wrote nothing');
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE job_type = 'tfi.s' AND tenant_id <> 'tfi_ta'), 0,
  'no job of tfi_a landed in another tenant');

-- Rules: create_rule for another tenant is refused.
SELECT alike(pg_temp.attempt('tfi_a', $$SELECT taskflow.create_rule('tfi r', '{"type": "event", "on": "job_dead"}', '[{"job_type": "tfi.alert"}]', tenant_id => 'tfi_tb')$$),
  '42501:%', 'create_rule for another tenant: 42501');
SELECT is(pg_temp.attempt('tfi_a', $$SELECT taskflow.create_rule('tfi own', '{"type": "event", "on": "job_dead"}', '[{"job_type": "tfi.alert"}]')$$),
  'ok', 'create_rule for its own tenant is allowed (refusal is only for other tenants)');
SELECT is((SELECT tenant_id FROM taskflow.automation_rules WHERE name = 'tfi own'), 'tfi_ta',
  'the rule belongs to the role''s tenant');
SELECT pg_temp.val('tfi_b', $$SELECT taskflow.create_rule('tfi b rule', '{"type": "event", "on": "job_dead"}', '[{"job_type": "tfi.alert"}]')$$) AS brule \gset
SELECT is((SELECT tenant_id FROM taskflow.automation_rules WHERE id = :brule), 'tfi_tb', 'tfi_b created a rule of its own');
SELECT is(pg_temp.val('tfi_a', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.list_rules()'), 'tfi_ta',
  'list_rules shows a tenant role only its own rules');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.alter_rule(%s, name => ''stolen'')', :brule)),
  format('42704: rule %s does not exist', :brule), 'alter_rule of another tenant''s rule: as if it did not exist');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.disable_rule(%s)', :brule)),
  format('42704: rule %s does not exist', :brule), 'disable_rule of another tenant''s rule: as if it did not exist');
SELECT is(pg_temp.attempt('tfi_a', format('SELECT taskflow.drop_rule(%s)', :brule)),
  format('42704: rule %s does not exist', :brule), 'drop_rule of another tenant''s rule: as if it did not exist');
SELECT is((SELECT name || ' ' || enabled FROM taskflow.automation_rules WHERE id = :brule), 'tfi b rule true',
  'the other tenant''s rule is unchanged');
-- A mapped role that is later given taskflow_admin stays confined (the mapping wins): it too
-- must not create rules for another tenant.
CREATE ROLE tfi_a_admin;
SELECT taskflow.grant_tenant('tfi_a_admin', 'tfi_ta');
GRANT taskflow_admin TO tfi_a_admin;
SELECT is(pg_temp.val('tfi_a_admin', 'SELECT taskflow._caller_tenant()'), 'tfi_ta',
  'a mapped role that also holds taskflow_admin stays confined to its tenant');
SELECT is(pg_temp.val('tfi_a_admin', format('SELECT taskflow.get_job(%s)::text', :b1)), NULL,
  'it does not see another tenant''s job');
SELECT alike(pg_temp.attempt('tfi_a_admin', $$SELECT taskflow.create_rule('tfi r2', '{"type": "event", "on": "job_dead"}', '[{"job_type": "tfi.alert"}]', tenant_id => 'tfi_tb')$$),
  '42501:%', 'it cannot create a rule for another tenant (42501)');
SELECT is((SELECT count(*)::int FROM taskflow.automation_rules WHERE tenant_id = 'tfi_tb' AND name IN ('tfi r', 'tfi r2')), 0,
  'no rule was created for the other tenant');

-- ---------------------------------------------------------------------------------------------
-- Reading the tables directly: row level security
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.val('tfi_a', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs'), 'tfi_ta',
  'SELECT on taskflow.jobs shows only its own tenant''s rows');
SELECT is(pg_temp.val('tfi_a', format('SELECT count(*)::text FROM taskflow.jobs WHERE id IN (%s, %s, %s)', :b1, :b2, :d1)), '0',
  'other tenants'' rows are invisible even by id');
SELECT is(pg_temp.val('tfi_a', 'SELECT count(*)::text FROM taskflow.jobs'),
  (SELECT count(*)::text FROM taskflow.jobs WHERE tenant_id = 'tfi_ta'), 'it sees all of its own rows');
SELECT is(pg_temp.val('tfi_a', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.job_summaries'), 'tfi_ta',
  'the job_summaries view (security_invoker) shows only its own rows');
SELECT is(pg_temp.val('tfi_a', 'SELECT string_agg(id, '','') FROM taskflow.tenants'), 'tfi_ta',
  'taskflow.tenants shows only its own tenant');
SELECT is(pg_temp.val('tfi_b', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs'), 'tfi_tb',
  'and tfi_b sees only tfi_tb');
SELECT is(pg_temp.val('tfi_client', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs WHERE queue = ''tfi_q'''), 'default',
  'an unmapped client sees only tenant ''default''');
SELECT is(pg_temp.val('tfi_admin', 'SELECT string_agg(DISTINCT tenant_id, '','' ORDER BY tenant_id) FROM taskflow.jobs WHERE queue = ''tfi_q'''),
  'default,tfi_ta,tfi_tb', 'an admin sees every tenant''s rows');
SELECT is(
  ARRAY(SELECT relname || ' ' || relrowsecurity || ' ' || relforcerowsecurity FROM pg_class
        WHERE oid IN ('taskflow.jobs'::regclass, 'taskflow.tenants'::regclass,
                      'taskflow.automation_rules'::regclass, 'taskflow.rule_firings'::regclass) ORDER BY 1),
  ARRAY['automation_rules true true', 'jobs true true', 'rule_firings true true', 'tenants true true'],
  'row level security is enabled and FORCED on jobs, tenants, automation_rules and rule_firings');
SELECT is(
  ARRAY(SELECT tablename || ' ' || policyname FROM pg_policies WHERE schemaname = 'taskflow' ORDER BY 1),
  ARRAY['automation_rules tenant_isolation', 'job_dependencies tenant_isolation', 'jobs tenant_isolation',
        'rule_firings tenant_isolation', 'tenants tenant_isolation', 'workflow_nodes tenant_isolation',
        'workflows tenant_isolation'],
  'each carries the tenant_isolation policy');
-- The owner of the tables (a role that is not a superuser) is no loophole when it is confined.
CREATE ROLE tfi_owner;
ALTER TABLE taskflow.jobs OWNER TO tfi_owner;
SELECT taskflow.grant_tenant('tfi_owner', 'tfi_ta');
SELECT is(pg_temp.val('tfi_owner', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs'), 'tfi_ta',
  'FORCE: even the table owner, confined to a tenant, reads only its tenant''s rows');
ALTER TABLE taskflow.jobs OWNER TO CURRENT_USER;

-- The tenant comes from the role, not from anything the client can set.
SELECT is(pg_has_role('tfi_a', 'tfi_b', 'MEMBER') OR pg_has_role('tfi_a', 'taskflow_admin', 'MEMBER'), false,
  'tfi_a is no member of tfi_b (nor of taskflow_admin), so it cannot SET ROLE to become another tenant');
SELECT is(pg_temp.val('tfi_a', 'SELECT set_config(''app.tenant_id'', ''tfi_tb'', true) || taskflow._caller_tenant() || (SELECT count(*) FROM taskflow.jobs WHERE tenant_id = ''tfi_tb'')'),
  'tfi_tbtfi_ta0', 'a custom setting changes nothing: still tfi_ta, still no tfi_tb rows');
SELECT is(pg_temp.attempt('tfi_a', 'SELECT taskflow.grant_tenant(''tfi_a'', ''tfi_tb'')'),
  '42501: permission denied for function grant_tenant', 'a tenant role cannot remap itself');

-- ---------------------------------------------------------------------------------------------
-- Worker and admin roles see every tenant; an unmapped client acts as 'default'
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.val('tfi_worker', format('SELECT taskflow.get_job(%s) ->> ''tenant_id''', :b1)), 'tfi_tb',
  'a worker role sees any tenant''s job');
SELECT pg_temp.val('tfi_worker', 'SELECT taskflow.schedule(''tfi.w'', queue => ''tfi_q'', tenant_id => ''tfi_tb'')') AS sj4 \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :sj4),
  'tfi_tb', 'a worker role may schedule for any tenant');
SELECT is(pg_temp.val('tfi_admin', format('SELECT taskflow.cancel(%s)::text', :b1)), 'CANCELLED',
  'an admin role cancels any tenant''s job');
SELECT is(pg_temp.val('tfi_admin', 'SELECT count(DISTINCT tenant_id)::text FROM taskflow.list_jobs(queue => ''tfi_q'')'), '3',
  'an admin''s list_jobs spans every tenant');
SELECT is(pg_temp.val('tfi_client', 'SELECT taskflow._caller_tenant()'), 'default', 'an unmapped client acts as tenant ''default''');
SELECT is(pg_temp.val('tfi_client', format('SELECT taskflow.get_job(%s)::text', :a1)), NULL,
  'it does not see a mapped tenant''s job');
SELECT is(pg_temp.attempt('tfi_client', 'SELECT taskflow.schedule(''tfi.c'', queue => ''tfi_q'', tenant_id => ''tfi_ta'')'),
  '42501: permission denied for tenant "tfi_ta"', 'nor may it schedule for one');

-- ---------------------------------------------------------------------------------------------
-- grant_tenant / revoke_tenant
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT taskflow.grant_tenant(NULL, 'x')$$, '22004', NULL, 'grant_tenant: NULL role is 22004');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_lone', NULL)$$, '22004', NULL, 'grant_tenant: NULL tenant is 22004');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_no_such_role', 'x')$$, '42704',
  'role "tfi_no_such_role" does not exist', 'grant_tenant: an unknown role is 42704');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_worker', 'x')$$, '42501', NULL,
  'grant_tenant: a worker role cannot be confined (42501)');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_admin', 'x')$$, '42501', NULL,
  'grant_tenant: an admin role cannot be confined (42501)');
SELECT throws_ok($$SELECT taskflow.grant_tenant('postgres', 'x')$$, '42501', NULL,
  'grant_tenant: a superuser cannot be confined (42501)');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_lone', '')$$, '22023', NULL, 'grant_tenant: an empty tenant_id is 22023');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfi_lone', repeat('t', 201))$$, '22023', NULL, 'grant_tenant: a 201-character tenant_id is 22023');
SELECT throws_ok($$SELECT taskflow.revoke_tenant('tfi_lone')$$, '42704', 'role "tfi_lone" is not mapped to a tenant',
  'revoke_tenant of an unmapped role is 42704');

-- A role name that needs quoting.
CREATE ROLE "Tfi Mixed Case";
SELECT taskflow.grant_tenant('Tfi Mixed Case', 'tfi_mc') AS x \gset
SELECT is(pg_temp.val('Tfi Mixed Case', 'SELECT taskflow._caller_tenant()'), 'tfi_mc',
  'grant_tenant works for a role whose name needs quoting');
SELECT is(pg_has_role('Tfi Mixed Case', 'taskflow_client', 'MEMBER'), true, 'and makes it a taskflow_client');

-- Remapping moves the role at once (in this very transaction), revoking ends the confinement.
-- (tfi_b acts right before each change, so any per-session cache of its tenant is warm.)
SELECT is(pg_temp.val('tfi_b', 'SELECT taskflow._caller_tenant()'), 'tfi_tb', 'tfi_b acts as tfi_tb');
SELECT taskflow.grant_tenant('tfi_b', 'tfi_tc');
SELECT is(pg_temp.val('tfi_b', 'SELECT taskflow._caller_tenant()'), 'tfi_tc',
  'grant_tenant again moves the role to the new tenant at once');
SELECT taskflow.revoke_tenant('tfi_b');
GRANT taskflow_client TO tfi_b;
SELECT is(pg_temp.val('tfi_b', 'SELECT taskflow._caller_tenant()'), 'default',
  'after revoke_tenant it is confined no more: a plain client acts as ''default''');
REVOKE taskflow_client FROM tfi_b;
SELECT is((SELECT count(*)::int FROM taskflow.tenant_roles WHERE role_name = 'tfi_b'::regrole) || ' ' ||
          pg_has_role('tfi_b', 'taskflow_client', 'MEMBER'), '0 false',
  'revoke_tenant removes the mapping and the taskflow_client membership');

SELECT * FROM finish();
ROLLBACK;
