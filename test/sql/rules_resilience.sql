-- Issue 10: a tenant's rule never fails anyone's transition, webhook call or the Rescuer.
-- Conditions and placeholders that raise when evaluated (a jsonpath variable, .datetime("BOGUS"))
-- and enqueues that fail (payload too large) are recorded as failed firings, with the error and
-- its SQLSTATE, in a subtransaction per firing; the transition goes on. Jsonpath variables are
-- refused at creation; "for_each": "tenant" is refused to tenant roles; the chain depth is
-- carried on the job, so deleting ancestors does not reset it; bounded rendering.
BEGIN;
SELECT plan(43);
\ir helpers.psql

SELECT taskflow.create_queue('rs_q');
SELECT taskflow.create_queue('rs_out');
SELECT taskflow.create_queue('rs_once', retry_policy => '{"max_attempts": 1}');
CREATE ROLE rs_role_a;
CREATE ROLE rs_role_b;
SELECT taskflow.grant_tenant('rs_role_a', 'rs_a');
SELECT taskflow.grant_tenant('rs_role_b', 'rs_b');

-- Runs query (as the test user) and returns its first column as text, or 'ERROR <sqlstate>: ...'.
CREATE FUNCTION pg_temp.val(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  result text;
BEGIN
  BEGIN
    EXECUTE query INTO result;
  EXCEPTION WHEN OTHERS THEN
    result := 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
  END;
  RETURN result;
END
$$;
-- Acquires job `id` (each job here has its own job type); returns its lease token.
CREATE FUNCTION pg_temp.take(id bigint) RETURNS uuid LANGUAGE sql AS $$
  SELECT a.lease_token FROM taskflow.jobs j,
    LATERAL taskflow.acquire('rs-worker', ARRAY[j.queue], 1, job_types => ARRAY[j.job_type]) a
  WHERE j.id = take.id
$$;
-- The last firing of a rule as "matched|jobs|sqlstate|error".
CREATE FUNCTION pg_temp.firing(rule bigint) RETURNS text LANGUAGE sql AS $$
  SELECT concat_ws('|', f.matched, cardinality(f.job_ids), f.error_sqlstate, f.error)
  FROM taskflow.rule_firings f WHERE f.rule_id = rule ORDER BY f.id DESC LIMIT 1
$$;
-- A rule as it could have been stored before creation refused jsonpath variables.
CREATE FUNCTION pg_temp.stored_rule(tenant text, name text, on_event text, cond text, actions jsonb,
    webhook_key text DEFAULT NULL) RETURNS bigint LANGUAGE sql AS $$
  INSERT INTO taskflow.automation_rules (tenant_id, name, trigger, condition, actions, trigger_type,
      event_on, webhook_key)
  VALUES (tenant, name, CASE WHEN webhook_key IS NULL THEN jsonb_build_object('type', 'event', 'on', on_event)
                             ELSE '{"type": "webhook", "secret": null}' END,
          cond, actions, CASE WHEN webhook_key IS NULL THEN 'event' ELSE 'webhook' END,
          CASE WHEN webhook_key IS NULL THEN on_event END, webhook_key)
  RETURNING id
$$;

-- --- creation refuses jsonpath variables ----------------------------------------------------------
SELECT throws_like($$SELECT taskflow.create_rule('rs var', '{"type": "event", "on": "job_succeeded"}',
    '[{"job_type": "x", "queue": "rs_out"}]', condition => '$x == 1')$$,
  '%condition uses the jsonpath variable $x, but rules pass no variables%',
  'a condition with a jsonpath variable is refused at creation');
SELECT is(pg_temp.attempt('rs_role_a', $$SELECT taskflow.create_rule('rs var', '{"type": "webhook"}',
    '[{"job_type": "x", "queue": "rs_out", "payload": {"v": "{{ $.a ? (@ > $min) }}"}}]')$$),
  '22023: placeholder {{ $.a ? (@ > $min) }} uses the jsonpath variable $min, but rules pass no variables',
  'a placeholder with a jsonpath variable is refused (22023), also to a tenant role');
SELECT taskflow.create_rule('rs plain', '{"type": "webhook"}', '[{"job_type": "x", "queue": "rs_out"}]',
  condition => '$.event.body.k == "$x" && $."$y" == 1') AS r_plain \gset
SELECT pass('"$x" inside a string literal or a quoted key is not a variable: accepted');
SELECT throws_ok(format($$SELECT taskflow.alter_rule(%s, condition => '$.a == $limit')$$, :r_plain), '22023',
  'condition uses the jsonpath variable $limit, but rules pass no variables', 'alter_rule refuses them too');

-- --- the rules of the hostile tenant rs_a -----------------------------------------------------------
SELECT pg_temp.stored_rule('rs_a', 'var on success', 'job_succeeded', '$x == 1',
  '[{"job_type": "x", "queue": "rs_out"}]') AS r_succ \gset
SET LOCAL ROLE rs_role_a;
SELECT taskflow.create_rule('bad datetime on cancel', '{"type": "event", "on": "job_cancelled"}',
  '[{"job_type": "x", "queue": "rs_out"}]', condition => '$.event.job.payload.d.datetime("BOGUS") == "x"') AS r_canc \gset
SELECT taskflow.create_rule('bad placeholder on failure', '{"type": "event", "on": "job_failed"}',
  '[{"job_type": "x", "queue": "rs_out", "payload": {"d": "{{ $.event.job.payload.d.datetime(\"BOGUS\") }}"}}]') AS r_fail \gset
RESET ROLE;
SELECT pg_temp.stored_rule('rs_a', 'var placeholder on dead', 'job_dead', NULL,
  '[{"job_type": "x", "queue": "rs_out", "payload": {"v": "{{ $.event.job.attempts ? (@ > $min) }}"}}]') AS r_dead \gset
SELECT pg_temp.stored_rule('rs_a', 'var webhook', NULL, '$x == 1', '[{"job_type": "x", "queue": "rs_out"}]',
  'rs-webhook-key-0123456789abcdef') AS r_hook \gset
-- tenant rs_b has a good rule: its follow-ups must still be created in the same batches
SELECT taskflow.create_rule('good', '{"type": "event", "on": "job_succeeded"}',
  '[{"job_type": "follow", "queue": "rs_out", "payload": {"of": "{{ $.event.job.id }}"}}]', tenant_id => 'rs_b') AS r_good \gset

-- --- complete ---------------------------------------------------------------------------------------
SELECT taskflow.schedule('j1', '{"d": "2020-01-01"}', queue => 'rs_q', tenant_id => 'rs_a') AS j1 \gset
SELECT pg_temp.take(:j1) AS t1 \gset
SELECT is(pg_temp.val(format($$SELECT taskflow.complete(%s, %L)$$, :j1, :'t1')), 'SUCCEEDED',
  'complete succeeds although the job''s rule condition raises');
SELECT is(pg_temp.st(:j1), 'SUCCEEDED', 'the job is SUCCEEDED');
SELECT is(pg_temp.firing(:r_succ), 'f|0|42704|could not find jsonpath variable "x"',
  'the firing is recorded as failed, with the error and its SQLSTATE');

-- --- complete_many: the whole batch, another tenant's job included ---------------------------------
SELECT taskflow.schedule('j2', '{"d": "2020-01-01"}', queue => 'rs_q', tenant_id => 'rs_a') AS j2 \gset
SELECT taskflow.schedule('j3', '{}', queue => 'rs_q', tenant_id => 'rs_b') AS j3 \gset
SELECT pg_temp.take(:j2) AS t2 \gset
SELECT pg_temp.take(:j3) AS t3 \gset
SELECT is(pg_temp.val(format($$SELECT taskflow.complete_many(ARRAY[%s, %s], ARRAY[%L, %L]::uuid[])$$, :j2, :j3, :'t2', :'t3')),
  '2', 'complete_many completes the whole batch');
SELECT is(pg_temp.st(:j2) || ' ' || pg_temp.st(:j3), 'SUCCEEDED SUCCEEDED', 'both jobs, of both tenants, are SUCCEEDED');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'follow' AND payload ->> 'of' = :j3::text), 1::bigint,
  'the other tenant''s good rule created its follow-up in the same batch');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_succ AND source_job_id = :j2 AND error_sqlstate = '42704'),
  1::bigint, 'the bad firing of the batch is recorded');

-- --- cancel ---------------------------------------------------------------------------------------------
SELECT taskflow.schedule('j4', '{"d": "2020-01-01"}', queue => 'rs_q', tenant_id => 'rs_a') AS j4 \gset
SELECT is(pg_temp.val(format($$SELECT taskflow.cancel(%s)$$, :j4)), 'CANCELLED',
  'cancel succeeds although the rule''s .datetime("BOGUS") raises');
SELECT is(pg_temp.firing(:r_canc), 'f|0|22007|invalid datetime format separator: "B"',
  'the failed firing records the datetime error');

-- --- fail (non-retryable: FAILED) --------------------------------------------------------------------
SELECT taskflow.schedule('j5', '{"d": "2020-01-01"}', queue => 'rs_q', tenant_id => 'rs_a') AS j5 \gset
SELECT pg_temp.take(:j5) AS t5 \gset
SELECT is(pg_temp.val(format($$SELECT taskflow.fail(%s, %L, 'boom', retryable => false)$$, :j5, :'t5')), 'FAILED',
  'fail succeeds although a placeholder raises');
SELECT is(pg_temp.firing(:r_fail), 't|0|22007|invalid datetime format separator: "B"',
  'the failed firing records that the condition held and the placeholder error');

-- --- fail (attempts used up: DEAD) -------------------------------------------------------------------
SELECT taskflow.schedule('j6', '{}', queue => 'rs_once', tenant_id => 'rs_a') AS j6 \gset
SELECT pg_temp.take(:j6) AS t6 \gset
SELECT is(pg_temp.val(format($$SELECT taskflow.fail(%s, %L, 'boom')$$, :j6, :'t6')), 'DEAD',
  'fail into DEAD succeeds although the placeholder names a variable');
SELECT is(pg_temp.firing(:r_dead), 't|0|42704|could not find jsonpath variable "min"', 'the failed firing is recorded');

-- --- release of a job with a cancel request: CANCELLED ---------------------------------------------
SELECT taskflow.schedule('j7', '{"d": "2020-01-01"}', queue => 'rs_q', tenant_id => 'rs_a') AS j7 \gset
SELECT pg_temp.take(:j7) AS t7 \gset
SELECT taskflow.cancel(:j7);
SELECT is(pg_temp.st(:j7), 'RUNNING', 'a RUNNING job only gets a cancel request');
SELECT is(pg_temp.val(format($$SELECT taskflow.release(%s, %L)$$, :j7, :'t7')), 'CANCELLED',
  'release (ending as CANCELLED) succeeds');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_canc AND source_job_id = :j7 AND error_sqlstate = '22007'),
  1::bigint, 'its failed firing is recorded');

-- --- handle_webhook and fire_rule --------------------------------------------------------------------
SELECT is(pg_temp.val($$SELECT count(*) FROM taskflow.handle_webhook('rs-webhook-key-0123456789abcdef', '{"a": 1}')$$), '0',
  'handle_webhook answers (no job) although the rule''s condition raises');
SELECT is(pg_temp.firing(:r_hook), 'f|0|42704|could not find jsonpath variable "x"', 'and records the failed firing');
SELECT is(pg_temp.val(format($$SELECT count(*) FROM taskflow.fire_rule(%s)$$, :r_hook)), '0', 'fire_rule likewise');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_hook AND source = 'fire_rule' AND error_sqlstate = '42704'),
  1::bigint, 'its failed firing is recorded');

-- --- the Rescuer: a bad rule's expired job and another tenant's expired job ------------------------
SELECT taskflow.schedule('j8', '{}', queue => 'rs_once', tenant_id => 'rs_a') AS j8 \gset
SELECT taskflow.schedule('j9', '{}', queue => 'rs_once', tenant_id => 'rs_b') AS j9 \gset
SELECT pg_temp.take(:j8) AS t8 \gset
SELECT pg_temp.take(:j9) AS t9 \gset
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 minute' WHERE id IN (:j8, :j9);
SELECT is(pg_temp.val('SELECT taskflow._rescue_expired()'), '2', 'the Rescuer handles both expired leases');
SELECT is(pg_temp.st(:j8) || ' ' || pg_temp.st(:j9), 'DEAD DEAD', 'the bad rule''s job and the other tenant''s job are rescued');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_dead AND source_job_id = :j8 AND error_sqlstate = '42704'),
  1::bigint, 'the failed firing of the rescued job is recorded');

-- --- enqueue errors are failed firings too -----------------------------------------------------------
SELECT taskflow.create_rule('copy payload', '{"type": "event", "on": "job_succeeded", "job_type": "big"}',
  '[{"job_type": "copy", "queue": "rs_out", "payload": {"p": "{{ $.event.job.payload }}"}}]', tenant_id => 'rs_b') AS r_big \gset
SELECT taskflow.schedule('big', jsonb_build_object('s', repeat('x', 3000)), queue => 'rs_q', tenant_id => 'rs_b') AS j10 \gset
SELECT pg_temp.take(:j10) AS t10 \gset
SET LOCAL taskflow.max_payload_bytes = 2000;
SELECT is(pg_temp.val(format($$SELECT taskflow.complete(%s, %L)$$, :j10, :'t10')), 'SUCCEEDED',
  'a follow-up whose payload would be too large does not fail the completion');
SELECT matches(pg_temp.firing(:r_big), '^t\|0\|54000\|\{\{ \$\.event\.job\.payload \}\} selects [0-9]+ bytes, more than a payload may hold',
  'the firing is refused (54000) before its payload is rendered');
RESET taskflow.max_payload_bytes;

-- --- rendering is bounded per call --------------------------------------------------------------------
SELECT taskflow.create_rule('amplify', '{"type": "webhook", "secret": null, "key": "rs-amplify-key-0123456789abc"}',
  jsonb_build_array(jsonb_build_object('job_type', 'amp', 'queue', 'rs_out', 'payload',
    (SELECT jsonb_object_agg('k' || i, '{{ $.event.body }}') FROM generate_series(1, 200) i)))) AS r_amp \gset
SELECT is(pg_temp.val($$SELECT count(*) FROM taskflow.handle_webhook('rs-amplify-key-0123456789abc', to_jsonb(repeat('y', 100000))::text)$$),
  '0', 'a webhook whose 200 placeholders would copy a 100 kB body 200 times creates no job and does not fail');
SELECT matches(pg_temp.firing(:r_amp), '^t\|0\|54000\|actions\[0\]\.payload\.k[0-9]+: the filled payload would be larger than 1048576 bytes',
  'the firing is refused with 54000 as soon as the rendered payload passes taskflow.max_payload_bytes');
SET LOCAL taskflow.max_rule_render_bytes = 150000;
SELECT is(pg_temp.val($$SELECT count(*) FROM taskflow.handle_webhook('rs-amplify-key-0123456789abc', to_jsonb(repeat('y', 100000))::text)$$),
  '0', 'with a small taskflow.max_rule_render_bytes the call stops earlier');
SELECT matches(pg_temp.firing(:r_amp), '^t\|0\|54000\|.*taskflow\.max_rule_render_bytes',
  'and records the render budget as the reason');
RESET taskflow.max_rule_render_bytes;

-- --- "for_each": "tenant" is for admins ---------------------------------------------------------------
SELECT taskflow.upsert_tenant('rs_a', '{"secret": "a"}');
SELECT taskflow.upsert_tenant('rs_b', '{"secret": "b"}');
SELECT is(pg_temp.attempt('rs_role_a', $$SELECT taskflow.create_rule('fan out', '{"type": "webhook", "for_each": "tenant"}',
    '[{"job_type": "x", "queue": "rs_out", "payload": {"s": "{{ $.tenant.attributes.secret }}"}}]')$$),
  '42501: permission denied for "for_each": "tenant": this role is confined to tenant "rs_a"',
  'a tenant role cannot create a rule that fires for every tenant');
SET LOCAL ROLE rs_role_a;
SELECT taskflow.create_rule('mine', '{"type": "webhook"}',
  '[{"job_type": "mine", "queue": "rs_out", "payload": {"t": "{{ $.tenant }}"}}]') AS r_mine \gset
RESET ROLE;
-- fired by the extension owner, as pg_cron fires cron rules
SELECT array_agg(id) AS mine_jobs FROM taskflow.fire_rule(:r_mine) AS f(id) \gset
SELECT is((SELECT string_agg(tenant_id || ' ' || payload::text, ', ') FROM taskflow.jobs WHERE id = ANY(:'mine_jobs'::bigint[])),
  'rs_a {"t": {"id": "rs_a", "attributes": {"secret": "a"}}}',
  'a tenant''s rule fired by the extension owner acts for its own tenant only, with only its attributes');
SELECT is(pg_temp.attempt('rs_role_a', format($$SELECT taskflow.alter_rule(%s, trigger => '{"type": "webhook", "for_each": "tenant"}')$$, :r_mine)),
  '42501: permission denied for "for_each": "tenant": this role is confined to tenant "rs_a"',
  'nor alter its rule into one');
SELECT taskflow.create_rule('admin fan out', '{"type": "cron", "schedule": "0 7 * * *", "for_each": "tenant"}',
  '[{"job_type": "x", "queue": "rs_out"}]', tenant_id => 'rs_a') AS r_admin_fe \gset
SELECT pass('an admin creates a for_each rule');
SELECT is(pg_temp.attempt('rs_role_a', format($$SELECT taskflow.alter_rule(%s, actions => '[{"job_type": "y", "queue": "rs_out", "payload": {"s": "{{ $.tenant.attributes.secret }}"}}]')$$, :r_admin_fe)),
  '42501: permission denied for "for_each": "tenant": this role is confined to tenant "rs_a"',
  'a tenant role cannot change the actions of an admin''s for_each rule in its tenant');
SELECT is(pg_temp.attempt('rs_role_a', format('SELECT taskflow.disable_rule(%s)', :r_admin_fe)), 'ok',
  'but may still disable it');

-- --- the chain depth is carried on the job ------------------------------------------------------------
SELECT taskflow.create_rule('loop', '{"type": "event", "on": "job_succeeded", "job_type": "loop"}',
  '[{"job_type": "loop", "queue": "rs_q"}]', tenant_id => 'rs_loop') AS r_loop \gset
SET LOCAL taskflow.max_chain_depth = 3;
SELECT taskflow.schedule('loop', queue => 'rs_q', tenant_id => 'rs_loop') AS c0 \gset
CREATE TEMP TABLE chain (n int, id bigint);
INSERT INTO chain VALUES (0, :c0);
-- Completes the newest job of the chain, then deletes it (as the Cleaner would): no ancestor is
-- left to count.
CREATE FUNCTION pg_temp.step(n int) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  cur bigint := (SELECT id FROM chain WHERE chain.n = step.n - 1);
  tok uuid := pg_temp.take(cur);
BEGIN
  PERFORM taskflow.complete(cur, tok);
  INSERT INTO chain SELECT step.n, j.id FROM taskflow.jobs j WHERE j.parent_job_id = cur AND j.job_type = 'loop';
  DELETE FROM taskflow.job_events WHERE job_id = cur;
  DELETE FROM taskflow.job_attempts WHERE job_id = cur;
  DELETE FROM taskflow.jobs WHERE id = cur;
END
$$;
SELECT pg_temp.step(1);
SELECT pg_temp.step(2);
SELECT pg_temp.step(3);
SELECT is((SELECT array_agg(j.chain_depth ORDER BY c.n) FROM chain c JOIN taskflow.jobs j ON j.id = c.id), ARRAY[3],
  'the follow-up three generations down carries chain_depth 3 although its ancestors are deleted');
SELECT taskflow.schedule('child', queue => 'rs_q', parent_job_id => (SELECT id FROM chain WHERE n = 3)) AS child \gset
SELECT is((SELECT chain_depth FROM taskflow.jobs WHERE id = :child), 4, 'a job scheduled with a parent also carries the parent''s depth + 1');
SELECT pg_temp.step(4);
SELECT is((SELECT count(*) FROM chain WHERE n = 4), 0::bigint,
  'the fourth generation is not created: the chain stops at taskflow.max_chain_depth');
SELECT is((SELECT ROW(chain_depth, error_sqlstate, error)::text FROM taskflow.rule_firings WHERE rule_id = :r_loop ORDER BY id DESC LIMIT 1),
  ROW(4, '54000', 'chain too deep: the follow-up jobs would be 4 levels below the first job, taskflow.max_chain_depth is 3')::text,
  'the refused firing says why');

SELECT * FROM finish();
ROLLBACK;
