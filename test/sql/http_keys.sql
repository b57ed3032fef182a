-- authenticate_api_key refuses a client key whose database role exists but is not mapped to the
-- key's tenant in taskflow.tenant_roles (a database restored before its roles: the tenant_roles
-- rows could not be restored, the roles came later). Unmapped, the role would not be confined
-- and would act as tenant 'default'. Mapped to another tenant is refused too.
BEGIN;
SELECT plan(9);

SELECT taskflow.create_api_key('hk_acme') AS k \gset
SELECT taskflow.create_api_key(NULL, 'admin') AS a \gset
SELECT taskflow.create_api_key(NULL, 'worker') AS w \gset
SELECT db_role AS r FROM taskflow.api_keys WHERE tenant_id = 'hk_acme' \gset

SELECT is((SELECT tenant_id || ' ' || role || ' ' || db_role FROM taskflow.authenticate_api_key(:'k')),
  'hk_acme client ' || :'r', 'a mapped client key authenticates: its tenant, role and database role');
SELECT is_empty($$SELECT * FROM taskflow.authenticate_api_key('tfk_not_a_key')$$,
  'an unknown key: no row');

-- The restore in the wrong order: the role is there, its tenant_roles row is not.
DELETE FROM taskflow.tenant_roles WHERE role_name = :'r'::regrole;
SELECT throws_ok(format('SELECT * FROM taskflow.authenticate_api_key(%L)', :'k'), '28000',
  format('the database role %s of API key %s is not mapped to its tenant ''hk_acme''', :'r', left(:'k', 12)),
  'a client key whose role is not mapped to its tenant is refused (28000), not run unconfined');
-- the hint says how to repair it
CREATE FUNCTION pg_temp.hint_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE h text;
BEGIN
  EXECUTE sql;
  RETURN NULL;
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
  RETURN h;
END
$$;
SELECT matches(pg_temp.hint_of(format('SELECT * FROM taskflow.authenticate_api_key(%L)', :'k')),
  format('grant_tenant\(''%s'', ''hk_acme''\)', :'r'), 'the hint names the grant_tenant call that maps it again');

-- Mapped to another tenant: refused as well.
SELECT taskflow.grant_tenant(:'r', 'hk_other');
SELECT throws_ok(format('SELECT * FROM taskflow.authenticate_api_key(%L)', :'k'), '28000', NULL,
  'a client key whose role is mapped to another tenant is refused');

-- Admin and worker keys are not tenant roles: unaffected.
SELECT is((SELECT role FROM taskflow.authenticate_api_key(:'a')), 'admin', 'an admin key still authenticates');
SELECT is((SELECT role FROM taskflow.authenticate_api_key(:'w')), 'worker', 'a worker key still authenticates');

-- Mapped again: the key works.
SELECT taskflow.revoke_tenant(:'r');
SELECT taskflow.grant_tenant(:'r', 'hk_acme');
SELECT is((SELECT tenant_id FROM taskflow.authenticate_api_key(:'k')), 'hk_acme',
  'mapped again, the key authenticates');

-- A revoked key: no row, whatever its role's mapping.
SELECT taskflow.revoke_api_key(:'k');
DELETE FROM taskflow.tenant_roles WHERE role_name = :'r'::regrole;
SELECT is_empty(format('SELECT * FROM taskflow.authenticate_api_key(%L)', :'k'), 'a revoked key: no row');

SELECT * FROM finish();
ROLLBACK;
