-- Observability: the counters of queue_stats and metrics() stay the same when the Cleaner
-- (_clean), purge_failed, a DELETE by hand or a TRUNCATE remove history, whether the deleted jobs were
-- rolled up before (the roll-up counted them) or not (the delete trigger counts them). Clean slate as in
-- observability_figures.sql, rolled back at the end.
BEGIN;
SELECT plan(34);
-- The maintenance worker's Cleaner may hold taskflow.jobs and wait for the watermark row this
-- test updates, while the TRUNCATE below waits for it: a deadlock. With this session's check
-- far away, the worker's own check (after its deadlock_timeout) finds the cycle and ends its
-- round (it runs again next interval), never this test's transaction.
SET LOCAL deadlock_timeout = '10min';

DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
DELETE FROM taskflow.rule_firings;
SELECT taskflow.reset_stats();

SELECT taskflow.create_queue('obs_ret', retry_policy =>
  '{"max_attempts": 2, "strategy": "fixed", "base_delay": "0 seconds", "jitter": "none"}');

-- Every counter series of the queue, and the retained-jobs gauges, as one text.
CREATE FUNCTION pg_temp.counters() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l, E'\n' ORDER BY l)
  FROM regexp_split_to_table(taskflow.metrics(), E'\n') AS l
  WHERE l LIKE '%queue="obs_ret"%'
    AND (l LIKE 'taskflow_jobs_finished_total%' OR l LIKE 'taskflow_job_retries_total%'
         OR l LIKE 'taskflow_job_wait_seconds%' OR l LIKE 'taskflow_job_run_seconds%')
$$;
CREATE FUNCTION pg_temp.totals() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(format('%s/%s: %s %s %s %s %s %s %s', queue, tenant_id, finished_total,
                           succeeded_total, failed_total, dead_total, cancelled_total,
                           retries_total, retries_per_job), E'\n' ORDER BY tenant_id NULLS FIRST)
  FROM taskflow.queue_stats WHERE queue = 'obs_ret'
$$;
CREATE FUNCTION pg_temp.gauge(state text) RETURNS double precision LANGUAGE sql AS $$
  SELECT split_part(l, ' ', 2)::double precision
  FROM regexp_split_to_table(taskflow.metrics(), E'\n') AS l
  WHERE split_part(l, ' ', 1) = 'taskflow_jobs{queue="obs_ret",state="' || state || '"}'
$$;
-- n jobs of a tenant through one outcome: ok (complete), retry_ok (fail once, then complete),
-- fail (not retryable), dead (two failed attempts), cancel (while pending).
CREATE FUNCTION pg_temp.run(tenant text, n integer, how text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  a record;
BEGIN
  PERFORM taskflow.schedule('r.' || how, queue => 'obs_ret', tenant_id => tenant) FROM generate_series(1, n);
  IF how = 'cancel' THEN
    PERFORM taskflow.cancel(j.id) FROM taskflow.jobs j
    WHERE j.queue = 'obs_ret' AND j.job_type = 'r.cancel' AND j.state = 'PENDING';
    RETURN;
  END IF;
  FOR i IN 1 .. CASE WHEN how IN ('retry_ok', 'dead') THEN 2 ELSE 1 END LOOP
    FOR a IN SELECT * FROM taskflow.acquire('obs-w', ARRAY['obs_ret'], 1000, job_types => ARRAY['r.' || how]) LOOP
      UPDATE taskflow.jobs SET next_run_at = now() - interval '3 seconds', started_at = now() - interval '1 second'
      WHERE id = a.job_id;
      IF how = 'ok' OR (how = 'retry_ok' AND i = 2) THEN
        PERFORM taskflow.complete(a.job_id, a.lease_token);
      ELSE
        PERFORM taskflow.fail(a.job_id, a.lease_token, 'e', retryable => how <> 'fail');
      END IF;
    END LOOP;
  END LOOP;
END
$$;

-- --- 1. deleted before any roll-up: the delete trigger counts them --------------------------
SELECT pg_temp.run('t1', 4, 'ok');
SELECT pg_temp.run('t1', 2, 'retry_ok');
SELECT pg_temp.run('t2', 3, 'fail');
SELECT pg_temp.run('t2', 2, 'dead');
SELECT pg_temp.run('t2', 5, 'cancel');
SELECT pg_temp.counters() AS c_before \gset
SELECT pg_temp.totals() AS t_before \gset
SELECT is(:'t_before'::text, E'obs_ret/: 16 6 3 2 5 4 0.25\nobs_ret/t1: 6 6 0 0 0 2 0.3333333333333333\nobs_ret/t2: 10 0 3 2 5 2 0.2',
  'before: finished, succeeded, failed, dead, cancelled, retries, retries per job');
SELECT is(ARRAY[pg_temp.gauge('succeeded'), pg_temp.gauge('cancelled'), pg_temp.gauge('failed'), pg_temp.gauge('dead')],
  ARRAY[6, 5, 3, 2]::double precision[], 'before: jobs kept per final state');

-- purge_failed first: it does not roll up, so its trigger counts the jobs it deletes
SELECT is(taskflow.purge_failed(), 5::bigint, 'purge_failed deletes the 5 FAILED and DEAD jobs');
SELECT is(pg_temp.counters(), :'c_before'::text, 'metrics(): after purge_failed, every counter is unchanged');
-- a deletion by hand goes through the same trigger
DELETE FROM taskflow.jobs WHERE id = (SELECT min(id) FROM taskflow.jobs WHERE queue = 'obs_ret' AND state = 'SUCCEEDED');
SELECT is(pg_temp.totals(), :'t_before'::text, 'queue_stats: after a DELETE by hand, every total is unchanged');
SELECT is(taskflow._clean(-3600, 1000), 10, 'the Cleaner deletes the other 10 SUCCEEDED and CANCELLED jobs');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE queue = 'obs_ret'), 0::bigint, 'no job of the queue is left');
SELECT is(pg_temp.counters(), :'c_before'::text, 'metrics(): every counter and histogram series is unchanged');
SELECT is(pg_temp.totals(), :'t_before'::text, 'queue_stats: every total is unchanged');
SELECT is(ARRAY[pg_temp.gauge('succeeded'), pg_temp.gauge('cancelled'), pg_temp.gauge('failed'), pg_temp.gauge('dead')],
  ARRAY[0, 0, 0, 0]::double precision[], 'after: no job kept in any final state');
SELECT is((SELECT ROW(succeeded, cancelled, failed, dead) FROM taskflow.queue_stats WHERE queue = 'obs_ret' AND tenant_id IS NULL),
  ROW(0::bigint, 0::bigint, 0::bigint, 0::bigint), 'queue_stats: no job kept in any final state');

-- --- 2. rolled up first: the roll-up counts them, the deletion only removes them ------------
-- Jobs finished 30 minutes ago, after a watermark an hour back: the next roll-up takes them.
SELECT pg_temp.run('t1', 3, 'ok');
SELECT pg_temp.run('t2', 2, 'dead');
SELECT pg_temp.run('t2', 1, 'cancel');
UPDATE taskflow.jobs SET finished_at = finished_at - interval '30 minutes',
                         started_at = started_at - interval '30 minutes',
                         next_run_at = next_run_at - interval '30 minutes'
WHERE queue = 'obs_ret';
UPDATE taskflow.stats_watermark SET rolled_up_to = now() - interval '1 hour';
SELECT pg_temp.counters() AS c_before \gset
SELECT pg_temp.totals() AS t_before \gset
SELECT is(:'t_before'::text, E'obs_ret/: 22 9 3 4 6 6 0.2727272727272727\nobs_ret/t1: 9 9 0 0 0 2 0.2222222222222222\nobs_ret/t2: 13 0 3 4 6 4 0.3076923076923077',
  'second round: the totals add up');
SELECT is(taskflow._rollup(1000000), 6, 'the roll-up counts the six jobs');
SELECT ok((SELECT rolled_up_to > now() - interval '30 minutes' FROM taskflow.stats_watermark),
  'the watermark moved past them');
SELECT is(pg_temp.counters(), :'c_before'::text, 'metrics(): the roll-up changes no counter');
SELECT is(pg_temp.totals(), :'t_before'::text, 'queue_stats: the roll-up changes no total');
SELECT is(taskflow._clean(600, 1000), 4, 'the Cleaner deletes the 4 rolled-up SUCCEEDED and CANCELLED jobs');
SELECT is(taskflow.purge_failed(), 2::bigint, 'purge_failed deletes the 2 rolled-up DEAD jobs');
SELECT is(pg_temp.counters(), :'c_before'::text, 'metrics(): every counter and histogram series is unchanged');
SELECT is(pg_temp.totals(), :'t_before'::text, 'queue_stats: every total is unchanged');
SELECT is(ARRAY[pg_temp.gauge('succeeded'), pg_temp.gauge('cancelled'), pg_temp.gauge('dead')],
  ARRAY[0, 0, 0]::double precision[], 'after: no job kept in any final state');

-- --- 3. rule firings: purge_rule_firings does not lower taskflow_rule_firings_total --------
CREATE FUNCTION pg_temp.firings() RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l, E'\n' ORDER BY l)
  FROM regexp_split_to_table(taskflow.metrics(), E'\n') AS l WHERE l LIKE 'taskflow_rule_firings_total{rule="obs rule"%'
$$;
SELECT taskflow.create_rule('obs rule', '{"type": "webhook"}', '[{"job_type": "r.rule", "queue": "obs_ret"}]',
                            condition => '$.event.ok == true') AS rule \gset
SELECT count(*) FROM taskflow.fire_rule(:rule, '{"ok": true}');
SELECT count(*) FROM taskflow.fire_rule(:rule, '{"ok": true}');
SELECT count(*) FROM taskflow.fire_rule(:rule, '{"ok": false}');
SELECT is(pg_temp.firings(), format(E'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="created"} 2\n'
                                    'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="error"} 0\n'
                                    'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="skipped"} 1', :rule),
  'rule firings: 2 created, 1 skipped');
SELECT pg_temp.firings() AS f_before \gset
SELECT is(taskflow.purge_rule_firings(interval '-1 hour'), 3::bigint, 'purge_rule_firings deletes the three firings');
SELECT is(pg_temp.firings(), :'f_before'::text, 'the firing counters are unchanged (counted by the delete trigger)');
SELECT count(*) FROM taskflow.fire_rule(:rule, '{"ok": true}');
SELECT format(E'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="created"} 3\n'
              'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="error"} 0\n'
              'taskflow_rule_firings_total{rule="obs rule",rule_id="%1$s",outcome="skipped"} 1', :rule) AS f_four \gset
SELECT is(pg_temp.firings(), :'f_four'::text, 'the fourth firing is counted (from the tail)');
-- The fourth firing is rolled up before it is deleted: backdated into the window of the next
-- round, which takes no job (all were deleted above) and the firing.
UPDATE taskflow.rule_firings SET fired_at = now() - interval '30 minutes' WHERE rule_id = :rule;
UPDATE taskflow.stats_watermark SET rolled_up_to = now() - interval '1 hour';
SELECT is(taskflow._rollup(), 0, 'a roll-up round finds no job finished in its window');
SELECT is((SELECT firings FROM taskflow.stats_rule_firings WHERE rule_id = :rule AND outcome = 'created'), 3::bigint,
  'it rolls the fourth firing up into stats_rule_firings');
SELECT is(pg_temp.firings(), :'f_four'::text, 'the rolled-up firing is counted once');
SELECT is(taskflow.purge_rule_firings(interval '-1 hour'), 1::bigint, 'purge_rule_firings deletes the fourth firing');
SELECT is(pg_temp.firings(), :'f_four'::text, 'the fourth firing is still counted once (the delete trigger skips what was rolled up)');

-- --- 4. TRUNCATE fires no DELETE trigger: the truncate trigger counts the jobs first ---------
DELETE FROM taskflow.jobs WHERE queue = 'obs_ret' AND job_type = 'r.rule';  -- the rule's, PENDING
SELECT pg_temp.run('t1', 2, 'ok');
SELECT pg_temp.run('t2', 1, 'dead');
SELECT ok((SELECT rolled_up_to FROM taskflow.stats_watermark)
          <= (SELECT min(finished_at) FROM taskflow.jobs WHERE queue = 'obs_ret'),
  'the new jobs finished at or after the watermark (not rolled up)');
SELECT pg_temp.counters() AS c_before \gset
SELECT pg_temp.totals() AS t_before \gset
TRUNCATE taskflow.jobs CASCADE;
SELECT is((SELECT count(*) FROM taskflow.jobs), 0::bigint, 'TRUNCATE empties taskflow.jobs');
SELECT is(pg_temp.counters(), :'c_before'::text, 'metrics(): after TRUNCATE, every counter is unchanged');
SELECT is(pg_temp.totals(), :'t_before'::text, 'queue_stats: after TRUNCATE, every total is unchanged');

SELECT * FROM finish();
ROLLBACK;
