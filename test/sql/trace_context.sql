-- Trace context: a W3C traceparent given to schedule()/schedule_many()/handle_webhook() is
-- checked strictly (version 00, 55 characters, lowercase hex, no all-zero id; 22023 otherwise),
-- kept with the job, returned by get_job, list_jobs, job_history and acquire, and inherited
-- unchanged by sub-jobs (parent_job_id) and by the jobs event and webhook rules create.
BEGIN;
SELECT plan(27);
CREATE EXTENSION IF NOT EXISTS pgcrypto;

\ir helpers.psql

\set tp '''00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'''
\set tp2 '''00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'''
-- the hint of every malformed-traceparent error (error_of appends it)
\set tp_hint ' HINT: Send a W3C traceparent of version 00: 00-<32 lowercase hex trace-id>-<16 lowercase hex parent-id>-<2 hex flags>, e.g. 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.'
SELECT taskflow.create_queue('tc_q');

-- schedule(): kept and returned
SELECT taskflow.schedule('tc.a', queue => 'tc_q', traceparent => :tp) AS a \gset
SELECT is((SELECT traceparent FROM taskflow.jobs WHERE id = :a), :tp, 'schedule keeps the traceparent with the job');
SELECT is(taskflow.get_job(:a) ->> 'traceparent', :tp, 'get_job returns it');
SELECT is((SELECT traceparent FROM taskflow.list_jobs(queue => 'tc_q') WHERE id = :a), :tp, 'list_jobs returns it');
SELECT is(taskflow.job_history(:a) ->> 'traceparent', :tp, 'job_history shows it');
SELECT taskflow.schedule('tc.none', queue => 'tc_q') AS none \gset
SELECT ok(taskflow.get_job(:none) ? 'traceparent' AND taskflow.get_job(:none) -> 'traceparent' = 'null',
  'a job scheduled without one has traceparent null');

-- strict format: 22023 for anything but a well-formed version-00 header
SELECT is(pg_temp.error_of(format('SELECT taskflow.schedule(%L, traceparent => %L)', 'tc.bad', header)),
          '22023: ' || message || :'tp_hint', description)
FROM (VALUES
  ('00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
   'traceparent is malformed at character 5', 'uppercase hex is refused'),
  ('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-',
   'traceparent must be 55 characters long, got 56', 'a longer header is refused'),
  ('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
   'traceparent version 01 is not supported', 'a version other than 00 is refused'),
  ('00-00000000000000000000000000000000-00f067aa0ba902b7-01',
   'traceparent trace-id must not be all zeros', 'an all-zero trace-id is refused'),
  ('00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
   'traceparent parent-id must not be all zeros', 'an all-zero parent-id is refused'),
  ('',
   'traceparent must be 55 characters long, got 0', 'an empty header is refused')
) AS malformed(header, message, description);
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'tc.bad'), 0::bigint, 'and no job is created');

-- sub-jobs inherit the parent's header unchanged, unless they bring their own
SELECT taskflow.schedule('tc.child', queue => 'tc_q', parent_job_id => :a) AS child \gset
SELECT is(taskflow.get_job(:child) ->> 'traceparent', :tp, 'a sub-job inherits its parent''s traceparent unchanged');
SELECT taskflow.schedule('tc.child', queue => 'tc_q', parent_job_id => :a, traceparent => :tp2) AS own \gset
SELECT is(taskflow.get_job(:own) ->> 'traceparent', :tp2, 'a sub-job''s own traceparent wins');

-- schedule_many: per element, checked with the element named, inherited the same way
SELECT array_agg(id ORDER BY id) AS ids FROM taskflow.schedule_many(jsonb_build_array(
  jsonb_build_object('job_type', 'tc.m', 'queue', 'tc_q', 'traceparent', :tp2),
  jsonb_build_object('job_type', 'tc.m', 'queue', 'tc_q', 'parent_job_id', :a),
  jsonb_build_object('job_type', 'tc.m', 'queue', 'tc_q'))) AS id \gset
SELECT is(ARRAY(SELECT traceparent FROM taskflow.jobs WHERE id = ANY(:'ids') ORDER BY id),
  ARRAY[:tp2, :tp, NULL], 'schedule_many keeps each element''s traceparent and inherits a parent''s');
SELECT is(pg_temp.error_of($$SELECT taskflow.schedule_many('[{"job_type": "tc.bad"}, {"job_type": "tc.bad", "traceparent": "00-abc"}]')$$),
  '22023: jobs[1]: traceparent must be 55 characters long, got 6' || :'tp_hint', 'schedule_many names the element with a bad traceparent');
SELECT is(pg_temp.error_of($$SELECT taskflow.schedule_many('[{"job_type": "tc.bad", "traceparent": 5}]')$$),
  '22023: jobs[0]: traceparent must be a string', 'and refuses a traceparent that is not a string');

-- acquire hands it to the worker
SELECT taskflow.schedule('tc.w', queue => 'tc_w', traceparent => :tp) FROM taskflow.create_queue('tc_w');
SELECT is((SELECT traceparent FROM taskflow.acquire('w1', ARRAY['tc_w'])), :tp, 'acquire returns the traceparent');

-- event rules: the follow-ups inherit the finished job's traceparent
SELECT taskflow.create_rule('tc follow', '{"type": "event", "on": "job_succeeded", "job_type": "tc.ev"}',
  '[{"job_type": "tc.follow", "queue": "tc_q"}]') AS r_ev \gset
SELECT taskflow.create_queue('tc_ev');
SELECT taskflow.schedule('tc.ev', queue => 'tc_ev', traceparent => :tp2) AS ev \gset
SELECT job_id, lease_token FROM taskflow.acquire('w1', ARRAY['tc_ev']) \gset
SELECT taskflow.complete(:job_id, :'lease_token');
SELECT is((SELECT traceparent FROM taskflow.jobs WHERE parent_job_id = :ev AND job_type = 'tc.follow'), :tp2,
  'an event rule''s follow-up job carries the finished job''s traceparent');
SELECT is((SELECT taskflow.job_history(id) ->> 'traceparent' FROM taskflow.jobs WHERE parent_job_id = :ev), :tp2,
  'and its history shows it');

-- webhook rules: the delivery's traceparent goes to the jobs
SELECT taskflow.create_rule('tc hook', '{"type": "webhook"}', '[{"job_type": "tc.hook", "queue": "tc_q"}]') AS r_wh \gset
SELECT key, secret FROM taskflow.webhook_credentials(:r_wh) \gset
CREATE FUNCTION pg_temp.sign(body text, secret text) RETURNS text LANGUAGE sql AS $$
  SELECT 'sha256=' || encode(hmac(convert_to(body, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'), 'hex')
$$;
SELECT taskflow.disable_rule(:r_ev);
SELECT id AS hooked FROM taskflow.handle_webhook(:'key', '{"x": 1}', pg_temp.sign('{"x": 1}', :'secret'), traceparent => :tp) AS t(id) \gset
SELECT is(taskflow.get_job(:hooked) ->> 'traceparent', :tp, 'a webhook delivery''s traceparent reaches its jobs');
SELECT id AS hooked2 FROM taskflow.handle_webhook(:'key', '{"x": 2}', pg_temp.sign('{"x": 2}', :'secret')) AS t(id) \gset
SELECT is(taskflow.get_job(:hooked2) ->> 'traceparent', NULL, 'a delivery without one creates jobs without one');
SELECT is(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{}', %L, traceparent => 'nope')$$, :'key', pg_temp.sign('{}', :'secret'))),
  '22023: traceparent must be 55 characters long, got 4' || :'tp_hint', 'a webhook with a malformed traceparent is refused');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'tc.hook'), 2::bigint, 'and creates no job');

-- a confined tenant does not inherit another tenant's trace through a parent it cannot see
SELECT taskflow.upsert_tenant('tc_other', '{}');
CREATE ROLE tc_tenant_role;
SELECT taskflow.grant_tenant('tc_tenant_role', 'tc_other');
SET LOCAL ROLE tc_tenant_role;
SELECT is(pg_temp.error_of(format('SELECT taskflow.schedule(%L, parent_job_id => %s)', 'tc.x', :a)),
  format('23503: parent job %s does not exist', :a), 'another tenant''s parent (and its trace) is not reachable');
RESET ROLE;

-- the signature: traceparent follows timeout and precedes the workflow parameters (depends_on,
-- on_dependency_failure, added after it in the same release), granted like the rest
SELECT ok(has_function_privilege('taskflow_client',
  'taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text, bigint[], text)', 'EXECUTE'),
  'clients may call schedule with a traceparent');
SELECT is((SELECT proargnames[11:14] FROM pg_proc WHERE oid = 'taskflow.schedule'::regproc),
  ARRAY['timeout', 'traceparent', 'depends_on', 'on_dependency_failure'],
  'traceparent is schedule()''s 12th parameter, before depends_on and on_dependency_failure');

SELECT * FROM finish();
ROLLBACK;
