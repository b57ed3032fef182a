-- Webhook triggers: keys and secrets, HMAC-SHA256 signatures checked in constant time (28000 and
-- nothing enqueued on failure), delivery_id deduplication, unknown and disabled keys refused
-- alike, conditions on the body, templates that cannot be filled.
BEGIN;
SELECT plan(42);
CREATE EXTENSION IF NOT EXISTS pgcrypto;  -- the tests sign bodies the way a sender would

\ir helpers.psql
CREATE FUNCTION pg_temp.sign(body text, secret text) RETURNS text LANGUAGE sql AS $$
  SELECT 'sha256=' || encode(hmac(convert_to(body, 'UTF8'), convert_to(secret, 'UTF8'), 'sha256'), 'hex')
$$;
CREATE FUNCTION pg_temp.jobs() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM taskflow.jobs WHERE job_type LIKE 'wh.%'
$$;

SELECT taskflow.create_rule('orders', '{"type": "webhook"}',
  '[{"job_type": "wh.order", "payload": {"order": "{{ $.event.body.order }}", "delivery": "{{ $.event.delivery_id }}"}}]',
  condition => '$.event.body.kind == "order"') AS r \gset
SELECT key, secret FROM taskflow.webhook_credentials(:r) \gset

-- --- generated credentials -----------------------------------------------------------------------
SELECT ok(:'key' ~ '^[A-Za-z0-9_-]{32}$', 'a generated key is URL-safe base64 of 24 random bytes (192 bits)');
SELECT ok(:'secret' ~ '^[A-Za-z0-9_-]{43}$', 'a generated secret is URL-safe base64 of 32 random bytes');
SELECT taskflow.create_rule('other', '{"type": "webhook"}', '[{"job_type": "wh.other"}]') AS r2 \gset
SELECT isnt((SELECT key FROM taskflow.webhook_credentials(:r2)), :'key', 'each rule gets its own key');
SELECT alike(pg_temp.error_of(format('SELECT * FROM taskflow.webhook_credentials(%s)',
    taskflow.create_rule('cronny', '{"type": "cron", "schedule": "@daily"}', '[{"job_type": "wh.x"}]'))),
  '42704: rule % does not exist or has no webhook trigger%', 'webhook_credentials of a non-webhook rule: 42704');

-- --- signed calls ---------------------------------------------------------------------------------
SELECT array_agg(id) AS ids FROM taskflow.handle_webhook(:'key', '{"kind": "order", "order": 42}',
  pg_temp.sign('{"kind": "order", "order": 42}', :'secret')) AS t(id) \gset
SELECT is(cardinality(:'ids'::bigint[]), 1, 'a correctly signed call creates the job');
SELECT is((SELECT payload FROM taskflow.jobs WHERE id = (:'ids'::bigint[])[1]), '{"order": 42, "delivery": null}'::jsonb,
  'filled from the body');
SELECT is((SELECT ROW(source, matched, job_ids, error)::text FROM taskflow.rule_firings WHERE rule_id = :r),
  ROW('webhook', true, :'ids'::bigint[], NULL::text)::text, 'the firing is recorded as a webhook firing');
SELECT is((SELECT context FROM taskflow.rule_firings WHERE rule_id = :r),
  '{"tenant": "default", "event": {"type": "webhook", "delivery_id": null, "body": {"kind": "order", "order": 42}}}'::jsonb,
  'with the body in its context');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook(:'key', '{"kind":"order","order":43}',
    'sha256=' || upper(substr(pg_temp.sign('{"kind":"order","order":43}', :'secret'), 8))) WHERE true), 1::bigint,
  'the hex digest may be upper case; the signature covers the raw text exactly as sent');

SELECT pg_temp.jobs() AS n0 \gset
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order", "order": 1}', %L)$$,
    :'key', pg_temp.sign('{"kind": "order", "order": 2}', :'secret'))),
  '28000: webhook signature does not match%', 'a signature of another body: 28000');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order", "order": 1}', %L)$$,
    :'key', pg_temp.sign('{"kind": "order", "order": 1}', 'not-the-secret-at-all'))),
  '28000: webhook signature does not match%', 'a signature with another secret: 28000');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind":"order", "order": 1}', %L)$$,
    :'key', pg_temp.sign('{"kind": "order", "order": 1}', :'secret'))),
  '28000: webhook signature does not match%', 'the same JSON with other whitespace does not match: the raw text is signed');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order"}')$$, :'key')),
  '28000: webhook signature is missing HINT: Send signature => ''sha256=''%', 'no signature for a rule with a secret: 28000 with a hint');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order"}', 'sha1=abc')$$, :'key')),
  '28000: webhook signature is malformed%', 'a malformed signature: 28000');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order"}', %L)$$, :'key',
    'md5=' || substr(pg_temp.sign('{"kind": "order"}', :'secret'), 4))),
  '28000: webhook signature is malformed%', 'another algorithm prefix: 28000');
SELECT is(pg_temp.jobs(), :n0::bigint, 'refused calls enqueue nothing');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r), 2::bigint, 'and record no firing');

-- --- unknown and disabled keys are refused alike -----------------------------------------------------
SELECT pg_temp.error_of($$SELECT taskflow.handle_webhook('no-such-key-0000000000000', '{}')$$) AS unknown_err \gset
SELECT taskflow.disable_rule(:r);
SELECT pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order"}', %L)$$,
  :'key', pg_temp.sign('{"kind": "order"}', :'secret'))) AS disabled_err \gset
SELECT alike(:'unknown_err'::text, '28000: webhook key not accepted%', 'an unknown key: 28000');
SELECT is(:'disabled_err'::text, :'unknown_err'::text, 'a disabled rule''s key gets exactly the same answer as an unknown key');
SELECT taskflow.enable_rule(:r);
SELECT is(pg_temp.jobs(), :n0::bigint, 'neither enqueued anything');

-- --- body ---------------------------------------------------------------------------------------------
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, 'kind=order', %L)$$, :'key', pg_temp.sign('kind=order', :'secret'))),
  '22023: webhook body is not valid JSON%', 'a signed body that is not JSON: 22023');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook(:'key', '{"kind": "refund"}', pg_temp.sign('{"kind": "refund"}', :'secret')) WHERE true),
  0::bigint, 'a body that does not meet the condition creates no job');
SELECT is((SELECT matched FROM taskflow.rule_firings WHERE rule_id = :r ORDER BY id DESC LIMIT 1), false,
  'and is recorded as not matched');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook(:'key', '{"kind": "order"}', pg_temp.sign('{"kind": "order"}', :'secret')) WHERE true),
  0::bigint, 'a body without the field a template needs creates no job');
SELECT is((SELECT error FROM taskflow.rule_firings WHERE rule_id = :r ORDER BY id DESC LIMIT 1),
  'actions[0].payload.order: {{ $.event.body.order }} has no value in the context',
  'and the firing records why');

-- --- delivery ids ---------------------------------------------------------------------------------------
SELECT array_agg(id) AS d1 FROM taskflow.handle_webhook(:'key', '{"kind": "order", "order": 7}',
  pg_temp.sign('{"kind": "order", "order": 7}', :'secret'), delivery_id => 'dlv-1') AS t(id) \gset
SELECT is((SELECT payload ->> 'delivery' FROM taskflow.jobs WHERE id = (:'d1'::bigint[])[1]), 'dlv-1', 'the delivery id is in the context');
SELECT pg_temp.jobs() AS n1 \gset
SELECT array_agg(id) AS d1_again FROM taskflow.handle_webhook(:'key', '{"kind": "order", "order": 7}',
  pg_temp.sign('{"kind": "order", "order": 7}', :'secret'), delivery_id => 'dlv-1') AS t(id) \gset
SELECT is(:'d1_again'::bigint[], :'d1'::bigint[], 'a repeated delivery_id returns the ids of the first delivery');
SELECT is(pg_temp.jobs(), :n1::bigint, 'and creates no new job');
SELECT is((SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = :r AND context -> 'event' ->> 'delivery_id' = 'dlv-1'), 1::bigint,
  'and no new firing');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{"kind": "order", "order": 7}', 'sha256=%s', delivery_id => 'dlv-1')$$,
    :'key', repeat('0', 64))),
  '28000: webhook signature does not match%', 'a repeated delivery_id is still checked for its signature first');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook(:'key', '{"kind": "order", "order": 8}',
    pg_temp.sign('{"kind": "order", "order": 8}', :'secret'), delivery_id => 'dlv-2') WHERE true), 1::bigint,
  'another delivery_id creates its job');
SELECT key AS key2, secret AS secret2 FROM taskflow.webhook_credentials(:r2) \gset
SELECT is((SELECT count(*) FROM taskflow.handle_webhook(:'key2', '{}', pg_temp.sign('{}', :'secret2'), delivery_id => 'dlv-1') WHERE true),
  1::bigint, 'delivery ids are per rule: the same id on another rule is a new delivery');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, '{}', %L, delivery_id => '')$$, :'key2', pg_temp.sign('{}', :'secret2'))),
  '22023: delivery_id must be 1 to 200 characters long%', 'an empty delivery_id: 22023');

-- --- given key and secret, unsigned rules -----------------------------------------------------------------
SELECT taskflow.create_rule('given', '{"type": "webhook", "key": "my-own-key-abcdefghijkl", "secret": "my-own-secret-123"}',
  '[{"job_type": "wh.given"}]') AS r3 \gset
SELECT is((SELECT ROW(key, secret)::text FROM taskflow.webhook_credentials(:r3)), ROW('my-own-key-abcdefghijkl', 'my-own-secret-123')::text,
  'a key and secret given in the trigger are used');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook('my-own-key-abcdefghijkl', '[1, 2]', pg_temp.sign('[1, 2]', 'my-own-secret-123')) WHERE true),
  1::bigint, 'any JSON body is accepted, not only objects');
SELECT alike(pg_temp.error_of($$SELECT taskflow.create_rule('dup key', '{"type": "webhook", "key": "my-own-key-abcdefghijkl"}', '[{"job_type": "wh.x"}]')$$),
  '42710: rule "dup key" conflicts with an existing rule: %', 'a key already in use: 42710, naming the rule');
SELECT taskflow.create_rule('open', '{"type": "webhook", "secret": null}', '[{"job_type": "wh.open"}]') AS r4 \gset
SELECT is((SELECT secret FROM taskflow.webhook_credentials(:r4)), NULL, '"secret": null makes a rule without a secret');
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.alter_rule(%s, trigger => '{"type": "webhook", "key": "my-own-key-abcdefghijkl", "secret": null}')$$, :r4)),
  format('42710: rule %s conflicts with an existing rule: %%', :r4), 'alter_rule to a key already in use: 42710, naming the rule');
SELECT is((SELECT count(*) FROM taskflow.handle_webhook((SELECT key FROM taskflow.webhook_credentials(:r4)), '{}') WHERE true),
  1::bigint, 'which accepts unsigned calls');

-- alter_rule keeps the credentials unless new ones are given
SELECT taskflow.alter_rule(:r3, trigger => '{"type": "webhook", "for_each": "tenant"}');
SELECT is((SELECT ROW(key, secret)::text FROM taskflow.webhook_credentials(:r3)), ROW('my-own-key-abcdefghijkl', 'my-own-secret-123')::text,
  'alter_rule with a webhook trigger without key and secret keeps them');

-- --- bounded bodies: nesting depth ----------------------------------------------------------------
-- A signed body nested deeper than 64 levels is refused (22023) before anything parses it, and
-- nothing is enqueued; 64 levels are accepted.
SELECT pg_temp.jobs() AS before_deep \gset
SELECT alike(pg_temp.error_of(format($$SELECT taskflow.handle_webhook(%L, %L, %L)$$, :'key',
    repeat('[', 100000) || repeat(']', 100000),
    pg_temp.sign(repeat('[', 100000) || repeat(']', 100000), :'secret'))),
  '22023: webhook body nests too deep: more than 64 levels%',
  'a webhook body nested 100,000 levels deep: 22023, refused before it is parsed');
SELECT lives_ok(format($$SELECT taskflow.handle_webhook(%L, %L, %L)$$, :'key',
    '{"kind": "other", "x": ' || repeat('[', 63) || repeat(']', 63) || '}',
    pg_temp.sign('{"kind": "other", "x": ' || repeat('[', 63) || repeat(']', 63) || '}', :'secret')),
  'a webhook body 64 levels deep is accepted');

SELECT * FROM finish();
ROLLBACK;
