-- Reading: list_jobs filters and keyset pagination; job_history attempts and events in order.
BEGIN;
SELECT plan(26);

SELECT taskflow.create_queue('t_r1', retry_policy => '{"max_attempts": 3, "strategy": "fixed", "base_delay": 0, "jitter": "none"}') \gset
SELECT taskflow.create_queue('t_r2') \gset
SELECT array_agg(id ORDER BY n) AS ids FROM taskflow.schedule_many($$[
  {"job_type": "r.a", "queue": "t_r1", "tenant_id": "t1"},
  {"job_type": "r.b", "queue": "t_r1", "tenant_id": "t1"},
  {"job_type": "r.a", "queue": "t_r2", "tenant_id": "t1"},
  {"job_type": "r.a", "queue": "t_r1", "tenant_id": "t2"},
  {"job_type": "r.b", "queue": "t_r2", "tenant_id": "t2", "run_at": "2999-01-01T00:00:00Z"},
  {"job_type": "r.a", "queue": "t_r1", "tenant_id": "t1"}
]$$) WITH ORDINALITY AS t(id, n) \gset

CREATE FUNCTION pg_temp.listed(tenant_id text DEFAULT NULL, queue text DEFAULT NULL, state taskflow.job_state DEFAULT NULL,
    job_type text DEFAULT NULL, after_id bigint DEFAULT NULL, max_rows integer DEFAULT 100) RETURNS integer[]
LANGUAGE sql AS $$
  -- positions (1-based, into :ids) of the listed jobs of this test, in the order returned
  SELECT COALESCE(array_agg(array_position(current_setting('tftest.ids')::bigint[], l.id) ORDER BY l.ordinality), '{}')
  FROM taskflow.list_jobs(tenant_id, queue, state, job_type, after_id, max_rows) WITH ORDINALITY AS l
  WHERE l.id = ANY (current_setting('tftest.ids')::bigint[])
$$;
SELECT set_config('tftest.ids', :'ids', true) IS NOT NULL AS ignore \gset

SELECT is(pg_temp.listed(queue => 't_r1'), ARRAY[1, 2, 4, 6], 'list_jobs by queue, ordered by id');
SELECT is(pg_temp.listed(tenant_id => 't1'), ARRAY[1, 2, 3, 6], 'list_jobs by tenant');
SELECT is(pg_temp.listed(tenant_id => 't2', queue => 't_r2'), ARRAY[5], 'list_jobs by tenant and queue');
SELECT is(pg_temp.listed(state => 'SCHEDULED'), ARRAY[5], 'list_jobs by state');
SELECT is(pg_temp.listed(job_type => 'r.b'), ARRAY[2, 5], 'list_jobs by job_type');
SELECT is(pg_temp.listed(job_type => 'r.a', queue => 't_r1', tenant_id => 't1', state => 'PENDING'), ARRAY[1, 6],
  'list_jobs with every filter');
SELECT is(pg_temp.listed(job_type => 'nothing'), '{}'::integer[], 'list_jobs with no match is empty');

-- keyset pagination
SELECT is((SELECT array_agg(id ORDER BY id) FROM taskflow.list_jobs(queue => 't_r1', max_rows => 2)),
  ARRAY[(:'ids'::bigint[])[1], (:'ids'::bigint[])[2]], 'max_rows limits the page');
SELECT is((SELECT array_agg(id ORDER BY id) FROM taskflow.list_jobs(queue => 't_r1', max_rows => 2, after_id => (:'ids'::bigint[])[2])),
  ARRAY[(:'ids'::bigint[])[4], (:'ids'::bigint[])[6]], 'after_id gives the next page');
SELECT is((SELECT count(*) FROM taskflow.list_jobs(queue => 't_r1', max_rows => 2, after_id => (:'ids'::bigint[])[6])),
  0::bigint, 'after the last id the page is empty');
SELECT throws_ok($$SELECT * FROM taskflow.list_jobs(max_rows => 0)$$, '22023', NULL, 'max_rows 0: 22023');
SELECT throws_ok($$SELECT * FROM taskflow.list_jobs(max_rows => 10001)$$, '22023', NULL, 'max_rows over 10000: 22023');

-- job_history
SELECT taskflow.schedule('r.hist', queue => 't_r1') AS h \gset
SELECT * FROM taskflow.acquire('w-1', ARRAY['t_r1'], job_types => ARRAY['r.hist']) \gset h1_
SELECT is(:h1_job_id::bigint, :h::bigint, 'history fixture: the job is acquired');
SELECT taskflow.fail(:h, :'h1_lease_token', 'oops', 'first failure') AS ignore \gset
SELECT * FROM taskflow.acquire('w-2', ARRAY['t_r1'], job_types => ARRAY['r.hist']) \gset h2_
SELECT taskflow.release(:h, :'h2_lease_token') AS ignore \gset
SELECT * FROM taskflow.acquire('w-3', ARRAY['t_r1'], job_types => ARRAY['r.hist']) \gset h3_
SELECT taskflow.complete(:h, :'h3_lease_token', '{"ok": true}') AS ignore \gset

SELECT is(jsonb_typeof(taskflow.job_history(:h)), 'object', 'job_history is a JSON object');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(taskflow.job_history(:h)) k), ARRAY['attempts', 'events', 'traceparent'],
  'with attempts and events');
SELECT is(
  (SELECT jsonb_agg(jsonb_build_object('attempt', a -> 'attempt', 'worker_id', a -> 'worker_id', 'outcome', a -> 'outcome',
                                       'error_type', a -> 'error_type', 'error_message', a -> 'error_message'))
   FROM jsonb_array_elements(taskflow.job_history(:h) -> 'attempts') a),
  '[{"attempt": 1, "worker_id": "w-1", "outcome": "failed", "error_type": "oops", "error_message": "first failure"},
    {"attempt": 2, "worker_id": "w-2", "outcome": "released", "error_type": null, "error_message": null},
    {"attempt": 3, "worker_id": "w-3", "outcome": "succeeded", "error_type": null, "error_message": null}]'::jsonb,
  'attempts in order, with worker, outcome and error');
SELECT ok((SELECT bool_and(a ? 'started_at' AND a ? 'finished_at' AND a ? 'backoff_delay')
           FROM jsonb_array_elements(taskflow.job_history(:h) -> 'attempts') a),
  'each attempt shows started_at, finished_at and backoff_delay');
SELECT is(
  (SELECT jsonb_agg(jsonb_build_array(e -> 'from_state', e -> 'to_state', e -> 'actor'))
   FROM jsonb_array_elements(taskflow.job_history(:h) -> 'events') e),
  '[[null, "PENDING", "postgres"], ["PENDING", "RUNNING", "w-1"], ["RUNNING", "SCHEDULED", "w-1"],
    ["SCHEDULED", "PENDING", "scheduler"], ["PENDING", "RUNNING", "w-2"], ["RUNNING", "PENDING", "w-2"], ["PENDING", "RUNNING", "w-3"],
    ["RUNNING", "SUCCEEDED", "w-3"]]'::jsonb,
  'events in order: every transition with its actor (acquire promotes the due retry first)');
SELECT ok((SELECT bool_and(e ? 'at' AND e ? 'reason') FROM jsonb_array_elements(taskflow.job_history(:h) -> 'events') e),
  'each event shows at and reason');
SELECT is(taskflow.job_history((:'ids'::bigint[])[2]) -> 'attempts', '[]'::jsonb,
  'a job never acquired has an empty attempts list');
SELECT is(taskflow.job_history(-1), NULL, 'job_history of a job that does not exist is NULL');

-- Reading functions see what a function called earlier in the same statement wrote.
SELECT is(taskflow.get_job(taskflow.schedule('read.compose')) ->> 'job_type', 'read.compose',
  'get_job(schedule(...)) returns the job just scheduled');
SELECT is(jsonb_array_length(taskflow.job_history(taskflow.schedule('read.compose')) -> 'events'), 1,
  'job_history(schedule(...)) shows its creation event');
SELECT is(count(j.*), 1::bigint, 'list_jobs sees a job scheduled earlier in the same statement')
  FROM (SELECT taskflow.schedule('read.compose3') AS id OFFSET 0) s,
       LATERAL taskflow.list_jobs(job_type => 'read.compose3', after_id => s.id - 1) j;
SELECT is_empty($$SELECT p.oid::regprocedure FROM pg_proc p
    WHERE p.pronamespace = 'taskflow'::regnamespace AND p.prokind = 'f' AND p.proname !~ '^_'
      AND p.provolatile <> 'v'
      AND p.proname NOT IN ('dashboard_overview', 'dashboard_rules', 'dashboard_tenants')$$,
  'every public function is VOLATILE, so any of them can be composed with a writing one');
SELECT is((SELECT string_agg(p.proname || '=' || p.provolatile::text, ',' ORDER BY p.proname) FROM pg_proc p
           WHERE p.pronamespace = 'taskflow'::regnamespace
             AND p.proname IN ('dashboard_overview', 'dashboard_rules', 'dashboard_tenants')),
  'dashboard_overview=s,dashboard_rules=s,dashboard_tenants=s',
  'but the readers of the watermark and the counters: STABLE, all their statements read one snapshot');

SELECT * FROM finish();
ROLLBACK;
