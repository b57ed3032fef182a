-- TaskFlow upgrade 0.1.0 -> 0.2.0 (ALTER EXTENSION taskflow UPDATE). Hand-written: every change
-- between sql/releases/taskflow--0.1.0.sql and the 0.2.0 sql/src/*.sql, in this order
-- (docs/releasing.md, "Adding an upgrade script"):
--   1. roles, types, tables, columns, constraints, indexes, policies (by hand: data must survive)
--   2. functions: the new definition copied from sql/src, as CREATE OR REPLACE FUNCTION (DROP
--      FUNCTION first when the arguments or the return type changed; then re-GRANT)
--   3. grants, revokes and comments of the new or changed objects
-- test/t/upgrade.t installs 0.1.0, fills it, runs this script, runs the pgTAP suites and compares
-- every object with a fresh 0.2.0 install; its output names each object that differs.
\echo Use "ALTER EXTENSION taskflow UPDATE TO '0.2.0'" to load this file. \quit

-- --- 1. tables, columns, indexes --------------------------------------------------------------

-- --- 2. functions -------------------------------------------------------------------------------

-- --- 3. grants and comments --------------------------------------------------------------------
