-- The C++/PostgreSQL boundary: every kind of C++ exception, and a PostgreSQL ERROR raised while
-- C++ objects are alive (directly and through SPI), arrives as a clean ERROR with the right
-- SQLSTATE, and the session goes on working. (test/t/engine_boundary.t proves the same for the
-- connection itself, outside any savepoint.)
BEGIN;
SELECT plan(22);

SELECT is(taskflow._selftest_boundary('none'), 'ok: none 64', 'the self-test returns normally when nothing is thrown');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('domain')$$, '55000', 'selftest domain error',
  'a core DomainError keeps its SQLSTATE (55000) and message');
SELECT is(taskflow._selftest_boundary('none'), 'ok: none 64', 'the session works after a DomainError');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('std')$$, 'XX000', 'taskflow internal error: selftest std exception',
  'a std::exception becomes XX000 with its what()');
SELECT lives_ok($$SELECT taskflow.schedule('boundary.after_std')$$, 'the session works after a std::exception');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('unknown')$$, 'XX000', 'taskflow internal error: unknown C++ exception',
  'a non-std exception (catch ...) becomes XX000');
SELECT lives_ok($$SELECT taskflow.schedule('boundary.after_unknown')$$, 'the session works after an unknown exception');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('bad_alloc')$$, '53200', NULL,
  'std::bad_alloc becomes out of memory (53200)');
SELECT lives_ok($$SELECT taskflow.schedule('boundary.after_bad_alloc')$$, 'the session works after bad_alloc');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('postgres')$$, '22012', 'division by zero',
  'a PostgreSQL ERROR inside C++ keeps its SQLSTATE (22012)');
SELECT lives_ok($$SELECT taskflow.schedule('boundary.after_postgres')$$, 'the session works after a PostgreSQL ERROR in C++');

SELECT throws_ok($$SELECT taskflow._selftest_boundary('spi')$$, '22012', 'division by zero',
  'an ERROR inside an SPI statement keeps its SQLSTATE (22012)');
SELECT lives_ok($$SELECT taskflow.schedule('boundary.after_spi')$$, 'the session works after an SPI error');
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

SELECT * FROM finish();
ROLLBACK;
