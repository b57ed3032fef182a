-- The dashboard's jobs API: search_jobs filters and keyset pages, payload jsonpath checks,
-- count_jobs, bulk_jobs / purge_jobs with refusals, job_detail, dead letters, tenant confinement.
BEGIN;
SELECT plan(52);

CREATE ROLE tfd_a;  -- confined to tenant tfd_ta
CREATE ROLE tfd_b;  -- confined to tenant tfd_tb
SELECT taskflow.grant_tenant('tfd_a', 'tfd_ta');
SELECT taskflow.grant_tenant('tfd_b', 'tfd_tb');
SELECT taskflow.create_queue('tfd_q', retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": "0", "jitter": "none"}');

-- 30 jobs of tenant tfd_ta (ids ascending), 5 of tfd_tb
SELECT array_agg(id ORDER BY id) AS a_ids FROM (
  SELECT taskflow.schedule('d.a', jsonb_build_object('n', g, 'customer', CASE WHEN g % 3 = 0 THEN 'acme' ELSE 'x' END),
                           queue => 'tfd_q', tenant_id => 'tfd_ta', correlation_id => 'tfd-c' || (g % 2)) AS id
  FROM generate_series(1, 30) g) s \gset
SELECT array_agg(id ORDER BY id) AS b_ids FROM (
  SELECT taskflow.schedule('d.b', '{"n": 1}', queue => 'tfd_q', tenant_id => 'tfd_tb') AS id
  FROM generate_series(1, 5)) s \gset
SELECT set_config('tfd.a', :'a_ids', true) IS NOT NULL AS ignore \gset

-- === filters ================================================================================
SELECT is((SELECT array_agg((j ->> 'id')::bigint) FROM taskflow.search_jobs(tenant_id => 'tfd_tb') j),
  (SELECT array_agg(x ORDER BY x DESC) FROM unnest(:'b_ids'::bigint[]) x), 'tenant filter, newest first');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', payload => '$.customer == "acme"', max_rows => 1000)),
  10::bigint, 'payload jsonpath predicate');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', correlation_id => 'tfd-c1', max_rows => 1000)),
  15::bigint, 'correlation id filter');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(queue => 'tfd_q', job_type => 'd.b', max_rows => 1000)),
  5::bigint, 'queue and job type filter');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', created_from => now(), created_to => now() + interval '1 second', max_rows => 1000)),
  30::bigint, 'created time range (from inclusive)');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', created_to => now(), max_rows => 1000)),
  0::bigint, 'to is exclusive');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', state => '{SCHEDULED,RUNNING}')),
  0::bigint, 'several states: none match');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', state => '{SCHEDULED,PENDING}', max_rows => 1000)),
  30::bigint, 'several states: either matches');
SELECT is((SELECT j ->> 'last_error' FROM taskflow.search_jobs(tenant_id => 'tfd_ta', max_rows => 1) j), NULL,
  'a summary has last_error (null before any failure)');
-- a strict path that errors on some payloads only excludes those jobs
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', payload => 'strict $.customer.deep == 1', max_rows => 1000)),
  0::bigint, 'a runtime jsonpath error does not fail the listing');

-- === keyset pages cover every row exactly once ===================================================
WITH RECURSIVE pages(n, after, got) AS (
  SELECT 1, NULL::bigint, ARRAY(SELECT (j ->> 'id')::bigint FROM taskflow.search_jobs(tenant_id => 'tfd_ta', max_rows => 7) j)
  UNION ALL
  SELECT n + 1, got[cardinality(got)],
         ARRAY(SELECT (j ->> 'id')::bigint FROM taskflow.search_jobs(tenant_id => 'tfd_ta', after_id => got[cardinality(got)], max_rows => 7) j)
  FROM pages WHERE cardinality(got) > 0 AND n < 20)
SELECT is((SELECT array_agg(x ORDER BY x) FROM pages, unnest(got) x), :'a_ids'::bigint[],
  'keyset pages of 7 cover the 30 jobs exactly once');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_ta', after_id => (:'a_ids'::bigint[])[1])), 0::bigint,
  'after the oldest: an empty page');

-- === validation ==================================================================================
SELECT throws_ok($$SELECT * FROM taskflow.search_jobs(payload => '$.n == $x')$$, '22023',
  'payload uses the jsonpath variable $x, but the filter passes no variables', 'a jsonpath variable is refused');
SELECT throws_like($$SELECT * FROM taskflow.search_jobs(payload => '$.n ==')$$, 'payload is not a valid jsonpath%',
  'an invalid jsonpath is refused');
SELECT throws_ok($$SELECT * FROM taskflow.search_jobs(payload => '$.n')$$, '22023', NULL, 'a path that is not a predicate is refused');
SELECT throws_like(format('SELECT * FROM taskflow.search_jobs(payload => %L)', '$.n == ' || repeat('1', 1000)),
  '%more than 1000', 'a jsonpath over 1000 characters is refused');
SELECT throws_ok($$SELECT * FROM taskflow.search_jobs(max_rows => 1001)$$, '22023', NULL, 'max_rows is bounded');
SELECT throws_ok($$SELECT * FROM taskflow.search_jobs(created_from => now(), created_to => now() - interval '1 day')$$,
  '22023', NULL, 'from after to is refused');

-- === count ========================================================================================
SELECT is((SELECT row(c.count, c.capped)::text FROM taskflow.count_jobs(tenant_id => 'tfd_ta') c), '(30,f)', 'count_jobs: exact');
SELECT is((SELECT row(c.count, c.capped)::text FROM taskflow.count_jobs(tenant_id => 'tfd_ta', max_count => 10) c), '(10,t)',
  'count_jobs: capped');

-- === bulk actions =================================================================================
-- make one DEAD job (two failed attempts) and one RUNNING job
SELECT taskflow.acquire('tfd-w', ARRAY['tfd_q'], 1, job_types => ARRAY['d.b']) IS NOT NULL AS ignore \gset
SELECT j.lease_token AS tok1, j.id AS dead FROM taskflow.jobs j WHERE j.state = 'RUNNING' AND j.tenant_id = 'tfd_tb' \gset
SELECT taskflow.heartbeat(:dead, :'tok1') AS ignore \gset
SELECT taskflow.fail(:dead, :'tok1', 'SmtpTimeout', E'no answer\nsecond line') AS ignore \gset
SELECT taskflow.acquire('tfd-w', ARRAY['tfd_q'], 1, job_types => ARRAY['d.b']) IS NOT NULL AS ignore \gset
SELECT j.lease_token AS tok2 FROM taskflow.jobs j WHERE j.id = :dead \gset
SELECT taskflow.fail(:dead, :'tok2', 'SmtpTimeout', 'no answer') AS ignore \gset
SELECT is((SELECT state FROM taskflow.jobs WHERE id = :dead), 'DEAD'::taskflow.job_state, 'setup: a DEAD job');
SELECT taskflow.acquire('tfd-w', ARRAY['tfd_q'], 1, job_types => ARRAY['d.b']) IS NOT NULL AS ignore \gset
SELECT j.id AS running FROM taskflow.jobs j WHERE j.state = 'RUNNING' AND j.tenant_id = 'tfd_tb' \gset
SELECT taskflow.heartbeat(:running, (SELECT lease_token FROM taskflow.jobs WHERE id = :running)) AS ignore \gset

SELECT is(taskflow.bulk_jobs('retry', ids => ARRAY[:dead, (:'b_ids'::bigint[])[5], 999999999]) - 'skipped',
  '{"matched": 3, "changed": 1, "skipped_count": 2, "cancel_requested": 0}'::jsonb,
  'bulk retry: the DEAD job moves, a PENDING one and a missing one are reported');
SELECT is(taskflow.bulk_jobs('retry', ids => ARRAY[(:'b_ids'::bigint[])[5]]) -> 'skipped',
  jsonb_build_array(jsonb_build_object('id', (:'b_ids'::bigint[])[5], 'state', 'PENDING',
    'reason', format('cannot retry job %s: it is PENDING', (:'b_ids'::bigint[])[5]))),
  'a refusal carries the state machine''s message');
SELECT is((SELECT count(*) FROM taskflow.job_events WHERE job_id = :dead AND reason = 'retried'), 1::bigint,
  'bulk retry writes the audit trail through taskflow.retry');
SELECT is(taskflow.bulk_jobs('cancel', ids => ARRAY[:running]) ->> 'cancel_requested', '1',
  'bulk cancel of a RUNNING job asks its worker to stop');
SELECT throws_ok(format('SELECT taskflow.bulk_jobs(%L, filter => %L, expected_count => 2)', 'cancel', '{"tenant": "tfd_ta", "state": "PENDING"}'),
  '55000', 'the filter now matches 30 jobs, more than the 2 confirmed', 'a filter matching more than confirmed is refused');
SELECT throws_ok($$SELECT taskflow.bulk_jobs('cancel', filter => '{"tenant": "tfd_ta"}')$$, '22023', NULL,
  'a filter needs expected_count');
SELECT throws_ok($$SELECT taskflow.bulk_jobs('cancel', filter => '{"tenant": "tfd_ta", "colour": "red"}', expected_count => 1)$$, '22023',
  'filter: unknown key "colour"', 'unknown filter keys are refused');
SELECT throws_ok($$SELECT taskflow.bulk_jobs('purge', ids => '{1}')$$, '22023', NULL, 'bulk_jobs does not purge');
SELECT throws_ok(format('SELECT taskflow.bulk_jobs(%L, ids => ARRAY(SELECT generate_series(1, 10001)::bigint))', 'retry'),
  '22023', NULL, 'at most 10000 ids per call');
SELECT is(taskflow.bulk_jobs('cancel', filter => '{"tenant": "tfd_ta", "payload": "$.customer == \"acme\"", "state": ["PENDING"]}',
  expected_count => 10) - 'skipped', '{"matched": 10, "changed": 10, "skipped_count": 0, "cancel_requested": 0}'::jsonb,
  'bulk cancel by filter with the confirmed count');
SELECT is(taskflow.purge_jobs(ids => ARRAY[(:'a_ids'::bigint[])[3], (:'a_ids'::bigint[])[1]]) - 'skipped',
  '{"matched": 2, "changed": 1, "skipped_count": 1, "cancel_requested": 0}'::jsonb,
  'purge deletes the CANCELLED job and refuses the PENDING one');
SELECT is((SELECT count(*) FROM taskflow.job_events WHERE job_id = (:'a_ids'::bigint[])[3]), 0::bigint,
  'purge deletes the job''s events too');

-- === job_detail ===================================================================================
SELECT taskflow.job_detail(:dead) AS d \gset
SELECT is(jsonb_array_length(:'d'::jsonb -> 'attempts'), 2, 'job_detail: both attempts');
SELECT is(:'d'::jsonb #>> '{attempts,0,backoff,policy}', 'fixed 0 ms, max 3600000 ms, none jitter: 0 ms after attempt 1',
  'the first attempt''s backoff names the policy that chose it');
SELECT is(:'d'::jsonb #>> '{attempts,0,backoff,reason}', 'SmtpTimeout: retry in 0 ms', 'and the reason of the decision');
SELECT is(:'d'::jsonb #>> '{attempts,1,decision}', 'SmtpTimeout: attempts exhausted (2 of 2)', 'the last attempt: exhausted');
SELECT is(array_to_string(ARRAY(SELECT e ->> 'to_state' FROM jsonb_array_elements(:'d'::jsonb -> 'events') e), ','),
  'PENDING,RUNNING,SCHEDULED,PENDING,RUNNING,DEAD,PENDING', 'the timeline, oldest first (promotion included)');
SELECT is(:'d'::jsonb #>> '{origin,kind}', 'caller', 'origin: the caller');
SELECT is((taskflow.job_detail(:running) -> 'lease') ->> 'heartbeats', '1', 'the lease counts the heartbeats');
SELECT is(jsonb_array_length(taskflow.job_detail((:'a_ids'::bigint[])[2]) -> 'correlation'), 15,
  'the correlation chain');

-- === dead letters =================================================================================
SELECT is(taskflow.dead_letter_groups() -> 'groups', '[]'::jsonb, 'the re-driven job left the dead letters');
UPDATE taskflow.jobs SET state = 'DEAD', finished_at = now(), last_error_type = 'SmtpTimeout'
  WHERE id IN ((:'b_ids'::bigint[])[2], (:'b_ids'::bigint[])[3]);
SELECT is(taskflow.dead_letter_groups() #- '{groups,0,last_at}' #- '{groups,0,sample_error}',
  jsonb_build_object('capped', false, 'groups', jsonb_build_array(jsonb_build_object('job_type', 'd.b',
    'error_type', 'SmtpTimeout', 'count', 2, 'sample_job_id', (:'b_ids'::bigint[])[3]))),
  'dead letters grouped by job type and error type');
SELECT is(taskflow.dead_letter_groups(max_jobs => 1) #- '{groups,0,last_at}' #- '{groups,0,sample_error}' #- '{groups,0,sample_job_id}',
  jsonb_build_object('capped', true, 'groups', jsonb_build_array(jsonb_build_object('job_type', 'd.b',
    'error_type', 'SmtpTimeout', 'count', 1))),
  'max_jobs caps the DEAD jobs counted, and capped says so');
SELECT throws_ok('SELECT taskflow.dead_letter_groups(max_jobs => 0)', '22023', 'max_jobs must be between 1 and 1000000',
  'dead_letter_groups: max_jobs below 1 is refused');
SELECT is((SELECT pg_get_indexdef('taskflow.jobs_dead_idx'::regclass) ~ 'WHERE \(state = ''DEAD''::taskflow.job_state\)'),
  true, 'jobs_dead_idx covers exactly the DEAD jobs (the groups are counted from it alone)');
SELECT is(taskflow.dead_letter_redrive('d.b', 'SmtpTimeout') ->> 'changed', '2', 'a group re-driven');

-- === tenant confinement ===========================================================================
SET LOCAL ROLE tfd_a;
SELECT is((SELECT count(*) FROM taskflow.search_jobs(max_rows => 1000)), 30::bigint - 1, 'a tenant lists only its jobs');
SELECT is((SELECT count(*) FROM taskflow.search_jobs(tenant_id => 'tfd_tb')), 0::bigint, 'asking for another tenant: nothing');
SELECT is(taskflow.job_detail(:dead), NULL, 'another tenant''s job: NULL, like a missing one');
SELECT is(taskflow.bulk_jobs('cancel', ids => ARRAY[(:'b_ids'::bigint[])[1]]) -> 'skipped' -> 0 ->> 'reason',
  format('job %s does not exist', (:'b_ids'::bigint[])[1]), 'bulk on another tenant''s id: not found');
RESET ROLE;
SELECT is((SELECT state FROM taskflow.jobs WHERE id = (:'b_ids'::bigint[])[1]), 'PENDING'::taskflow.job_state,
  'and that job is untouched');

SELECT * FROM finish();
ROLLBACK;
