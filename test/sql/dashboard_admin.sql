-- Dashboard, admin views (sql/src/075_dashboard_admin.sql): queues with their settings and edits
-- validated by the extension, rules with firings and webhook deliveries, tenants with their
-- limits, RUNNING now and share of the last hour; a tenant's role confined to its tenant.
-- Clean slate as in observability_figures.sql, rolled back at the end.
BEGIN;
SELECT plan(53);
\ir helpers.psql

CREATE EXTENSION IF NOT EXISTS pgcrypto;
DELETE FROM taskflow.job_attempts;
DELETE FROM taskflow.job_events;
DELETE FROM taskflow.jobs;
SELECT taskflow.reset_stats();
DELETE FROM taskflow.rule_firings;

CREATE ROLE tda_a;      -- tenant tda_ta
CREATE ROLE tda_b;      -- tenant tda_tb
CREATE ROLE tda_admin;
GRANT taskflow_admin TO tda_admin;
SELECT taskflow.grant_tenant('tda_a', 'tda_ta');
SELECT taskflow.grant_tenant('tda_b', 'tda_tb');
SELECT taskflow.create_queue('tda_q');

-- Runs stmt as role r and returns its first column as text, or the SQLSTATE and message.
CREATE FUNCTION pg_temp.as_role(r name, stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  out text;
BEGIN
  EXECUTE format('SET LOCAL ROLE %I', r);
  BEGIN
    EXECUTE stmt INTO out;
  EXCEPTION WHEN OTHERS THEN
    out := SQLSTATE || ': ' || SQLERRM;
  END;
  RESET ROLE;
  RETURN out;
END
$$;
GRANT EXECUTE ON FUNCTION pg_temp.as_role(name, text) TO PUBLIC;
CREATE FUNCTION pg_temp.q(name text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x FROM jsonb_array_elements(taskflow.dashboard_queues() -> 'queues') x WHERE x ->> 'name' = name
$$;

-- --- queues ---------------------------------------------------------------------------------------
SELECT ok(pg_temp.q('tda_q') IS NOT NULL, 'dashboard_queues lists the queue');
SELECT is(pg_temp.q('tda_q') -> 'retry_policy',
  '{"max_attempts": 5, "strategy": "exponential", "base_delay_ms": 2000, "max_delay_ms": 3600000, "jitter": "full"}'::jsonb,
  'the effective retry policy, in milliseconds');
SELECT is(jsonb_build_array(pg_temp.q('tda_q') -> 'paused', pg_temp.q('tda_q') -> 'concurrency_limit',
                            pg_temp.q('tda_q') -> 'rate_limit', pg_temp.q('tda_q') -> 'pending',
                            pg_temp.q('tda_q') -> 'retry_policy_is_default'),
  '[false, null, null, 0, true]'::jsonb, 'settings and the queue_stats figures of a fresh queue');
SELECT is((pg_temp.q('tda_q') ->> 'effective_lease_ms')::numeric,
  extract(epoch FROM current_setting('taskflow.default_lease')::interval) * 1000,
  'the effective lease is taskflow.default_lease');
-- the figures per queue only: the per-tenant roll-up (one row per tenant, queue and outcome) is not read
SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) AS tenant_scans
FROM pg_stat_xact_user_tables WHERE relid = 'taskflow.stats_tenant'::regclass \gset
SELECT taskflow.dashboard_queues() IS NOT NULL AS read;
SELECT is((SELECT COALESCE(seq_scan, 0) + COALESCE(idx_scan, 0) FROM pg_stat_xact_user_tables
           WHERE relid = 'taskflow.stats_tenant'::regclass), :tenant_scans::bigint,
  'dashboard_queues does not scan stats_tenant (no per-tenant grouping for per-queue figures)');
SELECT alike(pg_temp.as_role('tda_a', 'SELECT taskflow.dashboard_queues()'), '42501:%',
  'a tenant role may not read the queues view');
SELECT alike(pg_temp.as_role('tda_a', $$SELECT taskflow.dashboard_alter_queue('tda_q', '{"paused": true}')$$),
  '42501:%', 'nor change a queue');

SELECT is(taskflow.dashboard_alter_queue('tda_q', '{"priority": 2, "concurrency_limit": 3, "lease_ms": 60000,
    "retry_policy": {"max_attempts": 7, "strategy": "linear", "base_delay_ms": 500}, "rate_limit": {"max_starts": 10, "per_ms": 60000}}')
  - 'created_at' - 'updated_at' - 'name' - 'paused' - 'effective_lease_ms',
  '{"priority": 2, "concurrency_limit": 3, "lease_ms": 60000,
    "retry_policy": {"max_attempts": 7, "strategy": "linear", "base_delay_ms": 500, "max_delay_ms": 3600000, "jitter": "full"},
    "retry_policy_is_default": false, "rate_limit": {"max_starts": 10, "per_ms": 60000}}'::jsonb,
  'dashboard_alter_queue sets every setting and returns them');
SELECT is((SELECT row(priority, concurrency_limit, lease, max_attempts, strategy, base_delay)::text
           FROM taskflow.queues WHERE name = 'tda_q'),
  row(2, 3, interval '1 minute', 7, 'linear', interval '0.5 seconds')::text, 'through alter_queue, into the queue row');
SELECT is((SELECT row(max_starts, period)::text FROM taskflow.rate_limits WHERE scope = 'queue' AND name = 'tda_q'),
  row(10, interval '1 minute')::text, 'and the rate limit through set_rate_limit');

-- validation: the extension's own errors, all or nothing
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"concurrency_limit": 0}')$$),
          pg_temp.outcome($$SELECT taskflow.alter_queue('tda_q', concurrency_limit => 0)$$),
  'a bad concurrency_limit: alter_queue''s SQLSTATE and message');
SELECT alike(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"concurrency_limit": 0}')$$), '22023:%',
  '(which is 22023)');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"retry_policy": {"strategy": "sometimes"}}')$$),
          pg_temp.outcome($$SELECT taskflow.alter_queue('tda_q', retry_policy => '{"strategy": "sometimes"}')$$),
  'a bad retry strategy: alter_queue''s error');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"rate_limit": {"max_starts": 0}}')$$),
          pg_temp.outcome($$SELECT taskflow.set_rate_limit('queue', 'tda_q', 0)$$),
  'a bad rate limit: set_rate_limit''s error');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"colour": "red"}')$$),
  '22023: unknown queue setting "colour"', 'an unknown setting is refused');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"priority": "high"}')$$),
  '22023: priority must be an integer, got "high"', 'a setting of the wrong type is refused');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"paused": "yes"}')$$),
  '22023: paused must be true or false, got "yes"', 'paused must be a boolean');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"lease_ms": -5}')$$),
  '22023: lease_ms must be a number of milliseconds (0 to 10^12), got -5', 'a negative lease');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('no_such_q', '{"paused": true}')$$),
  '42704: queue "no_such_q" does not exist', 'an unknown queue: 42704');
SELECT is(pg_temp.outcome($$SELECT taskflow.dashboard_alter_queue('tda_q', '{"priority": 9, "paused": true, "concurrency_limit": -1}')$$) ~ '^22023',
  true, 'one bad setting refuses the call');
SELECT is((SELECT row(priority, paused)::text FROM taskflow.queues WHERE name = 'tda_q'), row(2, false)::text,
  'and changes nothing (all or nothing)');

-- null: back to the default
SELECT is(taskflow.dashboard_alter_queue('tda_q', '{"concurrency_limit": null, "lease_ms": null, "retry_policy": null, "rate_limit": null}')
          - 'created_at' - 'updated_at' - 'name' - 'paused' - 'effective_lease_ms' - 'priority' - 'retry_policy',
  '{"concurrency_limit": null, "lease_ms": null, "retry_policy_is_default": true, "rate_limit": null}'::jsonb,
  'null returns concurrency_limit, lease, retry policy and rate limit to their defaults');

-- pausing: acquire skips the queue
SELECT taskflow.schedule('tda.job', queue => 'tda_q', tenant_id => 'tda_ta');
SELECT is(taskflow.dashboard_alter_queue('tda_q', '{"paused": true}') -> 'paused', 'true'::jsonb, 'paused');
SELECT is((SELECT count(*) FROM taskflow.acquire('tda-w', ARRAY['tda_q'], 10)), 0::bigint,
  'a paused queue gives acquire nothing');
SELECT is(pg_temp.q('tda_q') -> 'paused', 'true'::jsonb, 'dashboard_queues shows it paused');
SELECT taskflow.dashboard_alter_queue('tda_q', '{"paused": false}');
SELECT is((SELECT count(*) FROM taskflow.acquire('tda-w', ARRAY['tda_q'], 10)), 1::bigint,
  'resumed, acquire takes its job');

-- --- rules ----------------------------------------------------------------------------------------
SELECT taskflow.create_rule('ra', '{"type": "webhook"}', '[{"job_type": "tda.rule", "queue": "tda_q"}]',
  tenant_id => 'tda_ta') AS ra \gset
SELECT taskflow.create_rule('rb', '{"type": "webhook"}', '[{"job_type": "tda.rule", "queue": "tda_q"}]',
  tenant_id => 'tda_tb') AS rb \gset
SELECT taskflow.create_queue('tda_gone');
SELECT taskflow.create_rule('rerr', '{"type": "event", "on": "job_succeeded"}',
  '[{"job_type": "tda.rule", "queue": "tda_gone"}]', tenant_id => 'tda_ta') AS rerr \gset
SELECT taskflow.drop_queue('tda_gone');

SELECT is(pg_temp.as_role('tda_a', $$SELECT string_agg(r ->> 'name', ',' ORDER BY r ->> 'name')
    FROM jsonb_array_elements(taskflow.dashboard_rules() -> 'rules') r$$), 'ra,rerr',
  'a tenant role lists its own rules only');
SELECT is((SELECT count(*) FROM jsonb_array_elements(taskflow.dashboard_rules() -> 'rules') r
           WHERE r ->> 'name' IN ('ra', 'rb', 'rerr')), 3::bigint, 'an admin lists every tenant''s');
SELECT is(pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_fire_rule(%s)', :rb)),
  format('P0002: rule %s does not exist', :rb), 'firing another tenant''s rule: P0002, like a missing one');
SELECT is(pg_temp.as_role('tda_a', 'SELECT taskflow.dashboard_fire_rule(999999999)'),
  'P0002: rule 999999999 does not exist', '(a missing one)');
SELECT is(pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_rule_firings(%s)', :rb)),
  format('P0002: rule %s does not exist', :rb), 'another tenant''s firings: P0002');
SELECT is(pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_webhook_deliveries(%s)', :rb)),
  format('P0002: rule %s does not exist', :rb), 'another tenant''s deliveries: P0002');

SELECT pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_fire_rule(%s)::text', :ra)) AS fired \gset
SELECT is(jsonb_array_length(:'fired'::jsonb -> 'job_ids'), 1, 'fire now: the rule''s job');
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = (:'fired'::jsonb #>> '{job_ids,0}')::bigint), 'tda_ta',
  'for the rule''s tenant');
SELECT is((:'fired'::jsonb #> '{firings,0}') - 'id' - 'fired_at' - 'context' - 'job_ids',
  jsonb_build_object('rule_id', :ra, 'source', 'fire_rule', 'actor', 'tda_a', 'tenant_id', 'tda_ta',
    'outcome', 'created', 'matched', true, 'error', null, 'error_sqlstate', null, 'delivery_id', null,
    'source_job_id', null), 'and the firing it recorded, with the caller as actor');
SELECT is(pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_fire_rule(%s) #>> ''{firings,0,outcome}''', :rerr)),
  'error', 'a firing that fails is recorded with outcome error');
SELECT is((SELECT error_sqlstate IS NOT NULL AND error IS NOT NULL FROM taskflow.rule_firings WHERE rule_id = :rerr),
  true, '(with its error and SQLSTATE)');
SELECT taskflow.disable_rule(:ra);
SELECT alike(pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_fire_rule(%s)', :ra)),
  '55000: rule % is disabled', 'a disabled rule is not fired (55000)');
SELECT taskflow.enable_rule(:ra);

-- firings, keyset pages newest first
SELECT taskflow.dashboard_fire_rule(:ra) FROM generate_series(1, 3);
SELECT pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_rule_firings(%s, max_rows => 3)::text', :ra)) AS p1 \gset
SELECT pg_temp.as_role('tda_a', format('SELECT taskflow.dashboard_rule_firings(%s, %s, 3)::text', :ra,
  (:'p1'::jsonb ->> 'next_after'))) AS p2 \gset
SELECT is(ARRAY(SELECT (f ->> 'id')::bigint FROM jsonb_array_elements(:'p1'::jsonb -> 'firings') f)
          || ARRAY(SELECT (f ->> 'id')::bigint FROM jsonb_array_elements(:'p2'::jsonb -> 'firings') f),
  ARRAY(SELECT id FROM taskflow.rule_firings WHERE rule_id = :ra ORDER BY id DESC),
  'two pages hold every firing of the rule, newest first, none twice');
SELECT is(:'p2'::jsonb -> 'next_after', 'null'::jsonb, 'the last page has no next_after');
SELECT is((SELECT (r #>> '{last_firing,id}')::bigint FROM jsonb_array_elements(taskflow.dashboard_rules() -> 'rules') r
           WHERE (r ->> 'id')::bigint = :ra),
  (SELECT max(id) FROM taskflow.rule_firings WHERE rule_id = :ra), 'the rules view shows the last firing');
SELECT is((SELECT r -> 'firings' FROM jsonb_array_elements(taskflow.dashboard_rules() -> 'rules') r
           WHERE (r ->> 'id')::bigint = :ra), '{"created": 4, "skipped": 0, "error": 0}'::jsonb,
  'and its firing counts');
SELECT alike(pg_temp.outcome(format('SELECT taskflow.dashboard_rule_firings(%s, max_rows => 0)', :ra)), '22023: limit must be%',
  'a page of 0 rows is refused');

-- webhook deliveries
SELECT key, secret FROM taskflow.webhook_credentials(:ra) \gset
SELECT count(*) FROM taskflow.handle_webhook(:'key', '{"n": 1}',
  'sha256=' || encode(hmac('{"n": 1}', :'secret', 'sha256'), 'hex'), 'delivery-1');
SELECT is(pg_temp.as_role('tda_a', $$SELECT string_agg((d ->> 'delivery_id') || ':' || (d ->> 'outcome') || ':' || (d ->> 'rule_name'), ',')
    FROM jsonb_array_elements(taskflow.dashboard_webhook_deliveries() -> 'deliveries') d$$),
  'delivery-1:created:ra', 'a tenant sees its webhook delivery');
SELECT is(pg_temp.as_role('tda_b', $$SELECT jsonb_array_length(taskflow.dashboard_webhook_deliveries() -> 'deliveries')::text$$),
  '0', 'another tenant does not');

-- --- tenants --------------------------------------------------------------------------------------
DELETE FROM taskflow.jobs;
SELECT taskflow.set_tenant_limit('tda_ta', 5);
SELECT taskflow.set_tenant_weight('tda_ta', 3);
SELECT taskflow.set_rate_limit('tenant', 'tda_ta', 100, '1 minute');
SELECT taskflow.schedule('tda.t', queue => 'tda_q', tenant_id => t)
FROM (VALUES ('tda_ta'), ('tda_ta'), ('tda_ta'), ('tda_tb')) v(t);
SELECT count(*) FROM (SELECT taskflow.complete(job_id, lease_token) FROM taskflow.acquire('tda-w', ARRAY['tda_q'], 10)
                      WHERE tenant_id = 'tda_ta' LIMIT 1) c;
CREATE FUNCTION pg_temp.tenant(doc jsonb, t text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT x - 'tenant_id' FROM jsonb_array_elements(doc -> 'tenants') x WHERE x ->> 'tenant_id' = t
$$;
SELECT is(pg_temp.tenant(taskflow.dashboard_tenants(), 'tda_ta'),
  '{"max_running": 5, "weight": 3, "rate_limit": {"max_starts": 100, "per_ms": 60000}, "running": 2,
    "started_1h": 3, "share_1h": 0.75}'::jsonb, 'a tenant''s limits, RUNNING now, starts and share (from the tail)');
SELECT is(pg_temp.tenant(taskflow.dashboard_tenants(), 'tda_tb') - 'rate_limit' - 'max_running',
  '{"weight": 1, "running": 1, "started_1h": 1, "share_1h": 0.25}'::jsonb, 'the other tenant');
SELECT is(taskflow.dashboard_tenants() -> 'started_1h_total', '4'::jsonb, 'the total of the window');
-- the same figures once the finished job is rolled up (and no longer in the tail)
SELECT taskflow._rollup_starts('-infinity', 'infinity');
UPDATE taskflow.stats_watermark SET rolled_up_to = 'infinity';
SELECT is(pg_temp.tenant(taskflow.dashboard_tenants(), 'tda_ta') ->> 'started_1h', '3',
  'rolled up: the same starts, counted once');
SELECT is((SELECT sum(jobs) FROM taskflow.stats_tenant_starts WHERE tenant_id = 'tda_ta'), 1::numeric,
  '(the finished one is in the roll-up)');
SELECT is(pg_temp.as_role('tda_a', 'SELECT taskflow.dashboard_tenants()::text')::jsonb - 'window_start',
  '{"tenants": [{"tenant_id": "tda_ta", "max_running": 5, "weight": 3, "rate_limit": {"max_starts": 100, "per_ms": 60000},
    "running": 2, "started_1h": 3, "share_1h": null}], "started_1h_total": null, "next_after": null}'::jsonb,
  'a tenant role sees itself only, without the share of the others'' work');
SELECT is(taskflow.dashboard_tenants(max_rows => 1) #>> '{tenants,0,tenant_id}',
  (SELECT min(id) FROM taskflow.tenants), 'a page of one tenant');
SELECT is(taskflow.dashboard_tenants(taskflow.dashboard_tenants(max_rows => 1) ->> 'next_after', 1) #>> '{tenants,0,tenant_id}',
  (SELECT id FROM taskflow.tenants ORDER BY id OFFSET 1 LIMIT 1), 'the next page starts after it');

SELECT * FROM finish();
ROLLBACK;
