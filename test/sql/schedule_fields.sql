-- schedule()'s one field table (extension/core/schedule_fields.hpp), as
-- taskflow._schedule_fields() reports it, against the SQL that writes the fields out: the
-- signature of taskflow.schedule (names, types, defaults, order), taskflow._job_spec (the
-- fields schedule_many's elements take: its OUT columns, its key list, its JSON type checks),
-- and schedule_many's shape check, which jobs_insert.cpp builds from the table.
BEGIN;
SELECT plan(9);
\ir helpers.psql

CREATE TEMP TABLE f AS SELECT * FROM taskflow._schedule_fields() WITH ORDINALITY AS f(name, sql_type,
  sql_default, json_type, in_batch, description, n);

SELECT cmp_ok((SELECT count(*) FROM f), '>=', 12::bigint, 'the field table has the fields');
SELECT is_empty($$SELECT name FROM f WHERE description IS NULL OR length(description) < 15
                    OR json_type NOT IN ('string', 'object', 'integer', 'array')$$,
  'every field has a description and a JSON type');

-- The signature the table describes, as PostgreSQL prints it: a probe function declared with the
-- table's names, types and defaults, printed by pg_get_function_arguments like schedule's own.
DO $$
BEGIN
  EXECUTE format('CREATE FUNCTION pg_temp.schedule_probe(%s) RETURNS bigint LANGUAGE sql AS ''SELECT 1::bigint''',
    (SELECT string_agg(name || ' ' || sql_type || COALESCE(' DEFAULT ' || sql_default, ''), ', ' ORDER BY n) FROM f));
END
$$;
SELECT is(pg_get_function_arguments('taskflow.schedule'::regproc),
          pg_get_function_arguments('pg_temp.schedule_probe'::regproc),
  'taskflow.schedule''s signature is the field table: names, types, defaults, order');

-- _job_spec: (j jsonb, n bigint) and one OUT column per batch field, in the table's order.
SELECT is(pg_get_function_arguments('taskflow._job_spec'::regproc),
          'j jsonb, n bigint, ' || (SELECT string_agg('OUT ' || name || ' ' || format_type(sql_type::regtype, NULL), ', ' ORDER BY n)
                                    FROM f WHERE in_batch),
  '_job_spec''s OUT columns are the batch fields of the table, with their types');
SELECT is((SELECT regexp_split_to_array(regexp_replace(
             substring(prosrc FROM 'k NOT IN \(([^)]*)\)'), '[''\s]', '', 'g'), ',')
           FROM pg_proc WHERE oid = 'taskflow._job_spec'::regproc),
          ARRAY(SELECT name FROM f WHERE in_batch ORDER BY n),
  '_job_spec accepts exactly the batch fields as keys');
SELECT is((SELECT regexp_split_to_array(regexp_replace((regexp_matches(prosrc, 'unnest\(ARRAY\[([^]]*)\]', 'g'))[1],
             '[''\s]', '', 'g'), ',') FROM pg_proc WHERE oid = 'taskflow._job_spec'::regproc LIMIT 1),
          ARRAY(SELECT name FROM f WHERE in_batch AND json_type = 'string' AND sql_default IS NOT NULL ORDER BY n),
  '_job_spec checks the optional string fields as strings');
SELECT is((SELECT regexp_split_to_array(regexp_replace(m[1], '[''\s]', '', 'g'), ',')
           FROM pg_proc, regexp_matches(prosrc, 'unnest\(ARRAY\[([^]]*)\]', 'g') WITH ORDINALITY AS x(m, k)
           WHERE oid = 'taskflow._job_spec'::regproc AND k = 2),
          ARRAY(SELECT name FROM f WHERE in_batch AND json_type = 'integer' ORDER BY n),
  '_job_spec checks the integer fields as integers');

-- schedule_many's shape check (built from the table): every optional batch field refuses a
-- value of the wrong JSON type, with _job_spec's message for that field.
SELECT is(ARRAY(SELECT name || ': ' || COALESCE(pg_temp.error_of(format(
                  'SELECT taskflow.schedule_many(%L)',
                  jsonb_build_array(jsonb_build_object('job_type', 'vocab', name,
                    CASE json_type WHEN 'integer' THEN '"x"'::jsonb ELSE '5'::jsonb END)))), 'accepted')
                FROM f WHERE in_batch AND sql_default IS NOT NULL ORDER BY n),
          ARRAY(SELECT name || ': 22023: jobs[0]: ' || name || ' must be ' ||
                  CASE json_type WHEN 'integer' THEN 'an integer, got "x"'
                                 WHEN 'object' THEN 'a JSON object' ELSE 'a string' END
                FROM f WHERE in_batch AND sql_default IS NOT NULL ORDER BY n),
  'schedule_many refuses a wrongly typed value of each batch field, naming it');
SELECT is(ARRAY(SELECT name || ': ' || pg_temp.error_of(format('SELECT taskflow.schedule_many(%L)',
                  jsonb_build_array(jsonb_build_object('job_type', 'vocab', name, NULL))))
                FROM f WHERE NOT in_batch ORDER BY n),
          ARRAY(SELECT name || ': 22023: jobs[0]: unknown key "' || name || '" HINT: Keys are the parameter names of taskflow.schedule.'
                FROM f WHERE NOT in_batch ORDER BY n),
  'schedule_many refuses the fields it does not take (the dependency fields)');

SELECT * FROM finish();
ROLLBACK;
