-- ---------------------------------------------------------------------------------------------
-- Tenant confinement (the mapping; limits and fairness settings are in 065_tenancy.sql)
-- ---------------------------------------------------------------------------------------------

-- A database role mapped to a tenant is confined to it by every taskflow function and by row
-- level security. Unmapped roles: superusers, taskflow_admin and taskflow_worker members see
-- every tenant; any other role acts as tenant 'default'.
CREATE TABLE taskflow.tenant_roles (
  role_name  name PRIMARY KEY,
  tenant_id  text NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE taskflow.tenant_roles IS 'Database roles confined to a tenant (taskflow.grant_tenant).';
SELECT pg_catalog.pg_extension_config_dump('taskflow.tenant_roles', '');

CREATE FUNCTION taskflow._caller_tenant() RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_caller_tenant'
LANGUAGE C STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION taskflow._caller_tenant() IS
  'The tenant the calling role is confined to; NULL when it sees every tenant.';

CREATE FUNCTION taskflow._resolve_tenant(requested text) RETURNS text
AS 'MODULE_PATHNAME', 'taskflow_resolve_tenant'
LANGUAGE C STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION taskflow._resolve_tenant(text) IS
  'The tenant a new job or rule of the caller belongs to; 42501 for another tenant.';

CREATE FUNCTION taskflow._tenant_mapping_changed() RETURNS void
AS 'MODULE_PATHNAME', 'taskflow_tenant_mapping_changed'
LANGUAGE C VOLATILE
SET search_path = pg_catalog, pg_temp;
