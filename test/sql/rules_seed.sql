-- The seed's example, as written: "Every day at 07:00, for each tenant with plan = pro, enqueue a
-- RecalculateBilling job if their usage changed." Plus fire_rule and the context every rule sees,
-- and the audit rows in taskflow.rule_firings.
BEGIN;
SELECT plan(24);
SET LOCAL TimeZone = 'UTC';  -- the context's now.ts is always written at UTC

\ir helpers.psql

-- Registered tenants: "usage changed" means usage differs from the usage last billed.
SELECT taskflow.upsert_tenant('seed_a', '{"plan": "pro",  "usage": 120, "billed_usage": 100}');  -- pro, changed
SELECT taskflow.upsert_tenant('seed_b', '{"plan": "pro",  "usage": 80,  "billed_usage": 80}');   -- pro, unchanged
SELECT taskflow.upsert_tenant('seed_c', '{"plan": "free", "usage": 50,  "billed_usage": 10}');   -- not pro
SELECT taskflow.upsert_tenant('seed_d', '{"plan": "pro",  "usage": 7}');                         -- pro, never billed
SELECT taskflow.upsert_tenant('seed_e', '{"usage": 5, "billed_usage": 1}');                      -- no plan
SELECT taskflow.create_queue('billing');

SELECT taskflow.create_rule(
  name      => 'recalculate billing',
  trigger   => '{"type": "cron", "schedule": "0 7 * * *", "for_each": "tenant"}',
  condition => '$.tenant.attributes.plan == "pro" && $.tenant.attributes.usage != $.tenant.attributes.billed_usage',
  actions   => '[{"job_type": "RecalculateBilling", "queue": "billing",
                  "payload": {"tenant": "{{ $.tenant.id }}", "usage": "{{ $.tenant.attributes.usage }}"},
                  "unique_key": "billing-{{ $.tenant.id }}-{{ $.now.date }}"}]') AS r \gset

SELECT is((SELECT schedule || ' ' || command FROM cron.job WHERE jobname = 'taskflow-rule-' || :r),
  '0 7 * * * SELECT taskflow.fire_rule(' || :r || ')', 'the rule is scheduled every day at 07:00 through pg_cron');

-- What pg_cron runs at 07:00:
SELECT array_agg(id ORDER BY id) AS ids FROM taskflow.fire_rule(:r) AS t(id) \gset
SELECT is((SELECT array_agg(tenant_id ORDER BY tenant_id) FROM taskflow.jobs WHERE id = ANY(:'ids'::bigint[])),
  ARRAY['seed_a'], 'only the pro tenant whose usage changed gets a job');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'RecalculateBilling'), 1::bigint, 'and no other tenant does');
SELECT is((SELECT ROW(job_type, queue, state::text, payload, unique_key)::text FROM taskflow.jobs WHERE id = (:'ids'::bigint[])[1]),
  ROW('RecalculateBilling', 'billing', 'PENDING', '{"tenant": "seed_a", "usage": 120}'::jsonb,
      'billing-seed_a-' || to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD'))::text,
  'the job has the filled payload (typed values) and unique key');
SELECT is((SELECT actor FROM taskflow.job_events WHERE job_id = (:'ids'::bigint[])[1]), 'rule:' || :r,
  'the job''s creation event names the rule');

-- the audit: one firing per registered tenant
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r), 5::bigint, 'one firing row per registered tenant');
SELECT is((SELECT array_agg(tenant_id || ':' || matched || ':' || cardinality(job_ids) ORDER BY tenant_id)
           FROM taskflow.rule_firings WHERE rule_id = :r),
  ARRAY['seed_a:true:1', 'seed_b:false:0', 'seed_c:false:0', 'seed_d:false:0', 'seed_e:false:0'],
  'each records whether the condition matched and the jobs created');
SELECT is((SELECT job_ids FROM taskflow.rule_firings WHERE rule_id = :r AND tenant_id = 'seed_a'), :'ids'::bigint[],
  'the firing records the job ids');
SELECT is((SELECT ROW(source, actor, error, context)::text FROM taskflow.rule_firings WHERE rule_id = :r AND tenant_id = 'seed_a'),
  ROW('fire_rule', current_user::text, NULL::text, '{"tenant": "seed_a", "event": {}}'::jsonb)::text,
  'with source, actor, no error and a context summary');
SELECT ok((SELECT bool_and(fired_at = now()) FROM taskflow.rule_firings WHERE rule_id = :r), 'and the time it fired');

-- a second firing the same day: the unique key returns the same job, nothing new
SELECT array_agg(id) AS again FROM taskflow.fire_rule(:r) AS t(id) \gset
SELECT is(:'again'::bigint[], :'ids'::bigint[], 'firing again the same day finds the job by its unique key');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE job_type = 'RecalculateBilling'), 1::bigint, 'no duplicate job');

-- usage billed: next firing creates nothing; usage changes again: a job for that tenant
SELECT taskflow.upsert_tenant('seed_a', '{"plan": "pro", "usage": 120, "billed_usage": 120}');
SELECT taskflow.upsert_tenant('seed_b', '{"plan": "pro", "usage": 95, "billed_usage": 80}');
SELECT array_agg(id) AS third FROM taskflow.fire_rule(:r) AS t(id) \gset
SELECT is((SELECT array_agg(tenant_id) FROM taskflow.jobs WHERE id = ANY(:'third'::bigint[])), ARRAY['seed_b'],
  'the rule follows the registry: now only seed_b gets a job');

-- --- fire_rule and the context --------------------------------------------------------------------
SELECT taskflow.create_rule('ctx', '{"type": "cron", "schedule": "@daily"}',
  '[{"job_type": "ctx.dump", "payload": {"event": "{{ $.event }}", "tenant": "{{ $.tenant }}", "rule": "{{ $.rule }}",
     "now": "{{ $.now }}", "line": "{{ $.rule.name }} at {{ $.now.hour }}:{{ $.now.minute }} on day {{ $.now.dow }}"}}]',
  tenant_id => 'seed_c') AS rc \gset
SELECT taskflow.fire_rule(:rc, '{"reason": "manual", "n": 3}') AS jc \gset
SELECT payload AS p FROM taskflow.jobs WHERE id = :jc \gset
SELECT is(:'p'::jsonb -> 'event', '{"reason": "manual", "n": 3}'::jsonb, 'fire_rule''s context argument is the context''s event');
SELECT is(:'p'::jsonb -> 'tenant', '{"id": "seed_c", "attributes": {"plan": "free", "usage": 50, "billed_usage": 10}}'::jsonb,
  'without for_each the tenant is the rule''s own, with its registered attributes');
SELECT is(:'p'::jsonb -> 'rule', jsonb_build_object('id', :rc, 'name', 'ctx'), 'the rule''s id and name');
SELECT is(:'p'::jsonb -> 'now', jsonb_build_object('ts', now(), 'hour', extract(hour FROM now() AT TIME ZONE 'UTC')::int,
    'minute', extract(minute FROM now() AT TIME ZONE 'UTC')::int, 'dow', extract(dow FROM now() AT TIME ZONE 'UTC')::int,
    'date', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')),
  'now: ts, and hour, minute, dow, date in UTC');
SELECT is(:'p'::jsonb ->> 'line', format('ctx at %s:%s on day %s', extract(hour FROM now() AT TIME ZONE 'UTC')::int,
    extract(minute FROM now() AT TIME ZONE 'UTC')::int, extract(dow FROM now() AT TIME ZONE 'UTC')::int),
  'placeholders inside a longer string are filled as text');
SELECT is((SELECT tenant_id FROM taskflow.jobs WHERE id = :jc), 'seed_c', 'the job belongs to the rule''s tenant');

SELECT taskflow.create_rule('unregistered', '{"type": "webhook"}', '[{"job_type": "x", "payload": {"a": "{{ $.tenant.attributes }}"}}]',
  tenant_id => 'nobody') AS ru \gset
SELECT taskflow.fire_rule(:ru) AS ju \gset
SELECT is((SELECT payload FROM taskflow.jobs WHERE id = :ju), '{"a": {}}'::jsonb,
  'a tenant that is not registered has empty attributes');

SELECT taskflow.disable_rule(:rc);
SELECT alike(pg_temp.error_of(format('SELECT taskflow.fire_rule(%s)', :rc)), '55000: rule % is disabled HINT: Enable it first%',
  'fire_rule of a disabled rule: 55000 with a hint');
SELECT alike(pg_temp.error_of('SELECT taskflow.fire_rule(-7)'), '42704: rule -7 does not exist%', 'fire_rule of a missing rule: 42704');

-- large events are summarized in the audit
SELECT taskflow.enable_rule(:rc);
SELECT taskflow.fire_rule(:rc, jsonb_build_object('id', 'big-1', 'blob', repeat('x', 5000), 'list', jsonb_build_array(1, 2)));
SELECT is((SELECT context FROM taskflow.rule_firings WHERE rule_id = :rc ORDER BY id DESC LIMIT 1),
  '{"tenant": "seed_c", "event": {"id": "big-1", "truncated": true}}'::jsonb,
  'a large event is cut to its short scalar fields in the audit');

-- for_each over no tenants fires nothing (and records nothing)
DELETE FROM taskflow.tenants;
SELECT is((SELECT count(*) FROM taskflow.fire_rule(:r)), 0::bigint, 'for_each with no registered tenant creates no job');

SELECT * FROM finish();
ROLLBACK;
