-- The SQL side speaks the core's vocabulary (extension/core/job_state.hpp): the job states and
-- their classes, as taskflow._core_states() reports them from the C++ core, against what the
-- catalog holds: the enum, the CHECK constraints and partial index predicates that list states,
-- the SQL helpers _unfinished_states() / _final_states(), and every SQL function body. The SQL
-- scripts cannot call C++ while they install, so they write states as literals; this suite is
-- what makes a drifted copy (a state dropped from a list, a new state missing) fail.
BEGIN;
SELECT plan(16);
\ir helpers.psql

-- Every list of job-state literals in a text: the items of each `IN (...)` and `ARRAY[...]`
-- (as pg_get_indexdef / pg_get_constraintdef print `= ANY (ARRAY['A'::taskflow.job_state, ...])`
-- and function bodies write `IN ('A', 'B')`) that names at least one state; each list sorted in
-- the enum's order.
CREATE FUNCTION pg_temp.state_lists(src text) RETURNS SETOF text[] LANGUAGE sql AS $$
  SELECT l FROM (
    SELECT ARRAY(SELECT s.state FROM taskflow._core_states() WITH ORDINALITY AS s(state, cls, n)
                  WHERE s.state = ANY (ARRAY(SELECT (regexp_matches(g[1], '''([A-Z]+)''', 'g'))[1]))
                  ORDER BY s.n) AS l
      FROM regexp_matches(src, '(?:ARRAY\[|\mIN\s*\()([^])]*)[])]', 'gi') AS g) x
  WHERE cardinality(l) > 0
$$;
CREATE TEMP TABLE core AS
  SELECT ARRAY(SELECT state FROM taskflow._core_states()) AS states,
         ARRAY(SELECT state FROM taskflow._core_states() WHERE state_class = 'unfinished') AS unfinished,
         ARRAY(SELECT state FROM taskflow._core_states() WHERE state_class = 'final') AS final;
-- The class of a list: 'unfinished' or 'final' when all its states are of that class, else
-- 'mixed'.
CREATE FUNCTION pg_temp.class_of(l text[]) RETURNS text LANGUAGE sql AS $$
  SELECT CASE WHEN l <@ c.unfinished THEN 'unfinished' WHEN l <@ c.final THEN 'final' ELSE 'mixed' END
  FROM core c
$$;
-- Minus for state lists, keeping the order.
CREATE FUNCTION pg_temp.minus(a text[], b text[]) RETURNS text[] LANGUAGE sql AS $$
  SELECT ARRAY(SELECT x FROM unnest(a) WITH ORDINALITY AS u(x, n) WHERE NOT x = ANY (b) ORDER BY n)
$$;

-- --- the core itself --------------------------------------------------------------------------
SELECT is((SELECT states FROM core), enum_range(NULL::taskflow.job_state)::text[],
  'taskflow.job_state has the core''s states, in the core''s order');
SELECT is(ARRAY(SELECT DISTINCT state_class FROM taskflow._core_states() ORDER BY 1),
          ARRAY['final', 'unfinished'], 'every state is unfinished or final, and both classes exist');
SELECT is(ARRAY(SELECT l::text FROM pg_temp.state_lists(
            $$x IN ('SCHEDULED', 'PENDING') AND y = ANY (ARRAY['DEAD'::taskflow.job_state]) AND z IN ('a')$$) l),
          ARRAY['{PENDING,SCHEDULED}', '{DEAD}'],
  'the list parser reads IN lists and ARRAY lists, in enum order, and skips lists without a state');

-- --- the SQL helpers ---------------------------------------------------------------------------
SELECT is(taskflow._unfinished_states()::text[], (SELECT unfinished FROM core),
  '_unfinished_states() is the core''s unfinished class');
SELECT is(taskflow._final_states()::text[], (SELECT final FROM core),
  '_final_states() is the core''s final class');

-- --- CHECK constraints and index predicates ----------------------------------------------------
CREATE TEMP VIEW check_lists AS
  SELECT c.conrelid::regclass::text AS tbl, c.conname, l
  FROM pg_constraint c, pg_temp.state_lists(pg_get_constraintdef(c.oid)) l
  WHERE c.connamespace = 'taskflow'::regnamespace AND c.contype = 'c';
SELECT cmp_ok((SELECT count(*) FROM check_lists), '>=', 2::bigint,
  'the CHECK constraints that list states are seen (stats_queue, stats_tenant: the outcome)');
SELECT is_empty($$SELECT tbl, conname, l FROM check_lists, core WHERE l <> core.final$$,
  'every CHECK constraint that lists states lists exactly the core''s final states');

CREATE TEMP VIEW index_lists AS
  SELECT i.indexrelid::regclass::text AS idx, i.indrelid::regclass::text AS tbl, l
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid,
       pg_temp.state_lists(pg_get_expr(i.indpred, i.indrelid)) l
  WHERE c.relnamespace = 'taskflow'::regnamespace AND i.indpred IS NOT NULL;
SELECT is((SELECT l FROM index_lists WHERE idx = 'taskflow.jobs_unique_key_idx'),
          (SELECT unfinished FROM core),
  'jobs_unique_key_idx (one unfinished job per key) lists exactly the unfinished states');
SELECT is((SELECT l FROM index_lists WHERE idx = 'taskflow.jobs_unsuccessful_idx'),
          (SELECT pg_temp.minus(final, ARRAY['SUCCEEDED']) FROM core),
  'jobs_unsuccessful_idx lists every final state but SUCCEEDED');
SELECT is((SELECT l FROM index_lists WHERE idx = 'taskflow.jobs_finished_idx'),
          (SELECT pg_temp.minus(final, ARRAY['FAILED', 'DEAD']) FROM core),
  'jobs_finished_idx (the Cleaner''s) lists the final states the Cleaner removes');
SELECT is_empty($$SELECT idx, l FROM index_lists
                   WHERE idx NOT IN ('taskflow.jobs_unique_key_idx', 'taskflow.jobs_unsuccessful_idx',
                                     'taskflow.jobs_finished_idx')$$,
  'no other partial index lists states (a new one gets its expectation here)');

-- --- SQL function bodies -----------------------------------------------------------------------
CREATE TEMP VIEW function_lists AS
  SELECT p.oid::regprocedure::text AS fn, l
  FROM pg_proc p JOIN pg_language g ON g.oid = p.prolang, pg_temp.state_lists(p.prosrc) l
  WHERE p.pronamespace = 'taskflow'::regnamespace AND g.lanname IN ('sql', 'plpgsql');
SELECT cmp_ok((SELECT count(*) FROM function_lists), '>=', 10::bigint,
  'the state lists of the SQL function bodies are seen');
SELECT is_empty($$SELECT fn, l FROM function_lists WHERE pg_temp.class_of(l) = 'mixed'$$,
  'no function body lists unfinished and final states together');
SELECT is_empty($$SELECT fn, l FROM function_lists, core WHERE l = core.unfinished OR l = core.final$$,
  'no function body writes a whole class out: it calls _unfinished_states() or _final_states()');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace = 'taskflow'::regnamespace
                  AND p.prosrc ~ 'taskflow\._unfinished_states\(\)' ORDER BY 1),
          ARRAY['taskflow.cancel_workflow(bigint,text)', 'taskflow.drop_queue(text)'],
  'the functions that mean "unfinished" call _unfinished_states()');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace = 'taskflow'::regnamespace
                  AND p.prosrc ~ 'taskflow\._final_states\(\)' ORDER BY 1),
          ARRAY['taskflow._bulk_apply(text,bigint[],text)',
                'taskflow._stats_on_jobs_removed()'],
  'the functions that mean "final" call _final_states()');

SELECT * FROM finish();
ROLLBACK;
