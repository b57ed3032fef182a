-- ---------------------------------------------------------------------------------------------
-- Settings of TaskFlow's functions, one row of `settings` below each, applied by one loop to
-- every function of the schema its row selects (this file runs after every CREATE FUNCTION of
-- the install script, and the upgrade script runs it again after its CREATE OR REPLACEs):
--
-- SET search_path = pg_catalog, pg_temp: every function, so that a caller's search_path cannot
-- redirect a name (functions, operators, types) used inside it; with SECURITY DEFINER that would
-- run the caller's code with the owner's rights. One row here instead of a SET clause in every
-- definition: a function added later cannot forget it. Names in the bodies are schema-qualified
-- as well (test/sql/09_search_path.sql runs every API function under a hostile search_path).
-- The row sources (taskflow._rows_*, 070_observability.sql) are left out, as from jit below.
--
-- SET jit = off: no JIT inside TaskFlow's functions. Their statements are short and planned once
-- per backend; a generic plan's pessimistic cost estimate otherwise crosses jit_above_cost and
-- compiles code on every call (measured: 86 ms JIT for a 3 ms acquire). The row sources
-- (taskflow._rows_*, 070_observability.sql) are left out: a SET option would stop the planner
-- inlining them, and inlined they run under their callers' settings, which have jit off.
--
-- SET enable_seqscan = off: the job hot path plans for its indexes whatever the statistics say
-- at planning time. Plans are kept per backend (generic) or made from the statistics of the
-- moment; right after an install, or after the jobs table was emptied and vacuumed, the
-- statistics say "empty" and statements chose sequential scans, kept until autovacuum's next
-- ANALYZE (measured: a worker's acquire at 19 ms instead of 1.2 ms for 90 jobs once 50,000 were
-- queued). Every statement of these functions is meant to run on an index.
--
-- VOLATILE: every public function, the reading ones included (get_job, job_history, list_jobs,
-- list_rules, metrics, ...): users compose calls in one statement, e.g.
-- SELECT taskflow.get_job(taskflow.schedule('a')), and a STABLE function reads with the
-- snapshot of the calling statement, which cannot see what a function called earlier in that
-- statement wrote (the job just scheduled came back NULL). A VOLATILE function takes a fresh
-- snapshot per statement of its body. The cost is nil here: SECURITY DEFINER functions with
-- SET options are never inlined, and none of them is meant for an index condition. This row
-- also covers the reading functions declared elsewhere as STABLE, and any added later; the
-- helpers behind them (names starting with "_") keep their volatility. Three readers stay
-- STABLE: dashboard_overview, dashboard_rules and dashboard_tenants read the roll-up watermark
-- in one statement and the counters and the tail since that watermark in the next; with a
-- snapshot per statement, a roll-up committing in between counted its jobs twice
-- (test/t/metrics_snapshot.t). STABLE, every statement reads the calling statement's snapshot.
-- (metrics() reads all three in one statement.)
-- ---------------------------------------------------------------------------------------------
DO $settings$
DECLARE
  f regprocedure;
  setting text;
BEGIN
  FOR setting, f IN
    SELECT s.setting, p.oid::regprocedure
    FROM (VALUES (0, 'SET search_path = pg_catalog, pg_temp'), (1, 'SET jit = off'),
                 (2, 'SET enable_seqscan = off'), (3, 'VOLATILE'))
           AS s(step, setting)
    JOIN pg_catalog.pg_proc p ON p.pronamespace = 'taskflow'::regnamespace
    WHERE CASE s.step
            WHEN 0 THEN p.prokind = 'f' AND p.proname NOT LIKE '\_rows\_%'
            WHEN 1 THEN p.prokind = 'f' AND p.prorettype <> 'trigger'::regtype
                        AND p.proname NOT LIKE '\_rows\_%'
            WHEN 2 THEN p.proname IN ('acquire', 'schedule', 'schedule_many', 'complete',
                                      'complete_many', 'fail', 'release', 'snooze', 'heartbeat',
                                      'heartbeat_many', 'cancel', 'retry', 'handle_webhook',
                                      '_rescue_expired', '_promote_due')
            ELSE p.prokind = 'f' AND p.proname !~ '^_' AND p.provolatile <> 'v'
                 AND p.proname NOT IN ('dashboard_overview', 'dashboard_rules', 'dashboard_tenants')
          END
    ORDER BY s.step
  LOOP
    EXECUTE format('ALTER FUNCTION %s %s', f, setting);
  END LOOP;
END
$settings$;
