-- TaskFlow install script. Built by concatenating sql/src/*.sql in order; do not edit the
-- generated sql/taskflow--<version>.sql. Every name is schema-qualified and every function pins
-- search_path, so the script and the functions are safe against search_path attacks.
-- The upgrade script to this release is built from these files too (scripts/upgrade_script.py,
-- docs/releasing.md): it runs every COMMENT, GRANT, REVOKE, ALTER FUNCTION/ROLE, ALTER TABLE ...
-- ROW LEVEL SECURITY, DO and SELECT statement again, so each of those must be idempotent.
\echo Use "CREATE EXTENSION taskflow" to load this file. \quit

-- The schema belongs to the extension (created here, not by CREATE EXTENSION from the control
-- file), so DROP EXTENSION taskflow removes it with everything in it.
CREATE SCHEMA taskflow;
COMMENT ON SCHEMA taskflow IS 'TaskFlow: jobs, queues, rules (the taskflow extension).';
