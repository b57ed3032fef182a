-- The job state machine through the API: acquire, heartbeat, complete, fail (retry / DEAD /
-- FAILED), release, cancel, retry, refusals (55000), stale tokens, repeated complete,
-- complete_many, leases.
-- One transaction: now() is constant, so backoffs are checked exactly against now(), and a
-- backoff is made due by moving next_run_at to now() (test setup, as superuser).
BEGIN;
SELECT plan(152);
\ir helpers.psql

-- Retries that are due at once (fixed 0 delay), and deterministic backoffs.
SELECT taskflow.create_queue('t_life', retry_policy => '{"max_attempts": 3, "strategy": "fixed", "base_delay": 0, "jitter": "none"}') \gset
SELECT taskflow.create_queue('t_linear', retry_policy => '{"max_attempts": 3, "strategy": "linear", "base_delay": "10 seconds", "max_delay": "1 hour", "jitter": "none"}') \gset
SELECT taskflow.create_queue('t_exp', retry_policy => '{"max_attempts": 5, "strategy": "exponential", "base_delay": "10 seconds", "max_delay": "30 seconds", "jitter": "none"}') \gset
SELECT taskflow.create_queue('t_equal', retry_policy => '{"max_attempts": 5, "strategy": "fixed", "base_delay": "10 seconds", "jitter": "equal"}') \gset
SELECT taskflow.create_queue('t_dflt') \gset
SELECT taskflow.create_queue('t_qlease', lease => interval '5 minutes') \gset

CREATE FUNCTION pg_temp.events(id bigint) RETURNS bigint LANGUAGE sql AS
  $$ SELECT count(*) FROM taskflow.job_events e WHERE e.job_id = events.id $$;

-- === acquire + complete =========================================================================
SELECT taskflow.schedule('lc.ok', '{"p": 1}', queue => 't_life', correlation_id => 'c-ok',
  timeout => interval '1 minute', tenant_id => 'acme') AS j \gset
SELECT * FROM taskflow.acquire('worker-a', ARRAY['t_life'], 1, job_types => ARRAY['lc.ok']) \gset a_
SELECT is(:a_job_id::bigint, :j::bigint, 'acquire returns the PENDING job');
SELECT is(:a_attempt, 1, 'the first acquisition is attempt 1');
SELECT ok(:'a_lease_token' IS NOT NULL, 'acquire hands out a lease token');
SELECT is(ROW(:'a_job_type'::text, :'a_payload'::jsonb, :'a_queue'::text, :'a_tenant_id'::text, :'a_correlation_id'::text, :'a_timeout'::interval),
  ROW('lc.ok'::text, '{"p": 1}'::jsonb, 't_life'::text, 'acme'::text, 'c-ok'::text, interval '1 minute'),
  'acquire returns job_type, payload, queue, tenant_id, correlation_id, timeout');
SELECT is(:'a_lease_expires_at'::timestamptz, now() + interval '30 seconds',
  'without a lease argument or queue lease, the lease is taskflow.default_lease (30s)');
SELECT is(pg_temp.st(:j), 'RUNNING', 'acquired job is RUNNING');
SELECT is((SELECT ROW(attempts, started_at, worker_id, lease_token) FROM taskflow.jobs WHERE id = :j),
  ROW(1, now(), 'worker-a'::text, :'a_lease_token'::uuid), 'the job records attempts, started_at, worker and token');
SELECT is((taskflow.job_history(:j) -> 'attempts' -> 0) - 'lease_expires_at',
  jsonb_build_object('attempt', 1, 'worker_id', 'worker-a', 'started_at', now(), 'finished_at', NULL,
    'outcome', 'running', 'error_type', NULL, 'error_message', NULL, 'backoff_delay', NULL),
  'acquire starts attempt 1: job_history shows it running');
SELECT is((SELECT count(*) FROM taskflow.acquire('worker-b', ARRAY['t_life'], 1, job_types => ARRAY['lc.ok'])), 0::bigint,
  'a RUNNING job is not acquired again');

SELECT is(taskflow.heartbeat(:j, :'a_lease_token'), 'ok', 'heartbeat with the current token: ok');
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = :j;
SELECT is(taskflow.heartbeat(:j, :'a_lease_token'), 'ok', 'heartbeat on a lapsed (not yet rescued) lease: ok');
SELECT is((SELECT lease_expires_at FROM taskflow.jobs WHERE id = :j), now() + interval '30 seconds',
  'heartbeat extends the lease by the lease length');
SELECT is(taskflow.heartbeat(:j, :'a_lease_token', interval '10 minutes'), 'ok', 'heartbeat with extend: ok');
SELECT is((SELECT lease_expires_at FROM taskflow.jobs WHERE id = :j), now() + interval '10 minutes',
  'heartbeat(extend) sets the lease to now() + extend');
SELECT throws_ok(format('SELECT taskflow.heartbeat(%s, %L, interval %L)', :j, :'a_lease_token', '0 seconds'),
  '22023', NULL, 'heartbeat with extend 0: 22023');

SELECT is(taskflow.complete(:j, :'a_lease_token', '{"sent": true}'), 'SUCCEEDED'::taskflow.job_state,
  'complete: RUNNING -> SUCCEEDED');
SELECT is((SELECT ROW(state::text, result, finished_at, lease_expires_at) FROM taskflow.jobs WHERE id = :j),
  ROW('SUCCEEDED'::text, '{"sent": true}'::jsonb, now(), NULL::timestamptz),
  'the job records the result and finished_at; the lease is gone');
SELECT is((SELECT ROW(a.finished_at, a.outcome) FROM pg_temp.att(:j, 1) a), ROW(now(), 'succeeded'::text),
  'the attempt ends as succeeded');
SELECT pg_temp.events(:j) AS ev_done \gset
SELECT is(taskflow.complete(:j, :'a_lease_token', '{"sent": "again"}'), 'SUCCEEDED'::taskflow.job_state,
  'a repeated complete with the token that succeeded returns SUCCEEDED again');
SELECT is((SELECT result FROM taskflow.jobs WHERE id = :j), '{"sent": true}'::jsonb,
  'the repeated complete does not overwrite the result');
SELECT is(pg_temp.events(:j), :ev_done::bigint, 'the repeated complete records no event');
SELECT is(taskflow.heartbeat(:j, :'a_lease_token'), 'lost', 'heartbeat after success: lost');
SELECT is(taskflow.fail(:j, :'a_lease_token', 'boom'), NULL::taskflow.job_state, 'fail after success: NULL');
SELECT is(taskflow.release(:j, :'a_lease_token'), NULL::taskflow.job_state, 'release after success: NULL');
SELECT is(taskflow.complete(:j, gen_random_uuid()), NULL::taskflow.job_state,
  'complete of a SUCCEEDED job with another token: NULL');
SELECT is(pg_temp.st(:j), 'SUCCEEDED', 'the job is still SUCCEEDED');

-- === SCHEDULED: not acquired before it is due, acquired once due ================================
SELECT taskflow.schedule('lc.later', queue => 't_life', run_at => now() + interval '1 hour') AS s \gset
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_life'], 10, job_types => ARRAY['lc.later'])), 0::bigint,
  'a SCHEDULED job that is not yet due is not acquired');
SELECT pg_temp.make_due(:s);
SELECT is(pg_temp.st(:s), 'SCHEDULED', 'a SCHEDULED job stays SCHEDULED when its time comes (until acquired or promoted)');
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], 10, job_types => ARRAY['lc.later']) \gset s_
SELECT is(:s_job_id::bigint, :s::bigint, 'a due SCHEDULED job is acquired');
-- acquire may first promote the due job (SCHEDULED -> PENDING, by the scheduler); either way
-- the events form one unbroken chain from NULL -> SCHEDULED to -> RUNNING by the worker.
SELECT is_empty(
  format($$SELECT e.id FROM taskflow.job_events e
    WHERE e.job_id = %s AND e.from_state IS DISTINCT FROM
      (SELECT p.to_state FROM taskflow.job_events p WHERE p.job_id = e.job_id AND p.id < e.id ORDER BY p.id DESC LIMIT 1)$$, :s),
  'the events of the due SCHEDULED job form an unbroken chain of transitions');
SELECT is((SELECT ARRAY[min(e.to_state::text) FILTER (WHERE e.from_state IS NULL),
                        (array_agg(e.to_state::text || ' by ' || e.actor ORDER BY e.id DESC))[1]]
           FROM taskflow.job_events e WHERE e.job_id = :s),
  ARRAY['SCHEDULED', 'RUNNING by w'], 'it starts SCHEDULED and ends RUNNING, acquired by the worker');

-- === fail, retryable, with deterministic backoff (linear 10s, 3 attempts) =======================
SELECT taskflow.schedule('lc.linear', queue => 't_linear') AS f \gset
SELECT * FROM taskflow.acquire('w1', ARRAY['t_linear']) \gset f1_
SELECT is(taskflow.fail(:f, :'f1_lease_token', 'smtp_timeout', 'no answer in 30s'), 'SCHEDULED'::taskflow.job_state,
  'fail(retryable) with attempts left: RUNNING -> SCHEDULED');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :f), now() + interval '10 seconds',
  'next_run_at = now() + the policy delay (linear, attempt 1: 10s)');
SELECT is((SELECT ROW(a.outcome, a.error_type, a.error_message, a.backoff_delay, a.finished_at) FROM pg_temp.att(:f, 1) a),
  ROW('failed'::text, 'smtp_timeout'::text, 'no answer in 30s'::text, interval '10 seconds', now()),
  'the attempt records outcome, error and the backoff delay');
SELECT is((SELECT ROW(last_error_type, last_error_message, finished_at, lease_expires_at) FROM taskflow.jobs WHERE id = :f),
  ROW('smtp_timeout'::text, 'no answer in 30s'::text, NULL::timestamptz, NULL::timestamptz),
  'the job records the last error; it is not finished and holds no lease');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_linear'])), 0::bigint,
  'the retry is not acquired before its backoff has passed');
SELECT * FROM pg_temp.acquire_due(:f, 'w2') \gset f2_
SELECT is(:f2_attempt, 2, 'the retry is attempt 2');
SELECT isnt(:'f2_lease_token'::uuid, :'f1_lease_token'::uuid, 'with a fresh lease token');
SELECT is(taskflow.fail(:f, :'f2_lease_token', 'smtp_timeout'), 'SCHEDULED'::taskflow.job_state, 'attempt 2 fails: SCHEDULED');
SELECT is((SELECT backoff_delay FROM pg_temp.att(:f, 2)), interval '20 seconds', 'linear, attempt 2: 20s');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :f), now() + interval '20 seconds', 'next_run_at = now() + 20s');
SELECT * FROM pg_temp.acquire_due(:f, 'w3') \gset f3_
SELECT is(taskflow.fail(:f, :'f3_lease_token', 'smtp_timeout', 'still down'), 'DEAD'::taskflow.job_state,
  'fail(retryable) with the budget used up (3 of 3): RUNNING -> DEAD');
SELECT is((SELECT ROW(state::text, finished_at, attempts, last_error_message) FROM taskflow.jobs WHERE id = :f),
  ROW('DEAD'::text, now(), 3, 'still down'::text), 'a DEAD job is finished after 3 attempts');
SELECT is((SELECT ROW(a.outcome, a.backoff_delay) FROM pg_temp.att(:f, 3) a), ROW('failed'::text, NULL::interval),
  'the last attempt records no backoff');
SELECT is((SELECT count(*) FROM taskflow.dead_letter WHERE id = :f), 1::bigint, 'a DEAD job is listed in dead_letter');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_linear'])), 0::bigint, 'a DEAD job is not acquired');

-- exponential with a cap: 10s, 20s, then capped at 30s.
SELECT taskflow.schedule('lc.exp', queue => 't_exp') AS e \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_exp']) \gset e1_
SELECT taskflow.fail(:e, :'e1_lease_token', 'x') AS ignore \gset
SELECT * FROM pg_temp.acquire_due(:e, 'w') \gset e2_
SELECT taskflow.fail(:e, :'e2_lease_token', 'x') AS ignore \gset
SELECT * FROM pg_temp.acquire_due(:e, 'w') \gset e3_
SELECT taskflow.fail(:e, :'e3_lease_token', 'x') AS ignore \gset
SELECT is(ARRAY(SELECT backoff_delay FROM taskflow.job_attempts WHERE job_id = :e ORDER BY attempt),
  ARRAY[interval '10 seconds', interval '20 seconds', interval '30 seconds'],
  'exponential backoff doubles and is capped at max_delay');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :e), now() + interval '30 seconds',
  'next_run_at follows the capped delay');

-- jitter: equal = d/2 + uniform in [0, d/2]; the default policy: full jitter over 2s.
SELECT taskflow.schedule('lc.equal', queue => 't_equal') AS q \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_equal']) \gset q1_
SELECT taskflow.fail(:q, :'q1_lease_token', 'x') AS ignore \gset
SELECT ok((SELECT backoff_delay BETWEEN interval '5 seconds' AND interval '10 seconds' FROM pg_temp.att(:q, 1)),
  'equal jitter: the delay lies in [d/2, d]');
SELECT is((SELECT next_run_at - now() FROM taskflow.jobs WHERE id = :q), (SELECT backoff_delay FROM pg_temp.att(:q, 1)),
  'next_run_at = now() + the recorded (jittered) delay');
SELECT taskflow.schedule('lc.default', queue => 't_dflt') AS d \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_dflt']) \gset d1_
SELECT is(taskflow.fail(:d, :'d1_lease_token', 'x'), 'SCHEDULED'::taskflow.job_state, 'default policy: a failure is retried');
SELECT ok((SELECT backoff_delay BETWEEN interval '0' AND interval '2 seconds' FROM pg_temp.att(:d, 1)),
  'default policy, attempt 1: full jitter over 2 seconds');
SELECT is((SELECT next_run_at - now() FROM taskflow.jobs WHERE id = :d), (SELECT backoff_delay FROM pg_temp.att(:d, 1)),
  'default policy: next_run_at = now() + the recorded delay');

-- === fail, not retryable -> FAILED ============================================================
SELECT taskflow.schedule('lc.perm', queue => 't_life') AS p \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.perm']) \gset p1_
SELECT is(taskflow.fail(:p, :'p1_lease_token', 'bad_input', 'address is malformed', retryable => false),
  'FAILED'::taskflow.job_state, 'fail(retryable => false): RUNNING -> FAILED with budget left');
SELECT is((SELECT ROW(state::text, finished_at, last_error_type, last_error_message) FROM taskflow.jobs WHERE id = :p),
  ROW('FAILED'::text, now(), 'bad_input'::text, 'address is malformed'::text), 'a FAILED job is finished and keeps its error');
SELECT is((SELECT ROW(a.outcome, a.backoff_delay) FROM pg_temp.att(:p, 1) a), ROW('failed'::text, NULL::interval),
  'the attempt of a permanent failure has no backoff');
SELECT is((SELECT count(*) FROM taskflow.dead_letter WHERE id = :p), 0::bigint, 'a FAILED job is not a dead letter');
SELECT throws_ok(format('SELECT taskflow.fail(%s, %L, %L)', :p, :'p1_lease_token', ''), '22023', NULL,
  'fail with an empty error_type: 22023');
SELECT throws_ok(format('SELECT taskflow.fail(%s, %L, %L)', :p, :'p1_lease_token', repeat('E', 201)), '22023',
  'error_type is too long: 201 characters, at most 200 allowed', 'fail with a 201-character error_type: 22023');

-- === release -> PENDING without using the budget ===============================================
SELECT taskflow.schedule('lc.release', queue => 't_life', max_attempts => 2) AS r \gset
SELECT * FROM taskflow.acquire('w1', ARRAY['t_life'], job_types => ARRAY['lc.release']) \gset r1_
SELECT is(taskflow.release(:r, :'r1_lease_token'), 'PENDING'::taskflow.job_state, 'release: RUNNING -> PENDING');
SELECT is((SELECT ROW(next_run_at, lease_expires_at, finished_at) FROM taskflow.jobs WHERE id = :r),
  ROW(now(), NULL::timestamptz, NULL::timestamptz), 'a released job is ready at once and holds no lease');
SELECT is((SELECT ROW(a.outcome, a.finished_at) FROM pg_temp.att(:r, 1) a), ROW('released'::text, now()),
  'the attempt ends as released');
SELECT is(taskflow.heartbeat(:r, :'r1_lease_token'), 'lost', 'heartbeat with the released token: lost');
SELECT * FROM taskflow.acquire('w2', ARRAY['t_life'], job_types => ARRAY['lc.release']) \gset r2_
SELECT is(:r2_attempt, 2, 'the released job is acquired again as attempt 2');
SELECT is(taskflow.fail(:r, :'r2_lease_token', 'x'), 'SCHEDULED'::taskflow.job_state,
  'max_attempts 2: after a release, the first failure is still retried (release used no attempt)');
SELECT * FROM taskflow.acquire('w3', ARRAY['t_life'], job_types => ARRAY['lc.release']) \gset r3_
SELECT is(taskflow.fail(:r, :'r3_lease_token', 'x'), 'DEAD'::taskflow.job_state,
  'the second counted failure uses up the budget: DEAD');

-- === stale tokens: nothing changes ==========================================================
SELECT taskflow.schedule('lc.stale', queue => 't_life') AS k \gset
SELECT * FROM taskflow.acquire('w1', ARRAY['t_life'], job_types => ARRAY['lc.stale']) \gset k1_
SELECT (SELECT to_jsonb(j) FROM taskflow.jobs j WHERE id = :k) AS k_row, pg_temp.events(:k) AS k_events,
       (SELECT count(*) FROM taskflow.job_attempts WHERE job_id = :k) AS k_attempts \gset
SELECT is(taskflow.complete(:k, gen_random_uuid(), '{"x": 1}'), NULL::taskflow.job_state, 'complete with a wrong token: NULL');
SELECT is(taskflow.fail(:k, gen_random_uuid(), 'x'), NULL::taskflow.job_state, 'fail with a wrong token: NULL');
SELECT is(taskflow.fail(:k, gen_random_uuid(), 'x', retryable => false), NULL::taskflow.job_state,
  'fail(retryable => false) with a wrong token: NULL');
SELECT is(taskflow.release(:k, gen_random_uuid()), NULL::taskflow.job_state, 'release with a wrong token: NULL');
SELECT is(taskflow.heartbeat(:k, gen_random_uuid()), 'lost', 'heartbeat with a wrong token: lost');
SELECT is(taskflow.heartbeat(:k, gen_random_uuid(), interval '1 hour'), 'lost', 'heartbeat(extend) with a wrong token: lost');
SELECT is((SELECT to_jsonb(j) FROM taskflow.jobs j WHERE id = :k), :'k_row'::jsonb,
  'wrong tokens changed nothing in the job row');
SELECT is(pg_temp.events(:k), :k_events::bigint, 'wrong tokens recorded no event');
SELECT is((SELECT count(*) FROM taskflow.job_attempts WHERE job_id = :k AND finished_at IS NULL), :k_attempts::bigint,
  'wrong tokens ended no attempt');
-- The token of an earlier attempt is stale too.
SELECT taskflow.release(:k, :'k1_lease_token') AS ignore \gset
SELECT * FROM taskflow.acquire('w2', ARRAY['t_life'], job_types => ARRAY['lc.stale']) \gset k2_
SELECT is(taskflow.complete(:k, :'k1_lease_token'), NULL::taskflow.job_state, 'complete with the previous attempt''s token: NULL');
SELECT is(taskflow.fail(:k, :'k1_lease_token', 'x'), NULL::taskflow.job_state, 'fail with the previous attempt''s token: NULL');
SELECT is(taskflow.release(:k, :'k1_lease_token'), NULL::taskflow.job_state, 'release with the previous attempt''s token: NULL');
SELECT is(taskflow.heartbeat(:k, :'k1_lease_token'), 'lost', 'heartbeat with the previous attempt''s token: lost');
SELECT is((SELECT ROW(state::text, attempts, lease_token) FROM taskflow.jobs WHERE id = :k),
  ROW('RUNNING'::text, 2, :'k2_lease_token'::uuid), 'the current attempt is untouched');
SELECT is(taskflow.complete(:k, :'k2_lease_token'), 'SUCCEEDED'::taskflow.job_state, 'the current token completes');
SELECT is(taskflow.complete(:k, :'k1_lease_token'), NULL::taskflow.job_state,
  'after success, the previous attempt''s token still gets NULL (not SUCCEEDED)');
SELECT is(taskflow.complete(-1, gen_random_uuid()), NULL::taskflow.job_state, 'complete of a job that does not exist: NULL');
SELECT is(taskflow.heartbeat(-1, gen_random_uuid()), 'lost', 'heartbeat of a job that does not exist: lost');
SELECT taskflow.schedule('lc.pending', queue => 't_life', run_at => now() + interval '1 day') AS pend \gset
SELECT is(taskflow.complete(:pend, gen_random_uuid()), NULL::taskflow.job_state, 'complete of a SCHEDULED job: NULL');
SELECT is(pg_temp.st(:pend), 'SCHEDULED', 'and it stays SCHEDULED');

-- === cancel =================================================================================
SELECT taskflow.schedule('lc.c1', queue => 't_life') AS c1 \gset
SELECT is(taskflow.cancel(:c1, 'no longer needed'), 'CANCELLED'::taskflow.job_state, 'cancel: PENDING -> CANCELLED');
SELECT is((SELECT ROW(finished_at, cancel_reason) FROM taskflow.jobs WHERE id = :c1), ROW(now(), 'no longer needed'::text),
  'a cancelled job is finished and keeps the reason');
SELECT is((SELECT to_state::text FROM taskflow.job_events WHERE job_id = :c1 ORDER BY id DESC LIMIT 1), 'CANCELLED',
  'the cancellation is an event');
SELECT taskflow.schedule('lc.c2', queue => 't_life', run_at => now() + interval '1 day') AS c2 \gset
SELECT is(taskflow.cancel(:c2), 'CANCELLED'::taskflow.job_state, 'cancel: SCHEDULED -> CANCELLED');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_life'], 10, job_types => ARRAY['lc.c1', 'lc.c2'])), 0::bigint,
  'cancelled jobs are not acquired');

-- RUNNING: cancel_requested; the holder's fail ends it as CANCELLED.
SELECT taskflow.schedule('lc.c3', queue => 't_life') AS c3 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.c3']) \gset c3_
SELECT is(taskflow.cancel(:c3, 'stop it'), 'RUNNING'::taskflow.job_state, 'cancel of a RUNNING job: it stays RUNNING');
SELECT is((SELECT ROW(state::text, cancel_requested, cancel_reason) FROM taskflow.jobs WHERE id = :c3),
  ROW('RUNNING'::text, true, 'stop it'::text), 'and gets cancel_requested');
SELECT is(taskflow.get_job(:c3) -> 'cancel_requested', 'true'::jsonb, 'get_job shows cancel_requested');
SELECT is(taskflow.heartbeat(:c3, :'c3_lease_token'), 'cancel_requested', 'heartbeat answers cancel_requested');
SELECT is(taskflow.heartbeat(:c3, gen_random_uuid()), 'lost', 'heartbeat with a wrong token still answers lost');
SELECT is(taskflow.cancel(:c3), 'RUNNING'::taskflow.job_state, 'a second cancel of the RUNNING job: still RUNNING');
SELECT is(taskflow.fail(:c3, :'c3_lease_token', 'interrupted'), 'CANCELLED'::taskflow.job_state,
  'the holder''s fail (retryable) after a cancel request: CANCELLED, not retried');
SELECT is((SELECT ROW(a.outcome, a.backoff_delay) FROM pg_temp.att(:c3, 1) a), ROW('cancelled'::text, NULL::interval),
  'the attempt ends as cancelled');
SELECT is((SELECT finished_at FROM taskflow.jobs WHERE id = :c3), now(), 'the cancelled job is finished');

-- RUNNING: the holder's release ends it as CANCELLED.
SELECT taskflow.schedule('lc.c4', queue => 't_life') AS c4 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.c4']) \gset c4_
SELECT taskflow.cancel(:c4) AS ignore \gset
SELECT is(taskflow.release(:c4, :'c4_lease_token'), 'CANCELLED'::taskflow.job_state,
  'the holder''s release after a cancel request: CANCELLED');
SELECT is((SELECT outcome FROM pg_temp.att(:c4, 1)), 'cancelled', 'the released attempt ends as cancelled');

-- RUNNING: fail(retryable => false) after a cancel request also ends CANCELLED.
SELECT taskflow.schedule('lc.c5', queue => 't_life') AS c5 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.c5']) \gset c5_
SELECT taskflow.cancel(:c5) AS ignore \gset
SELECT is(taskflow.fail(:c5, :'c5_lease_token', 'x', retryable => false), 'CANCELLED'::taskflow.job_state,
  'the holder''s permanent fail after a cancel request: CANCELLED');

-- RUNNING: a complete after the cancel request still records SUCCEEDED.
SELECT taskflow.schedule('lc.c6', queue => 't_life') AS c6 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.c6']) \gset c6_
SELECT taskflow.cancel(:c6) AS ignore \gset
SELECT is(taskflow.complete(:c6, :'c6_lease_token', '{"done": 1}'), 'SUCCEEDED'::taskflow.job_state,
  'complete after a cancel request: SUCCEEDED');
SELECT is((SELECT result FROM taskflow.jobs WHERE id = :c6), '{"done": 1}'::jsonb, 'with its result');

-- RUNNING: the Rescuer ends an expired cancel-requested job as CANCELLED.
SELECT taskflow.schedule('lc.c7', queue => 't_life') AS c7 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.c7']) \gset c7_
SELECT taskflow.cancel(:c7) AS ignore \gset
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = :c7;
SELECT cmp_ok(taskflow._rescue_expired(), '>=', 1, 'the Rescuer handles the expired lease');
SELECT is(pg_temp.st(:c7), 'CANCELLED', 'an expired cancel-requested job ends CANCELLED, not retried');
SELECT is((SELECT ROW(a.outcome, a.error_type) FROM pg_temp.att(:c7, 1) a), ROW('lease_expired'::text, 'lease_expired'::text),
  'its attempt ends as lease_expired');

-- === cancel of a terminal job: 55000, nothing changes ==========================================
SELECT pg_temp.events(:j) + pg_temp.events(:f) + pg_temp.events(:p) + pg_temp.events(:c1) AS ev_terminal \gset
SELECT throws_ok(format('SELECT taskflow.cancel(%s)', id), '55000',
  format('cannot cancel job %s: it is %s', id, state), description)
FROM (VALUES (:j, 'SUCCEEDED', 'cancel of a SUCCEEDED job: 55000 naming the state'),
             (:p, 'FAILED', 'cancel of a FAILED job: 55000'),
             (:f, 'DEAD', 'cancel of a DEAD job: 55000'),
             (:c1, 'CANCELLED', 'cancel of a CANCELLED job: 55000')) AS terminal(id, state, description);
SELECT is(ARRAY[pg_temp.st(:j), pg_temp.st(:p), pg_temp.st(:f), pg_temp.st(:c1)],
  ARRAY['SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED'], 'the refused cancels changed no state');
SELECT throws_ok($$SELECT taskflow.cancel(-1)$$, 'P0002', 'job -1 does not exist', 'cancel of a job that does not exist: P0002');

-- === retry ==================================================================================
-- Refused for unfinished and succeeded jobs.
SELECT taskflow.schedule('lc.rp', queue => 't_life') AS rp \gset
SELECT taskflow.schedule('lc.rs', queue => 't_life', run_at => now() + interval '1 day') AS rs \gset
CREATE FUNCTION pg_temp.retry_refused(id bigint, state text, description text) RETURNS text LANGUAGE sql AS
  $$ SELECT throws_ok(format('SELECT taskflow.retry(%s)', id), '55000',
       format('cannot retry job %s: it is %s', id, state), description) $$;
SELECT pg_temp.retry_refused(id, state, description)
FROM (VALUES (:rp, 'PENDING', 'retry of a PENDING job: 55000 naming the state'),
             (:rs, 'SCHEDULED', 'retry of a SCHEDULED job: 55000'),
             (:k, 'SUCCEEDED', 'retry of a SUCCEEDED job: 55000')) AS unfinished(id, state, description);
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.rp']) \gset rp_
SELECT pg_temp.retry_refused(:rp, 'RUNNING', 'retry of a RUNNING job: 55000');
SELECT is(ARRAY[pg_temp.st(:rp), pg_temp.st(:rs), pg_temp.st(:k)], ARRAY['RUNNING', 'SCHEDULED', 'SUCCEEDED'],
  'the refused retries changed no state');
SELECT is((SELECT lease_token FROM taskflow.jobs WHERE id = :rp), :'rp_lease_token'::uuid,
  'the refused retry left the running attempt alone');
SELECT throws_ok($$SELECT taskflow.retry(-1)$$, 'P0002', 'job -1 does not exist', 'retry of a job that does not exist: P0002');

-- DEAD -> PENDING with a fresh budget; history kept. (:f used 3 of 3.)
SELECT is(taskflow.retry(:f), 'PENDING'::taskflow.job_state, 'retry: DEAD -> PENDING');
SELECT is((SELECT ROW(finished_at, next_run_at) FROM taskflow.jobs WHERE id = :f), ROW(NULL::timestamptz, now()),
  'the retried job is unfinished and ready now');
SELECT is((SELECT count(*) FROM taskflow.dead_letter WHERE id = :f), 0::bigint, 'it left dead_letter');
SELECT is((SELECT count(*) FROM taskflow.job_attempts WHERE job_id = :f), 3::bigint, 'its attempt history is kept');
SELECT * FROM taskflow.acquire('w', ARRAY['t_linear']) \gset f4_
SELECT is(:f4_attempt, 4, 'the next acquisition continues the attempt numbers (attempt 4)');
SELECT is(taskflow.fail(:f, :'f4_lease_token', 'x'), 'SCHEDULED'::taskflow.job_state,
  'with a fresh budget the first failure after the retry is retried again');
SELECT is((SELECT backoff_delay FROM pg_temp.att(:f, 4)), interval '10 seconds',
  'and the backoff starts over (first attempt of the new budget: 10s)');

-- FAILED -> PENDING.
SELECT is(taskflow.retry(:p), 'PENDING'::taskflow.job_state, 'retry: FAILED -> PENDING');
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.perm']) \gset p2_
SELECT is(:p2_attempt, 2, 'the retried FAILED job runs as attempt 2');
-- CANCELLED -> PENDING, cancel request cleared.
SELECT is(taskflow.retry(:c3), 'PENDING'::taskflow.job_state, 'retry: CANCELLED -> PENDING');
SELECT is((SELECT ROW(cancel_requested, cancel_reason) FROM taskflow.jobs WHERE id = :c3), ROW(false, NULL::text),
  'retry clears the cancel request');
SELECT results_eq(
  format($$SELECT from_state::text, to_state::text FROM taskflow.job_events WHERE job_id = %s ORDER BY id$$, :c3),
  $$VALUES (NULL, 'PENDING'), ('PENDING', 'RUNNING'), ('RUNNING', 'CANCELLED'), ('CANCELLED', 'PENDING')$$,
  'the events of a cancelled-and-retried job, in order');

-- === complete_many ===========================================================================
SELECT taskflow.create_queue('t_many') \gset
SELECT array_agg(id ORDER BY id) AS m_ids FROM taskflow.schedule_many(
  '[{"job_type": "m", "queue": "t_many"}, {"job_type": "m", "queue": "t_many"}, {"job_type": "m", "queue": "t_many"}, {"job_type": "m", "queue": "t_many"}]') AS id \gset
SELECT array_agg(job_id ORDER BY job_id) AS ma_ids, array_agg(lease_token ORDER BY job_id) AS ma_toks
  FROM taskflow.acquire('w', ARRAY['t_many'], 10) \gset
SELECT is(:'ma_ids'::bigint[], :'m_ids'::bigint[], 'acquire(max_jobs => 10) takes all four jobs');
SELECT is(taskflow.complete_many(
    ARRAY[(:'ma_ids'::bigint[])[1], (:'ma_ids'::bigint[])[2], (:'ma_ids'::bigint[])[3], -1],
    ARRAY[(:'ma_toks'::uuid[])[1], (:'ma_toks'::uuid[])[2], gen_random_uuid(), gen_random_uuid()],
    ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[]),
  2, 'complete_many counts only the accepted jobs (2 valid, 1 stale token, 1 unknown id)');
SELECT is(ARRAY(SELECT state::text FROM taskflow.jobs WHERE id = ANY (:'ma_ids'::bigint[]) ORDER BY id),
  ARRAY['SUCCEEDED', 'SUCCEEDED', 'RUNNING', 'RUNNING'], 'the accepted ones SUCCEEDED, the stale one is still RUNNING');
SELECT is(ARRAY(SELECT result FROM taskflow.jobs WHERE id = ANY (:'ma_ids'::bigint[]) ORDER BY id),
  ARRAY['{"n": 1}', '{"n": 2}', NULL, NULL]::jsonb[], 'each accepted job got its own result');
SELECT is(ARRAY(SELECT taskflow.job_history(id) -> 'attempts' -> 0 ->> 'outcome' FROM unnest(:'ma_ids'::bigint[]) id ORDER BY id),
  ARRAY['succeeded', 'succeeded', 'running', 'running'], 'their attempts ended as succeeded; the others still run');
SELECT is(taskflow.complete_many(ARRAY[(:'ma_ids'::bigint[])[4], (:'ma_ids'::bigint[])[1]],
                                 ARRAY[(:'ma_toks'::uuid[])[4], (:'ma_toks'::uuid[])[1]]),
  2, 'complete_many without results: a new one and a repeated one are both accepted');
SELECT is((SELECT ROW(state::text, result) FROM taskflow.jobs WHERE id = (:'ma_ids'::bigint[])[4]),
  ROW('SUCCEEDED'::text, NULL::jsonb), 'results NULL stores no result');
SELECT is((SELECT result FROM taskflow.jobs WHERE id = (:'ma_ids'::bigint[])[1]), '{"n": 1}'::jsonb,
  'the repeated complete kept the first result');
SELECT throws_ok(format('SELECT taskflow.complete_many(ARRAY[%s, %s]::bigint[], ARRAY[%L]::uuid[])',
    (:'ma_ids'::bigint[])[3], (:'ma_ids'::bigint[])[2], (:'ma_toks'::uuid[])[3]),
  '22023', 'job_ids, lease_tokens and results must have the same length', 'complete_many with fewer tokens than ids: 22023');
SELECT throws_ok(format('SELECT taskflow.complete_many(ARRAY[%s]::bigint[], ARRAY[%L]::uuid[], ARRAY[%L, %L]::jsonb[])',
    (:'ma_ids'::bigint[])[3], (:'ma_toks'::uuid[])[3], '{}', '{}'),
  '22023', NULL, 'complete_many with more results than ids: 22023');
SELECT is(pg_temp.st((:'ma_ids'::bigint[])[3]), 'RUNNING', 'the rejected batches completed nothing');
SELECT is(taskflow.complete_many('{}'::bigint[], '{}'::uuid[]), 0, 'an empty batch accepts 0');

-- === leases ================================================================================
SELECT taskflow.schedule('lc.lease', queue => 't_life') AS l1 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], lease => interval '2 minutes', job_types => ARRAY['lc.lease']) \gset l1_
SELECT is(:'l1_lease_expires_at'::timestamptz, now() + interval '2 minutes', 'acquire(lease) sets lease_expires_at = now() + lease');
UPDATE taskflow.jobs SET lease_expires_at = now() WHERE id = :l1;
SELECT taskflow.heartbeat(:l1, :'l1_lease_token') AS ignore \gset
SELECT is((SELECT lease_expires_at FROM taskflow.jobs WHERE id = :l1), now() + interval '2 minutes',
  'heartbeat renews the lease by the acquired lease length');
SELECT taskflow.schedule('lc.qlease', queue => 't_qlease') AS l2 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_qlease']) \gset l2_
SELECT is(:'l2_lease_expires_at'::timestamptz, now() + interval '5 minutes', 'a queue''s lease replaces the default lease');
SET LOCAL taskflow.default_lease = '10s';
SELECT taskflow.schedule('lc.glease', queue => 't_life') AS l3 \gset
SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], job_types => ARRAY['lc.glease']) \gset l3_
SELECT is(:'l3_lease_expires_at'::timestamptz, now() + interval '10 seconds', 'taskflow.default_lease sets the default lease');
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], lease => interval '0 seconds')$$, '22023',
  'lease must be greater than zero', 'acquire with a lease of zero: 22023');
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], lease => interval '-5 seconds')$$, '22023',
  'lease must be greater than zero', 'acquire with a negative lease: 22023');
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['t_life'], 0)$$, '22023', NULL, 'acquire with max_jobs 0: 22023');

SELECT * FROM finish();
ROLLBACK;
