#!/usr/bin/env bash
# Automation over HTTP: POST/GET /automation-rules, a signed webhook creating a job, a forged or
# unknown one refused, delivery ids deduplicated, /admin/automations with the last firings.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
start_main "taskflow-http starts"
key_args ADM "$ADMIN" application/json
KEY=shop_webhook_key_0123456789abcdef
SECRET=a-secret-of-at-least-16-chars

# --- POST /automation-rules ---------------------------------------------------------------------
req POST /automation-rules "${ADM[@]}" -d '{
  "name": "orders from shop",
  "trigger": {"type": "webhook", "key": "'$KEY'", "secret": "'$SECRET'"},
  "actions": [{"job_type": "order.import", "payload": {"order": "{{ $.event.body.order_id }}"}}],
  "condition": "$.event.body.status == \"paid\""}'
is "$STATUS" 201 "POST /automation-rules: 201"
RULE=$(json_get "$BODY" '{id}')
is "$(sql "SELECT name || ' ' || trigger_type FROM taskflow.automation_rules WHERE id = ${RULE:-0}")" \
  "orders from shop webhook" "the rule is created by taskflow.create_rule"

req POST /automation-rules "${ADM[@]}" -d '{"name": "nightly", "trigger": {"type": "event", "on": "job_succeeded", "job_type": "import"},
  "actions": [{"job_type": "report"}]}'
is "$STATUS" 201 "an event rule"
# This script's database has no pg_cron (pg_cron serves one database per cluster).
req POST /automation-rules "${ADM[@]}" -d '{"name": "cron", "trigger": {"type": "cron", "schedule": "0 3 * * *"},
  "actions": [{"job_type": "report"}]}'
is_problem 409 "a cron rule where pg_cron is not installed (SQLSTATE 55000, with the hint)"
req POST /automation-rules "${ADM[@]}" -d '{"name": "bad cron", "trigger": {"type": "cron", "schedule": "every day"},
  "actions": [{"job_type": "report"}]}'
is_problem 422 "an invalid cron schedule"
req POST /automation-rules "${ADM[@]}" -d '{"name": "bad path", "trigger": {"type": "webhook"},
  "actions": [{"job_type": "x"}], "condition": "$.(("}'
is_problem 422 "an invalid jsonpath condition"
req POST /automation-rules "${ADM[@]}" -d '{"name": "no actions", "trigger": {"type": "webhook"}}'
is_problem 400 "no actions"
req POST /automation-rules "${ADM[@]}" -d '{"name": "x", "trigger": "webhook", "actions": []}'
is_problem 400 "a trigger that is not an object"
is "$(sql "SELECT count(*) FROM taskflow.automation_rules")" 2 "refused rules created nothing"

# --- GET /automation-rules ----------------------------------------------------------------------
req GET /automation-rules "${ADM[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT string_agg(r->>'name', ',' ORDER BY r->>'name') FROM jsonb_array_elements((:'j'::jsonb)->'rules') r")" \
  "200:nightly,orders from shop" "GET /automation-rules lists the rules"
req GET "/automation-rules?trigger_type=webhook&enabled=true" "${ADM[@]}"
is "$(json_sql "$BODY" "SELECT string_agg(r->>'name', ',') FROM jsonb_array_elements((:'j'::jsonb)->'rules') r")" \
  "orders from shop" "filtered by trigger_type and enabled"
req GET "/automation-rules?enabled=maybe" "${ADM[@]}"
is_problem 400 "enabled must be true or false"
case "$BODY" in *"$SECRET"*) ok 1 "rule listings never show the secret" ;; *) ok 0 "rule listings never show the secret" ;; esac

# --- webhooks -----------------------------------------------------------------------------------
sign() { printf '%s' "$1" | openssl dgst -sha256 -hmac "$SECRET" -r | cut -d' ' -f1; }
PAID='{"order_id": 42, "status": "paid"}'
req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign "$PAID")" \
  -H 'X-TaskFlow-Delivery: d-1' -H 'Content-Type: application/json' --data-binary "$PAID"
is "$STATUS" 202 "a signed webhook is accepted (no API key needed)"
WJOB=$(json_get "$BODY" '{job_ids,0}')
is "$(sql "SELECT job_type || ' ' || (payload->>'order') FROM taskflow.jobs WHERE id = ${WJOB:-0}")" \
  "order.import 42" "the webhook created the rule's job from the body"
is "$(sql "SELECT traceparent IS NULL FROM taskflow.jobs WHERE id = ${WJOB:-0}")" t "without a traceparent header its job has none"

req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign "$PAID")" \
  -H 'X-TaskFlow-Delivery: d-1' -H 'Content-Type: application/json' --data-binary "$PAID"
is "$STATUS:$(json_get "$BODY" '{job_ids,0}')" "202:$WJOB" "a repeated delivery id returns the first delivery's jobs"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'order.import'")" 1 "and creates no new job"

FORGED='{"order_id": 43, "status": "paid"}'
req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign "$PAID")" \
  -H 'X-TaskFlow-Delivery: d-2' -H 'Content-Type: application/json' --data-binary "$FORGED"
is_problem 401 "a forged webhook (signature of another body)"
is "$(json_get "$BODY" '{sqlstate}')" 28000 "refused with SQLSTATE 28000"
req POST "/events/webhook/$KEY" -H 'Content-Type: application/json' --data-binary "$FORGED"
is_problem 401 "an unsigned webhook to a rule with a secret"
req POST "/events/webhook/no_such_key_0123456789abcdef" -H "X-TaskFlow-Signature: sha256=$(sign "$PAID")" \
  -H 'Content-Type: application/json' --data-binary "$PAID"
is_problem 401 "an unknown webhook key"
req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign 'not json')" --data-binary 'not json'
is_problem 400 "a webhook body that is not JSON"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'order.import'")" 1 "refused webhooks enqueued nothing"

UNPAID='{"order_id": 44, "status": "open"}'
req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign "$UNPAID")" \
  -H 'Content-Type: application/json' --data-binary "$UNPAID"
is "$STATUS:$(json_get "$BODY" '{job_ids}')" "202:[]" "a webhook whose condition does not hold: accepted, no job"

# --- /admin/automations -------------------------------------------------------------------------
req GET "/admin/automations?firings=2" "${ADM[@]}"
is "$STATUS" 200 "GET /admin/automations"
is "$(json_sql "$BODY" "SELECT jsonb_array_length(r->'last_firings') || ' ' || (r->'last_firings'->0->>'matched') || ' ' || (r->'last_firings'->1->'job_ids'->>0)
  FROM jsonb_array_elements((:'j'::jsonb)->'automations') r WHERE r->>'name' = 'orders from shop'")" \
  "2 false $WJOB" "the webhook rule with its last two firings, newest first"
# (after the firings check above: this delivery is a firing of its own)
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
req POST "/events/webhook/$KEY" -H "X-TaskFlow-Signature: sha256=$(sign "$PAID")" -H "traceparent: $TP" \
  -H 'X-TaskFlow-Delivery: d-tp' -H 'Content-Type: application/json' --data-binary "$PAID"
TJOB=$(json_get "$BODY" '{job_ids,0}')
is "$STATUS:$(sql "SELECT traceparent FROM taskflow.jobs WHERE id = ${TJOB:-0}")" "202:$TP" \
  "a webhook's traceparent header reaches the jobs its rule creates"
req GET "/admin/automations?firings=1000" "${ADM[@]}"
is_problem 422 "firings over 100"

# --- tenant keys and rules ----------------------------------------------------------------------
ACME=$(new_key acme)
req POST /automation-rules -H "Authorization: Bearer $ACME" -d '{"name": "theirs", "tenant_id": "globex",
  "trigger": {"type": "webhook"}, "actions": [{"job_type": "x"}]}'
is_problem 403 "a client key creating a rule for another tenant"
req GET /automation-rules -H "Authorization: Bearer $ACME"
if [ "$STATUS" = 200 ]; then
  is "$(json_sql "$BODY" "SELECT count(*) FROM jsonb_array_elements((:'j'::jsonb)->'rules') r WHERE r->>'tenant_id' <> 'acme'")" 0 \
    "a client key lists only its own tenant's rules"
else
  is_problem 403 "a client key may not list rules (taskflow.list_rules is for taskflow_admin)"
fi
req GET /admin/automations -H "Authorization: Bearer $ACME"
is_problem 403 "/admin/automations with a client key"

done_testing
