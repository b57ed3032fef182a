-- Every public function of the extension (schema taskflow, name not starting with "_") has a
-- COMMENT (sql/src/098_comments.sql and the files that define them), so \df+ and catalog readers
-- see what it does.
BEGIN;
SELECT plan(3);

CREATE FUNCTION pg_temp.public_functions() RETURNS SETOF regprocedure LANGUAGE sql AS $$
  SELECT p.oid::regprocedure FROM pg_proc p
  WHERE p.pronamespace = 'taskflow'::regnamespace AND p.proname NOT LIKE '\_%'
$$;

SELECT cmp_ok((SELECT count(*) FROM pg_temp.public_functions()), '>=', 60::bigint,
  'the check sees the public functions (at least 60)');
SELECT is(ARRAY(SELECT f::text FROM pg_temp.public_functions() f
                WHERE obj_description(f, 'pg_proc') IS NULL ORDER BY 1),
          '{}'::text[], 'every public function has a COMMENT');
SELECT is(ARRAY(SELECT f::text FROM pg_temp.public_functions() f
                WHERE length(obj_description(f, 'pg_proc')) < 20 ORDER BY 1),
          '{}'::text[], 'every comment says something (20 characters or more)');

SELECT * FROM finish();
ROLLBACK;
