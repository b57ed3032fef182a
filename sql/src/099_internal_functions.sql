-- ---------------------------------------------------------------------------------------------
-- Internal functions (taskflow._*) are TaskFlow's own: nobody but their owner (the installing
-- superuser) may call them. The public functions that use them are SECURITY DEFINER, so they
-- keep working for every role; the maintenance worker connects as the bootstrap superuser.
-- Revoked from PUBLIC and from every role holding a grant (taskflow_client, taskflow_worker,
-- taskflow_admin, ...), last in the install script so that no later grant undoes it. Each
-- exception below is documented (docs/functions.md, "Internal functions") and granted where
-- its own file says:
--   _caller_tenant                      every TaskFlow role: the row level security policies
--                                       call it as the querying role
--   _queue_stats                        taskflow_admin: the view taskflow.queue_stats calls it, and a
--                                       view's function calls are checked as the querying role
--   _rescue_expired, _promote_due,      taskflow_admin: the maintenance rounds, documented as
--   _clean, _rollup                     callable by admins for tooling (a pg_cron schedule
--                                       instead of the maintenance worker, tests)
-- test/sql/internal_functions.sql enumerates pg_proc and checks every other one.
-- ---------------------------------------------------------------------------------------------
DO $internal$
DECLARE
  f record;
  grantee name;
BEGIN
  FOR f IN
    SELECT p.oid, format('%I.%I(%s)', n.nspname, p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)) AS sig,
           p.proacl, p.proowner
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'taskflow' AND p.proname LIKE '\_%'
       AND p.proname NOT IN ('_caller_tenant', '_queue_stats', '_rescue_expired', '_promote_due',
                                '_clean', '_rollup')
     ORDER BY p.oid
  LOOP
    EXECUTE format('REVOKE ALL ON ROUTINE %s FROM PUBLIC', f.sig);
    FOR grantee IN
      SELECT DISTINCT r.rolname FROM pg_catalog.aclexplode(f.proacl) a
        JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
       WHERE a.grantee <> f.proowner
    LOOP
      EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', f.sig, grantee);
    END LOOP;
  END LOOP;
END
$internal$;
