-- ---------------------------------------------------------------------------------------------
-- Tenants: the registry and the confinement of roles (the functions that set limits, weights
-- and rate limits, and row level security, are in 065_tenancy.sql)
-- ---------------------------------------------------------------------------------------------

-- The tenant registry: attributes (automation rules iterate over the tenants, "for_each":
-- "tenant", and read them; 060_rules.sql), the running-jobs limit and the fairness weight
-- (acquire, extension/api/acquire.cpp). A tenant needs no row here to have jobs.
CREATE TABLE taskflow.tenants (
  id          text PRIMARY KEY,
  attributes  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  max_running integer CHECK (max_running IS NULL OR max_running >= 1),
  weight      integer NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 1000)
);
COMMENT ON TABLE taskflow.tenants IS 'Registered tenants and their attributes (taskflow.upsert_tenant).';
COMMENT ON COLUMN taskflow.tenants.max_running IS
  'Most RUNNING jobs of this tenant at once, across all workers and queues; NULL: no limit.';
COMMENT ON COLUMN taskflow.tenants.weight IS
  'Share of acquisitions under contention (weighted round robin within a queue and priority).';
SELECT pg_catalog.pg_extension_config_dump('taskflow.tenants', '');

-- A database role mapped to a tenant is confined to it by every taskflow function and by row
-- level security, and so is every role that inherits from it (directly or through other roles)
-- and every session whose login role is confined (SET ROLE does not leave the tenant). The rule
-- is in extension/api/tenancy.cpp (CallerTenant) and docs/tenancy.md. Unmapped roles:
-- superusers, taskflow_admin and taskflow_worker members see every tenant; any other role acts
-- as tenant 'default'.
-- The role is stored by OID (regrole): a renamed role stays confined, and pg_dump writes (and a
-- restore resolves) the role's current name.
CREATE TABLE taskflow.tenant_roles (
  role_name  regrole PRIMARY KEY,
  tenant_id  text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE taskflow.tenant_roles IS 'Database roles confined to a tenant (taskflow.grant_tenant).';
COMMENT ON COLUMN taskflow.tenant_roles.role_name IS
  'The confined role, by OID (shown by its current name); roles inheriting from it are confined too.';
SELECT pg_catalog.pg_extension_config_dump('taskflow.tenant_roles', '');

CREATE FUNCTION taskflow._caller_tenant() RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_caller_tenant'
LANGUAGE C STABLE SECURITY DEFINER PARALLEL RESTRICTED;
COMMENT ON FUNCTION taskflow._caller_tenant() IS
  'The tenant the calling role is confined to; NULL when it sees every tenant.';

CREATE FUNCTION taskflow._resolve_tenant(requested text) RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_resolve_tenant'
LANGUAGE C STABLE SECURITY DEFINER;
COMMENT ON FUNCTION taskflow._resolve_tenant(text) IS
  'The tenant a new job or rule of the caller belongs to; 42501 for another tenant.';

CREATE FUNCTION taskflow._tenant_mapping_changed() RETURNS void
AS 'MODULE_PATHNAME', 'taskflow_tenant_mapping_changed'
LANGUAGE C VOLATILE;

-- Any change to the mapping (grant_tenant, revoke_tenant, a restore, a superuser's own DML)
-- makes every backend drop its cached tenants when the transaction commits, and this one at
-- once. Changes of role membership are noticed through PostgreSQL's catalog invalidations.
CREATE FUNCTION taskflow._tenant_roles_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'taskflow_tenant_roles_changed'
LANGUAGE C;
CREATE TRIGGER tenant_roles_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON taskflow.tenant_roles
  FOR EACH STATEMENT EXECUTE FUNCTION taskflow._tenant_roles_changed();
