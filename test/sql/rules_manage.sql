-- Automation rules, management: create/alter/enable/disable/drop/list, the tenant registry,
-- every creation error (and that nothing is created), pg_cron kept in step in the same
-- transaction, the refusal without pg_cron, privileges.
BEGIN;
SELECT plan(72);

\ir helpers.psql
CREATE FUNCTION pg_temp.cron_of(rule bigint) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(j.schedule || ' | ' || j.command || ' | ' || j.database, '; ')
  FROM cron.job j WHERE j.jobname = 'taskflow-rule-' || rule
$$;
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
  SELECT (SELECT count(*) FROM taskflow.automation_rules) || ' rules, ' ||
         (SELECT count(*) FROM cron.job WHERE jobname LIKE 'taskflow-rule-%') || ' cron jobs'
$$;

-- --- tenants ----------------------------------------------------------------------------------
SELECT lives_ok($$SELECT taskflow.upsert_tenant('t_acme', '{"plan": "pro"}')$$, 'upsert_tenant registers a tenant');
SELECT is((SELECT attributes FROM taskflow.tenants WHERE id = 't_acme'), '{"plan": "pro"}'::jsonb, 'with its attributes');
SELECT taskflow.upsert_tenant('t_acme', '{"plan": "free", "seats": 3}');
SELECT is((SELECT attributes FROM taskflow.tenants WHERE id = 't_acme'), '{"plan": "free", "seats": 3}'::jsonb,
  'upsert_tenant again replaces the attributes');
SELECT is((SELECT count(*) FROM taskflow.tenants WHERE id = 't_acme'), 1::bigint, 'and keeps one row');
SELECT ok((SELECT updated_at >= created_at FROM taskflow.tenants WHERE id = 't_acme'), 'created_at and updated_at are kept');
SELECT taskflow.upsert_tenant('t_bare');
SELECT is((SELECT attributes FROM taskflow.tenants WHERE id = 't_bare'), '{}'::jsonb, 'attributes default to {}');
SELECT alike(pg_temp.error_of($$SELECT taskflow.upsert_tenant('t_x', '[1]')$$), '22023: attributes must be a JSON object%',
  'attributes that are not an object: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.upsert_tenant('', '{}')$$), '22023: tenant_id must not be empty%',
  'an empty tenant_id: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.upsert_tenant(E'a\nb')$$), '22023: tenant_id must not contain control characters%',
  'a tenant_id with a control character: 22023');

-- --- create_rule ----------------------------------------------------------------------------------
SELECT pg_temp.counts() AS before \gset
SELECT taskflow.create_rule('nightly', '{"type": "cron", "schedule": "0 7 * * *"}',
  '[{"job_type": "report.build", "payload": {"day": "{{ $.now.date }}"}}]') AS r_cron \gset
SELECT is((SELECT ROW(tenant_id, name, trigger, condition, actions, enabled, trigger_type, cron_schedule)::text
           FROM taskflow.automation_rules WHERE id = :r_cron),
  ROW('default', 'nightly', '{"type": "cron", "schedule": "0 7 * * *"}'::jsonb, NULL::text,
      '[{"job_type": "report.build", "payload": {"day": "{{ $.now.date }}"}}]'::jsonb, true, 'cron', '0 7 * * *')::text,
  'create_rule stores the rule, enabled, for tenant default');
SELECT is(pg_temp.cron_of(:r_cron), '0 7 * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'a cron rule gets one pg_cron job taskflow-rule-<id> running fire_rule(<id>) in this database');

SELECT taskflow.create_rule('hook', '{"type": "webhook"}', '[{"job_type": "hook.in"}]',
  condition => '$.event.body.kind == "order"', tenant_id => 't_acme') AS r_hook \gset
SELECT is((SELECT tenant_id || ' ' || condition FROM taskflow.automation_rules WHERE id = :r_hook),
  't_acme $.event.body.kind == "order"', 'create_rule stores tenant_id and condition');
SELECT is(pg_temp.cron_of(:r_hook), NULL, 'a webhook rule has no pg_cron job');
SELECT taskflow.create_rule('after', '{"type": "event", "on": "job_failed", "queue": "default"}',
  '[{"job_type": "alert"}]') AS r_event \gset
SELECT is((SELECT ROW(event_on, event_job_type, event_queue)::text FROM taskflow.automation_rules WHERE id = :r_event),
  ROW('job_failed', NULL::text, 'default')::text, 'an event rule stores its event and narrowing');

-- errors: each refused with a clear message, and nothing is created
SELECT pg_temp.counts() AS before \gset
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "cron", "schedule": "61 * * * *"}', '[{"job_type": "a"}]')$$),
  '22023: invalid cron schedule: minute field "61"%', 'an invalid cron expression: 22023 naming the field');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "cron", "schedule": "* * *"}', '[{"job_type": "a"}]')$$),
  '22023: invalid cron schedule "* * *": expected 5 fields%', 'a cron expression with 3 fields: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "sometimes"}', '[{"job_type": "a"}]')$$),
  '22023: trigger.type must be cron, webhook or event%', 'an unknown trigger type: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "event", "on": "job_started"}', '[{"job_type": "a"}]')$$),
  '22023: trigger.on must be one of job_succeeded, job_failed, job_dead, job_cancelled%', 'an unknown event: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook", "key": "too-short"}', '[{"job_type": "a"}]')$$),
  '22023: trigger.key must be 22 to 200 characters long%', 'a short webhook key: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "cron", "schedule": "* * * * *"}', '[{"job_type": "a"}]', condition => '$.a ==')$$),
  '22023: condition is not a valid jsonpath: %', 'an invalid jsonpath condition: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "payload": {"v": "{{ $.a[ }}"}}]')$$),
  '22023: placeholder {{ $.a[ }} is not a valid jsonpath: %', 'an invalid jsonpath in a placeholder: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "payload": {"v": "{{ $.a "}}]')$$),
  '22023: actions[0].payload.v: "{{" without a closing "}}"%', 'an unclosed placeholder: 22023 naming the field');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "queue": "t_no_such_queue"}]')$$),
  '42704: queue "t_no_such_queue" does not exist HINT: Create it first%', 'an unknown queue: 42704 with a hint');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "delay": "soon"}]')$$),
  '22023: delay "soon" is not a valid interval%', 'a delay that is not an interval: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "delay": "-5 minutes"}]')$$),
  '22023: delay "-5 minutes" is negative%', 'a negative delay: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[]')$$),
  '22023: actions must contain at least one job template%', 'no actions: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', '{"type": "webhook"}', '[{"job_type": "a", "retries": 3}]')$$),
  '22023: actions[0]: unknown key "retries"%', 'an unknown action key: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('', '{"type": "webhook"}', '[{"job_type": "a"}]')$$),
  '22023: rule name must not be empty%', 'an empty name: 22023');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('nightly', '{"type": "cron", "schedule": "* * * * *"}', '[{"job_type": "a"}]')$$),
  '42710: rule "nightly" already exists for tenant "default"%', 'a duplicate name in the same tenant: 42710');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('x', NULL, '[{"job_type": "a"}]')$$),
  '22004: %', 'a NULL trigger: 22004');
SELECT is(pg_temp.counts(), :'before', 'the refused creations created no rule and no pg_cron job');
SELECT lives_ok($$SELECT taskflow.create_rule('nightly', '{"type": "webhook"}', '[{"job_type": "a"}]', tenant_id => 't_acme')$$,
  'the same name in another tenant is fine');

-- --- alter_rule -----------------------------------------------------------------------------------
SELECT taskflow.alter_rule(:r_cron, trigger => '{"type": "cron", "schedule": "*/5 * * * *"}');
SELECT is(pg_temp.cron_of(:r_cron), '*/5 * * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'alter_rule with a new schedule updates the pg_cron job in place');
SELECT is((SELECT count(*) FROM cron.job WHERE jobname = 'taskflow-rule-' || :r_cron), 1::bigint, 'still one pg_cron job');
SELECT taskflow.alter_rule(:r_cron, name => 'every five', condition => '$.now.hour >= 6');
SELECT is((SELECT name || ' / ' || condition || ' / ' || (actions -> 0 ->> 'job_type') FROM taskflow.automation_rules WHERE id = :r_cron),
  'every five / $.now.hour >= 6 / report.build', 'alter_rule changes what is given and leaves NULL fields unchanged');
SELECT taskflow.alter_rule(:r_cron, condition => '');
SELECT is((SELECT condition FROM taskflow.automation_rules WHERE id = :r_cron), NULL, 'condition => '''' removes the condition');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.alter_rule(%s, trigger => '{"type": "cron", "schedule": "* * * * 9"}')$$, :r_cron)),
  '22023: invalid cron schedule: day-of-week field%', 'alter_rule refuses an invalid schedule');
SELECT is(pg_temp.cron_of(:r_cron), '*/5 * * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'and the refused alter changed nothing');
SELECT alike(pg_temp.error_of($$SELECT taskflow.alter_rule(-1, name => 'x')$$), '42704: rule -1 does not exist%', 'alter_rule of a missing rule: 42704');

-- turning a cron rule into a webhook rule removes its cron job; and back
SELECT taskflow.alter_rule(:r_cron, trigger => '{"type": "webhook"}');
SELECT is(pg_temp.cron_of(:r_cron), NULL, 'a cron rule changed to a webhook rule loses its pg_cron job');
SELECT ok((SELECT webhook_key IS NOT NULL AND webhook_secret IS NOT NULL FROM taskflow.automation_rules WHERE id = :r_cron),
  'and gets a webhook key and secret');
SELECT taskflow.alter_rule(:r_cron, trigger => '{"type": "cron", "schedule": "0 * * * *"}');
SELECT is(pg_temp.cron_of(:r_cron), '0 * * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'and changed back to cron it gets its pg_cron job again');
SELECT ok((SELECT webhook_key IS NULL FROM taskflow.automation_rules WHERE id = :r_cron), 'and no longer has a webhook key');

-- --- enable, disable, drop ---------------------------------------------------------------------------
SELECT taskflow.disable_rule(:r_cron);
SELECT is((SELECT enabled FROM taskflow.automation_rules WHERE id = :r_cron), false, 'disable_rule disables');
SELECT is(pg_temp.cron_of(:r_cron), NULL, 'and removes the pg_cron job in the same transaction');
SELECT taskflow.disable_rule(:r_cron);
SELECT is(pg_temp.cron_of(:r_cron), NULL, 'disabling twice is harmless');
SELECT taskflow.enable_rule(:r_cron);
SELECT is((SELECT enabled FROM taskflow.automation_rules WHERE id = :r_cron), true, 'enable_rule enables');
SELECT is(pg_temp.cron_of(:r_cron), '0 * * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'and schedules the pg_cron job again');
SELECT alike(pg_temp.error_of($$SELECT taskflow.enable_rule(-1)$$), '42704: rule -1 does not exist%', 'enable_rule of a missing rule: 42704');
SELECT alike(pg_temp.error_of($$SELECT taskflow.disable_rule(-1)$$), '42704: rule -1 does not exist%', 'disable_rule of a missing rule: 42704');

-- a rolled-back change leaves rule and pg_cron job as they were
SAVEPOINT before_drop;
SELECT taskflow.drop_rule(:r_cron);
SELECT is((SELECT count(*) FROM taskflow.automation_rules WHERE id = :r_cron), 0::bigint, 'drop_rule deletes the rule');
SELECT is(pg_temp.cron_of(:r_cron), NULL, 'and its pg_cron job');
ROLLBACK TO SAVEPOINT before_drop;
SELECT is(pg_temp.cron_of(:r_cron), '0 * * * * | SELECT taskflow.fire_rule(' || :r_cron || ') | ' || current_database(),
  'a rolled-back drop_rule keeps rule and pg_cron job together');
SELECT taskflow.fire_rule(:r_cron);
SELECT taskflow.drop_rule(:r_cron);
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r_cron), 1::bigint, 'the firings of a dropped rule stay for the audit');
SELECT alike(pg_temp.error_of(format('SELECT taskflow.drop_rule(%s)', :r_cron)), '42704: rule % does not exist%', 'drop_rule of a missing rule: 42704');

-- --- list_rules -------------------------------------------------------------------------------------
SELECT is((SELECT array_agg(name ORDER BY name) FROM taskflow.list_rules(tenant_id => 't_acme')), ARRAY['hook', 'nightly'],
  'list_rules filters by tenant');
SELECT is((SELECT array_agg(rule_id) FROM taskflow.list_rules(trigger_type => 'event')), ARRAY[:r_event::bigint],
  'list_rules filters by trigger type');
SELECT is((SELECT trigger FROM taskflow.list_rules() WHERE rule_id = :r_hook), '{"type": "webhook"}'::jsonb,
  'list_rules never shows the webhook key or secret');
SELECT taskflow.disable_rule(:r_event);
SELECT is((SELECT count(*) FROM taskflow.list_rules(enabled => false) WHERE rule_id = :r_event), 1::bigint,
  'list_rules filters by enabled');

-- --- without pg_cron -------------------------------------------------------------------------------
SAVEPOINT no_cron;
DROP EXTENSION pg_cron;
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('c', '{"type": "cron", "schedule": "0 7 * * *"}', '[{"job_type": "a"}]')$$),
  '55000: cron triggers need the pg_cron extension% HINT: Install pg_cron (Debian: apt-get install postgresql-15-cron)%CREATE EXTENSION pg_cron%',
  'without pg_cron a cron rule is refused (55000) with a hint saying how to install it');
SELECT is((SELECT count(*) FROM taskflow.automation_rules WHERE name = 'c'), 0::bigint, 'and not created');
SELECT lives_ok($$SELECT taskflow.create_rule('w', '{"type": "webhook"}', '[{"job_type": "a"}]')$$,
  'webhook rules still work without pg_cron');
SELECT lives_ok($$SELECT taskflow.create_rule('e', '{"type": "event", "on": "job_dead"}', '[{"job_type": "a"}]')$$,
  'event rules still work without pg_cron');
SELECT lives_ok(format('SELECT taskflow.drop_rule(%s)', :r_hook), 'dropping a rule works without pg_cron');
ROLLBACK TO SAVEPOINT no_cron;

-- --- privileges --------------------------------------------------------------------------------------
SELECT ok(has_function_privilege('taskflow_webhook', 'taskflow.handle_webhook(text, text, text, text, text)', 'EXECUTE')
  AND has_function_privilege('taskflow_client', 'taskflow.handle_webhook(text, text, text, text, text)', 'EXECUTE')
  AND has_function_privilege('taskflow_admin', 'taskflow.handle_webhook(text, text, text, text, text)', 'EXECUTE'),
  'handle_webhook is granted to taskflow_webhook, taskflow_client and taskflow_admin');
SELECT ok(pg_temp.may_execute_none('taskflow_webhook',
    'taskflow.create_rule(text, jsonb, jsonb, text, text)',
    'taskflow.fire_rule(bigint, jsonb)',
    'taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text, bigint[], text)')
  AND NOT has_table_privilege('taskflow_webhook', 'taskflow.automation_rules', 'SELECT'),
  'taskflow_webhook can do nothing else');
SELECT ok(pg_temp.may_execute_none('taskflow_client', 'taskflow.fire_rule(bigint, jsonb)', 'taskflow.upsert_tenant(text, jsonb)')
  AND pg_temp.may_execute_none('taskflow_worker',
    'taskflow.create_rule(text, jsonb, jsonb, text, text)', 'taskflow.fire_rule(bigint, jsonb)'),
  'workers do not manage rules; clients (confined to their tenant) do not fire rules or register tenants');
SELECT ok(pg_temp.may_execute('taskflow_admin',
    'taskflow.create_rule(text, jsonb, jsonb, text, text)',
    'taskflow.alter_rule(bigint, text, jsonb, jsonb, text)',
    'taskflow.drop_rule(bigint)',
    'taskflow.webhook_credentials(bigint)',
    'taskflow.upsert_tenant(text, jsonb)',
    'taskflow.list_rules(text, text, boolean)'),
  'admins manage rules and tenants');
SELECT ok(has_table_privilege('taskflow_admin', 'taskflow.rule_firings', 'SELECT')
  AND has_table_privilege('taskflow_admin', 'taskflow.tenants', 'SELECT')
  AND has_column_privilege('taskflow_admin', 'taskflow.automation_rules', 'name', 'SELECT')
  AND NOT has_column_privilege('taskflow_admin', 'taskflow.automation_rules', 'webhook_secret', 'SELECT'),
  'admins read rules, firings and tenants, but webhook secrets only through webhook_credentials');
SELECT ok(NOT has_table_privilege('taskflow_admin', 'taskflow.automation_rules', 'INSERT')
  AND NOT has_table_privilege('taskflow_admin', 'taskflow.rule_firings', 'DELETE'),
  'nobody writes the rule tables directly');

-- used by an admin role in practice
CREATE ROLE t_rules_admin LOGIN IN ROLE taskflow_admin;
SET ROLE t_rules_admin;
SELECT lives_ok($$SELECT taskflow.create_rule('by admin', '{"type": "cron", "schedule": "15 3 * * *"}', '[{"job_type": "a"}]')$$,
  'an admin role creates a cron rule (pg_cron is scheduled by the extension owner)');
RESET ROLE;
SELECT is((SELECT username FROM cron.job j JOIN taskflow.automation_rules r ON j.jobname = 'taskflow-rule-' || r.id WHERE r.name = 'by admin'),
  current_user::text, 'the pg_cron job runs as the extension owner');

SELECT * FROM finish();
ROLLBACK;
