-- TaskFlow install script. Built by concatenating sql/src/*.sql in order; do not edit the
-- generated sql/taskflow--<version>.sql. Every name is schema-qualified and every function pins
-- search_path, so the script and the functions are safe against search_path attacks.
\echo Use "CREATE EXTENSION taskflow" to load this file. \quit

-- The schema belongs to the extension (created here, not by CREATE EXTENSION from the control
-- file), so DROP EXTENSION taskflow removes it with everything in it.
CREATE SCHEMA taskflow;
COMMENT ON SCHEMA taskflow IS 'TaskFlow: jobs, queues, rules (the taskflow extension).';
