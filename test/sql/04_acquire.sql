-- acquire(): ordering (queue priority, job priority, next_run_at, id), max_jobs, job_types,
-- paused queues, unknown queues.
BEGIN;
SELECT plan(19);

SELECT taskflow.create_queue('t_acq_hi', priority => 10) \gset
SELECT taskflow.create_queue('t_acq_lo', priority => 0) \gset
SELECT taskflow.create_queue('t_acq_lo2', priority => 0) \gset

-- Scheduled in an order that differs from the acquisition order.
SELECT taskflow.schedule('o', '{"n": "lo_p0_a"}', queue => 't_acq_lo') AS lo_p0_a \gset
SELECT taskflow.schedule('o', '{"n": "lo_p5"}', queue => 't_acq_lo', priority => 5) AS lo_p5 \gset
SELECT taskflow.schedule('o', '{"n": "lo_p0_b"}', queue => 't_acq_lo') AS lo_p0_b \gset
SELECT taskflow.schedule('o', '{"n": "lo_p0_old"}', queue => 't_acq_lo', run_at => now() - interval '1 hour') AS lo_p0_old \gset
SELECT taskflow.schedule('o', '{"n": "lo2_p1"}', queue => 't_acq_lo2', priority => 1) AS lo2_p1 \gset
SELECT taskflow.schedule('o', '{"n": "hi_pm1"}', queue => 't_acq_hi', priority => -1) AS hi_pm1 \gset
SELECT taskflow.schedule('o', '{"n": "hi_p0"}', queue => 't_acq_hi') AS hi_p0 \gset
SELECT taskflow.schedule('o', '{"n": "lo_future"}', queue => 't_acq_lo', priority => 100, run_at => now() + interval '1 minute') AS lo_future \gset

-- One job per call: each call takes the next job in the documented order.
CREATE TEMP TABLE got (n serial, job_id bigint);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);
INSERT INTO got (job_id) SELECT job_id FROM taskflow.acquire('w', ARRAY['t_acq_lo', 't_acq_lo2', 't_acq_hi'], 1);

SELECT is(ARRAY(SELECT job_id FROM got ORDER BY n),
  ARRAY[:hi_p0, :hi_pm1, :lo_p5, :lo2_p1, :lo_p0_old, :lo_p0_a, :lo_p0_b]::bigint[],
  'one at a time: queue priority first, then job priority, then next_run_at, then id; the future job is left');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :lo_future), 'SCHEDULED', 'the not-yet-due job was not taken');

-- The same order in one batch call (fresh jobs in fresh queues).
SELECT taskflow.create_queue('t_b_hi', priority => 3) \gset
SELECT taskflow.create_queue('t_b_lo', priority => 1) \gset
SELECT taskflow.schedule('b', queue => 't_b_lo', priority => 9) AS b1 \gset
SELECT taskflow.schedule('b', queue => 't_b_lo') AS b2 \gset
SELECT taskflow.schedule('b', queue => 't_b_hi') AS b3 \gset
SELECT taskflow.schedule('b', queue => 't_b_hi', priority => 2) AS b4 \gset
SELECT taskflow.schedule('b', queue => 't_b_lo', run_at => now() - interval '1 day') AS b5 \gset
SELECT is(ARRAY(SELECT job_id FROM taskflow.acquire('w', ARRAY['t_b_lo', 't_b_hi'], 3)),
  ARRAY[:b4, :b3, :b1]::bigint[], 'a batch takes max_jobs jobs in the same order, across queues');
SELECT is(ARRAY(SELECT job_id FROM taskflow.acquire('w', ARRAY['t_b_lo', 't_b_hi'], 100)),
  ARRAY[:b5, :b2]::bigint[], 'the next batch takes the rest (older next_run_at first)');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_b_lo', 't_b_hi'], 100)), 0::bigint,
  'nothing is left to acquire');
SELECT is(ARRAY(SELECT attempts FROM taskflow.jobs WHERE id IN (:b1, :b2, :b3, :b4, :b5) ORDER BY id), ARRAY[1, 1, 1, 1, 1],
  'each job was acquired once (attempt 1 each)');
SELECT is((SELECT count(*) FROM taskflow.jobs j, jsonb_array_elements(taskflow.job_history(j.id) -> 'attempts') a
           WHERE j.id IN (:b1, :b2, :b3, :b4, :b5)), 5::bigint,
  'five attempts in the history of five jobs');

-- Only the named queues.
SELECT taskflow.create_queue('t_only_a') \gset
SELECT taskflow.create_queue('t_only_b') \gset
SELECT taskflow.schedule('q', queue => 't_only_b') AS ob \gset
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_only_a'], 10)), 0::bigint, 'acquire takes nothing from other queues');
SELECT is((SELECT job_id FROM taskflow.acquire('w', ARRAY['t_only_b'], 10)), :ob::bigint, 'but takes from the named one');

-- job_types filter.
SELECT taskflow.create_queue('t_types') \gset
SELECT taskflow.schedule('type.a', queue => 't_types') AS ta \gset
SELECT taskflow.schedule('type.b', queue => 't_types') AS tb \gset
SELECT taskflow.schedule('type.c', queue => 't_types') AS tc \gset
SELECT is(ARRAY(SELECT job_id FROM taskflow.acquire('w', ARRAY['t_types'], 10, job_types => ARRAY['type.b', 'type.c'])),
  ARRAY[:tb, :tc]::bigint[], 'job_types limits acquire to those types');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_types'], 10, job_types => ARRAY['type.zzz'])), 0::bigint,
  'a job_types list that matches nothing acquires nothing');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :ta), 'PENDING', 'the other type stays PENDING');
SELECT is(ARRAY(SELECT job_id FROM taskflow.acquire('w', ARRAY['t_types'], 10, job_types => NULL)),
  ARRAY[:ta]::bigint[], 'job_types NULL means every type');

-- Paused queues.
SELECT taskflow.create_queue('t_paused') \gset
SELECT taskflow.schedule('p', queue => 't_paused') AS pz \gset
UPDATE taskflow.queues SET paused = true WHERE name = 't_paused';
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_paused'], 10)), 0::bigint, 'a paused queue hands out nothing');
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :pz), 'PENDING', 'its jobs stay PENDING');
SELECT lives_ok($$SELECT taskflow.schedule('p', queue => 't_paused')$$, 'scheduling into a paused queue still works');
UPDATE taskflow.queues SET paused = false WHERE name = 't_paused';
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['t_paused'], 10)), 2::bigint, 'once unpaused, its jobs are acquired');

-- Unknown queues.
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['t_types', 'no_such_queue'])$$, '42704',
  'queue "no_such_queue" does not exist', 'acquire from an unknown queue: 42704');
SELECT throws_ok($$SELECT * FROM taskflow.acquire('w', ARRAY['t_types', NULL])$$, '22023', NULL,
  'acquire with a NULL queue name: 22023');

SELECT * FROM finish();
ROLLBACK;
