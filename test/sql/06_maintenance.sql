-- Maintenance: the Rescuer (_rescue_expired), the Scheduler (_promote_due), the Cleaner
-- (_clean), purge_failed, and the dead_letter view.
BEGIN;
SELECT plan(32);
\ir helpers.psql

SELECT taskflow.create_queue('t_m', retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": "7 seconds", "jitter": "none"}') \gset
CREATE FUNCTION pg_temp.expire(id bigint) RETURNS void LANGUAGE sql AS
  $$ UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE jobs.id = expire.id $$;

-- --- the Rescuer --------------------------------------------------------------------------
SELECT taskflow.schedule('m.r', queue => 't_m') AS r \gset
SELECT taskflow.schedule('m.alive', queue => 't_m') AS alive \gset
SELECT * FROM taskflow.acquire('w1', ARRAY['t_m'], job_types => ARRAY['m.r']) \gset r1_
SELECT * FROM taskflow.acquire('w1', ARRAY['t_m'], job_types => ARRAY['m.alive']) \gset al_
SELECT pg_temp.expire(:r);
SELECT cmp_ok(taskflow._rescue_expired(), '>=', 1, 'the Rescuer reports the expired lease it handled');
SELECT is(pg_temp.st(:r), 'SCHEDULED', 'an expired lease with attempts left: RUNNING -> SCHEDULED (retried)');
SELECT is((SELECT ROW(a.outcome, a.error_type, a.backoff_delay, a.finished_at)
             FROM taskflow.job_attempts a WHERE a.job_id = :r AND a.attempt = 1),
  ROW('lease_expired'::text, 'lease_expired'::text, interval '7 seconds', now()),
  'the attempt ends as lease_expired with the policy''s backoff');
SELECT is((SELECT ROW(last_error_type, next_run_at, lease_expires_at) FROM taskflow.jobs WHERE id = :r),
  ROW('lease_expired'::text, now() + interval '7 seconds', NULL::timestamptz),
  'the job records error_type lease_expired and the retry time');
SELECT is((SELECT actor FROM taskflow.job_events WHERE job_id = :r ORDER BY id DESC LIMIT 1), 'rescuer',
  'the transition is recorded with actor rescuer');
SELECT is(pg_temp.st(:alive), 'RUNNING', 'a job whose lease has not expired is left alone');
SELECT is(taskflow.complete(:r, :'r1_lease_token'), NULL::taskflow.job_state,
  'the first worker''s complete after the rescue returns NULL');
SELECT is(pg_temp.st(:r), 'SCHEDULED', 'and changes nothing');
SELECT is(taskflow.heartbeat(:r, :'r1_lease_token'), 'lost', 'its heartbeat answers lost');

UPDATE taskflow.jobs SET next_run_at = now() WHERE id = :r;
SELECT * FROM taskflow.acquire('w2', ARRAY['t_m'], job_types => ARRAY['m.r']) \gset r2_
SELECT is(:r2_attempt, 2, 'another worker acquires the rescued job as attempt 2');
SELECT pg_temp.expire(:r);
SELECT taskflow._rescue_expired() AS ignore \gset
SELECT is(pg_temp.st(:r), 'DEAD', 'an expired lease on the last attempt: RUNNING -> DEAD');
SELECT is((SELECT finished_at FROM taskflow.jobs WHERE id = :r), now(), 'the dead job is finished');
SELECT is(taskflow.complete(:alive, :'al_lease_token'), 'SUCCEEDED'::taskflow.job_state, 'the live job completes normally');
SELECT pg_temp.expire(:alive);
SELECT taskflow._rescue_expired() AS ignore \gset
SELECT is(pg_temp.st(:alive), 'SUCCEEDED', 'the Rescuer never touches a finished job, even with an old lease time');

-- --- the Scheduler -------------------------------------------------------------------------
SELECT taskflow.schedule('m.s', queue => 't_m', run_at => now() + interval '1 hour') AS due \gset
SELECT taskflow.schedule('m.s', queue => 't_m', run_at => now() + interval '1 hour') AS notdue \gset
UPDATE taskflow.jobs SET next_run_at = now() - interval '1 second' WHERE id = :due;
SELECT cmp_ok(taskflow._promote_due(), '>=', 1, '_promote_due reports what it promoted');
SELECT is(pg_temp.st(:due), 'PENDING', 'a due SCHEDULED job: SCHEDULED -> PENDING');
SELECT is(pg_temp.st(:notdue), 'SCHEDULED', 'a SCHEDULED job that is not due stays SCHEDULED');
SELECT is((SELECT ROW(from_state::text, to_state::text, actor) FROM taskflow.job_events WHERE job_id = :due ORDER BY id DESC LIMIT 1),
  ROW('SCHEDULED'::text, 'PENDING'::text, 'scheduler'::text), 'the promotion is an event by the scheduler');

-- --- dead_letter ----------------------------------------------------------------------------
SELECT is((SELECT jsonb_build_object('id', id, 'job_type', job_type, 'queue', queue, 'attempts', attempts,
                                     'max_attempts', max_attempts, 'last_error_type', last_error_type)
           FROM taskflow.dead_letter WHERE id = :r),
  jsonb_build_object('id', :r, 'job_type', 'm.r', 'queue', 't_m', 'attempts', 2, 'max_attempts', 2, 'last_error_type', 'lease_expired'),
  'dead_letter lists the DEAD job with its last error');
SELECT is_empty(
  $$SELECT id FROM taskflow.dead_letter d WHERE NOT EXISTS (SELECT FROM taskflow.jobs j WHERE j.id = d.id AND j.state = 'DEAD')$$,
  'dead_letter lists only DEAD jobs');

-- --- the Cleaner -----------------------------------------------------------------------------
SELECT taskflow.create_queue('t_clean', retry_policy => '{"max_attempts": 1}') \gset
SELECT array_agg(id ORDER BY id) AS cl FROM taskflow.schedule_many(
  '[{"job_type": "c", "queue": "t_clean"}, {"job_type": "c", "queue": "t_clean"}, {"job_type": "c", "queue": "t_clean"},
    {"job_type": "c", "queue": "t_clean"}, {"job_type": "c", "queue": "t_clean"}, {"job_type": "c", "queue": "t_clean"},
    {"job_type": "c", "queue": "t_clean"}]') AS id \gset
-- 1, 2: SUCCEEDED long ago; 3: CANCELLED long ago; 4: SUCCEEDED recently; 5: FAILED long ago;
-- 6: DEAD long ago; 7: still PENDING.
CREATE TEMP TABLE cl_leases AS SELECT job_id, lease_token FROM taskflow.acquire('w', ARRAY['t_clean'], 6);
SELECT array_agg(taskflow.complete(job_id, lease_token)) AS ignore FROM cl_leases WHERE job_id IN ((:'cl'::bigint[])[1], (:'cl'::bigint[])[2], (:'cl'::bigint[])[4]) \gset
SELECT taskflow.release(job_id, lease_token) AS ignore FROM cl_leases WHERE job_id = (:'cl'::bigint[])[3] \gset
SELECT taskflow.cancel((:'cl'::bigint[])[3]) AS ignore \gset
SELECT taskflow.fail(job_id, lease_token, 'x', retryable => false) AS ignore FROM cl_leases WHERE job_id = (:'cl'::bigint[])[5] \gset
SELECT taskflow.fail(job_id, lease_token, 'x') AS ignore FROM cl_leases WHERE job_id = (:'cl'::bigint[])[6] \gset
SELECT is(ARRAY(SELECT state::text FROM taskflow.jobs WHERE id = ANY (:'cl'::bigint[]) ORDER BY id),
  ARRAY['SUCCEEDED', 'SUCCEEDED', 'CANCELLED', 'SUCCEEDED', 'FAILED', 'DEAD', 'PENDING'], 'cleaner fixture: the seven states');
UPDATE taskflow.jobs SET finished_at = now() - interval '30 days'
  WHERE id IN ((:'cl'::bigint[])[1], (:'cl'::bigint[])[2], (:'cl'::bigint[])[3], (:'cl'::bigint[])[5], (:'cl'::bigint[])[6]);
SELECT is((SELECT count(*) FROM taskflow.job_events WHERE job_id = ANY (:'cl'::bigint[])) > 0
          AND (SELECT count(*) FROM taskflow.job_attempts WHERE job_id = (:'cl'::bigint[])[1]) = 1, true,
  'the jobs have history before cleaning');

-- retention 8 days: only jobs finished 30 days ago qualify.
SELECT is(taskflow._clean(8 * 86400, 2), 2, 'the Cleaner deletes at most max_jobs per call');
SELECT is(taskflow._clean(8 * 86400, 1000), 1, 'the next call deletes the rest of the old SUCCEEDED/CANCELLED jobs');
SELECT is(ARRAY(SELECT id FROM taskflow.jobs WHERE id = ANY (:'cl'::bigint[]) ORDER BY id),
  ARRAY[(:'cl'::bigint[])[4], (:'cl'::bigint[])[5], (:'cl'::bigint[])[6], (:'cl'::bigint[])[7]],
  'old SUCCEEDED and CANCELLED jobs are gone; the recent one, FAILED, DEAD and PENDING stay');
SELECT is((SELECT count(*) FROM taskflow.job_attempts WHERE job_id IN ((:'cl'::bigint[])[1], (:'cl'::bigint[])[2], (:'cl'::bigint[])[3])),
  0::bigint, 'their attempts are deleted with them');
SELECT is((SELECT count(*) FROM taskflow.job_events WHERE job_id IN ((:'cl'::bigint[])[1], (:'cl'::bigint[])[2], (:'cl'::bigint[])[3])),
  0::bigint, 'their events are deleted with them');
SELECT is((SELECT count(*) FROM taskflow.job_events WHERE job_id = (:'cl'::bigint[])[5]) > 0, true,
  'the FAILED job keeps its events');

-- purge_failed: an admin removes FAILED and DEAD jobs.
SELECT is(taskflow.purge_failed(interval '60 days', 't_clean'), 0::bigint, 'purge_failed(older_than) spares younger jobs');
SELECT is(taskflow.purge_failed(interval '1 day', 't_clean'), 2::bigint, 'purge_failed deletes the FAILED and DEAD jobs of the queue');
SELECT is(ARRAY(SELECT id FROM taskflow.jobs WHERE id = ANY (:'cl'::bigint[]) ORDER BY id),
  ARRAY[(:'cl'::bigint[])[4], (:'cl'::bigint[])[7]], 'only the recent SUCCEEDED and the PENDING job remain');
SELECT is((SELECT count(*) FROM taskflow.job_attempts WHERE job_id IN ((:'cl'::bigint[])[5], (:'cl'::bigint[])[6]))
          + (SELECT count(*) FROM taskflow.job_events WHERE job_id IN ((:'cl'::bigint[])[5], (:'cl'::bigint[])[6])),
  0::bigint, 'purge_failed deletes their attempts and events too');

SELECT * FROM finish();
ROLLBACK;
