-- The C++/PostgreSQL boundary: every kind of C++ exception, and a PostgreSQL ERROR raised while
-- C++ objects are alive (directly and through SPI), arrives as a clean ERROR with the right
-- SQLSTATE, and the session goes on working. (test/t/engine_boundary.t proves the same for the
-- connection itself, outside any savepoint.)
BEGIN;
SELECT plan(45);

SELECT is(taskflow._selftest_boundary('none'), 'ok: none 64', 'the self-test returns normally when nothing is thrown');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('domain')$$, '55000', 'selftest domain error',
  'a core DomainError keeps its SQLSTATE (55000) and message');
SELECT is(taskflow._selftest_boundary('none'), 'ok: none 64', 'the session works after a DomainError');

-- A C++ error of `kind` raised through the guard is an ERROR with `code` and `msg` (NULL: any);
-- after it the session schedules job 'boundary.after_<kind>' (two tests).
CREATE FUNCTION pg_temp.error_then_work(kind text, code text, msg text, description text, after text)
RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN NEXT throws_ok(format('SELECT taskflow._selftest_boundary(%L)', kind), code, msg, description);
  RETURN NEXT lives_ok(format('SELECT taskflow.schedule(%L)', 'boundary.after_' || kind), after);
END
$$;
SELECT pg_temp.error_then_work(kind, code, msg, description, after)
FROM (VALUES
  ('std', 'XX000', 'taskflow internal error: selftest std exception', 'a std::exception becomes XX000 with its what()',
   'the session works after a std::exception'),
  ('unknown', 'XX000', 'taskflow internal error: unknown C++ exception', 'a non-std exception (catch ...) becomes XX000',
   'the session works after an unknown exception'),
  ('bad_alloc', '53200', NULL, 'std::bad_alloc becomes out of memory (53200)',
   'the session works after bad_alloc'),
  ('postgres', '22012', 'division by zero', 'a PostgreSQL ERROR inside C++ keeps its SQLSTATE (22012)',
   'the session works after a PostgreSQL ERROR in C++'),
  ('spi', '22012', 'division by zero', 'an ERROR inside an SPI statement keeps its SQLSTATE (22012)',
   'the session works after an SPI error')
) AS kinds(kind, code, msg, description, after);
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type LIKE 'boundary.after_%'), 5::bigint,
  'and every statement after an error did its work');

-- Repeated failures do not leak or wedge anything (the guard restores its state every time).
CREATE FUNCTION pg_temp.repeat_failures(kind text, n integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  caught integer := 0;
BEGIN
  FOR i IN 1..n LOOP
    BEGIN
      PERFORM taskflow._selftest_boundary(kind);
    EXCEPTION WHEN others THEN
      caught := caught + 1;
    END;
  END LOOP;
  RETURN caught;
END
$$;
SELECT is(pg_temp.repeat_failures('domain', 200), 200, '200 DomainErrors in a row are each caught');
SELECT is(pg_temp.repeat_failures('spi', 200), 200, '200 SPI errors in a row are each caught');
SELECT is(pg_temp.repeat_failures('postgres', 200), 200, '200 PostgreSQL errors in a row are each caught');
SELECT is(taskflow._selftest_boundary('none'), 'ok: none 64', 'the self-test still works afterwards');

-- Errors raised by real API calls travel the same way.
SELECT throws_ok($$SELECT taskflow.retry(-7)$$, 'P0002', 'job -7 does not exist', 'an API error keeps its SQLSTATE');
SELECT lives_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['default'], 1, lease => interval '1 second') WHERE false$$,
  'an API call works after an API error');

-- The error carries hint and detail.
CREATE FUNCTION pg_temp.diag(kind text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  h text; d text;
BEGIN
  PERFORM taskflow._selftest_boundary(kind);
  RETURN NULL;
EXCEPTION WHEN others THEN
  GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT, d = PG_EXCEPTION_DETAIL;
  RETURN h || ' / ' || d;
END
$$;
SELECT is(pg_temp.diag('domain'), 'selftest hint / selftest detail', 'a DomainError carries its hint and detail');
SELECT throws_ok($$SELECT taskflow._selftest_boundary(NULL)$$, '22004', NULL, 'a NULL argument is refused (22004)');

-- Values: every value the API accepts is bounded, and what it accepts breaks nothing.
SELECT taskflow.create_queue('b_vals');
SELECT throws_ok($$SELECT taskflow.schedule('v', queue => 'b_vals', priority => -2147483648)$$, '22023',
  'priority must be between -32768 and 32767, got -2147483648',
  'priority INT_MIN (once accepted and then never acquired) is refused');
SELECT taskflow.schedule('v.low', queue => 'b_vals', priority => -32768) AS low_id \gset
SELECT taskflow.schedule('v.high', queue => 'b_vals', priority => 32767) AS high_id \gset
SELECT is(ARRAY(SELECT job_id FROM taskflow.acquire('w', ARRAY['b_vals'], max_jobs => 5)),
  ARRAY[:high_id, :low_id]::bigint[], 'the lowest and the highest priority are both acquired, highest first');
SELECT throws_ok($$SELECT taskflow.create_queue('b_vals2', priority => 32768)$$, '22023',
  'priority must be between -32768 and 32767, got 32768', 'a queue priority outside the range is refused');
SELECT throws_ok($$SELECT taskflow.alter_queue('b_vals', priority => -2147483648)$$, '22023',
  'priority must be between -32768 and 32767, got -2147483648', 'alter_queue refuses it too');
-- Durations: at most 100 years, and an interval too large for int64 microseconds saturates
-- instead of wrapping into a small or negative value.
SELECT throws_ok($$SELECT taskflow.create_queue('b_vals2', lease => '200 years')$$, '22023',
  'lease is too long: at most 100 years (36525 days) allowed', 'a queue lease beyond 100 years is refused');
SELECT throws_ok($$SELECT taskflow.create_queue('b_vals2', retry_policy => '{"max_delay": "1000 years"}')$$, '22023',
  'retry policy max_delay is too long: at most 100 years (36525 days) allowed', 'a retry delay beyond 100 years is refused');
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['b_vals'], lease => '2000000000 days')$$, '22023',
  'lease is too long: at most 100 years (36525 days) allowed', 'acquire: a lease of 2e9 days is refused, not wrapped');
SELECT throws_ok(format($$SELECT taskflow.heartbeat(%s, gen_random_uuid(), '178000000 years')$$, :low_id), '22023',
  'extend is too long: at most 100 years (36525 days) allowed', 'heartbeat: an extension beyond 100 years is refused');
-- Extreme finite due times are accepted; every statistic and the Cleaner stay usable.
SELECT taskflow.schedule('v.old', queue => 'b_vals', run_at => '4713-01-01 BC') AS old_id \gset
SELECT taskflow.schedule_many('[{"job_type": "v.far", "queue": "b_vals", "run_at": "294000-01-01"}]') AS far_id \gset
SELECT is(count(*), 1::bigint, 'the job due in 4713 BC is acquired')
  FROM taskflow.acquire('w', ARRAY['b_vals'], max_jobs => 5) a WHERE a.job_id = :old_id;
SELECT is(taskflow.complete(:old_id, (SELECT lease_token FROM taskflow.jobs WHERE id = :old_id)), 'SUCCEEDED'::taskflow.job_state,
  'and completed');
UPDATE taskflow.jobs SET finished_at = now() - interval '2 days' WHERE id = :old_id;
SELECT lives_ok($$SELECT taskflow.metrics()$$, 'metrics() works with jobs due in 4713 BC and 294000 AD');
SELECT lives_ok($$SELECT * FROM taskflow.queue_stats$$, 'queue_stats works with them');
SELECT lives_ok($$SELECT taskflow._rollup(1000)$$, 'the roll-up works with them');
SELECT is(taskflow._clean(86400), 1, 'the Cleaner deletes the finished job due in 4713 BC');

-- JSON nesting depth is bounded at every jsonb input (64 levels; the payload object is one).
CREATE FUNCTION pg_temp.deep(n int) RETURNS jsonb LANGUAGE sql AS $$ SELECT (repeat('[', n) || repeat(']', n))::jsonb $$;
SELECT lives_ok($$SELECT taskflow.schedule('deep', jsonb_build_object('a', pg_temp.deep(63)))$$, 'a payload 64 levels deep is accepted');
SELECT throws_ok($$SELECT taskflow.schedule('deep', jsonb_build_object('a', pg_temp.deep(5000)))$$, '22023',
  'payload nests too deep: more than 64 levels of arrays and objects', 'schedule: a payload 5,001 levels deep is refused');
SELECT throws_ok($$SELECT taskflow.schedule_many(jsonb_build_array('{"job_type": "a"}'::jsonb,
    jsonb_build_object('job_type', 'b', 'payload', jsonb_build_object('a', pg_temp.deep(64)))))$$, '22023',
  'jobs[1]: payload nests too deep: more than 64 levels of arrays and objects', 'schedule_many: refused, naming the element');
SELECT throws_ok($$SELECT taskflow.complete(1, gen_random_uuid(), pg_temp.deep(65))$$, '22023',
  'result nests too deep: more than 64 levels of arrays and objects', 'complete: a deep result is refused');
SELECT throws_ok($$SELECT taskflow.complete_many(ARRAY[1, 2]::bigint[], ARRAY[gen_random_uuid(), gen_random_uuid()],
    ARRAY['{}'::jsonb, pg_temp.deep(65)])$$, '22023',
  'results[1] nests too deep: more than 64 levels of arrays and objects', 'complete_many: a deep result is refused, named');
SELECT throws_ok($$SELECT taskflow.upsert_tenant('deep', jsonb_build_object('a', pg_temp.deep(64)))$$, '22023',
  'attributes nests too deep: more than 64 levels of arrays and objects', 'upsert_tenant: deep attributes are refused');
SELECT throws_ok($$SELECT taskflow.create_queue('deep', retry_policy => jsonb_build_object('a', pg_temp.deep(64)))$$, '22023',
  'retry_policy nests too deep: more than 64 levels of arrays and objects', 'create_queue: a deep retry policy is refused');
SELECT throws_ok($$SELECT taskflow.create_rule('deep', '{"type": "webhook"}',
    jsonb_build_array(jsonb_build_object('job_type', 'x', 'payload', jsonb_build_object('a', pg_temp.deep(5000)))))$$, '22023',
  'actions nests too deep: more than 64 levels of arrays and objects', 'create_rule: deep actions are refused (before any recursive walk)');
SELECT throws_ok($$SELECT taskflow.create_rule('deep', jsonb_build_object('type', 'webhook', 'x', pg_temp.deep(64)), '[{"job_type": "x"}]')$$, '22023',
  'trigger nests too deep: more than 64 levels of arrays and objects', 'create_rule: a deep trigger is refused');

SELECT * FROM finish();
ROLLBACK;
