-- Scheduling: schedule() states and columns, get_job keys, every bad-input error with its
-- SQLSTATE (and that nothing is written), schedule_many, unique keys.
BEGIN;
SELECT plan(93);

SELECT taskflow.create_queue('t_sched') \gset
SELECT taskflow.create_queue('t_sched_other') \gset

\ir helpers.psql

-- --- schedule: PENDING and SCHEDULED ---------------------------------------------------------
SELECT taskflow.schedule('email.send', '{"to": "a@example.com"}', queue => 't_sched') AS j_now \gset
SELECT taskflow.schedule('email.send', queue => 't_sched', run_at => now() - interval '1 minute') AS j_past \gset
SELECT taskflow.schedule('email.send', queue => 't_sched', run_at => now()) AS j_at_now \gset
SELECT taskflow.schedule('email.send', queue => 't_sched', run_at => now() + interval '1 hour') AS j_future \gset

SELECT is(taskflow.get_job(:j_now) ->> 'state', 'PENDING', 'run_at NULL gives PENDING');
SELECT is(taskflow.get_job(:j_past) ->> 'state', 'PENDING', 'run_at in the past gives PENDING');
SELECT is(taskflow.get_job(:j_at_now) ->> 'state', 'PENDING', 'run_at = now() (not in the future) gives PENDING');
SELECT is(taskflow.get_job(:j_future) ->> 'state', 'SCHEDULED', 'run_at in the future gives SCHEDULED');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :j_future), now() + interval '1 hour',
  'a SCHEDULED job waits for next_run_at = run_at');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :j_now), now(),
  'a PENDING job without run_at is ready from now()');
SELECT ok(:j_past > :j_now AND :j_at_now > :j_past AND :j_future > :j_at_now, 'ids increase');

-- Every column schedule() takes ends up in the job.
SELECT taskflow.schedule('report.build', '{"k": [1, 2]}', queue => 't_sched', tenant_id => 'acme',
  priority => 7, max_attempts => 3, unique_key => 'rk-1', correlation_id => 'corr-1',
  parent_job_id => :j_now, timeout => interval '90 seconds',
  traceparent => '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01') AS j_full \gset
SELECT is(
  taskflow.get_job(:j_full) - ARRAY['id', 'created_at', 'next_run_at'],
  jsonb_build_object('job_type', 'report.build', 'queue', 't_sched', 'tenant_id', 'acme',
    'state', 'PENDING', 'payload', '{"k": [1, 2]}'::jsonb, 'priority', 7, 'attempts', 0,
    'max_attempts', 3, 'started_at', NULL, 'finished_at', NULL, 'last_error_type', NULL,
    'last_error_message', NULL, 'result', NULL, 'correlation_id', 'corr-1',
    'parent_job_id', :j_now, 'unique_key', 'rk-1', 'cancel_requested', false,
    'cancel_reason', NULL, 'timeout', '00:01:30', 'worker_id', NULL, 'lease_expires_at', NULL,
    'traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'dependency_count', 0, 'dependencies_pending', 0, 'workflow_id', NULL),
  'schedule() stores every parameter; get_job shows it');

-- get_job has at least the documented keys.
SELECT is_empty(
  format($$SELECT k FROM unnest(ARRAY['id', 'job_type', 'queue', 'tenant_id', 'state', 'payload',
      'priority', 'attempts', 'max_attempts', 'next_run_at', 'created_at', 'started_at',
      'finished_at', 'last_error_type', 'last_error_message', 'result', 'correlation_id',
      'parent_job_id', 'unique_key', 'cancel_requested']) AS k
    WHERE NOT taskflow.get_job(%s) ? k$$, :j_full),
  'get_job has every documented key');
SELECT is((taskflow.get_job(:j_full) ->> 'id')::bigint, :j_full::bigint, 'get_job id is the job id');
SELECT ok((taskflow.get_job(:j_full) ->> 'created_at')::timestamptz = now(), 'created_at is the schedule time');
SELECT is(taskflow.get_job(-1), NULL, 'get_job of a job that does not exist is NULL');

SELECT is(taskflow.get_job(:j_now) -> 'payload', '{"to": "a@example.com"}'::jsonb, 'payload is kept');
SELECT is(taskflow.get_job(:j_past) -> 'payload', '{}'::jsonb, 'payload defaults to {}');
SELECT is(taskflow.get_job(:j_now) ->> 'tenant_id', 'default', 'tenant_id defaults to default');
SELECT is(taskflow.get_job(:j_now) -> 'priority', '0'::jsonb, 'priority defaults to 0');

SELECT taskflow.schedule('x.y') AS j_default_queue \gset
SELECT is(taskflow.get_job(:j_default_queue) ->> 'queue', 'default', 'queue defaults to default');

-- max_attempts NULL takes the queue's policy.
SELECT taskflow.create_queue('t_sched_policy', retry_policy => '{"max_attempts": 9}') \gset
SELECT taskflow.schedule('x.y', queue => 't_sched_policy') AS j_qpolicy \gset
SELECT is(taskflow.get_job(:j_qpolicy) -> 'max_attempts', '9'::jsonb, 'max_attempts NULL takes the queue policy');
SELECT taskflow.schedule('x.y', queue => 't_sched_policy', max_attempts => 2) AS j_own \gset
SELECT is(taskflow.get_job(:j_own) -> 'max_attempts', '2'::jsonb, 'an explicit max_attempts wins over the queue policy');

-- The creation is an event.
SELECT results_eq(
  format('SELECT from_state::text, to_state::text FROM taskflow.job_events WHERE job_id = %s', :j_future),
  $$VALUES (NULL::text, 'SCHEDULED'::text)$$,
  'scheduling records one event (NULL -> SCHEDULED)');
SELECT is((SELECT count(*) FROM taskflow.job_attempts WHERE job_id = :j_now), 0::bigint,
  'scheduling starts no attempt');

-- --- bad input: clear errors, nothing written -------------------------------------------------
SELECT count(*) AS jobs_before FROM taskflow.jobs \gset
SELECT count(*) AS events_before FROM taskflow.job_events \gset

SELECT throws_ok($$SELECT taskflow.schedule('a', queue => 'no_such_queue')$$, '42704',
  'queue "no_such_queue" does not exist', 'unknown queue: 42704');
SELECT is(pg_temp.error_of($$SELECT taskflow.schedule('a', queue => 'no_such_queue')$$),
  $$42704: queue "no_such_queue" does not exist HINT: Create it first: SELECT taskflow.create_queue('no_such_queue');$$,
  'unknown queue: the hint says how to create it');
SELECT throws_ok($$SELECT taskflow.schedule('')$$, '22023', 'job_type must not be empty', 'empty job_type: 22023');
SELECT throws_ok($$SELECT taskflow.schedule(NULL)$$, '22004', NULL, 'NULL job_type: 22004');
SELECT throws_ok(format('SELECT taskflow.schedule(%L)', repeat('j', 201)), '22023',
  'job_type is too long: 201 characters, at most 200 allowed', 'job_type of 201 characters: 22023');
SELECT lives_ok(format('SELECT taskflow.schedule(%L)', repeat('j', 200)), 'job_type of 200 characters is accepted');
SELECT lives_ok(format('SELECT taskflow.schedule(%L)', repeat('é', 200)),
  'job_type length counts characters, not bytes (200 two-byte characters)');
SELECT throws_ok($$SELECT taskflow.schedule('email send')$$, '22023', 'job_type must not contain whitespace',
  'job_type with a space: 22023');
SELECT throws_ok($$SELECT taskflow.schedule(E'email\tsend')$$, '22023', 'job_type must not contain whitespace',
  'job_type with a tab: 22023');
SELECT throws_ok($$SELECT taskflow.schedule(E'email\x01send')$$, '22023', 'job_type must not contain control characters',
  'job_type with a control character: 22023');
SELECT throws_ok($$SELECT taskflow.schedule(E'email\u00a0send')$$, '22023', NULL,
  'job_type with a no-break space (Unicode whitespace): 22023');
SELECT throws_ok($$SELECT taskflow.schedule(E'email\u0085send')$$, '22023', NULL,
  'job_type with U+0085 (a C1 control character): 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', '[1, 2]')$$, '22023', 'payload must be a JSON object',
  'payload that is an array: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', '"text"')$$, '22023', 'payload must be a JSON object',
  'payload that is a string: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', '42')$$, '22023', 'payload must be a JSON object',
  'payload that is a number: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', 'null')$$, '22023', 'payload must be a JSON object',
  'payload that is JSON null: 22023');
SELECT throws_ok(
  format('SELECT taskflow.schedule(%L, jsonb_build_object(%L, repeat(%L, 1100000)))', 'a', 'blob', 'x'),
  '54000', NULL, 'payload over the default 1 MB limit: 54000');
SET LOCAL taskflow.max_payload_bytes = 100;
SELECT throws_ok(
  format('SELECT taskflow.schedule(%L, jsonb_build_object(%L, repeat(%L, 200)))', 'a', 'blob', 'x'),
  '54000', NULL, 'payload over taskflow.max_payload_bytes: 54000');
SELECT lives_ok($$SELECT taskflow.schedule('a', '{"small": 1}')$$, 'a payload under the limit is accepted');
RESET taskflow.max_payload_bytes;
SELECT throws_ok($$SELECT taskflow.schedule('a', max_attempts => 0)$$, '22023',
  'max_attempts must be at least 1, got 0', 'max_attempts 0: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', max_attempts => -3)$$, '22023', NULL, 'max_attempts < 0: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', parent_job_id => -42)$$, '23503',
  'parent job -42 does not exist', 'parent_job_id that does not exist: 23503');
SELECT throws_ok($$SELECT taskflow.schedule('a', timeout => interval '0 seconds')$$, '22023', NULL,
  'timeout of zero: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', tenant_id => '')$$, '22023', NULL, 'empty tenant_id: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('a', unique_key => '')$$, '22023', NULL, 'empty unique_key: 22023');

-- The successful calls above wrote 3 jobs (200 chars, 200 two-byte chars, small payload).
SELECT is((SELECT count(*) FROM taskflow.jobs), (:jobs_before + 3)::bigint, 'the rejected calls wrote no job');
SELECT is((SELECT count(*) FROM taskflow.job_events), (:events_before + 3)::bigint, 'the rejected calls wrote no event');

-- --- schedule_many --------------------------------------------------------------------------
SELECT array_agg(id ORDER BY n) AS many FROM taskflow.schedule_many($$[
    {"job_type": "m.first", "queue": "t_sched", "priority": 3},
    {"job_type": "m.second", "queue": "t_sched", "run_at": "2999-01-01T00:00:00Z", "payload": {"n": 2}},
    {"job_type": "m.third", "queue": "t_sched_other", "tenant_id": "acme", "max_attempts": 4,
     "correlation_id": "c3", "timeout": "5 minutes", "unique_key": "m3"}
  ]$$) WITH ORDINALITY AS t(id, n) \gset
SELECT is(array_length(:'many'::bigint[], 1), 3, 'schedule_many returns one id per element');
SELECT is(
  (SELECT array_agg(taskflow.get_job(id) ->> 'job_type' ORDER BY n) FROM unnest(:'many'::bigint[]) WITH ORDINALITY AS t(id, n)),
  ARRAY['m.first', 'm.second', 'm.third'], 'ids come back in input order');
SELECT is(taskflow.get_job((:'many'::bigint[])[1]) -> 'priority', '3'::jsonb, 'element 1: priority');
SELECT is(taskflow.get_job((:'many'::bigint[])[1]) ->> 'state', 'PENDING', 'element 1: PENDING');
SELECT is(taskflow.get_job((:'many'::bigint[])[2]) ->> 'state', 'SCHEDULED', 'element 2: run_at in the future gives SCHEDULED');
SELECT is(taskflow.get_job((:'many'::bigint[])[2]) -> 'payload', '{"n": 2}'::jsonb, 'element 2: payload');
SELECT is(
  taskflow.get_job((:'many'::bigint[])[3]) - ARRAY['id', 'created_at', 'next_run_at', 'state', 'payload',
     'priority', 'attempts', 'started_at', 'finished_at', 'last_error_type', 'last_error_message',
     'result', 'parent_job_id', 'cancel_requested', 'cancel_reason', 'worker_id', 'lease_expires_at', 'job_type',
     'traceparent',
     'dependency_count', 'dependencies_pending', 'workflow_id'],
  '{"queue": "t_sched_other", "tenant_id": "acme", "max_attempts": 4, "correlation_id": "c3",
    "timeout": "00:05:00", "unique_key": "m3"}'::jsonb,
  'element 3: queue, tenant, max_attempts, correlation_id, timeout, unique_key');
SELECT is((SELECT count(*) FROM taskflow.schedule_many('[]')), 0::bigint, 'an empty array schedules nothing');

SELECT count(*) AS jobs_before FROM taskflow.jobs \gset
SELECT throws_ok($$SELECT taskflow.schedule_many('{"job_type": "a"}')$$, '22023',
  'jobs must be a JSON array of objects', 'schedule_many of a non-array: 22023');
-- The second element of [{"job_type": "a"}, elem] is bad: the error names it as jobs[1].
CREATE FUNCTION pg_temp.many_with(elem text) RETURNS text LANGUAGE sql AS
  $$ SELECT format('SELECT taskflow.schedule_many(%L)', '[{"job_type": "a"}, ' || elem || ']') $$;
SELECT throws_ok(pg_temp.many_with(elem), code, msg, description)
FROM (VALUES
  ('7', '22023', 'jobs[1] must be a JSON object', 'an element that is not an object: 22023 naming the element'),
  ('{"job_type": "b", "colour": "red"}', '22023', 'jobs[1]: unknown key "colour"', 'an unknown key: 22023 naming the element'),
  ('{"payload": {}}', '22023', 'jobs[1]: job_type (a string) is required', 'a missing job_type: 22023 naming the element'),
  ('{"job_type": "b", "priority": "high"}', '22023', NULL, 'a value of the wrong type: 22023'),
  ('{"job_type": "b", "payload": [1]}', '22023', 'jobs[1]: payload must be a JSON object', 'a payload that is not an object: 22023 naming the element'),
  ('{"job_type": "b", "parent_job_id": -5}', '23503', 'jobs[1]: parent job -5 does not exist', 'a parent that does not exist: 23503 naming the element'),
  ('{"job_type": ""}', '22023', NULL, 'an empty job_type in an element: 22023'),
  ('{"job_type": "b", "queue": "no_such_queue"}', '42704', NULL, 'an unknown queue in an element: 42704')
) AS bad(elem, code, msg, description);
SELECT throws_like(pg_temp.many_with(elem), 'jobs[1]: %', description)
FROM (VALUES
  ('{"job_type": "b", "priority": "high"}', 'a value of the wrong type: the error names the element'),
  ('{"job_type": ""}', 'an empty job_type in an element: the error names the element'),
  ('{"job_type": "b", "queue": "no_such_queue"}', 'an unknown queue in an element: the error names the element'),
  ('{"job_type": "b", "max_attempts": 0}', 'max_attempts 0 in an element: the error names the element')
) AS bad(elem, description);
SELECT is((SELECT count(*) FROM taskflow.jobs), :jobs_before::bigint,
  'schedule_many is all or nothing: the valid elements before a bad one were not written');

-- --- unique keys ----------------------------------------------------------------------------
SELECT taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1') AS u1 \gset
SELECT is(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1'), :u1::bigint,
  'a taken unique key returns the existing PENDING job');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE unique_key = 'k1'), 1::bigint, 'and schedules nothing new');
SELECT isnt(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1', tenant_id => 'acme'), :u1::bigint,
  'the same key in another tenant is another job');
SELECT isnt(taskflow.schedule('u.job', queue => 't_sched_other', unique_key => 'k1'), :u1::bigint,
  'the same key in another queue is another job');
SELECT isnt(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k2'), :u1::bigint,
  'another key is another job');

SELECT taskflow.schedule('u.job', queue => 't_sched', unique_key => 'ks', run_at => now() + interval '1 day') AS us \gset
SELECT is(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'ks'), :us::bigint,
  'a taken unique key returns the existing SCHEDULED job');

-- While RUNNING the key stays taken; once the job finishes it is free again.
SELECT job_id AS u1_run, lease_token AS u1_tok FROM taskflow.acquire('w1', ARRAY['t_sched'], 100)
  WHERE job_id = :u1 \gset
SELECT is(taskflow.get_job(:u1) ->> 'state', 'RUNNING', 'the unique job is running');
SELECT is(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1'), :u1::bigint,
  'a taken unique key returns the existing RUNNING job');
SELECT is(taskflow.complete(:u1, :'u1_tok'), 'SUCCEEDED'::taskflow.job_state, 'the unique job succeeds');
SELECT taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1') AS u1_next \gset
SELECT isnt(:u1_next::bigint, :u1::bigint, 'after the first job finished, the key schedules a new job');
SELECT is(taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1'), :u1_next::bigint,
  'and the new job holds the key');
SELECT is(taskflow.cancel(:u1_next), 'CANCELLED'::taskflow.job_state, 'the second holder is cancelled');
SELECT taskflow.schedule('u.job', queue => 't_sched', unique_key => 'k1') AS u1_third \gset
SELECT isnt(:u1_third::bigint, :u1_next::bigint, 'a cancelled job frees its key too');

-- retry() of a finished job whose key another unfinished job now holds: a clear refusal.
SELECT matches(pg_temp.error_of(format('SELECT taskflow.retry(%s)', :u1_next)),
  format('^(23505|55000): .*\m%s\M', :u1_third),
  'retry of a job whose unique key is taken again: refused with a clear error naming the job that holds the key');
SELECT is(ARRAY[(SELECT state::text FROM taskflow.jobs WHERE id = :u1_next), (SELECT state::text FROM taskflow.jobs WHERE id = :u1_third)],
  ARRAY['CANCELLED', 'PENDING'], 'the refused retry changed nothing');

-- Unique keys inside one schedule_many: the second element gets the first one's id.
SELECT array_agg(id ORDER BY n) AS dup FROM taskflow.schedule_many(
  '[{"job_type": "d", "queue": "t_sched", "unique_key": "dup"}, {"job_type": "d", "queue": "t_sched", "unique_key": "dup"}]')
  WITH ORDINALITY AS t(id, n) \gset
SELECT is((:'dup'::bigint[])[1], (:'dup'::bigint[])[2], 'schedule_many with a repeated key returns the same id twice');

-- schedule and schedule_many accept and refuse exactly the same values, with the same message
-- (schedule_many's names the element: "jobs[1]: ..."). A value schedule's typed argument cannot
-- even take (its input function refuses it) gets that input function's message, as 22023.
CREATE TEMP TABLE same_values(k text, v jsonb);
INSERT INTO same_values VALUES
  ('priority', '0'), ('priority', '32767'), ('priority', '-32768'), ('priority', '32768'),
  ('priority', '-32769'), ('priority', '2147483647'), ('priority', '-2147483648'),
  ('priority', '2147483648'),
  ('max_attempts', '1'), ('max_attempts', '1000000000'), ('max_attempts', '2147483647'),
  ('max_attempts', '0'), ('max_attempts', '-5'), ('max_attempts', '10000000000'),
  ('run_at', '"2030-01-01 00:00:00+00"'), ('run_at', '"2000-01-01"'), ('run_at', '"-infinity"'),
  ('run_at', '"infinity"'), ('run_at', '"soon"'), ('run_at', '"294000-01-01"'),
  ('run_at', '"4713-01-01 BC"'), ('run_at', '"294277-01-01"'),
  ('timeout', '"5 minutes"'), ('timeout', '"0"'), ('timeout', '"-1 second"'),
  ('timeout', '"100 years"'), ('timeout', '"102 years"'), ('timeout', '"2000000000 days"'),
  ('timeout', '"soon"'),
  ('job_type', '""'), ('job_type', '"a b"'), ('queue', '"no_such_queue"'), ('queue', '"a b"'),
  ('unique_key', '""'), ('tenant_id', '""');
CREATE TEMP TABLE same_results AS
  SELECT k, v,
         pg_temp.error_of(format('SELECT taskflow.schedule(%s)',
           CASE WHEN k = 'job_type' THEN format('job_type => %L, queue => %L', v #>> '{}', 't_sched')
                WHEN k = 'queue' THEN format('%L, queue => %L', 'v', v #>> '{}')
                ELSE format('%L, queue => %L, %s => %L', 'v', 't_sched', k, v #>> '{}') END))
           AS one,
         pg_temp.error_of(format('SELECT taskflow.schedule_many(%L)',
           jsonb_build_array('{"job_type": "x", "queue": "t_sched"}'::jsonb,
                             '{"job_type": "v", "queue": "t_sched"}'::jsonb || jsonb_build_object(k, v))))
           AS many
  FROM same_values;
SELECT is_empty(
  $$SELECT k, v, one, many FROM same_results WHERE (one IS NULL) <> (many IS NULL)$$,
  'schedule and schedule_many accept exactly the same values');
SELECT is_empty(
  $$SELECT k, v, one, many FROM same_results WHERE many IS NOT NULL AND
      regexp_replace(one, '^\w{5}: ', '') IS DISTINCT FROM
      regexp_replace(many, '^\w{5}: jobs\[1\]: ((run_at|timeout|priority|max_attempts): (?=invalid|date|timestamp|value|interval))?', '')$$,
  'schedule and schedule_many refuse each value with the same message, schedule_many naming the element');
SELECT is_empty(
  $$SELECT k, v, one, many FROM same_results WHERE many IS NOT NULL AND
      left(many, 5) <> CASE WHEN left(one, 2) = '22' THEN '22023' ELSE left(one, 5) END$$,
  'schedule_many refuses a bad value with 22023 (or the SQLSTATE schedule gives for a checked value)');
SELECT is((SELECT string_agg(k || '=' || v, ' ' ORDER BY k, v::text) FROM same_results WHERE many IS NULL),
  'max_attempts=1 max_attempts=1000000000 max_attempts=2147483647 priority=-32768 priority=0 priority=32767 run_at="2000-01-01" run_at="2030-01-01 00:00:00+00" run_at="294000-01-01" run_at="4713-01-01 BC" timeout="100 years" timeout="5 minutes"',
  'the accepted values of the table, and no others');
SELECT is((SELECT array_agg(one ORDER BY v::text) FROM same_results WHERE k = 'run_at' AND v::text LIKE '%infinity%'),
  ARRAY['22023: run_at must be a finite timestamp, got -infinity HINT: Pass NULL (or leave it out) to run the job as soon as possible.',
        '22023: run_at must be a finite timestamp, got infinity HINT: Pass NULL (or leave it out) to run the job as soon as possible.'],
  'an infinite run_at is refused with 22023 and a clear message');
SELECT is((SELECT many FROM same_results WHERE k = 'run_at' AND v = '"soon"'),
  '22023: jobs[1]: run_at: invalid input syntax for type timestamp with time zone: "soon"',
  'schedule_many: an unreadable run_at is 22023 naming the element');
SELECT is((SELECT many FROM same_results WHERE k = 'priority' AND v = '2147483647'),
  '22023: jobs[1]: priority must be between -32768 and 32767, got 2147483647 HINT: Higher runs first; 0 is the default.',
  'schedule_many: priority 2^31-1 gets the priority range message, not "wrong shape"');

SELECT * FROM finish();
ROLLBACK;
