#!/usr/bin/env bash
# HTTP API end to end with curl: every job endpoint, every error status, correlation ids,
# /health, /metrics (promtool), /openapi.json against the routes served, and the server still
# serving after bad requests.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
ACME=$(new_key acme)
sql "SELECT taskflow.create_queue('mail'), taskflow.create_queue('traced')" >/dev/null
start_main "taskflow-http starts and listens" --http-auth-cache-ttl 0
key_args AUTH "$ACME"
key_args ADM "$ADMIN"
JSON=(-H 'Content-Type: application/json')

# --- health -------------------------------------------------------------------------------------
req GET /health
is "$STATUS" 200 "GET /health: 200 without a key"
is "$(json_get "$BODY" '{version}')" "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'")" \
  "GET /health reports the installed extension version"

# --- POST /jobs ---------------------------------------------------------------------------------
req POST /jobs "${AUTH[@]}" "${JSON[@]}" -H 'X-Correlation-ID: order-42' \
  -d '{"job_type": "send_email", "queue": "mail", "payload": {"to": "a@example.com"}, "priority": 3}'
is "$STATUS" 201 "POST /jobs: 201"
JOB=$(json_get "$BODY" '{id}')
is "$(header Location)" "/jobs/$JOB" "POST /jobs: Location names the new job"
is "$(header X-Correlation-ID)" "order-42" "POST /jobs echoes X-Correlation-ID"
is "$(sql "SELECT correlation_id || ' ' || tenant_id || ' ' || priority || ' ' || (payload->>'to') FROM taskflow.jobs WHERE id = $JOB")" \
  "order-42 acme 3 a@example.com" "the job has the correlation id, the key's tenant, the priority and the payload"

req POST /jobs "${AUTH[@]}" "${JSON[@]}" -d '{"job_type": "send_email", "queue": "mail"}'
GEN=$(header X-Correlation-ID)
echo "$GEN" | grep -Eq '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$'
ok $? "without X-Correlation-ID a UUID is generated and echoed ($GEN)"
JOB2=$(json_get "$BODY" '{id}')
is "$(sql "SELECT correlation_id FROM taskflow.jobs WHERE id = $JOB2")" "$GEN" "the generated id is the job's correlation_id"

req POST /jobs "${AUTH[@]}" -H 'X-Correlation-ID: own-1' -d '{"job_type": "child", "parent_job_id": '$JOB'}'
is "$STATUS:$(header X-Correlation-ID)" "201:own-1" "a sub-job with its own X-Correlation-ID keeps it"
req POST /jobs "${AUTH[@]}" -d '{"job_type": "child", "parent_job_id": '$JOB'}'
is "$STATUS:$(json_get "$BODY" '{correlation_id}'):$(header X-Correlation-ID)" "201:order-42:order-42" \
  "a sub-job without one inherits its parent's correlation id"
is "$(sql "SELECT correlation_id FROM taskflow.jobs WHERE id = $(json_get "$BODY" '{id}')")" order-42 \
  "and the job has it"

req POST /jobs "${AUTH[@]}" -d '{"job_type": "later", "queue": "mail", "run_at": "2999-01-01T00:00:00Z", "max_attempts": 2, "unique_key": "u1", "timeout": "30 seconds"}'
is "$STATUS" 201 "POST /jobs with run_at, max_attempts, unique_key, timeout"
LATER=$(json_get "$BODY" '{id}')
is "$(sql "SELECT state || ' ' || max_attempts || ' ' || unique_key || ' ' || timeout FROM taskflow.jobs WHERE id = $LATER")" \
  "SCHEDULED 2 u1 00:00:30" "every schedule parameter reaches taskflow.schedule"

# --- trace context (W3C traceparent) -------------------------------------------------------------
# (in a queue of their own: the paging below counts the jobs of queue mail)
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
TP2=00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00
req POST /jobs "${AUTH[@]}" -H "traceparent: $TP" -d '{"job_type": "traced", "queue": "traced"}'
TRACED=$(json_get "$BODY" '{id}')
is "$STATUS:$(sql "SELECT traceparent FROM taskflow.jobs WHERE id = $TRACED")" "201:$TP" \
  "POST /jobs keeps the traceparent header with the job"
req POST /jobs "${AUTH[@]}" -d '{"job_type": "traced", "queue": "traced", "traceparent": "'$TP2'"}'
is "$STATUS:$(sql "SELECT traceparent FROM taskflow.jobs WHERE id = $(json_get "$BODY" '{id}')")" "201:$TP2" \
  "or the body's traceparent field"
req POST /jobs "${AUTH[@]}" -H "traceparent: $TP" -d '{"job_type": "traced", "queue": "traced", "traceparent": "'$TP2'"}'
is "$(sql "SELECT traceparent FROM taskflow.jobs WHERE id = $(json_get "$BODY" '{id}')")" "$TP" "the header wins over the body"
req POST /jobs "${AUTH[@]}" -d '{"job_type": "traced_child", "parent_job_id": '$TRACED'}'
is "$(sql "SELECT traceparent FROM taskflow.jobs WHERE id = $(json_get "$BODY" '{id}')")" "$TP" \
  "a sub-job without one inherits its parent's traceparent"
req GET "/jobs/$TRACED" "${AUTH[@]}"
is "$(json_get "$BODY" '{traceparent}')" "$TP" "GET /jobs/{id} returns the traceparent"
req GET "/jobs/$TRACED/history" "${AUTH[@]}"
is "$(json_get "$BODY" '{traceparent}')" "$TP" "GET /jobs/{id}/history shows it"
req POST /jobs "${AUTH[@]}" -H "traceparent: 00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01" \
  -d '{"job_type": "traced", "queue": "traced"}'
is_problem 422 "POST /jobs with an uppercase traceparent"
grep -q "traceparent is malformed" <<<"$BODY"
ok $? "and the problem says what is wrong"

# --- GET /jobs/{id}, /jobs, history -------------------------------------------------------------
req GET "/jobs/$JOB" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{state}'):$(json_get "$BODY" '{job_type}')" "200:PENDING:send_email" "GET /jobs/{id}: the job"
req GET "/jobs?queue=mail&limit=2" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{jobs,0,id}'):$(json_get "$BODY" '{jobs,1,id}'):$(json_get "$BODY" '{next_after}')" \
  "200:$JOB:$JOB2:$JOB2" "GET /jobs: first page of two, next_after = last id"
req GET "/jobs?queue=mail&limit=2&after=$JOB2" "${AUTH[@]}"
is "$(json_get "$BODY" '{jobs,0,id}'):$(json_get "$BODY" '{next_after}')" "$LATER:" "GET /jobs?after=: the next page, and no next_after on the last"
req GET "/jobs?state=SCHEDULED&job_type=later&tenant=acme" "${AUTH[@]}"
is "$(json_get "$BODY" '{jobs,0,id}')" "$LATER" "GET /jobs filters by state, job_type and tenant"
req GET "/jobs/$JOB/history" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{events,0,to_state}')" "200:PENDING" "GET /jobs/{id}/history: attempts and events"

# --- cancel / retry -----------------------------------------------------------------------------
req POST "/jobs/$JOB2/cancel" "${AUTH[@]}" -d '{"reason": "customer left"}'
is "$STATUS:$(json_get "$BODY" '{state}')" "200:CANCELLED" "POST /jobs/{id}/cancel: CANCELLED"
is "$(sql "SELECT cancel_reason FROM taskflow.jobs WHERE id = $JOB2")" "customer left" "the reason is recorded"
req POST "/jobs/$JOB2/cancel" "${AUTH[@]}"
is_problem 409 "cancel of a CANCELLED job (no body, no Content-Length)"
is "$(json_get "$BODY" '{sqlstate}')" 55000 "the 409 carries SQLSTATE 55000"
req POST "/jobs/$JOB2/retry" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{state}')" "200:PENDING" "POST /jobs/{id}/retry: back to PENDING"
req POST "/jobs/$JOB2/retry" "${AUTH[@]}"
is_problem 409 "retry of a PENDING job"

# --- 400 ----------------------------------------------------------------------------------------
problem_cases "${AUTH[@]}" <<'CASES'
400|POST|/jobs|{"job_type": |malformed JSON
400|POST|/jobs|[1, 2]|a body that is not an object
400|POST|/jobs|{"job_type": "x", "colour": "red"}|an unknown field
400|POST|/jobs|{"job_type": "x", "priority": "high"}|a field of the wrong type
400|POST|/jobs|{"payload": {}}|no job_type
400|GET|/jobs?limit=ten||a non-integer query parameter
400|GET|/jobs?state=DONE||an unknown state
400|GET|/jobs?colour=red||an unknown query parameter
400|GET|/jobs/abc||a job id that is not a number
CASES
req GET /health -H "X-Correlation-ID: $(printf 'x%.0s' $(seq 1 300))"
is_problem 400 "an over-long X-Correlation-ID"

# --- 401 ----------------------------------------------------------------------------------------
req GET "/jobs/$JOB"
is_problem 401 "no Authorization header"
is "$(header WWW-Authenticate)" "Bearer" "401 asks for a bearer token"
req GET "/jobs/$JOB" -H "Authorization: Bearer tfk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
is_problem 401 "an unknown key"
req GET "/jobs/$JOB" -H "Authorization: Basic dXNlcjpwYXNz"
is_problem 401 "not a bearer token"
REVOKED=$(new_key acme)
sql "SELECT taskflow.revoke_api_key(left('$REVOKED', 12))" >/dev/null
req GET "/jobs/$JOB" -H "Authorization: Bearer $REVOKED"
is_problem 401 "a revoked key (revoked by its prefix)"
req GET /admin/queues
is_problem 401 "/admin/queues without a key"

# --- 403 ----------------------------------------------------------------------------------------
req POST /jobs "${AUTH[@]}" -d '{"job_type": "x", "tenant_id": "globex"}'
is_problem 403 "a client key scheduling for another tenant"
is "$(json_get "$BODY" '{sqlstate}')" 42501 "the 403 carries SQLSTATE 42501"
req GET /admin/queues "${AUTH[@]}"
is_problem 403 "/admin/queues with a client key"

# --- 404 ----------------------------------------------------------------------------------------
problem_cases "${AUTH[@]}" <<'CASES'
404|GET|/jobs/999999999||GET of a job that does not exist
404|GET|/jobs/999999999/history||history of a job that does not exist
404|POST|/jobs/999999999/cancel||cancel of a job that does not exist (SQLSTATE P0002)
404|POST|/jobs/999999999/retry||retry of a job that does not exist
CASES
req GET /no/such/route
is_problem 404 "an unknown route"
req DELETE "/jobs/$JOB" "${AUTH[@]}"
is_problem 405 "a known path with another method"
is "$(header Allow)" "GET" "405 names the allowed methods"

# --- 413 ----------------------------------------------------------------------------------------
python3 -c "import json; print(json.dumps({'job_type': 'big', 'payload': {'blob': 'x' * 1100000}}))" >"$T_DIR/big.json"
req POST /jobs "${AUTH[@]}" "${JSON[@]}" --data-binary @"$T_DIR/big.json"
is_problem 413 "a payload over taskflow.max_payload_bytes (SQLSTATE 54000)"
is "$(json_get "$BODY" '{sqlstate}')" 54000 "the 413 carries SQLSTATE 54000"
head -c 1500000 /dev/zero | tr '\0' 'x' >"$T_DIR/huge.txt"
req POST /jobs "${AUTH[@]}" "${JSON[@]}" --data-binary @"$T_DIR/huge.txt"
is_problem 413 "a body over the server's limit"

# --- 422 ----------------------------------------------------------------------------------------
req POST /jobs "${AUTH[@]}" -d '{"job_type": "x", "queue": "nope"}'
is_problem 422 "an unknown queue (SQLSTATE 42704)"
is "$(json_get "$BODY" '{hint}')" "Create it first: SELECT taskflow.create_queue('nope');" "the problem carries the extension's hint"
problem_cases "${AUTH[@]}" <<'CASES'
422|POST|/jobs|{"job_type": "x", "max_attempts": 0}|max_attempts 0 (SQLSTATE 22023)
422|POST|/jobs|{"job_type": "has space"}|an invalid job_type
422|POST|/jobs|{"job_type": "x", "run_at": "not a time"}|a run_at that is not a timestamp
422|GET|/jobs?limit=0||limit 0 (list_jobs refuses it)
CASES
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type IN ('x', 'big', 'has space')")" 0 \
  "no refused request wrote anything"

# --- admin --------------------------------------------------------------------------------------
req GET /admin/queues "${ADM[@]}"
is "$STATUS" 200 "GET /admin/queues with an admin key"
is "$(json_sql "$BODY" "SELECT count(*) FROM jsonb_array_elements((:'j'::jsonb)->'queues') q WHERE q->>'queue' = 'mail'")" \
  "$(sql "SELECT count(*) FROM taskflow.queue_stats WHERE queue = 'mail'")" "its rows are taskflow.queue_stats's"
req GET "/jobs/$JOB" "${ADM[@]}"
is "$STATUS" 200 "an admin key reads any tenant's job"

# --- metrics ------------------------------------------------------------------------------------
req GET /metrics
is "$STATUS" 200 "GET /metrics: 200 without a key"
check_metrics "promtool check metrics accepts /metrics"
has_metric '^taskflow_jobs\{' "/metrics includes taskflow.metrics() (taskflow_jobs)"
has_metric '^taskflow_http_requests_total\{route="/jobs",method="POST",status="201"\} [0-9]+' \
  "/metrics counts requests by route, method and status"
has_metric '^taskflow_http_request_duration_seconds_bucket\{route="/jobs/\{id\}",le="\+Inf"\} [0-9]+' \
  "/metrics has the request duration histogram"
has_metric '^taskflow_http_database_up 1' "/metrics says the database answered"

# --- OpenAPI ------------------------------------------------------------------------------------
req GET /openapi.json
is "$STATUS" 200 "GET /openapi.json"
printf '%s' "$BODY" >"$T_DIR/openapi.json"
DOC_ROUTES=$(python3 -c "
import json, sys
d = json.load(open('$T_DIR/openapi.json'))
assert d['openapi'].startswith('3.1'), d['openapi']
for p, item in d['paths'].items():
    for m, op in item.items():
        assert 'responses' in op, (m, p)
        print(m.upper(), p)
" | sort)
ok $? "the document is valid JSON, OpenAPI 3.1, every operation with responses"
EXPECTED="GET /admin/automations
GET /admin/queues
GET /automation-rules
GET /dashboard/api/dead-letters
GET /dashboard/api/jobs
GET /dashboard/api/jobs/count
GET /dashboard/api/jobs/{id}
GET /dashboard/api/overview
GET /dashboard/api/session
GET /health
GET /jobs
GET /jobs/{id}
GET /jobs/{id}/history
GET /metrics
GET /openapi.json
POST /automation-rules
POST /dashboard/api/dead-letters/purge
POST /dashboard/api/dead-letters/redrive
POST /dashboard/api/jobs/bulk
POST /events/webhook/{key}
POST /jobs
POST /jobs/{id}/cancel
POST /jobs/{id}/retry
POST /workflows
GET /workflows
GET /workflows/{id}
POST /workflows/{id}/cancel
GET /dashboard/api/queues
PATCH /dashboard/api/queues/{name}
POST /dashboard/api/queues/{name}/pause
POST /dashboard/api/queues/{name}/resume
GET /dashboard/api/rules
POST /dashboard/api/rules/{id}/enable
POST /dashboard/api/rules/{id}/disable
POST /dashboard/api/rules/{id}/fire
GET /dashboard/api/rules/{id}/firings
GET /dashboard/api/webhook-deliveries
GET /dashboard/api/tenants
POST /jobs/acquire
POST /jobs/{id}/heartbeat
POST /jobs/{id}/complete
POST /jobs/{id}/fail
POST /jobs/{id}/release
POST /jobs/{id}/snooze"
EXPECTED=$(printf '%s\n' "$EXPECTED" | sort)
is "$DOC_ROUTES" "$EXPECTED" "the document lists exactly the routes of the API"
# Each documented route is served: none answers "no such route".
missing=""
while read -r method path; do
  p=${path//\{id\}/$JOB}; p=${p//\{key\}/nokey}
  req "$method" "$p" -d '{}'
  if [ "$STATUS" = 404 ] && [ "$(json_get "$BODY" '{detail}')" = "No such route." ]; then missing+=" $method $path"; fi
done <<<"$DOC_ROUTES"
is "$missing" "" "the server serves every documented route"

# --- still serving ------------------------------------------------------------------------------
printf 'GARBAGE\r\n\r\n' | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/${T_PORTS[main]}; cat >&3; cat <&3" >"$T_DIR/garbage.out" 2>/dev/null
grep -q '^HTTP/1.1 400' "$T_DIR/garbage.out"
ok $? "a request line that is not HTTP gets 400"
req GET "/jobs/$JOB" "${AUTH[@]}"
is "$STATUS" 200 "after every bad request above the server still serves"

done_testing
