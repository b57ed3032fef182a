-- snooze(job_id, lease_token, delay): RUNNING -> SCHEDULED at now() + delay, the attempt not
-- counted against max_attempts, the lease released, the attempt and the transition recorded;
-- the lease-token check, SQLSTATEs and tenant confinement of release; delay bounds; a pending
-- cancel wins (CANCELLED, and the job_cancelled rule fires); no rule fires on a snooze.
-- One transaction: now() is constant, so times are checked exactly.
BEGIN;
SELECT plan(38);
\ir helpers.psql

SELECT taskflow.create_queue('snz_q', retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": 0, "jitter": "none"}') \gset
SELECT taskflow.create_queue('snz_out') \gset

CREATE FUNCTION pg_temp.last_event(id bigint) RETURNS taskflow.job_events LANGUAGE sql AS
  $$ SELECT * FROM taskflow.job_events e WHERE e.job_id = last_event.id ORDER BY e.id DESC LIMIT 1 $$;
-- What the statistics roll-up counts as the job's retries (the roll-up's own expression).
CREATE FUNCTION pg_temp.observed_retries(id bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer;
BEGIN
  EXECUTE format('SELECT retries FROM (SELECT %s FROM taskflow.jobs j WHERE j.id = $1) s',
                 taskflow._observation_sql()) INTO n USING id;
  RETURN n;
END
$$;

-- A rule on every final state of the queue's jobs: a snooze must not fire it (the job is not
-- finished), a snooze that ends a cancel-requested job must.
SELECT taskflow.create_rule('snz after cancel', '{"type": "event", "on": "job_cancelled", "queue": "snz_q"}',
  '[{"job_type": "snz.cleanup", "queue": "snz_out"}]') AS r_cancel \gset
SELECT taskflow.create_rule('snz after dead', '{"type": "event", "on": "job_dead", "queue": "snz_q"}',
  '[{"job_type": "snz.alert", "queue": "snz_out"}]') AS r_dead \gset

-- === snooze: SCHEDULED at now() + delay, lease released =========================================
SELECT taskflow.schedule('snz.a', queue => 'snz_q', max_attempts => 2) AS j \gset
SELECT * FROM taskflow.acquire('w1', ARRAY['snz_q']) \gset a1_
SELECT is(taskflow.snooze(:j, :'a1_lease_token', interval '90 seconds'), 'SCHEDULED'::taskflow.job_state,
  'snooze: RUNNING -> SCHEDULED');
SELECT is((SELECT ROW(state::text, next_run_at, lease_expires_at, finished_at, attempts, budget_offset)
             FROM taskflow.jobs WHERE id = :j),
  ROW('SCHEDULED'::text, now() + interval '90 seconds', NULL::timestamptz, NULL::timestamptz, 1, 1),
  'the job is due at now() + delay, holds no lease, is not finished, and the attempt does not count (budget_offset 1)');
SELECT is((SELECT ROW(a.outcome, a.worker_id, a.lease_token, a.finished_at, a.backoff_delay, a.error_type)
             FROM pg_temp.att(:j, 1) a),
  ROW('snoozed'::text, 'w1'::text, :'a1_lease_token'::uuid, now(), interval '90 seconds', NULL::text),
  'the attempt ends as snoozed, with its worker, token and the delay');
SELECT is((SELECT ROW(e.from_state::text, e.to_state::text, e.actor, e.reason) FROM pg_temp.last_event(:j) e),
  ROW('RUNNING'::text, 'SCHEDULED'::text, 'w1'::text, 'snoozed for 90000 ms'::text),
  'the transition is recorded with the worker as actor and the delay as reason');
SELECT is(taskflow.job_history(:j) #>> '{attempts,0,outcome}', 'snoozed',
  'job_history shows the snoozed attempt');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE parent_job_id = :j), 0::bigint,
  'a snooze fires no rule: the job is not finished');

-- the snoozed attempt's token is stale now
SELECT is(taskflow.heartbeat(:j, :'a1_lease_token'), 'lost', 'heartbeat with the snoozed token: lost');
SELECT is(taskflow.snooze(:j, :'a1_lease_token', interval '1 second'), NULL::taskflow.job_state,
  'a second snooze with the same token: NULL (that attempt is over)');
SELECT is(taskflow.complete(:j, :'a1_lease_token'), NULL::taskflow.job_state,
  'complete with the snoozed token: NULL');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :j), now() + interval '90 seconds',
  'the stale calls changed nothing');

-- not due yet: acquire does not take it
SELECT is((SELECT count(*) FROM taskflow.acquire('w2', ARRAY['snz_q'])), 0::bigint,
  'a snoozed job is not acquired before its time');

-- === the attempt is not counted: max_attempts 2 survives any number of snoozes ==================
SELECT * FROM pg_temp.acquire_due(:j, 'w2') \gset a2_
SELECT is(:a2_attempt, 2, 'once due, the snoozed job is acquired again as attempt 2 (attempt numbers keep increasing)');
SELECT is(taskflow.snooze(:j, :'a2_lease_token', interval '0'), 'SCHEDULED'::taskflow.job_state,
  'snooze with delay 0: SCHEDULED, due at once');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :j), now(), 'delay 0: next_run_at = now()');
SELECT * FROM taskflow.acquire('w3', ARRAY['snz_q']) \gset a3_
SELECT is(:a3_attempt, 3, 'a job snoozed with delay 0 is acquired at once (acquire promotes due jobs)');
SELECT is(taskflow.fail(:j, :'a3_lease_token', 'boom'), 'SCHEDULED'::taskflow.job_state,
  'max_attempts 2 after two snoozes: the first failure is retried (snoozes used no attempt)');
SELECT * FROM pg_temp.acquire_due(:j, 'w4') \gset a4_
SELECT is(taskflow.fail(:j, :'a4_lease_token', 'boom'), 'DEAD'::taskflow.job_state,
  'the second counted failure uses up the budget: DEAD');
SELECT is((SELECT array_agg(outcome ORDER BY attempt) FROM taskflow.job_attempts WHERE job_id = :j),
  ARRAY['snoozed', 'snoozed', 'failed', 'failed'], 'the history holds every attempt with its outcome');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE parent_job_id = :j AND job_type = 'snz.alert'), 1::bigint,
  'the job_dead rule fired once, when the job died (not on the snoozes)');
SELECT is(pg_temp.observed_retries(:j), 1,
  'the statistics count one retry for the job (snoozes are not retries)');

-- === a pending cancel wins ======================================================================
SELECT taskflow.schedule('snz.c', queue => 'snz_q') AS c \gset
SELECT * FROM taskflow.acquire('w5', ARRAY['snz_q']) \gset c_
SELECT taskflow.cancel(:c, 'stop it') AS ignore \gset
SELECT is(taskflow.snooze(:c, :'c_lease_token', interval '1 hour'), 'CANCELLED'::taskflow.job_state,
  'snooze after a cancel request: CANCELLED');
SELECT is((SELECT ROW(a.outcome, e.reason) FROM pg_temp.att(:c, 1) a, pg_temp.last_event(:c) e),
  ROW('cancelled'::text, 'snoozed after cancel request'::text), 'the attempt ends cancelled, the reason says why');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE parent_job_id = :c AND job_type = 'snz.cleanup'), 1::bigint,
  'the job_cancelled rule fires in the snoozing transaction');

-- === refusals ===================================================================================
SELECT taskflow.schedule('snz.r', queue => 'snz_q') AS r \gset
SELECT * FROM taskflow.acquire('w6', ARRAY['snz_q']) \gset r_
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(NULL, %L, interval ''1 s'')', :'r_lease_token')),
  '22004: parameter "job_id" must not be NULL', 'job_id NULL: 22004');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, NULL, interval ''1 s'')', :r)),
  '22004: parameter "lease_token" must not be NULL', 'lease_token NULL: 22004');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, NULL)', :r, :'r_lease_token')),
  '22004: parameter "delay" must not be NULL', 'delay NULL: 22004');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''-1 second'')', :r, :'r_lease_token')),
  '22023: delay must not be negative', 'a negative delay: 22023');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''1 month -40 days'')', :r, :'r_lease_token')),
  '22023: delay must not be negative', 'a delay negative once months are counted as 30 days: 22023');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''36526 days'')', :r, :'r_lease_token')),
  '22023: delay is too long: at most 100 years (36525 days) allowed', 'a delay over 100 years: 22023');
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''178000000 years'')', :r, :'r_lease_token')),
  '22023: delay is too long: at most 100 years (36525 days) allowed', 'an enormous delay: 22023, no overflow');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :r), 'RUNNING', 'the refused calls changed nothing');
SELECT is(taskflow.snooze(:r, gen_random_uuid(), interval '1 minute'), NULL::taskflow.job_state,
  'snooze with a wrong token: NULL');
SELECT is(taskflow.snooze(-1, gen_random_uuid(), interval '1 minute'), NULL::taskflow.job_state,
  'snooze of a job that does not exist: NULL');
SELECT is(taskflow.snooze(:r, :'r_lease_token', interval '36525 days'), 'SCHEDULED'::taskflow.job_state,
  'the longest delay (100 years) is accepted');
SELECT is((SELECT next_run_at FROM taskflow.jobs WHERE id = :r), now() + interval '36525 days',
  '... and due in 100 years');

-- === tenant confinement: like release, a confined session cannot run the worker protocol ========
SELECT taskflow.schedule('snz.t', queue => 'snz_q', tenant_id => 'snz_tenant') AS t \gset
SELECT * FROM taskflow.acquire('w7', ARRAY['snz_q']) \gset t_
CREATE ROLE snz_tenant_role;
SELECT taskflow.grant_tenant('snz_tenant_role', 'snz_tenant');
SET LOCAL ROLE snz_tenant_role;
SELECT is(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''1 minute'')', :t, :'t_lease_token')),
  '42501: permission denied for function snooze', 'a tenant role (client) may not execute snooze: 42501');
RESET ROLE;
GRANT EXECUTE ON FUNCTION taskflow.snooze(bigint, uuid, interval) TO snz_tenant_role;
SET LOCAL ROLE snz_tenant_role;
SELECT matches(pg_temp.outcome(format('SELECT taskflow.snooze(%s, %L, interval ''1 minute'')', :t, :'t_lease_token')),
  '^42501: ', 'even with EXECUTE, a confined session is refused before the row is touched: 42501');
RESET ROLE;
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :t), 'RUNNING', '... and the job is still RUNNING');

SELECT * FROM finish();
ROLLBACK;
