-- Multi-tenancy: the ways out of a tenant that were found, and are closed now.
--  1. parent_job_id: another tenant's job is answered exactly as a missing one (schedule,
--     schedule_many), so a tenant neither attaches to it, inherits its correlation id, nor
--     probes ids;
--  2. SET ROLE: a session whose login role is confined stays in its tenant, whatever role it
--     sets; a session of two tenants is refused;
--  3. membership: a role that inherits (directly or not) from a confined role is confined to
--     its tenant; a role inheriting from two tenants' roles is refused; grant_tenant refuses
--     mappings that would do that; the mapping survives ALTER ROLE ... RENAME;
--  4. a confined session cannot run the worker protocol (it would reach every tenant).
-- (Lock waits, which need two sessions, are in test/t/tenancy_lock_wait.t.)
BEGIN;
SELECT plan(46);
\ir helpers.psql

CREATE ROLE tfe_a;                  -- mapped to tenant tfe_ta
CREATE ROLE tfe_b;                  -- mapped to tenant tfe_tb
CREATE ROLE tfe_alice IN ROLE tfe_a;        -- inherits from tfe_a
CREATE ROLE tfe_bob IN ROLE tfe_alice;      -- inherits from tfe_a through tfe_alice
CREATE ROLE tfe_mallory IN ROLE tfe_a, tfe_b;  -- inherits from both tenants' roles
CREATE ROLE tfe_noinh NOINHERIT;    -- mapped to tfe_ta, NOINHERIT member of tfe_b
CREATE ROLE tfe_admin;
GRANT taskflow_admin TO tfe_admin;
SELECT taskflow.grant_tenant('tfe_a', 'tfe_ta');
SELECT taskflow.grant_tenant('tfe_b', 'tfe_tb');
SELECT taskflow.grant_tenant('tfe_noinh', 'tfe_ta');
GRANT tfe_b TO tfe_noinh;
SELECT taskflow.create_queue('tfe_q');

-- The same with the session user set to login (SET SESSION AUTHORIZATION, as if login had
-- logged in), then SET ROLE r: what a login role that is a member of r can do.
CREATE FUNCTION pg_temp.val_as(login name, r name, query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', login);
  IF r IS NOT NULL THEN
    EXECUTE format('SET LOCAL ROLE %I', r);
  END IF;
  BEGIN
    EXECUTE query INTO result;
  EXCEPTION WHEN OTHERS THEN
    result := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
  END;
  RESET ROLE;
  RESET SESSION AUTHORIZATION;
  RETURN result;
END
$$;

SELECT taskflow.schedule('tfe.a', queue => 'tfe_q', tenant_id => 'tfe_ta',
                         correlation_id => 'corr-a') AS a1 \gset
SELECT taskflow.schedule('tfe.b', queue => 'tfe_q', tenant_id => 'tfe_tb',
                         correlation_id => 'secret-of-b') AS b1 \gset
SELECT max(id) + 1000000 AS missing FROM taskflow.jobs \gset

-- ---------------------------------------------------------------------------------------------
-- 1. parent_job_id
-- ---------------------------------------------------------------------------------------------
SELECT is(replace(pg_temp.val('tfe_a', format(
            'SELECT taskflow.schedule(''x'', queue => ''tfe_q'', parent_job_id => %s)', :b1)), 'job ' || :'b1', 'job N'),
          'ERROR 23503: parent job N does not exist',
  'schedule with another tenant''s job as parent: 23503, "parent job N does not exist"');
SELECT is(replace(pg_temp.val('tfe_a', format(
            'SELECT taskflow.schedule(''x'', queue => ''tfe_q'', parent_job_id => %s)', :missing)), 'job ' || :'missing', 'job N'),
          'ERROR 23503: parent job N does not exist',
  '... exactly as for a job that does not exist');
SELECT is(replace(pg_temp.val('tfe_a', format(
            $q$SELECT count(*) FROM taskflow.schedule_many('[{"job_type": "x", "queue": "tfe_q", "parent_job_id": %s}]')$q$, :b1)), 'job ' || :'b1', 'job N'),
          'ERROR 23503: jobs[0]: parent job N does not exist',
  'schedule_many with another tenant''s job as parent: 23503, naming the element');
SELECT is(replace(pg_temp.val('tfe_a', format(
            $q$SELECT count(*) FROM taskflow.schedule_many('[{"job_type": "x", "queue": "tfe_q", "parent_job_id": %s}]')$q$, :missing)), 'job ' || :'missing', 'job N'),
          'ERROR 23503: jobs[0]: parent job N does not exist',
  '... exactly as for a job that does not exist');
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE parent_job_id = :b1), 0,
  'no job of tenant tfe_ta hangs under tfe_tb''s job');
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE correlation_id = 'secret-of-b'), 1,
  'and tfe_tb''s correlation id was not copied');

-- Its own jobs remain parents, and their correlation id is inherited.
SELECT pg_temp.val('tfe_a', format(
  'SELECT taskflow.schedule(''x'', queue => ''tfe_q'', parent_job_id => %s)', :a1)) AS a_child \gset
SELECT is((SELECT tenant_id || ' ' || correlation_id || ' ' || parent_job_id FROM taskflow.jobs WHERE id = :'a_child'::bigint),
          'tfe_ta corr-a ' || :a1, 'a tenant''s own job is a parent, and its correlation id is inherited');
SELECT pg_temp.val('tfe_a', format(
  $q$SELECT x FROM taskflow.schedule_many('[{"job_type": "x", "queue": "tfe_q", "parent_job_id": %s}]') x$q$, :a1)) AS a_child2 \gset
SELECT is((SELECT correlation_id FROM taskflow.jobs WHERE id = :'a_child2'::bigint), 'corr-a',
  'schedule_many: the same');
-- Roles that see every tenant keep doing so.
SELECT pg_temp.val('tfe_admin', format(
  'SELECT taskflow.schedule(''x'', queue => ''tfe_q'', tenant_id => ''tfe_ta'', parent_job_id => %s)', :b1)) AS adm_child \gset
SELECT is((SELECT correlation_id FROM taskflow.jobs WHERE id = :'adm_child'::bigint), 'secret-of-b',
  'an admin may still use any job as parent');

-- ---------------------------------------------------------------------------------------------
-- 2. SET ROLE
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.val_as('tfe_a', NULL, 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'a session of login role tfe_a acts as tfe_ta');
SELECT is(pg_temp.val_as('tfe_a', 'taskflow_client', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'SET ROLE taskflow_client keeps it in tfe_ta (it acted as ''default'')');
SELECT pg_temp.val_as('tfe_a', 'taskflow_client', 'SELECT taskflow.schedule(''x'', queue => ''tfe_q'')') AS setrole_job \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :'setrole_job'::bigint), 'tfe_ta',
  '... and schedules into tfe_ta');
SELECT is(pg_temp.val_as('tfe_a', 'taskflow_client',
            'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs'),
          'tfe_ta', '... and row level security shows it only tfe_ta''s jobs');
SELECT is(pg_temp.val_as('tfe_a', 'taskflow_client', format('SELECT taskflow.get_job(%s)', :b1)),
          NULL, '... and get_job of another tenant''s job is NULL');
SELECT is(replace(pg_temp.val_as('tfe_a', 'taskflow_client', format('SELECT taskflow.cancel(%s)', :b1)), 'job ' || :'b1', 'job N'),
          'ERROR P0002: job N does not exist', '... and cancel of it is P0002');
SELECT is(pg_temp.val_as('tfe_a', 'taskflow_client', 'SELECT count(*) FROM taskflow.list_jobs(tenant_id => ''tfe_tb'')'),
          '0', '... and list_jobs shows none of them');
SELECT is(pg_temp.val_as('tfe_a', 'taskflow_client',
            'SELECT taskflow.schedule(''x'', queue => ''tfe_q'', tenant_id => ''tfe_tb'')'),
          'ERROR 42501: permission denied for tenant "tfe_tb"', '... and naming another tenant is refused');
SELECT is(pg_temp.val_as('tfe_alice', 'tfe_a', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'SET ROLE to the mapped role itself: its tenant');
-- NOINHERIT member of another tenant's role: as itself tfe_ta; SET ROLE tfe_b would be tfe_tb
-- too: refused.
SELECT is(pg_temp.val_as('tfe_noinh', 'taskflow_client', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'tfe_noinh (mapped to tfe_ta, NOINHERIT) with SET ROLE taskflow_client acts as tfe_ta');
SELECT alike(pg_temp.val_as('tfe_noinh', 'tfe_b', 'SELECT taskflow._caller_tenant()'),
            'ERROR 42501: permission denied: this session is confined to more than one tenant%',
  'SET ROLE tfe_b from it: the session would be in two tenants, refused (42501)');
SELECT alike(pg_temp.val_as('tfe_noinh', 'tfe_b', 'SELECT count(*) FROM taskflow.jobs'),
            'ERROR 42501:%', '... also by row level security');
SELECT alike(pg_temp.val_as('tfe_noinh', 'tfe_b', 'SELECT taskflow.schedule(''x'', queue => ''tfe_q'')'),
            'ERROR 42501:%', '... and by schedule');
-- A superuser's session may still SET ROLE to a tenant role (how these tests, and the HTTP
-- server's SET LOCAL ROLE, act as tenants).
SELECT is(pg_temp.val('tfe_b', 'SELECT taskflow._caller_tenant()'), 'tfe_tb',
  'a superuser session with SET ROLE tfe_b acts as tfe_tb');

-- ---------------------------------------------------------------------------------------------
-- 3. membership
-- ---------------------------------------------------------------------------------------------
SELECT is(pg_temp.val('tfe_alice', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'CREATE ROLE alice IN ROLE tfe_a: alice is confined to tfe_ta (it acted as ''default'')');
SELECT is(pg_temp.val('tfe_bob', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'and so is bob, who inherits from tfe_a through alice');
SELECT pg_temp.val('tfe_bob', 'SELECT taskflow.schedule(''x'', queue => ''tfe_q'')') AS bob_job \gset
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :'bob_job'::bigint), 'tfe_ta',
  'bob schedules into tfe_ta');
SELECT is(pg_temp.val('tfe_bob', 'SELECT string_agg(DISTINCT tenant_id, '','') FROM taskflow.jobs'),
          'tfe_ta', 'bob reads only tfe_ta''s jobs');
SELECT is(pg_temp.val('tfe_bob', format('SELECT taskflow.get_job(%s)', :b1)), NULL,
  'bob cannot read tfe_tb''s job');
SELECT is(replace(pg_temp.val('tfe_bob', format('SELECT taskflow.retry(%s)', :b1)), 'job ' || :'b1', 'job N'),
          'ERROR P0002: job N does not exist', 'nor retry it');
SELECT is(pg_temp.val('tfe_alice',
            'SELECT taskflow.create_rule(''tfe_r'', ''{"type": "cron", "schedule": "0 * * * *"}'', ''[{"job_type": "x"}]'', tenant_id => ''tfe_tb'')'),
          'ERROR 42501: permission denied for tenant "tfe_tb"', 'nor create a rule for tfe_tb');
SELECT is(pg_temp.val('tfe_mallory', 'SELECT taskflow._caller_tenant()'),
          'ERROR 42501: permission denied: this session is confined to more than one tenant ("tfe_ta", "tfe_tb")',
  'a role inheriting from two tenants'' roles is refused (42501)');
SELECT alike(pg_temp.val('tfe_mallory', 'SELECT taskflow.schedule(''x'', queue => ''tfe_q'')'),
            'ERROR 42501:%', '... by schedule');
SELECT alike(pg_temp.val('tfe_mallory', 'SELECT count(*) FROM taskflow.jobs'),
            'ERROR 42501:%', '... and by row level security');
SELECT alike(pg_temp.val('tfe_mallory', format('SELECT taskflow.get_job(%s)', :a1)),
            'ERROR 42501:%', '... and by get_job');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfe_alice', 'tfe_tb')$$, '42501', NULL,
  'grant_tenant refuses to map a role that inherits from another tenant''s role');
SELECT lives_ok($$SELECT taskflow.grant_tenant('tfe_alice', 'tfe_ta')$$,
  'grant_tenant maps a role that inherits from a role of the same tenant');
SELECT throws_ok($$SELECT taskflow.grant_tenant('tfe_a', 'tfe_tc')$$, '42501', NULL,
  'grant_tenant refuses to move tfe_a to another tenant while alice (mapped to tfe_ta) inherits from it');
SELECT throws_ok($$SELECT taskflow.grant_tenant('taskflow_client', 'tfe_tc')$$, '42501', NULL,
  'grant_tenant refuses TaskFlow''s group roles (confining taskflow_client would confine every client)');
-- A rename keeps the confinement (the mapping holds the role's OID), and a new role with the
-- old name is not confined by it.
ALTER ROLE tfe_b RENAME TO tfe_b_renamed;
CREATE ROLE tfe_b;
GRANT taskflow_client TO tfe_b;
SELECT is(pg_temp.val('tfe_b_renamed', 'SELECT taskflow._caller_tenant()'), 'tfe_tb',
  'ALTER ROLE ... RENAME: the renamed role stays confined to its tenant');
SELECT is(pg_temp.val('tfe_b', 'SELECT taskflow._caller_tenant()'), 'default',
  'a new role with the old name is not confined by the old mapping (a plain client: default)');
SELECT is((SELECT tenant_id FROM taskflow.tenant_roles WHERE role_name::text = 'tfe_b_renamed'), 'tfe_tb',
  'taskflow.tenant_roles shows the role by its new name');
SELECT lives_ok($$SELECT taskflow.revoke_tenant('tfe_b_renamed')$$, 'revoke_tenant finds it by its new name');
-- Membership granted later, in the same transaction, counts at once.
CREATE ROLE tfe_carol;
GRANT taskflow_client TO tfe_carol;
SELECT is(pg_temp.val('tfe_carol', 'SELECT taskflow._caller_tenant()'), 'default', 'carol: a plain client');
GRANT tfe_a TO tfe_carol;
SELECT is(pg_temp.val('tfe_carol', 'SELECT taskflow._caller_tenant()'), 'tfe_ta',
  'GRANT tfe_a TO carol: confined to tfe_ta at once');

-- ---------------------------------------------------------------------------------------------
-- 4. a confined session and the worker protocol
-- ---------------------------------------------------------------------------------------------
GRANT taskflow_worker TO tfe_carol;
SELECT alike(pg_temp.val('tfe_carol', 'SELECT count(*) FROM taskflow.acquire(''w'', ARRAY[''tfe_q''], 10)'),
            'ERROR 42501: permission denied for function acquire: this session is confined to tenant "tfe_ta"%',
  'a confined role that is also a taskflow_worker cannot acquire (it would take every tenant''s jobs)');
SELECT alike(pg_temp.val('tfe_carol', format('SELECT taskflow.fail(%s, gen_random_uuid(), ''e'')', :b1)),
            'ERROR 42501:%', '... nor fail a job by id');

SELECT * FROM finish();
ROLLBACK;
