#!/usr/bin/env bash
# The dashboard's admin API over HTTP: queues (admin keys only; edits validated by the extension,
# its message as 422; pause/resume seen by acquire), rules (enable, disable, fire now, firings,
# webhook deliveries; a client key confined to its tenant, another tenant's rule 404), tenants.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
CA=$(new_key acme)
CB=$(new_key globex)
start_main "taskflow-http starts"
key_args ADM "$ADMIN" application/json
key_args KA "$CA" application/json
key_args KB "$CB" application/json
sql "SELECT taskflow.create_queue('dq')" >/dev/null

# --- queues ---------------------------------------------------------------------------------------
req GET /dashboard/api/queues "${ADM[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT q->>'paused' FROM jsonb_array_elements((:'j'::jsonb)->'queues') q WHERE q->>'name' = 'dq'")" \
  "200:false" "GET /dashboard/api/queues lists the queue with its settings"
is "$(json_sql "$BODY" "SELECT (q->'retry_policy'->>'max_attempts') || ' ' || (q ? 'pending') FROM jsonb_array_elements((:'j'::jsonb)->'queues') q WHERE q->>'name' = 'dq'")" \
  "5 true" "with its retry policy and the queue_stats figures"
problem_cases "${KA[@]}" <<'CASES'
403|GET|/dashboard/api/queues||a client key may not read the queues
403|PATCH|/dashboard/api/queues/dq|{"paused": true}|nor change one
403|POST|/dashboard/api/queues/dq/pause||nor pause one
CASES

req PATCH /dashboard/api/queues/dq "${ADM[@]}" -d '{"concurrency_limit": 4, "lease_ms": 90000, "retry_policy": {"max_attempts": 3}, "rate_limit": {"max_starts": 50, "per_ms": 1000}}'
is "$STATUS:$(json_get "$BODY" '{concurrency_limit}'):$(json_get "$BODY" '{lease_ms}'):$(json_get "$BODY" '{retry_policy,max_attempts}'):$(json_get "$BODY" '{rate_limit,max_starts}')" \
  "200:4:90000:3:50" "PATCH sets the settings and answers them"
is "$(sql "SELECT concurrency_limit || ' ' || lease || ' ' || max_attempts FROM taskflow.queues WHERE name = 'dq'")" \
  "4 00:01:30 3" "in the queue row"
req PATCH /dashboard/api/queues/dq "${ADM[@]}" -d '{"concurrency_limit": 0}'
is_problem 422 "a concurrency_limit the extension refuses"
EXPECTED=$(psql -X -q -At -c "DO \$\$BEGIN PERFORM taskflow.alter_queue('dq', concurrency_limit => 0); END\$\$" 2>&1 | sed -n 's/^ERROR:  //p' | head -1)
is "$(json_get "$BODY" '{detail}')" "$EXPECTED" "with the extension's message"
is "$(json_get "$BODY" '{sqlstate}')" 22023 "and SQLSTATE"
req PATCH /dashboard/api/queues/dq "${ADM[@]}" -d '{"retry_policy": {"strategy": "sometimes"}}'
is_problem 422 "a retry strategy the extension refuses"
case "$(json_get "$BODY" '{detail}')" in *strategy*) ok 0 "the message names the strategy" ;;
  *) ok 1 "the message names the strategy"; diag "$BODY" ;; esac
req PATCH /dashboard/api/queues/dq "${ADM[@]}" -d '{"colour": "red"}'
is "$STATUS:$(json_get "$BODY" '{detail}')" '422:unknown queue setting "colour"' "an unknown setting: 422 naming it"
problem_cases "${ADM[@]}" <<'CASES'
400|PATCH|/dashboard/api/queues/dq|[1]|a body that is not an object
404|PATCH|/dashboard/api/queues/no_such_queue|{"paused": true}|PATCH of a queue that does not exist
404|POST|/dashboard/api/queues/no_such_queue/pause||pausing a queue that does not exist
CASES
req PATCH /dashboard/api/queues/dq "${ADM[@]}" -d '{"concurrency_limit": null, "rate_limit": null}'
is "$STATUS:$(json_get "$BODY" '{concurrency_limit}'):$(json_get "$BODY" '{rate_limit}')" "200::" \
  "null removes the concurrency and rate limits"
req DELETE /dashboard/api/queues/dq "${ADM[@]}"
is "$STATUS:$(header Allow)" "405:PATCH" "DELETE of a queue: 405, Allow: PATCH"

# pause / resume, seen by acquire
JOB=$(sql "SELECT taskflow.schedule('dash.job', queue => 'dq', tenant_id => 'acme')")
req POST /dashboard/api/queues/dq/pause "${ADM[@]}"
is "$STATUS:$(json_get "$BODY" '{paused}')" "200:true" "POST .../pause"
is "$(sql "SELECT count(*) FROM taskflow.acquire('w', ARRAY['dq'], 10)")" 0 "a worker's acquire takes nothing from the paused queue"
req POST /dashboard/api/queues/dq/resume "${ADM[@]}"
is "$STATUS:$(json_get "$BODY" '{paused}')" "200:false" "POST .../resume"
is "$(sql "SELECT string_agg(job_id::text, ',') FROM taskflow.acquire('w', ARRAY['dq'], 10)")" "$JOB" \
  "after resume, acquire takes the job"

# --- rules ----------------------------------------------------------------------------------------
req POST /automation-rules "${KA[@]}" -d '{"name": "acme rule", "trigger": {"type": "webhook"}, "actions": [{"job_type": "dash.rule", "queue": "dq"}]}'
RA=$(json_get "$BODY" '{id}')
req POST /automation-rules "${KB[@]}" -d '{"name": "globex rule", "trigger": {"type": "webhook"}, "actions": [{"job_type": "dash.rule", "queue": "dq"}]}'
RB=$(json_get "$BODY" '{id}')
req GET /dashboard/api/rules "${KA[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT string_agg(r->>'name', ',') FROM jsonb_array_elements((:'j'::jsonb)->'rules') r")" \
  "200:acme rule" "GET /dashboard/api/rules: a client key sees its tenant's rules"
req GET /dashboard/api/rules "${ADM[@]}"
is "$(json_sql "$BODY" "SELECT count(*) FROM jsonb_array_elements((:'j'::jsonb)->'rules') r")" 2 "an admin key sees all"

req POST "/dashboard/api/rules/$RB/fire" "${KA[@]}"
is_problem 404 "firing another tenant's rule"
req POST "/dashboard/api/rules/$RB/disable" "${KA[@]}"
is_problem 404 "disabling another tenant's rule"
req GET "/dashboard/api/rules/$RB/firings" "${KA[@]}"
is_problem 404 "another tenant's firings"
req POST "/dashboard/api/rules/999999/enable" "${KA[@]}"
is_problem 404 "a rule that does not exist"
is "$(sql "SELECT enabled FROM taskflow.automation_rules WHERE id = $RB")" t "the other tenant's rule is untouched"

req POST "/dashboard/api/rules/$RA/fire" "${KA[@]}"
FIRED=$(json_get "$BODY" '{job_ids,0}')
is "$STATUS:$(json_get "$BODY" '{firings,0,outcome}')" "200:created" "fire now: a firing that created a job"
is "$(sql "SELECT job_type || ' ' || tenant_id FROM taskflow.jobs WHERE id = ${FIRED:-0}")" "dash.rule acme" \
  "the job exists, for the rule's tenant"
req POST "/dashboard/api/rules/$RA/disable" "${KA[@]}"
is "$STATUS:$(json_get "$BODY" '{enabled}')" "200:false" "disable"
req POST "/dashboard/api/rules/$RA/fire" "${KA[@]}"
is_problem 409 "a disabled rule is not fired"
req POST "/dashboard/api/rules/$RA/enable" "${KA[@]}"
is "$STATUS:$(json_get "$BODY" '{enabled}')" "200:true" "enable"
req POST "/dashboard/api/rules/$RA/fire" "${KA[@]}"
req POST "/dashboard/api/rules/$RA/fire" "${KA[@]}"

req GET "/dashboard/api/rules/$RA/firings?limit=2" "${KA[@]}"
IDS1=$(json_sql "$BODY" "SELECT string_agg(f->>'id', ',' ORDER BY (f->>'id')::bigint DESC) FROM jsonb_array_elements((:'j'::jsonb)->'firings') f")
NEXT=$(json_get "$BODY" '{next_after}')
req GET "/dashboard/api/rules/$RA/firings?limit=2&after=$NEXT" "${KA[@]}"
IDS2=$(json_sql "$BODY" "SELECT string_agg(f->>'id', ',' ORDER BY (f->>'id')::bigint DESC) FROM jsonb_array_elements((:'j'::jsonb)->'firings') f")
is "$IDS1,$IDS2" "$(sql "SELECT string_agg(id::text, ',' ORDER BY id DESC) FROM taskflow.rule_firings WHERE rule_id = $RA")" \
  "firings in keyset pages, newest first"
is "$(json_get "$BODY" '{firings,0,outcome}'):$(json_get "$BODY" '{firings,0,matched}')" "created:true" \
  "each with outcome and matched"
req GET "/dashboard/api/rules/$RA/firings?limit=0" "${KA[@]}"
is_problem 422 "limit=0"
req GET "/dashboard/api/rules/abc/firings" "${KA[@]}"
is_problem 400 "a rule id that is not a number"

# webhook deliveries
WKEY=$(sql "SELECT key FROM taskflow.webhook_credentials($RA)")
WSECRET=$(sql "SELECT secret FROM taskflow.webhook_credentials($RA)")
WBODY='{"n": 1}'
SIG=$(printf '%s' "$WBODY" | openssl dgst -sha256 -hmac "$WSECRET" -r | cut -d' ' -f1)
req POST "/events/webhook/$WKEY" -H "X-TaskFlow-Signature: sha256=$SIG" -H 'X-TaskFlow-Delivery: dlv-7' \
  -H 'Content-Type: application/json' --data-binary "$WBODY"
is "$STATUS" 202 "a webhook delivery"
req GET "/dashboard/api/webhook-deliveries?rule_id=$RA" "${KA[@]}"
is "$STATUS:$(json_get "$BODY" '{deliveries,0,delivery_id}'):$(json_get "$BODY" '{deliveries,0,outcome}')" \
  "200:dlv-7:created" "GET /dashboard/api/webhook-deliveries shows it"
req GET /dashboard/api/webhook-deliveries "${KB[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT jsonb_array_length((:'j'::jsonb)->'deliveries')")" "200:0" \
  "another tenant's key sees none of it"
req GET "/dashboard/api/webhook-deliveries?rule_id=$RA" "${KB[@]}"
is_problem 404 "nor the rule's deliveries"

# --- tenants --------------------------------------------------------------------------------------
sql "SELECT taskflow.set_tenant_limit('acme', 3), taskflow.set_tenant_weight('acme', 2)" >/dev/null
req GET /dashboard/api/tenants "${ADM[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT t->>'max_running' || ' ' || (t->>'weight') || ' ' || (t->>'running') FROM jsonb_array_elements((:'j'::jsonb)->'tenants') t WHERE t->>'tenant_id' = 'acme'")" \
  "200:3 2 1" "GET /dashboard/api/tenants: limits, weight and RUNNING now"
is "$(json_sql "$BODY" "SELECT (t->>'started_1h') || ' ' || (t->>'share_1h') FROM jsonb_array_elements((:'j'::jsonb)->'tenants') t WHERE t->>'tenant_id' = 'acme'")" \
  "1 1.0000" "jobs started in the last hour and the share"
req GET /dashboard/api/tenants "${KB[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT string_agg(t->>'tenant_id', ',') FROM jsonb_array_elements((:'j'::jsonb)->'tenants') t"):$(json_get "$BODY" '{tenants,0,share_1h}')" \
  "200:globex:" "a client key sees its own tenant only, without the share"
req GET "/dashboard/api/tenants?limit=5000" "${ADM[@]}"
is_problem 422 "limit over 1000"
req GET "/dashboard/api/tenants?colour=red" "${ADM[@]}"
is_problem 400 "an unknown query parameter"

# --- OpenAPI --------------------------------------------------------------------------------------
req GET /openapi.json
is "$(json_sql "$BODY" "SELECT count(*) FROM jsonb_object_keys((:'j'::jsonb)->'paths') p WHERE p LIKE '/dashboard/api/%' AND p NOT LIKE '/dashboard/api/jobs%' AND p NOT IN ('/dashboard/api/session', '/dashboard/api/overview') AND p NOT LIKE '/dashboard/api/dead-letters%'")" \
  11 "the OpenAPI document has the eleven admin dashboard paths"

done_testing
