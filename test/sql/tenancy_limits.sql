-- Multi-tenancy: limits. set_tenant_limit, set_tenant_weight, set_rate_limit, pause_queue and
-- resume_queue (errors and effects); acquire keeps tenant max_running and queue
-- concurrency_limit, frees a slot as soon as a job leaves RUNNING (complete, fail, release,
-- lease expiry, cancel), and applies rate limits.
BEGIN;
SELECT plan(79);

-- Queue names unique per run: fairness passes live in shared memory across transactions.
SELECT 'tfl_' || substr(md5(random()::text), 1, 8) AS sfx \gset
SELECT taskflow.create_queue(:'sfx' || '_q') AS x \gset
SELECT taskflow.create_queue(:'sfx' || '_q2') AS x \gset
SELECT :'sfx' || '_q' AS q, :'sfx' || '_q2' AS q2, :'sfx' || '_ta' AS ta, :'sfx' || '_tb' AS tb \gset

-- Jobs a test holds (acquired and not finished yet).
CREATE TEMP TABLE held (job_id bigint PRIMARY KEY, token uuid, tenant text, queue text);
-- Acquires up to n jobs from queues qs, remembers them, returns how many it got.
CREATE FUNCTION pg_temp.take(qs text[], n int) RETURNS int LANGUAGE sql AS $$
  WITH a AS (INSERT INTO held SELECT job_id, lease_token, tenant_id, queue
             FROM taskflow.acquire('tfl-worker', qs, n) RETURNING 1)
  SELECT count(*)::int FROM a
$$;
-- How many of the held jobs of tenant t are RUNNING right now.
CREATE FUNCTION pg_temp.running(t text) RETURNS int LANGUAGE sql AS $$
  SELECT count(*)::int FROM taskflow.jobs WHERE tenant_id = t AND state = 'RUNNING'
$$;
CREATE FUNCTION pg_temp.schedule_n(t text, q text, n int) RETURNS void LANGUAGE sql AS $$
  SELECT count(*) FROM taskflow.schedule_many(
    (SELECT jsonb_agg(jsonb_build_object('job_type', 'tfl.job', 'queue', q, 'tenant_id', t)) FROM generate_series(1, n)))
$$;
-- One held job of tenant t (the lowest id), removed from `held`.
CREATE FUNCTION pg_temp.pop(t text) RETURNS TABLE (job_id bigint, token uuid) LANGUAGE sql AS $$
  DELETE FROM held WHERE held.job_id = (SELECT min(h.job_id) FROM held h WHERE h.tenant = t)
  RETURNING held.job_id, held.token
$$;

-- ---------------------------------------------------------------------------------------------
-- set_tenant_limit / set_tenant_weight: errors and effects
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok(format('SELECT taskflow.set_tenant_limit(%L, 0)', :'ta'), '22023',
  'max_running must be at least 1 (NULL means no limit), got 0', 'set_tenant_limit: max_running 0 is 22023');
SELECT throws_ok(format('SELECT taskflow.set_tenant_limit(%L, -5)', :'ta'), '22023', NULL, 'set_tenant_limit: a negative max_running is 22023');
SELECT throws_ok($$SELECT taskflow.set_tenant_limit(NULL, 3)$$, '22023', NULL, 'set_tenant_limit: NULL tenant_id is 22023');
SELECT throws_ok($$SELECT taskflow.set_tenant_limit('', 3)$$, '22023', NULL, 'set_tenant_limit: an empty tenant_id is 22023');
SELECT throws_ok($$SELECT taskflow.set_tenant_limit(E'a\tb', 3)$$, '22023', NULL, 'set_tenant_limit: a control character is 22023');
SELECT lives_ok(format('SELECT taskflow.set_tenant_limit(%L, 3)', :'ta'), 'set_tenant_limit of an unregistered tenant works');
SELECT is((SELECT max_running || ' ' || weight FROM taskflow.tenants WHERE id = :'ta'), '3 1',
  'it registers the tenant with max_running 3 and the default weight 1');
SELECT taskflow.set_tenant_limit(:'ta', NULL) AS x \gset
SELECT is((SELECT max_running FROM taskflow.tenants WHERE id = :'ta'), NULL, 'max_running NULL removes the limit');

SELECT throws_ok(format('SELECT taskflow.set_tenant_weight(%L, 0)', :'ta'), '22023', 'weight must be between 1 and 1000',
  'set_tenant_weight: 0 is 22023');
SELECT throws_ok(format('SELECT taskflow.set_tenant_weight(%L, 1001)', :'ta'), '22023', NULL, 'set_tenant_weight: 1001 is 22023');
SELECT throws_ok(format('SELECT taskflow.set_tenant_weight(%L, NULL)', :'ta'), '22023', NULL, 'set_tenant_weight: NULL is 22023');
SELECT throws_ok($$SELECT taskflow.set_tenant_weight('', 2)$$, '22023', NULL, 'set_tenant_weight: an empty tenant_id is 22023');
SELECT taskflow.set_tenant_weight(:'ta', 1000) AS x \gset
SELECT taskflow.set_tenant_weight(:'tb', 7) AS x \gset
SELECT is(ARRAY(SELECT id || '=' || weight FROM taskflow.tenants WHERE id IN (:'ta', :'tb') ORDER BY id),
  ARRAY[:'ta' || '=1000', :'tb' || '=7'], 'set_tenant_weight sets the weight (and registers a new tenant)');
SELECT taskflow.set_tenant_weight(:'ta', 1) AS x \gset
SELECT taskflow.set_tenant_weight(:'tb', 1) AS x \gset

-- ---------------------------------------------------------------------------------------------
-- set_rate_limit: errors and effects
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(%L, %L, 5)', 'bucket', :'q'), '22023',
  'scope must be ''queue'' or ''tenant''', 'set_rate_limit: an unknown scope is 22023');
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(NULL, %L, 5)', :'q'), '22023', NULL, 'set_rate_limit: NULL scope is 22023');
SELECT throws_ok($$SELECT taskflow.set_rate_limit('queue', 'tfl_no_such_queue', 5)$$, '42704',
  'queue "tfl_no_such_queue" does not exist', 'set_rate_limit: an unknown queue is 42704');
SELECT throws_ok($$SELECT taskflow.set_rate_limit('tenant', '', 5)$$, '22023', NULL, 'set_rate_limit: an empty tenant is 22023');
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(%L, %L, 0)', 'queue', :'q'), '22023',
  'max_starts must be at least 1 (NULL removes the limit)', 'set_rate_limit: max_starts 0 is 22023');
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(%L, %L, 5, interval %L)', 'queue', :'q', '0 seconds'), '22023',
  'per must be greater than zero', 'set_rate_limit: a zero period is 22023');
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(%L, %L, 5, interval %L)', 'queue', :'q', '-1 minute'), '22023',
  NULL, 'set_rate_limit: a negative period is 22023');
SELECT throws_ok(format('SELECT taskflow.set_rate_limit(%L, %L, 5, NULL)', 'queue', :'q'), '22023',
  NULL, 'set_rate_limit: a NULL period is 22023');
SELECT is((SELECT count(*)::int FROM taskflow.rate_limits WHERE name IN (:'q', :'ta')), 0, 'the refused calls stored nothing');
SELECT taskflow.set_rate_limit('queue', :'q', 10, '1 minute') AS x \gset
SELECT is((SELECT max_starts || ' ' || period || ' ' || tokens FROM taskflow.rate_limits WHERE scope = 'queue' AND name = :'q'),
  '10 00:01:00 10', 'set_rate_limit stores the limit with a full bucket');
SELECT taskflow.set_rate_limit('queue', :'q', 4, '1 hour') AS x \gset
SELECT is((SELECT max_starts || ' ' || period || ' ' || tokens FROM taskflow.rate_limits WHERE scope = 'queue' AND name = :'q'),
  '4 01:00:00 4', 'setting it again replaces it; the bucket is cut to the new maximum');
SELECT taskflow.set_rate_limit('queue', :'q', NULL) AS x \gset
SELECT is((SELECT count(*)::int FROM taskflow.rate_limits WHERE scope = 'queue' AND name = :'q'), 0,
  'max_starts NULL removes the limit');

-- ---------------------------------------------------------------------------------------------
-- pause_queue / resume_queue
-- ---------------------------------------------------------------------------------------------
SELECT throws_ok($$SELECT taskflow.pause_queue('tfl_no_such_queue')$$, '42704', 'queue "tfl_no_such_queue" does not exist',
  'pause_queue of an unknown queue is 42704');
SELECT throws_ok($$SELECT taskflow.resume_queue('tfl_no_such_queue')$$, '42704', 'queue "tfl_no_such_queue" does not exist',
  'resume_queue of an unknown queue is 42704');
SELECT pg_temp.schedule_n(:'ta', :'q', 3) AS x \gset
SELECT taskflow.pause_queue(:'q') AS x \gset
SELECT is((SELECT paused FROM taskflow.queues WHERE name = :'q'), true, 'pause_queue marks the queue paused');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 0, 'a paused queue hands out nothing');
SELECT is((SELECT pg_temp.take(ARRAY[:'q', :'q2'], 10)), 0, 'not even when asked together with another (empty) queue');
SELECT taskflow.pause_queue(:'q') AS x \gset
SELECT is((SELECT paused FROM taskflow.queues WHERE name = :'q'), true, 'pausing twice is fine');
SELECT taskflow.resume_queue(:'q') AS x \gset
SELECT is((SELECT paused FROM taskflow.queues WHERE name = :'q'), false, 'resume_queue clears it');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 3, 'a resumed queue hands out its jobs');
SELECT is(taskflow.complete_many(ARRAY(SELECT job_id FROM held ORDER BY job_id), ARRAY(SELECT token FROM held ORDER BY job_id)), 3,
  '(finish them)');
DELETE FROM held;

-- ---------------------------------------------------------------------------------------------
-- Tenant max_running
-- ---------------------------------------------------------------------------------------------
SELECT taskflow.set_tenant_limit(:'ta', 3) AS x \gset
SELECT pg_temp.schedule_n(:'ta', :'q', 10) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 3, 'max_running 3: a batch of 10 gets 3');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 0, 'and the next call nothing while 3 are RUNNING');
SELECT is(pg_temp.running(:'ta'), 3, '3 RUNNING');

SELECT taskflow.complete(job_id, token) AS x FROM pg_temp.pop(:'ta') \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'complete frees one slot at once');
SELECT taskflow.fail(job_id, token, 'boom', retryable => false) AS x FROM pg_temp.pop(:'ta') \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'fail (not retryable) frees one slot');
SELECT taskflow.fail(job_id, token, 'boom') AS x FROM pg_temp.pop(:'ta') \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'fail with a retry (to SCHEDULED) frees one slot');
SELECT taskflow.release(job_id, token) AS x FROM pg_temp.pop(:'ta') \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'release frees one slot (and the released job may be taken again)');
SELECT is(pg_temp.running(:'ta'), 3, 'still 3 RUNNING');

-- Lease expiry: the Rescuer fails the attempt of an expired lease.
SELECT min(job_id) AS expired FROM held WHERE tenant = :'ta' \gset
DELETE FROM held WHERE job_id = :expired;
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = :expired;
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 0, 'an expired lease that is not rescued yet still holds its slot');
SELECT is(taskflow._rescue_expired(100) >= 1, true, '_rescue_expired takes the expired job out of RUNNING');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :expired), 'SCHEDULED', 'the expired job waits for its retry');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'lease expiry frees one slot');

-- Cancel: the slot frees when the job leaves RUNNING (its holder ends it), not before.
SELECT min(job_id) AS cancelled, min(token::text)::uuid AS ctoken FROM held
  WHERE job_id = (SELECT min(job_id) FROM held WHERE tenant = :'ta') \gset
DELETE FROM held WHERE job_id = :cancelled;
SELECT is(taskflow.cancel(:cancelled)::text, 'RUNNING', 'cancel of a RUNNING job asks it to stop');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 0, 'while it is still RUNNING its slot stays taken');
SELECT is(taskflow.heartbeat(:cancelled, :'ctoken'), 'cancel_requested', 'the holder hears cancel_requested');
SELECT is(taskflow.release(:cancelled, :'ctoken')::text, 'CANCELLED', 'and ends it: CANCELLED');
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 1, 'cancel frees the slot as soon as the job left RUNNING');

-- Across queues: max_running counts the tenant's RUNNING jobs in every queue.
SELECT pg_temp.schedule_n(:'ta', :'q2', 5) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q2'], 10), 0, 'max_running holds across queues: nothing from the other queue either');
SELECT taskflow.set_tenant_limit(:'ta', 5) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q', :'q2'], 10), 2, 'raising the limit to 5 lets exactly 2 more start');
SELECT is(pg_temp.running(:'ta'), 5, '5 RUNNING');
-- Other tenants are not held back by tenant a's limit.
SELECT pg_temp.schedule_n(:'tb', :'q', 4) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 10), 4, 'another tenant without a limit gets all its 4 jobs');
SELECT taskflow.set_tenant_limit(:'ta', NULL) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q', :'q2'], 100), (SELECT count(*)::int FROM taskflow.jobs WHERE tenant_id = :'ta' AND state = 'PENDING'),
  'removing the limit lets all of tenant a''s ready jobs start');

-- Finish everything held, to start the queue limits from zero.
SELECT is(taskflow.complete_many(ARRAY(SELECT job_id FROM held ORDER BY job_id), ARRAY(SELECT token FROM held ORDER BY job_id)),
  (SELECT count(*)::int FROM held), '(finish all held jobs)');
DELETE FROM held;
DELETE FROM taskflow.jobs WHERE queue IN (:'q', :'q2') AND state <> 'RUNNING';
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE queue IN (:'q', :'q2')), 0, '(no job left in the test queues)');

-- ---------------------------------------------------------------------------------------------
-- Queue concurrency_limit, alone and together with tenant max_running
-- ---------------------------------------------------------------------------------------------
SELECT taskflow.alter_queue(:'q', concurrency_limit => 4) AS x \gset
SELECT pg_temp.schedule_n(:'ta', :'q', 6) AS x \gset
SELECT pg_temp.schedule_n(:'tb', :'q', 6) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 4, 'concurrency_limit 4: a batch of 100 gets 4');
SELECT is((SELECT count(DISTINCT tenant)::int FROM held), 2, 'the 4 slots are spread over both tenants');
SELECT is(pg_temp.take(ARRAY[:'q'], 1), 0, 'a single acquire gets nothing while 4 run');
SELECT taskflow.complete(job_id, token) AS x FROM pg_temp.pop(:'tb') \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 1, 'a completion frees one queue slot');
SELECT is(pg_temp.take(ARRAY[:'q2'], 100), 0, 'the limit is per queue: the other queue is empty, nothing else runs');
SELECT pg_temp.schedule_n(:'tb', :'q2', 2) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q', :'q2'], 100), 2, 'the other queue (no limit) still hands out its jobs');
SELECT is(taskflow.complete_many(ARRAY(SELECT job_id FROM held ORDER BY job_id), ARRAY(SELECT token FROM held ORDER BY job_id)),
  6, '(finish all held jobs)');
DELETE FROM held;
-- Both limits: queue 5, tenant a 2 -> a gets 2, b gets 3.
SELECT taskflow.alter_queue(:'q', concurrency_limit => 5) AS x \gset
SELECT taskflow.set_tenant_limit(:'ta', 2) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 5, 'queue limit 5 with tenant a limited to 2: 5 start');
SELECT is(ARRAY(SELECT tenant || '=' || count(*) FROM held GROUP BY tenant ORDER BY tenant),
  ARRAY[:'ta' || '=2', :'tb' || '=3'], 'tenant a gets 2, tenant b the other 3');
SELECT is(taskflow.complete_many(ARRAY(SELECT job_id FROM held ORDER BY job_id), ARRAY(SELECT token FROM held ORDER BY job_id)),
  5, '(finish all held jobs)');
DELETE FROM held;
SELECT taskflow.set_tenant_limit(:'ta', NULL) AS x \gset
DELETE FROM taskflow.jobs WHERE queue IN (:'q', :'q2') AND state <> 'RUNNING';

-- ---------------------------------------------------------------------------------------------
-- Rate limits (acquire sees no refill inside one transaction: now() is fixed; refills are
-- simulated by moving refreshed_at back)
-- ---------------------------------------------------------------------------------------------
UPDATE taskflow.queues SET concurrency_limit = NULL WHERE name = :'q';
SELECT pg_temp.schedule_n(:'ta', :'q', 20) AS x \gset
SELECT pg_temp.schedule_n(:'tb', :'q', 20) AS x \gset
SELECT taskflow.set_rate_limit('queue', :'q', 5, '1 hour') AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 5, 'queue rate limit 5 per hour: a batch of 100 starts 5');
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 0, 'the bucket is empty: nothing more');
SELECT is((SELECT tokens FROM taskflow.rate_limits WHERE scope = 'queue' AND name = :'q'), 0::float8, 'its tokens are spent');
SELECT is(taskflow.complete_many(ARRAY(SELECT job_id FROM held ORDER BY job_id), ARRAY(SELECT token FROM held ORDER BY job_id)),
  5, 'completing does not give starts back (a rate limit counts starts, not running jobs)');
DELETE FROM held;
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 0, 'still nothing after the completions');
UPDATE taskflow.rate_limits SET refreshed_at = refreshed_at - interval '24 minutes' WHERE scope = 'queue' AND name = :'q';
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 2, '24 minutes later (2/5 of the period): 2 tokens, 2 starts');
UPDATE taskflow.rate_limits SET refreshed_at = refreshed_at - interval '10 hours' WHERE scope = 'queue' AND name = :'q';
SELECT is(pg_temp.take(ARRAY[:'q'], 100), 5, 'a long idle time refills the bucket only up to max_starts');
SELECT taskflow.set_rate_limit('queue', :'q', NULL) AS x \gset
-- Tenant rate limit: only that tenant is held back.
SELECT taskflow.set_rate_limit('tenant', :'ta', 3, '1 hour') AS x \gset
DELETE FROM held;
SELECT is(pg_temp.take(ARRAY[:'q'], 100), (SELECT 3 + count(*)::int FROM taskflow.jobs WHERE queue = :'q' AND tenant_id = :'tb' AND state = 'PENDING'),
  'tenant rate limit 3: tenant a starts 3, tenant b all of its ready jobs');
SELECT is((SELECT count(*)::int FROM held WHERE tenant = :'ta'), 3, 'exactly 3 of tenant a');
SELECT is(pg_temp.take(ARRAY[:'q', :'q2'], 100), 0, 'then nothing: tenant a''s bucket is empty in every queue');
SELECT taskflow.set_rate_limit('tenant', :'ta', NULL) AS x \gset
SELECT is(pg_temp.take(ARRAY[:'q'], 100) > 0, true, 'removing the tenant rate limit lets tenant a run again');

SELECT * FROM finish();
ROLLBACK;
