-- Search-path attacks: with a hostile schema first in search_path (trap functions and a trap
-- text = operator that raise when used), the extension installs and every API function works
-- without touching a trap. The extension is dropped and re-created inside this transaction,
-- which is rolled back at the end.
BEGIN;
SELECT plan(24);

CREATE SCHEMA tf_evil;
CREATE FUNCTION tf_evil.trap() RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'search_path trap fired'; END $$;
CREATE FUNCTION tf_evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION tf_evil.gen_random_uuid() RETURNS uuid LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION tf_evil.jsonb_typeof(jsonb) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION tf_evil.jsonb_object_keys(jsonb) RETURNS SETOF text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); END $$;
CREATE FUNCTION tf_evil.format(text, text) RETURNS text LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION tf_evil.make_interval(secs double precision) RETURNS interval LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE FUNCTION tf_evil.text_eq(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE OPERATOR tf_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = tf_evil.text_eq);
CREATE FUNCTION tf_evil.bigint_eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM tf_evil.trap(); RETURN NULL; END $$;
CREATE OPERATOR tf_evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = tf_evil.bigint_eq);

-- Runs one statement with the hostile schema first in search_path (pg_catalog listed after it,
-- so the traps win for unqualified names) and returns its first column as text, or the error.
CREATE FUNCTION pg_temp.attacked(sql text) RETURNS text LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r text;
BEGIN
  PERFORM pg_catalog.set_config('search_path', 'tf_evil, pg_catalog, public', true);
  IF sql ~* '^\s*(select|with)' THEN
    EXECUTE sql INTO r;
  ELSE
    EXECUTE sql;
    r := 'done';
  END IF;
  RETURN r;
EXCEPTION WHEN others THEN
  RETURN 'ERROR: ' || SQLERRM;
END
$$;

SELECT is(pg_temp.attacked($$SELECT ('a'::text = 'a'::text)::text$$), 'ERROR: search_path trap fired',
  'the traps are live: an unqualified text = under the hostile search_path fires one');
SELECT is(pg_temp.attacked($$SELECT now()::text$$), 'ERROR: search_path trap fired',
  'the traps are live: an unqualified now() fires one');

SELECT is(pg_temp.attacked('DROP EXTENSION taskflow'), 'done', 'the extension is dropped (inside this transaction)');
SELECT is(pg_temp.attacked('CREATE EXTENSION taskflow'), 'done',
  'CREATE EXTENSION taskflow succeeds under the hostile search_path without firing a trap');
SELECT is((SELECT count(*) FROM taskflow.queues WHERE name = 'default'), 1::bigint, 'the re-created extension has the default queue');

SELECT is(pg_temp.attacked($$SELECT taskflow.create_queue('t_evil', retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": 1, "jitter": "none"}')::text$$), '',
  'create_queue (policy parsing in PL/pgSQL) touches no trap');
SELECT is(pg_temp.attacked($$SELECT taskflow.alter_queue('t_evil', priority => 2, retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": "1 second", "jitter": "none"}')::text$$), '',
  'alter_queue touches no trap');
SELECT is(pg_temp.attacked($$SELECT taskflow.queue_retry_policy('t_evil') ->> 'base_delay'$$), '00:00:01',
  'queue_retry_policy touches no trap');
SELECT ok(pg_temp.attacked($$SELECT taskflow.schedule('evil.a', '{"x": 1}', queue => 't_evil', unique_key => 'k')::text$$) ~ '^[0-9]+$',
  'schedule touches no trap');
SELECT ok(pg_temp.attacked($$SELECT string_agg(id::text, ',') FROM taskflow.schedule_many('[{"job_type": "evil.b", "queue": "t_evil", "run_at": "2999-01-01"}, {"job_type": "evil.c", "queue": "t_evil"}]') AS id$$) ~ '^[0-9]+,[0-9]+$',
  'schedule_many touches no trap');
SELECT id AS ja FROM taskflow.jobs WHERE job_type = 'evil.a' \gset
SELECT id AS jb FROM taskflow.jobs WHERE job_type = 'evil.b' \gset
SELECT id AS jc FROM taskflow.jobs WHERE job_type = 'evil.c' \gset
SELECT is(pg_temp.attacked(format('SELECT taskflow.get_job(%s) ->> %L', :ja, 'state')), 'PENDING', 'get_job touches no trap');
SELECT is(pg_temp.attacked($$SELECT count(*)::text FROM taskflow.list_jobs(queue => 't_evil')$$), '3', 'list_jobs touches no trap');
SELECT is(pg_temp.attacked($$SELECT string_agg(job_id::text || ':' || lease_token::text, ',' ORDER BY job_id) FROM taskflow.acquire('evil-w', ARRAY['t_evil'], 2)$$) ~ '^[0-9]+:[0-9a-f-]{36},[0-9]+:[0-9a-f-]{36}$',
  true, 'acquire touches no trap');
SELECT lease_token AS ta FROM taskflow.jobs WHERE id = :ja \gset
SELECT lease_token AS tc FROM taskflow.jobs WHERE id = :jc \gset
SELECT is(pg_temp.attacked(format('SELECT taskflow.heartbeat(%s, %L)', :ja, :'ta')), 'ok', 'heartbeat touches no trap');
SELECT is(pg_temp.attacked(format('SELECT taskflow.fail(%s, %L, %L)::text', :jc, :'tc', 'boom')), 'SCHEDULED',
  'fail (retry policy, backoff) touches no trap');
SELECT is(pg_temp.attacked(format('SELECT taskflow.complete(%s, %L, %L)::text', :ja, :'ta', '{"r": 1}')), 'SUCCEEDED',
  'complete touches no trap');
SELECT is(pg_temp.attacked(format('SELECT taskflow.complete_many(ARRAY[%s]::bigint[], ARRAY[%L]::uuid[])::text', :ja, :'ta')), '1',
  'complete_many touches no trap');
SELECT is(pg_temp.attacked(format('SELECT jsonb_array_length(taskflow.job_history(%s) -> %L)::text', :ja, 'events')), '3',
  'job_history touches no trap');
SELECT is(pg_temp.attacked(format('SELECT taskflow.cancel(%s)::text', :jb)), 'CANCELLED', 'cancel touches no trap');
SELECT is(pg_temp.attacked(format('SELECT taskflow.retry(%s)::text', :jb)), 'PENDING', 'retry touches no trap');
SELECT is(pg_temp.attacked($$SELECT taskflow._promote_due()::text$$) ~ '^[0-9]+$', true, '_promote_due touches no trap');
SELECT job_id AS jb_run FROM taskflow.acquire('w', ARRAY['t_evil'], job_types => ARRAY['evil.b']) \gset
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = :jb_run;
SELECT is(pg_temp.attacked($$SELECT taskflow._rescue_expired()::text$$) ~ '^[0-9]+$', true, '_rescue_expired touches no trap');
SELECT is(pg_temp.attacked($$SELECT taskflow._clean(0)::text$$) ~ '^[0-9]+$', true, '_clean touches no trap');
SELECT is(pg_temp.attacked($$SELECT taskflow.purge_failed(queue => 't_evil')::text$$) ~ '^[0-9]+$', true, 'purge_failed touches no trap');

SELECT * FROM finish();
ROLLBACK;
