-- ---------------------------------------------------------------------------------------------
-- Roles: created when missing (roles are cluster-wide and survive DROP EXTENSION).
--   taskflow_client  schedule, read, cancel, retry
--   taskflow_worker  the worker protocol (acquire, heartbeat, complete, fail, release)
--   taskflow_admin   everything, incl. queues and dead letters
-- ---------------------------------------------------------------------------------------------
-- Creates the role `role` (NOLOGIN; NOINHERIT too when noinherit) unless it exists. True when
-- this call created it. Used here and by 060_rules.sql and 080_http.sql.
CREATE FUNCTION taskflow._create_role_once(role name, noinherit boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role) THEN
    RETURN false;
  END IF;
  EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN%s', role,
                            CASE WHEN noinherit THEN ' NOINHERIT' ELSE '' END);
  RETURN true;
END
$$;

SELECT taskflow._create_role_once(r)
FROM pg_catalog.unnest('{taskflow_client,taskflow_worker,taskflow_admin}'::name[]) r;
