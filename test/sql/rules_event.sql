-- Event triggers: job_succeeded, job_failed, job_dead, job_cancelled, narrowed by job_type and
-- queue; follow-up jobs with parent_job_id and the inherited correlation_id; the same transaction
-- as the transition (a rolled-back completion leaves no follow-up); taskflow.max_chain_depth;
-- templates and enqueues that fail are recorded without failing the transition.
BEGIN;
SELECT plan(38);

SELECT taskflow.create_queue('ev_q');
SELECT taskflow.create_queue('ev_q2');
SELECT taskflow.create_queue('ev_out');
SELECT taskflow.create_queue('ev_once', retry_policy => '{"max_attempts": 1}');

-- Acquires the one ready job of a queue; returns its lease token.
CREATE FUNCTION pg_temp.take(q text) RETURNS uuid LANGUAGE sql AS $$
  SELECT a.lease_token FROM taskflow.acquire('ev-worker', ARRAY[q], 1) a
$$;
CREATE FUNCTION pg_temp.followups(parent bigint) RETURNS bigint[] LANGUAGE sql AS $$
  SELECT COALESCE(array_agg(id ORDER BY id), '{}') FROM taskflow.jobs WHERE parent_job_id = parent
$$;
CREATE FUNCTION pg_temp.last_firing(rule bigint) RETURNS taskflow.rule_firings LANGUAGE sql AS $$
  SELECT * FROM taskflow.rule_firings WHERE rule_id = rule ORDER BY id DESC LIMIT 1
$$;

SELECT taskflow.create_rule('index after import',
  '{"type": "event", "on": "job_succeeded", "job_type": "ev.import", "queue": "ev_q"}',
  '[{"job_type": "ev.index", "queue": "ev_out",
     "payload": {"source": "{{ $.event.job.id }}", "rows": "{{ $.event.job.result.rows }}", "file": "{{ $.event.job.payload.file }}"}}]') AS r_ok \gset

-- --- job_succeeded -------------------------------------------------------------------------------
SELECT taskflow.schedule('ev.import', '{"file": "a.csv"}', queue => 'ev_q', correlation_id => 'corr-1') AS j1 \gset
SELECT pg_temp.take('ev_q') AS t1 \gset
SELECT is(pg_temp.followups(:j1), '{}'::bigint[], 'no follow-up before the job finishes');
SELECT is(taskflow.complete(:j1, :'t1', '{"rows": 10}')::text, 'SUCCEEDED', 'the completion succeeds');
SELECT is(cardinality(pg_temp.followups(:j1)), 1, 'a job_succeeded rule enqueues its follow-up in the completing transaction');
SELECT (pg_temp.followups(:j1))[1] AS f1 \gset
SELECT is((SELECT ROW(job_type, queue, tenant_id, state::text, payload, parent_job_id, correlation_id)::text FROM taskflow.jobs WHERE id = :f1),
  ROW('ev.index', 'ev_out', 'default', 'PENDING', jsonb_build_object('source', :j1, 'rows', 10, 'file', 'a.csv'), :j1::bigint, 'corr-1')::text,
  'the follow-up: filled from the finished job, parent_job_id = that job, its correlation_id inherited');
SELECT is((SELECT ROW(source, matched, job_ids, error, source_job_id, chain_depth)::text FROM pg_temp.last_firing(:r_ok)),
  ROW('event', true, ARRAY[:f1::bigint], NULL::text, :j1::bigint, 1)::text,
  'the firing is recorded: source event, the job that caused it, the chain depth');
SELECT is((SELECT context -> 'event' ->> 'type' FROM pg_temp.last_firing(:r_ok)), 'job_succeeded', 'with the event in its context');
SELECT is((SELECT context -> 'event' -> 'job' -> 'result' FROM pg_temp.last_firing(:r_ok)), '{"rows": 10}'::jsonb,
  'the context shows the job as it finished');

-- narrowing: another job type, another queue, another tenant: no firing
SELECT count(*) AS firings_before FROM taskflow.rule_firings WHERE rule_id = :r_ok \gset
SELECT taskflow.schedule('ev.other', queue => 'ev_q') AS j2 \gset
SELECT taskflow.complete(:j2, pg_temp.take('ev_q'));
SELECT taskflow.schedule('ev.import', '{"file": "b"}', queue => 'ev_q2') AS j3 \gset
SELECT taskflow.complete(:j3, pg_temp.take('ev_q2'));
SELECT taskflow.schedule('ev.import', '{"file": "c"}', queue => 'ev_q', tenant_id => 'ev_tenant') AS j4 \gset
SELECT taskflow.complete(:j4, pg_temp.take('ev_q'));
SELECT is(pg_temp.followups(:j2) || pg_temp.followups(:j3) || pg_temp.followups(:j4), '{}'::bigint[],
  'another job_type, another queue or another tenant''s job does not fire the rule');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_ok), :firings_before::bigint, 'and records no firing');

-- a repeated complete of the same attempt does not fire again
SELECT taskflow.complete(:j1, :'t1', '{"rows": 10}');
SELECT is(cardinality(pg_temp.followups(:j1)), 1, 'a repeated complete does not fire the rule again');

-- --- atomicity --------------------------------------------------------------------------------------
SELECT taskflow.schedule('ev.import', '{"file": "d.csv"}', queue => 'ev_q') AS j5 \gset
SELECT pg_temp.take('ev_q') AS t5 \gset
SAVEPOINT completion;
SELECT taskflow.complete(:j5, :'t5', '{"rows": 1}');
SELECT is(cardinality(pg_temp.followups(:j5)), 1, 'inside the completing transaction the follow-up exists');
ROLLBACK TO SAVEPOINT completion;
SELECT is(pg_temp.followups(:j5), '{}'::bigint[], 'a rolled-back completion leaves no follow-up job');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :j5), 'RUNNING', 'and the job is still RUNNING');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE source_job_id = :j5), 0::bigint, 'and no firing is recorded');
SELECT taskflow.complete(:j5, :'t5', '{"rows": 1}');
SELECT is(cardinality(pg_temp.followups(:j5)), 1, 'completed again, the follow-up commits with it');

-- batch completion fires per job
SELECT taskflow.schedule('ev.import', jsonb_build_object('file', 'm' || i), queue => 'ev_q') FROM generate_series(1, 3) i;
SELECT array_agg(job_id ORDER BY job_id) AS mids, array_agg(lease_token ORDER BY job_id) AS mtok
  FROM taskflow.acquire('ev-worker', ARRAY['ev_q'], 3) \gset
SELECT taskflow.complete_many(:'mids'::bigint[], :'mtok'::uuid[], ARRAY['{"rows": 1}', '{"rows": 2}', '{"rows": 3}']::jsonb[]);
SELECT is((SELECT array_agg((payload ->> 'rows')::int ORDER BY parent_job_id) FROM taskflow.jobs WHERE parent_job_id = ANY(:'mids'::bigint[])),
  ARRAY[1, 2, 3], 'complete_many fires the rule once per completed job');

-- --- job_failed, job_dead, job_cancelled ----------------------------------------------------------------
SELECT taskflow.create_rule('on failure', '{"type": "event", "on": "job_failed", "queue": "ev_q"}',
  '[{"job_type": "ev.alert", "queue": "ev_out", "payload": {"job": "{{ $.event.job.id }}", "error": "{{ $.event.job.last_error_type }}"}}]') AS r_failed \gset
SELECT taskflow.create_rule('on dead', '{"type": "event", "on": "job_dead"}',
  '[{"job_type": "ev.dead_letter_alert", "queue": "ev_out", "payload": {"job": "{{ $.event.job.id }}"}}]') AS r_dead \gset
SELECT taskflow.create_rule('on cancel', '{"type": "event", "on": "job_cancelled", "job_type": "ev.cancel_me"}',
  '[{"job_type": "ev.cleanup", "queue": "ev_out", "payload": {"job": "{{ $.event.job.id }}"}}]') AS r_cancel \gset

SELECT taskflow.schedule('ev.flaky', queue => 'ev_q') AS j6 \gset
SELECT taskflow.fail(:j6, pg_temp.take('ev_q'), 'timeout', 'slow', retryable => true);
SELECT is(pg_temp.followups(:j6), '{}'::bigint[], 'a failure that will be retried is no job_failed event');
SELECT taskflow.schedule('ev.broken', queue => 'ev_q') AS j7 \gset
SELECT is(taskflow.fail(:j7, pg_temp.take('ev_q'), 'bad_input', 'no', retryable => false)::text, 'FAILED', 'a permanent failure: FAILED');
SELECT is((SELECT ROW(job_type, payload)::text FROM taskflow.jobs WHERE parent_job_id = :j7),
  ROW('ev.alert', jsonb_build_object('job', :j7, 'error', 'bad_input'))::text, 'a job_failed rule fires');

SELECT taskflow.schedule('ev.once', queue => 'ev_once') AS j8 \gset
SELECT is(taskflow.fail(:j8, pg_temp.take('ev_once'), 'crash')::text, 'DEAD', 'the retry budget used up: DEAD');
SELECT is((SELECT ROW(job_type, payload)::text FROM taskflow.jobs WHERE parent_job_id = :j8),
  ROW('ev.dead_letter_alert', jsonb_build_object('job', :j8))::text, 'a job_dead rule fires');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE parent_job_id = :j8), 1::bigint, 'and the job_failed rule does not');

SELECT taskflow.schedule('ev.cancel_me', queue => 'ev_q2') AS j9 \gset
SELECT taskflow.cancel(:j9, 'not needed');
SELECT is((SELECT ROW(job_type, payload)::text FROM taskflow.jobs WHERE parent_job_id = :j9),
  ROW('ev.cleanup', jsonb_build_object('job', :j9))::text, 'a job_cancelled rule fires on cancel');

-- a disabled rule does not fire
SELECT taskflow.disable_rule(:r_cancel);
SELECT taskflow.schedule('ev.cancel_me', queue => 'ev_q2') AS j10 \gset
SELECT taskflow.cancel(:j10);
SELECT is(pg_temp.followups(:j10), '{}'::bigint[], 'a disabled event rule does not fire');

-- --- conditions ------------------------------------------------------------------------------------------
SELECT taskflow.create_rule('only big', '{"type": "event", "on": "job_succeeded", "job_type": "ev.sized"}',
  '[{"job_type": "ev.big", "queue": "ev_out"}]', condition => '$.event.job.result.size > 100') AS r_cond \gset
SELECT taskflow.schedule('ev.sized', queue => 'ev_q2') AS j11 \gset
SELECT taskflow.complete(:j11, pg_temp.take('ev_q2'), '{"size": 5}');
SELECT taskflow.schedule('ev.sized', queue => 'ev_q2') AS j12 \gset
SELECT taskflow.complete(:j12, pg_temp.take('ev_q2'), '{"size": 500}');
SELECT is(ARRAY[cardinality(pg_temp.followups(:j11)), cardinality(pg_temp.followups(:j12))], ARRAY[0, 1],
  'the condition decides per event');
SELECT is((SELECT array_agg(matched ORDER BY id) FROM taskflow.rule_firings WHERE rule_id = :r_cond), ARRAY[false, true],
  'both firings are recorded, with whether the condition matched');

-- --- errors are recorded, the transition still happens ---------------------------------------------------
SELECT taskflow.create_rule('needs field', '{"type": "event", "on": "job_succeeded", "job_type": "ev.partial"}',
  '[{"job_type": "ev.a", "queue": "ev_out"}, {"job_type": "ev.b", "queue": "ev_out", "payload": {"x": "{{ $.event.job.result.missing }}"}}]') AS r_tmpl \gset
SELECT taskflow.schedule('ev.partial', queue => 'ev_q2') AS j13 \gset
SELECT is(taskflow.complete(:j13, pg_temp.take('ev_q2'), '{}')::text, 'SUCCEEDED', 'a template that cannot be filled does not fail the completion');
SELECT is(pg_temp.followups(:j13), '{}'::bigint[], 'and creates no job at all, not even the fillable one');
SELECT is((SELECT error FROM pg_temp.last_firing(:r_tmpl)), 'actions[1].payload.x: {{ $.event.job.result.missing }} has no value in the context',
  'the firing records the error');

SELECT taskflow.create_queue('ev_gone');
SELECT taskflow.create_rule('queue vanishes', '{"type": "event", "on": "job_succeeded", "job_type": "ev.q"}',
  '[{"job_type": "ev.first", "queue": "ev_out"}, {"job_type": "ev.second", "queue": "ev_gone"}]') AS r_q \gset
SELECT taskflow.drop_queue('ev_gone');
SELECT taskflow.schedule('ev.q', queue => 'ev_q2') AS j14 \gset
SELECT is(taskflow.complete(:j14, pg_temp.take('ev_q2'))::text, 'SUCCEEDED', 'an enqueue that fails does not fail the completion');
SELECT is(pg_temp.followups(:j14), '{}'::bigint[], 'and the jobs enqueued before the failing one are rolled back');
SELECT alike((SELECT error FROM pg_temp.last_firing(:r_q)), 'queue "ev_gone" does not exist', 'the firing records the error');

-- --- chain depth ----------------------------------------------------------------------------------------
SELECT is(current_setting('taskflow.max_chain_depth'), '10', 'taskflow.max_chain_depth defaults to 10');
SET LOCAL taskflow.max_chain_depth = 3;
SELECT taskflow.create_queue('ev_loop');
SELECT taskflow.create_rule('loop', '{"type": "event", "on": "job_succeeded", "job_type": "ev.loop"}',
  '[{"job_type": "ev.loop", "queue": "ev_loop", "payload": {"n": "{{ $.event.job.id }}"}}]') AS r_loop \gset
SELECT taskflow.schedule('ev.loop', queue => 'ev_loop', correlation_id => 'chain') AS j_loop \gset
SELECT taskflow.complete(a.job_id, a.lease_token) FROM taskflow.acquire('ev-worker', ARRAY['ev_loop'], 1) a;  -- creates depth 1
SELECT taskflow.complete(a.job_id, a.lease_token) FROM taskflow.acquire('ev-worker', ARRAY['ev_loop'], 1) a;  -- depth 2
SELECT taskflow.complete(a.job_id, a.lease_token) FROM taskflow.acquire('ev-worker', ARRAY['ev_loop'], 1) a;  -- depth 3
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'ev.loop'), 4::bigint, 'a rule that triggers itself builds a chain');
SELECT is((SELECT array_agg(DISTINCT correlation_id) FROM taskflow.jobs WHERE job_type = 'ev.loop'), ARRAY['chain'],
  'the whole chain shares the first job''s correlation_id');
SELECT is(taskflow.complete(a.job_id, a.lease_token)::text, 'SUCCEEDED', 'the completion at the depth limit succeeds')
  FROM taskflow.acquire('ev-worker', ARRAY['ev_loop'], 1) a;
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'ev.loop'), 4::bigint,
  'but the chain stops at taskflow.max_chain_depth (3)');
SELECT is((SELECT ROW(matched, job_ids, chain_depth, error)::text FROM pg_temp.last_firing(:r_loop)),
  ROW(true, '{}'::bigint[], 4, 'chain too deep: the follow-up jobs would be 4 levels below the first job, taskflow.max_chain_depth is 3')::text,
  'with the error recorded on the firing');

SELECT * FROM finish();
ROLLBACK;
