-- ---------------------------------------------------------------------------------------------
-- Roles: created when missing (roles are cluster-wide and survive DROP EXTENSION).
--   taskflow_client  schedule, read, cancel, retry
--   taskflow_worker  the worker protocol (acquire, heartbeat, complete, fail, release)
--   taskflow_admin   everything, incl. queues and dead letters
-- ---------------------------------------------------------------------------------------------
DO $roles$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskflow_client') THEN
    CREATE ROLE taskflow_client NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskflow_worker') THEN
    CREATE ROLE taskflow_worker NOLOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskflow_admin') THEN
    CREATE ROLE taskflow_admin NOLOGIN;
  END IF;
END
$roles$;
