-- Queues: create_queue, alter_queue, drop_queue, retry policies and every way a policy can be
-- malformed.
BEGIN;
SELECT plan(61);

-- --- create_queue ---------------------------------------------------------------------------
SELECT lives_ok($$SELECT taskflow.create_queue('t_q_plain')$$, 'create_queue with defaults');
SELECT is((SELECT ROW(priority, concurrency_limit, lease, paused) FROM taskflow.queues WHERE name = 't_q_plain'),
  ROW(0, NULL::integer, NULL::interval, false), 'a new queue: priority 0, no limit, default lease, not paused');
SELECT is(taskflow.queue_retry_policy('t_q_plain'),
  '{"max_attempts": 5, "strategy": "exponential", "base_delay": "00:00:02", "max_delay": "01:00:00", "jitter": "full"}'::jsonb,
  'a queue without its own policy uses the default policy');

SELECT lives_ok($$SELECT taskflow.create_queue('t_q_full', priority => 7, concurrency_limit => 4,
    retry_policy => '{"max_attempts": 8, "strategy": "linear", "base_delay": "3 seconds", "max_delay": "2 minutes", "jitter": "equal"}',
    lease => interval '45 seconds')$$, 'create_queue with every parameter');
SELECT is((SELECT ROW(priority, concurrency_limit, lease) FROM taskflow.queues WHERE name = 't_q_full'),
  ROW(7, 4, interval '45 seconds'), 'priority, concurrency_limit and lease are stored');
SELECT is(taskflow.queue_retry_policy('t_q_full'),
  '{"max_attempts": 8, "strategy": "linear", "base_delay": "00:00:03", "max_delay": "00:02:00", "jitter": "equal"}'::jsonb,
  'the retry policy is stored');

SELECT lives_ok($$SELECT taskflow.create_queue('t_q_partial', retry_policy => '{"base_delay": 1.5, "strategy": "fixed"}')$$,
  'a partial policy; a delay may be a number of seconds');
SELECT is(taskflow.queue_retry_policy('t_q_partial'),
  '{"max_attempts": 5, "strategy": "fixed", "base_delay": "00:00:01.5", "max_delay": "01:00:00", "jitter": "full"}'::jsonb,
  'missing policy keys take the default policy''s values');
SELECT lives_ok($$SELECT taskflow.create_queue('t_q_empty_policy', retry_policy => '{}')$$, 'an empty policy object is the default policy');
SELECT lives_ok($$SELECT taskflow.create_queue('t_q.name:with-chars_9')$$, 'queue names may use letters, digits, _ . : -');

SELECT lives_ok($$SELECT taskflow.create_queue(repeat('q', 50))$$, 'a queue name of 50 characters is accepted');
SELECT lives_ok($$SELECT taskflow.schedule('x', queue => repeat('q', 50))$$,
  'scheduling a ready job into it works (its NOTIFY channel name fits)');
SELECT throws_ok($$SELECT taskflow.create_queue(repeat('q', 51))$$, '22023',
  'queue name is too long: 51 characters, at most 50 allowed', 'a queue name of 51 characters: 22023');
SELECT throws_ok($$SELECT taskflow.create_queue('t_q_plain')$$, '42710', 'queue "t_q_plain" already exists',
  'create_queue of an existing name: 42710');
SELECT throws_ok($$SELECT taskflow.create_queue('bad name')$$, '22023', NULL, 'a queue name with a space: 22023');
SELECT throws_ok($$SELECT taskflow.create_queue('')$$, '22023', NULL, 'an empty queue name: 22023');
SELECT throws_ok($$SELECT taskflow.create_queue('t_q_x', lease => interval '0 seconds')$$, '22023',
  'lease must be greater than zero', 'a lease of zero: 22023');
SELECT throws_ok($$SELECT taskflow.create_queue('t_q_x', lease => interval '-1 minute')$$, '22023',
  'lease must be greater than zero', 'a negative lease: 22023');
SELECT throws_ok($$SELECT taskflow.create_queue('t_q_x', concurrency_limit => 0)$$, '22023', NULL,
  'a concurrency_limit of 0: 22023');

-- --- malformed retry policies: each 22023 ---------------------------------------------------
SELECT throws_ok(format('SELECT taskflow.create_queue(%L, retry_policy => %L)', 't_q_x', policy), '22023', msg, description)
FROM (VALUES
  ('[1]', 'retry_policy must be a JSON object', 'a policy that is not an object'),
  ('"exponential"', 'retry_policy must be a JSON object', 'a policy that is a string'),
  ('{"tries": 3}', 'unknown retry_policy key "tries"', 'an unknown policy key'),
  ('{"max_attempts": 0}', NULL, 'max_attempts 0'),
  ('{"max_attempts": -2}', NULL, 'max_attempts negative'),
  ('{"max_attempts": 2.5}', NULL, 'max_attempts not an integer'),
  ('{"max_attempts": "3"}', NULL, 'max_attempts given as a string'),
  ('{"max_attempts": 99999999999}', NULL, 'max_attempts out of range'),
  ('{"strategy": "random"}', 'unknown retry strategy "random"', 'an unknown strategy'),
  ('{"strategy": 3}', 'retry_policy.strategy must be a string', 'a strategy that is not a string'),
  ('{"jitter": "some"}', 'unknown jitter "some"', 'an unknown jitter'),
  ('{"jitter": true}', 'retry_policy.jitter must be a string', 'a jitter that is not a string'),
  ('{"base_delay": "soon"}', NULL, 'a base_delay that is not an interval'),
  ('{"base_delay": [1]}', NULL, 'a base_delay that is neither a string nor a number'),
  ('{"max_delay": {}}', NULL, 'a max_delay that is neither a string nor a number'),
  ('{"base_delay": "-1 second"}', 'retry policy base_delay must not be negative', 'a negative base_delay (interval)'),
  ('{"base_delay": -3}', 'retry policy base_delay must not be negative', 'a negative base_delay (seconds)'),
  ('{"max_delay": "-1 hour", "base_delay": 0}', 'retry policy max_delay must not be negative', 'a negative max_delay'),
  ('{"base_delay": "10 minutes", "max_delay": "1 minute"}', 'retry policy max_delay must not be less than base_delay', 'max_delay below base_delay')
) AS bad(policy, msg, description);
SELECT is((SELECT count(*) FROM taskflow.queues WHERE name = 't_q_x'), 0::bigint, 'no rejected create_queue created a queue');

-- --- alter_queue ----------------------------------------------------------------------------
SELECT lives_ok($$SELECT taskflow.alter_queue('t_q_full', priority => 9)$$, 'alter_queue of the priority');
SELECT is((SELECT ROW(priority, concurrency_limit, lease) FROM taskflow.queues WHERE name = 't_q_full'),
  ROW(9, 4, interval '45 seconds'), 'alter_queue changes what is given and leaves NULL parameters unchanged');
SELECT is(taskflow.queue_retry_policy('t_q_full') ->> 'strategy', 'linear', 'a policy not given is unchanged');
SELECT lives_ok($$SELECT taskflow.alter_queue('t_q_full', retry_policy => '{"strategy": "fixed", "base_delay": "1 second"}',
    concurrency_limit => 2, lease => interval '1 minute')$$, 'alter_queue of policy, concurrency_limit and lease');
SELECT is(taskflow.queue_retry_policy('t_q_full'),
  '{"max_attempts": 5, "strategy": "fixed", "base_delay": "00:00:01", "max_delay": "01:00:00", "jitter": "full"}'::jsonb,
  'a retry_policy given to alter_queue replaces the whole policy');
SELECT is((SELECT ROW(priority, concurrency_limit, lease) FROM taskflow.queues WHERE name = 't_q_full'),
  ROW(9, 2, interval '1 minute'), 'concurrency_limit and lease changed');
SELECT throws_ok($$SELECT taskflow.alter_queue('no_such_queue', priority => 1)$$, '42704',
  'queue "no_such_queue" does not exist', 'alter_queue of an unknown queue: 42704');
SELECT throws_ok($$SELECT taskflow.alter_queue('t_q_full', retry_policy => '{"strategy": "zigzag"}')$$, '22023',
  'unknown retry strategy "zigzag"', 'alter_queue with an unknown strategy: 22023');
SELECT throws_ok($$SELECT taskflow.alter_queue('t_q_full', retry_policy => '{"base_delay": -1}')$$, '22023', NULL,
  'alter_queue with a negative delay: 22023');
SELECT throws_ok($$SELECT taskflow.alter_queue('t_q_full', lease => interval '0 seconds')$$, '22023', NULL,
  'alter_queue with a lease of zero: 22023');
SELECT throws_ok($$SELECT taskflow.alter_queue('t_q_full', retry_policy => '{"max_attempts": 0}')$$, '22023', NULL,
  'alter_queue with max_attempts 0: 22023');
SELECT is(taskflow.queue_retry_policy('t_q_full') ->> 'strategy', 'fixed', 'the rejected alters changed nothing');

-- The queue policy reaches new jobs.
SELECT taskflow.alter_queue('t_q_plain', retry_policy => '{"max_attempts": 2}') \gset
SELECT taskflow.schedule('x', queue => 't_q_plain') AS qj \gset
SELECT is((SELECT max_attempts FROM taskflow.jobs WHERE id = :qj), 2, 'a job takes max_attempts from its queue''s current policy');

-- --- drop_queue -----------------------------------------------------------------------------
SELECT taskflow.create_queue('t_q_drop', retry_policy => '{"max_attempts": 1}') \gset
SELECT taskflow.schedule('d', queue => 't_q_drop') AS dp \gset
SELECT throws_ok($$SELECT taskflow.drop_queue('t_q_drop')$$, '55000', 'queue "t_q_drop" still holds 1 unfinished jobs',
  'drop_queue with a PENDING job: 55000');
SELECT * FROM taskflow.acquire('w', ARRAY['t_q_drop']) \gset dp_
SELECT throws_ok($$SELECT taskflow.drop_queue('t_q_drop')$$, '55000', NULL, 'drop_queue with a RUNNING job: 55000');
SELECT taskflow.fail(:dp, :'dp_lease_token', 'x') AS ignore \gset
SELECT taskflow.schedule('d', queue => 't_q_drop', run_at => now() + interval '1 day') AS ds \gset
SELECT throws_ok($$SELECT taskflow.drop_queue('t_q_drop')$$, '55000', NULL, 'drop_queue with a SCHEDULED job: 55000');
SELECT is((SELECT count(*) FROM taskflow.queues WHERE name = 't_q_drop'), 1::bigint, 'the refused drop kept the queue');
SELECT taskflow.cancel(:ds) AS ignore \gset
SELECT lives_ok($$SELECT taskflow.drop_queue('t_q_drop')$$, 'drop_queue once only finished (DEAD, CANCELLED) jobs remain');
SELECT is((SELECT count(*) FROM taskflow.queues WHERE name = 't_q_drop'), 0::bigint, 'the queue is gone');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE id IN (:dp, :ds)), 2::bigint, 'its finished jobs stay as history');
SELECT throws_ok($$SELECT taskflow.drop_queue('t_q_drop')$$, '42704', NULL, 'drop_queue of an unknown queue: 42704');
SELECT throws_ok($$SELECT taskflow.schedule('d', queue => 't_q_drop')$$, '42704', NULL,
  'scheduling into a dropped queue: 42704');

SELECT * FROM finish();
ROLLBACK;
