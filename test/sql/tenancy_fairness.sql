-- Multi-tenancy: fairness. Within a queue and the top job priority, acquire serves tenants in
-- weighted round robin, not in arrival order; higher job priority still goes first, and across
-- queues the higher queue priority. Fairness passes live in shared memory and survive the
-- ROLLBACK, so every queue name carries a random suffix: reruns on one cluster start fresh.
BEGIN;
SELECT plan(26);

SELECT 'tff_' || substr(md5(random()::text), 1, 8) AS sfx \gset

-- Each acquisition, in order: call number, position in the batch, tenant, priority.
CREATE TEMP TABLE seq (call int, pos int, tenant text, priority int, queue text);
-- Makes `calls` acquire calls of up to max_jobs each on queues qs, one after the other.
CREATE FUNCTION pg_temp.acquire_seq(qs text[], calls int, max_jobs int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
  base int := COALESCE((SELECT max(call) FROM seq), 0);
BEGIN
  FOR i IN 1 .. calls LOOP
    INSERT INTO seq (call, pos, tenant, priority, queue)
      SELECT base + i, row_number() OVER (), a.tenant_id, j.priority, a.queue
      FROM taskflow.acquire('tff-worker', qs, max_jobs) a JOIN taskflow.jobs j ON j.id = a.job_id;
  END LOOP;
  RETURN (SELECT count(*)::int FROM seq WHERE call > base);
END
$$;
CREATE FUNCTION pg_temp.schedule_n(t text, q text, n int, prio int DEFAULT 0) RETURNS int LANGUAGE sql AS $$
  SELECT count(*)::int FROM taskflow.schedule_many(
    (SELECT jsonb_agg(jsonb_build_object('job_type', 'tff.job', 'queue', q, 'tenant_id', t, 'priority', prio))
     FROM generate_series(1, n)))
$$;

-- ---------------------------------------------------------------------------------------------
-- A noisy tenant does not starve a newcomer
-- ---------------------------------------------------------------------------------------------
SELECT :'sfx' || '_noisy' AS q1 \gset
SELECT taskflow.create_queue(:'q1') AS x \gset
SELECT is(pg_temp.schedule_n('tff_a', :'q1', 10000), 10000, 'tenant A has 10,000 ready jobs');
SELECT is(pg_temp.acquire_seq(ARRAY[:'q1'], 50, 1), 50, 'a worker takes 50 of them, one at a time (A alone)');
SELECT is(pg_temp.schedule_n('tff_b', :'q1', 100), 100, 'then tenant B schedules 100');
TRUNCATE seq;
SELECT is(pg_temp.acquire_seq(ARRAY[:'q1'], 210, 1), 210, '210 more acquisitions of one job each');
SELECT is((SELECT count(*)::int FROM seq WHERE tenant = 'tff_b'), 100,
  'all 100 of B''s jobs were acquired within those 210 acquisitions');
SELECT is((SELECT max(call) FROM seq WHERE tenant = 'tff_b') <= 201, true,
  'B''s last job came by the 201st acquisition (round robin: every other one)');
SELECT is((SELECT count(*)::int FROM seq WHERE call <= 20 AND tenant = 'tff_b') BETWEEN 9 AND 11, true,
  'B does not monopolise the queue on arrival either: about half of the first 20');
SELECT is((SELECT count(*)::int FROM taskflow.jobs WHERE queue = :'q1' AND tenant_id = 'tff_b' AND state = 'PENDING'), 0,
  'nothing of B is left waiting');

-- The same with batches: a batch is spread across tenants.
SELECT :'sfx' || '_batch' AS q2 \gset
SELECT taskflow.create_queue(:'q2') AS x \gset
SELECT pg_temp.schedule_n('tff_a', :'q2', 10000) AS x \gset
SELECT pg_temp.acquire_seq(ARRAY[:'q2'], 5, 100) AS x \gset
SELECT pg_temp.schedule_n('tff_b', :'q2', 100) AS x \gset
TRUNCATE seq;
SELECT is(pg_temp.acquire_seq(ARRAY[:'q2'], 1, 100), 100, 'after B arrives, one batch of 100');
SELECT ok((SELECT count(*) FROM seq WHERE tenant = 'tff_b') BETWEEN 49 AND 52, 'about half of that batch is B''s');
SELECT is(pg_temp.acquire_seq(ARRAY[:'q2'], 1, 100), 100, 'a second batch of 100');
SELECT is((SELECT count(*)::int FROM seq WHERE tenant = 'tff_b'), 100, 'all of B''s 100 jobs came within those two batches');

-- ---------------------------------------------------------------------------------------------
-- Weights: A = 3, B = 1
-- ---------------------------------------------------------------------------------------------
SELECT 'tff_w3_' || :'sfx' AS wa, 'tff_w1_' || :'sfx' AS wb, :'sfx' || '_w' AS q3, :'sfx' || '_wb' AS q4 \gset
SELECT taskflow.set_tenant_weight(:'wa', 3) AS x \gset
SELECT taskflow.set_tenant_weight(:'wb', 1) AS x \gset
-- A new queue q with n ready jobs of each of the tenants ts, and an empty `seq`.
CREATE FUNCTION pg_temp.backlog(q text, ts text[], n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM taskflow.create_queue(q);
  PERFORM pg_temp.schedule_n(t, q, n) FROM unnest(ts) t;
  TRUNCATE seq;
END
$$;
-- Tenant t's share of `total` acquisitions in `seq`, in percent.
CREATE FUNCTION pg_temp.share(t text, total int) RETURNS numeric LANGUAGE sql AS
  $$ SELECT (SELECT count(*) FROM seq WHERE tenant = t) * 100.0 / total $$;
SELECT pg_temp.backlog(:'q3', ARRAY[:'wa', :'wb'], 4000) AS x \gset
SELECT is(pg_temp.acquire_seq(ARRAY[:'q3'], 4000, 1), 4000, 'both backlogged: 4,000 acquisitions of one job');
SELECT pg_temp.share(:'wa', 4000) AS share1 \gset
SELECT ok(:share1 BETWEEN 70 AND 80, format('weight 3 gets 75%% +- 5%% of them: %s%%', round(:share1, 1)));
SELECT ok((SELECT count(*) FROM seq WHERE tenant = :'wa' AND call <= 40) BETWEEN 28 AND 32,
  'the share holds in the short run too: 28-32 of the first 40');

SELECT pg_temp.backlog(:'q4', ARRAY[:'wa', :'wb'], 4000) AS x \gset
SELECT is(pg_temp.acquire_seq(ARRAY[:'q4'], 400, 10), 4000, 'with max_jobs 10: 400 batches, 4,000 jobs');
SELECT pg_temp.share(:'wa', 4000) AS share2 \gset
SELECT ok(:share2 BETWEEN 70 AND 80, format('weight 3 gets 75%% +- 5%% with batches too: %s%%', round(:share2, 1)));
SELECT is((SELECT count(*)::int FROM (SELECT call FROM seq GROUP BY call
                                      HAVING count(*) FILTER (WHERE tenant = :'wb') NOT BETWEEN 2 AND 3) x), 0,
  'every batch of 10 is spread: 2 or 3 of B''s, the rest A''s');

-- Three tenants, weights 1, 1 and 2: 25% / 25% / 50%.
SELECT :'sfx' || '_three' AS q6, 'tff_t1_' || :'sfx' AS t1, 'tff_t2_' || :'sfx' AS t2, 'tff_t3_' || :'sfx' AS t3 \gset
SELECT taskflow.create_queue(:'q6') AS x \gset
SELECT taskflow.set_tenant_weight(:'t3', 2) AS x \gset
SELECT pg_temp.schedule_n(:'t1', :'q6', 500) + pg_temp.schedule_n(:'t2', :'q6', 500) + pg_temp.schedule_n(:'t3', :'q6', 500) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'q6'], 400, 1) AS x \gset
SELECT is(ARRAY(SELECT count(*)::int FROM seq GROUP BY tenant ORDER BY tenant), ARRAY[100, 100, 200],
  'weights 1, 1, 2 over 400 acquisitions: 100, 100 and 200');

-- A tenant that comes back after a pause gets its share, not a burst to catch up.
SELECT count(taskflow.cancel(id)) AS x FROM taskflow.jobs WHERE queue = :'q6' AND tenant_id = :'t2' AND state = 'PENDING' \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'q6'], 150, 1) AS x \gset
SELECT is((SELECT count(DISTINCT tenant)::int FROM seq), 2, '(tenant 2 idle for 150 acquisitions)');
SELECT pg_temp.schedule_n(:'t2', :'q6', 100) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'q6'], 40, 1) AS x \gset
SELECT ok((SELECT count(*) FROM seq WHERE tenant = :'t2') BETWEEN 8 AND 12,
  format('the returning tenant (weight 1 of 4) gets about a quarter of the next 40, not a burst: %s',
         (SELECT count(*) FROM seq WHERE tenant = :'t2')));

-- Queues of equal priority form one group: their tenants share the slots.
SELECT :'sfx' || '_ga' AS qa, :'sfx' || '_gb' AS qb \gset
SELECT taskflow.create_queue(:'qa') AS x \gset
SELECT taskflow.create_queue(:'qb') AS x \gset
SELECT pg_temp.schedule_n('tff_ga', :'qa', 100) AS x \gset
SELECT pg_temp.schedule_n('tff_gb', :'qb', 100) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'qa', :'qb'], 20, 1) AS x \gset
SELECT is(ARRAY(SELECT queue || '=' || count(*) FROM seq GROUP BY queue ORDER BY queue), ARRAY[:'qa' || '=10', :'qb' || '=10'],
  'two queues of equal priority, one tenant each: the 20 acquisitions alternate (older jobs do not go first)');

-- ---------------------------------------------------------------------------------------------
-- Priorities go first
-- ---------------------------------------------------------------------------------------------
SELECT :'sfx' || '_prio' AS q5 \gset
SELECT taskflow.create_queue(:'q5') AS x \gset
SELECT taskflow.set_tenant_weight('tff_heavy_' || :'sfx', 1000) AS x \gset
SELECT pg_temp.schedule_n('tff_heavy_' || :'sfx', :'q5', 50, 0) AS x \gset
SELECT pg_temp.schedule_n('tff_light', :'q5', 10, 5) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'q5'], 10, 1) AS x \gset
SELECT is((SELECT string_agg(DISTINCT tenant || ':' || priority, ',') FROM seq), 'tff_light:5',
  'higher job priority first: the 10 priority-5 jobs of a weight-1 tenant before a weight-1000 tenant''s priority-0 jobs');
SELECT pg_temp.schedule_n('tff_light', :'q5', 3, 5) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'q5'], 1, 8) AS x \gset
SELECT is(ARRAY(SELECT priority FROM seq ORDER BY pos), ARRAY[5, 5, 5, 0, 0, 0, 0, 0],
  'in one batch: the priority-5 jobs first, then the priority-0 ones');

SELECT :'sfx' || '_qhi' AS qhi, :'sfx' || '_qlo' AS qlo \gset
SELECT taskflow.create_queue(:'qhi', priority => 10) AS x \gset
SELECT taskflow.create_queue(:'qlo', priority => 0) AS x \gset
SELECT pg_temp.schedule_n('tff_heavy_' || :'sfx', :'qlo', 20, 100) AS x \gset
SELECT pg_temp.schedule_n('tff_light', :'qhi', 5, 0) AS x \gset
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'qlo', :'qhi'], 5, 1) AS x \gset
SELECT is((SELECT string_agg(DISTINCT queue, ',') FROM seq), :'qhi',
  'across queues the higher queue priority first (whatever the job priority and tenant weight in the lower one)');
TRUNCATE seq;
SELECT pg_temp.acquire_seq(ARRAY[:'qlo', :'qhi'], 1, 10) AS x \gset
SELECT is((SELECT string_agg(DISTINCT queue, ',') || ' ' || count(*) FROM seq), :'qlo' || ' 10',
  'once the high-priority queue is empty, the lower one');

SELECT * FROM finish();
ROLLBACK;
