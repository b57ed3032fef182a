#!/usr/bin/env bash
# The worker protocol over HTTP (pull): acquire, heartbeat, complete, fail, release, snooze with
# lease tokens, under an API key that carries only the worker role; what a worker key may not do;
# and the Python standard-library worker of worker/examples/pull_worker.py against a live server
# (jobs that succeed, one that snoozes and then succeeds with max_attempts 1, one that fails, a
# long one kept alive by heartbeats).
. "$(dirname "$0")/http_lib.sh"

command -v python3 >/dev/null || fail_setup "python3 is not installed"
ADMIN=$(new_key '' admin)
WORKER=$(new_key '' worker)
CLIENT=$(new_key acme)
start_main "taskflow-http starts"
key_args W "$WORKER" application/json
key_args C "$CLIENT" application/json
key_args ADM "$ADMIN" application/json
sql "SELECT taskflow.create_queue('pullq')" >/dev/null

# --- worker keys ----------------------------------------------------------------------------------
is "$(sql "SELECT role || ':' || COALESCE(tenant_id, '-') || ':' || db_role FROM taskflow.api_keys WHERE prefix = '${WORKER:0:12}'")" \
  "worker:-:taskflow_http_worker" "a worker key: no tenant, runs as taskflow_http_worker"
is "$(sql "SELECT pg_has_role('taskflow_http_worker', 'taskflow_worker', 'MEMBER'), pg_has_role('taskflow_http_worker', 'taskflow_admin', 'MEMBER'), pg_has_role('taskflow_http_worker', 'taskflow_client', 'MEMBER')")" \
  "t|f|f" "taskflow_http_worker is a taskflow_worker and nothing else"
psql -X -q -c "SELECT taskflow.create_api_key('acme', 'worker')" 2>"$T_DIR/err1"
grep -q 'a worker key serves every tenant' "$T_DIR/err1"
ok $? "create_api_key refuses a tenant-scoped worker key"

# --- acquire ----------------------------------------------------------------------------------------
J1=$(sql "SELECT taskflow.schedule('pull.a', '{\"n\": 1}', queue => 'pullq', correlation_id => 'c-1', timeout => '90 seconds', tenant_id => 'acme')")
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w-http", "queues": ["pullq"], "max_jobs": 5, "lease": 30}'
is "$STATUS" 200 "POST /jobs/acquire with a worker key"
is "$(json_sql "$BODY" "SELECT jsonb_array_length(:'j'::jsonb->'jobs') || ' ' || (:'j'::jsonb #>> '{jobs,0,job_id}') || ' ' || (:'j'::jsonb #>> '{jobs,0,attempt}') || ' ' || (:'j'::jsonb #>> '{jobs,0,job_type}') || ' ' || (:'j'::jsonb #>> '{jobs,0,payload}') || ' ' || (:'j'::jsonb #>> '{jobs,0,tenant_id}') || ' ' || (:'j'::jsonb #>> '{jobs,0,correlation_id}') || ' ' || (:'j'::jsonb #>> '{jobs,0,timeout_seconds}')")" \
  "1 $J1 1 pull.a {\"n\": 1} acme c-1 90" "acquire returns the job with its attempt, payload, tenant, correlation id and timeout in seconds"
T1=$(json_get "$BODY" '{jobs,0,lease_token}')
is "$T1" "$(sql "SELECT lease_token FROM taskflow.jobs WHERE id = $J1")" "the lease token is the attempt's"
is "$(json_sql "$BODY" "SELECT abs(extract(epoch FROM ((:'j'::jsonb #>> '{jobs,0,lease_expires_at}')::timestamptz - (SELECT lease_expires_at FROM taskflow.jobs WHERE id = $J1)))) < 0.001")" t \
  "lease_expires_at is the lease's end (RFC 3339, UTC)"
is "$(sql "SELECT state || ' ' || worker_id || ' ' || lease_duration FROM taskflow.jobs WHERE id = $J1")" "RUNNING w-http 00:00:30" \
  "the job is RUNNING for the worker, with the requested lease (a number of seconds)"
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w-http", "queues": ["pullq"]}'
is "$STATUS $BODY" '200 {"jobs":[]}' "nothing ready: an empty list"

# --- heartbeat ------------------------------------------------------------------------------------
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d "{\"lease_token\": \"$T1\", \"extend\": \"5 minutes\"}"
is "$STATUS $BODY" "200 {\"id\":$J1,\"status\":\"ok\"}" "heartbeat: ok"
is "$(sql "SELECT heartbeats || ' ' || (lease_expires_at - now() > interval '4 minutes')::text FROM taskflow.jobs WHERE id = $J1")" "1 true" \
  "the heartbeat extended the lease by extend (an interval string)"
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d "{\"lease_token\": \"$(sql "SELECT gen_random_uuid()")\"}"
is_problem 409 "heartbeat with a token that is not the attempt's"
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d '{"lease_token": "not-a-uuid"}'
is_problem 400 "heartbeat with a lease_token that is not a UUID"
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d '{}'
is_problem 400 "heartbeat without a lease_token"
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d "{\"lease_token\": \"$T1\", \"extend\": -5}"
is_problem 422 "heartbeat with a negative extend: the extension refuses it"
sql "SELECT taskflow.cancel($J1)" >/dev/null
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d "{\"lease_token\": \"$T1\"}"
is "$STATUS $(json_get "$BODY" '{status}')" "200 cancel_requested" "heartbeat after a cancel request: cancel_requested"

# --- complete ---------------------------------------------------------------------------------------
req POST "/jobs/$J1/complete" "${W[@]}" -d "{\"lease_token\": \"$T1\", \"result\": {\"sent\": true}}"
is "$STATUS $BODY" "200 {\"id\":$J1,\"state\":\"SUCCEEDED\"}" "complete: SUCCEEDED (even with a cancel requested)"
is "$(sql "SELECT result FROM taskflow.jobs WHERE id = $J1")" '{"sent": true}' "the result is stored"
req POST "/jobs/$J1/complete" "${W[@]}" -d "{\"lease_token\": \"$T1\", \"result\": {\"sent\": true}}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SUCCEEDED" "a repeated complete with the same token: SUCCEEDED again"
req POST "/jobs/$J1/fail" "${W[@]}" -d "{\"lease_token\": \"$T1\", \"error_type\": \"late\"}"
is_problem 409 "fail after the attempt succeeded"
req POST "/jobs/$J1/heartbeat" "${W[@]}" -d "{\"lease_token\": \"$T1\"}"
is_problem 409 "heartbeat after the attempt ended"

# acquires one job of a type; sets JOB and TOKEN
take() {
  req POST /jobs/acquire "${W[@]}" -d "{\"worker_id\": \"w-http\", \"queues\": [\"pullq\"], \"job_types\": [\"$1\"]}"
  JOB=$(json_get "$BODY" '{jobs,0,job_id}')
  TOKEN=$(json_get "$BODY" '{jobs,0,lease_token}')
}

# --- fail -------------------------------------------------------------------------------------------
J2=$(sql "SELECT taskflow.schedule('pull.f', queue => 'pullq', max_attempts => 3)")
take pull.f
req POST "/jobs/$J2/fail" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"error_type\": \"smtp\", \"error_message\": \"down\"}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SCHEDULED" "fail, retryable: SCHEDULED"
sql "UPDATE taskflow.jobs SET next_run_at = now() WHERE id = $J2" >/dev/null
take pull.f
req POST "/jobs/$J2/fail" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"error_type\": \"bad_input\", \"retryable\": false}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 FAILED" "fail with retryable false: FAILED"
is "$(sql "SELECT last_error_type FROM taskflow.jobs WHERE id = $J2")" bad_input "the error is recorded"
req POST "/jobs/$J2/fail" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is_problem 400 "fail without error_type"

# --- release ----------------------------------------------------------------------------------------
J3=$(sql "SELECT taskflow.schedule('pull.r', queue => 'pullq')")
take pull.r
req POST "/jobs/$J3/release" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 PENDING" "release: PENDING"
req POST "/jobs/$J3/release" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is_problem 409 "a second release with the same token"

# --- snooze -----------------------------------------------------------------------------------------
J4=$(sql "SELECT taskflow.schedule('pull.s', queue => 'pullq', max_attempts => 1)")
take pull.s
req POST "/jobs/$J4/snooze" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"delay\": -1}"
is_problem 422 "snooze with a negative delay"
req POST "/jobs/$J4/snooze" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is_problem 400 "snooze without a delay"
req POST "/jobs/$J4/snooze" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"delay\": 1e300}"
is_problem 422 "snooze with an enormous delay"
req POST "/jobs/$J4/snooze" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"delay\": 60}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SCHEDULED" "snooze: SCHEDULED"
is "$(sql "SELECT (next_run_at - now() BETWEEN interval '59 seconds' AND interval '60 seconds')::text || ' ' || (attempts - budget_offset) FROM taskflow.jobs WHERE id = $J4")" "true 0" \
  "due in 60 s, and the attempt is not counted"
req GET "/jobs/$J4/history" "${ADM[@]}"
is "$(json_get "$BODY" '{attempts,0,outcome}')" snoozed "the history shows the snoozed attempt"
sql "UPDATE taskflow.jobs SET next_run_at = now() WHERE id = $J4" >/dev/null
take pull.s
req POST "/jobs/$J4/snooze" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"delay\": \"2 minutes\"}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SCHEDULED" "snooze with an interval string"
sql "UPDATE taskflow.jobs SET next_run_at = now() WHERE id = $J4" >/dev/null
take pull.s
req POST "/jobs/$J4/fail" "${W[@]}" -d "{\"lease_token\": \"$TOKEN\", \"error_type\": \"x\"}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 DEAD" "max_attempts 1 after two snoozes: the first counted failure is the last (attempt 3 of the job)"

# --- what each key may do ---------------------------------------------------------------------------
J5=$(sql "SELECT taskflow.schedule('pull.c', queue => 'pullq', tenant_id => 'acme')")
req POST /jobs/acquire "${C[@]}" -d '{"worker_id": "w-client", "queues": ["pullq"]}'
is_problem 403 "a client key may not acquire"
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $J5")" PENDING "and the job was not touched"
take pull.c
req POST "/jobs/$J5/heartbeat" "${C[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is_problem 403 "a client key may not heartbeat, even with the right token"
req POST "/jobs/$J5/complete" "${C[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is_problem 403 "a client key may not complete, even its own tenant's job"
req POST "/jobs/$J5/complete" "${ADM[@]}" -d "{\"lease_token\": \"$TOKEN\"}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SUCCEEDED" "an admin key runs the worker protocol too"
req GET /admin/queues "${W[@]}"
is_problem 403 "a worker key may not read /admin/queues"
req GET /jobs "${W[@]}"
is_problem 403 "a worker key may not list jobs"
req POST "/jobs/$J3/cancel" "${W[@]}" -d '{}'
is_problem 403 "a worker key may not cancel"
req POST "/jobs/$J2/retry" "${W[@]}" -d '{}'
is_problem 403 "a worker key may not retry"
req POST /dashboard/api/queues/pullq/pause "${W[@]}" -d '{}'
is_problem 403 "a worker key may not pause a queue"
req GET /dashboard/api/session "${W[@]}"
is_problem 403 "a worker key has no dashboard session"
req POST /automation-rules "${W[@]}" -d '{"name": "r", "trigger": {"type": "event", "on": "job_dead"}, "actions": []}'
is_problem 403 "a worker key may not create rules"
req POST /jobs "${W[@]}" -d '{"job_type": "pull.followup", "queue": "pullq"}'
is "$STATUS" 201 "a worker key schedules (handlers enqueue follow-ups)"
req GET "/jobs/$J5" "${W[@]}"
is "$STATUS $(json_get "$BODY" '{state}')" "200 SUCCEEDED" "a worker key reads a job"
sql "SELECT taskflow.cancel(id) FROM taskflow.jobs WHERE job_type = 'pull.followup'" >/dev/null

# --- malformed requests -----------------------------------------------------------------------------
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w", "queue": ["pullq"]}'
is_problem 400 "acquire with an unknown field"
req POST /jobs/acquire "${W[@]}" -d '{"queues": ["pullq"]}'
is_problem 400 "acquire without worker_id"
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w", "queues": ["pullq"], "max_jobs": 0}'
is_problem 422 "acquire with max_jobs 0"
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w", "queues": ["no_such_queue"]}'
is_problem 422 "acquire from an unknown queue (the extension's 42704)"
req POST /jobs/acquire "${W[@]}" -d '{"worker_id": "w", "queues": [1]}'
is_problem 400 "acquire with a queue that is not a string"
req POST /jobs/acquire "${W[@]}" -d "{\"worker_id\": \"w\", \"queues\": $(python3 -c 'import json; print(json.dumps(["q%d" % i for i in range(101)]))')}"
is_problem 422 "acquire with more than 100 queues"
req POST /jobs/abc/complete "${W[@]}" -d "{\"lease_token\": \"$T1\"}"
is_problem 400 "a job id that is not a number"
req POST /jobs/acquire -H 'Content-Type: application/json' -d '{"worker_id": "w"}'
is_problem 401 "acquire without a key"

# --- the Python example worker (docs/worker.md, "A worker in any language") -------------------------
sql "SELECT taskflow.create_queue('pydemo')" >/dev/null
demo_job() {  # demo_job HANDLER PAYLOAD [SCHEDULE ARGS]: schedules job type demo.HANDLER on pydemo
  sql "SELECT taskflow.schedule('demo.$1', '$2', queue => 'pydemo'${3:+, $3})"
}
A1=$(demo_job add '{"numbers": [1, 2, 3]}')
A2=$(demo_job add '{"numbers": [10, 20]}')
RL=$(demo_job rate_limited '{"retry_after": 1}' "max_attempts => 1")
RJ=$(demo_job reject '{"order_id": 1001}')
SL=$(demo_job slow '{"seconds": 2.5}')
timeout 60 python3 "$ROOT/worker/examples/pull_worker.py" --url "$(base main)" --key "$WORKER" \
  --queue pydemo --worker-id py-test --lease 1.5 --poll 0.2 --max-idle 3 >"$T_DIR/py.out" 2>"$T_DIR/py.err"
is "$?" 0 "the example worker ran and exited after 3 idle seconds"
is "$(sql "SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM taskflow.jobs WHERE queue = 'pydemo'")" \
  "$A1:SUCCEEDED $A2:SUCCEEDED $RL:SUCCEEDED $RJ:FAILED $SL:SUCCEEDED" \
  "every demo job ended as its handler decided"
is "$(sql "SELECT string_agg(result::text, ' ' ORDER BY id) FROM taskflow.jobs WHERE id IN ($A1, $A2)")" \
  '{"sum": 6} {"sum": 30}' "the results are the handlers' return values"
is "$(sql "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM taskflow.job_attempts WHERE job_id = $RL")" \
  "snoozed,succeeded" "the rate-limited job snoozed once, then succeeded with max_attempts 1 (the snooze used no attempt)"
is "$(sql "SELECT (next_run_at - (SELECT finished_at FROM taskflow.job_attempts WHERE job_id = $RL AND attempt = 1) >= interval '1 second')::text FROM taskflow.jobs WHERE id = $RL")" \
  true "it ran again no earlier than the snooze asked"
is "$(sql "SELECT last_error_type || ': ' || last_error_message || ' ' || attempts FROM taskflow.jobs WHERE id = $RJ")" \
  "PermanentError: order 1001 does not exist 1" "the rejected job failed at once, not retried"
is "$(sql "SELECT (heartbeats >= 2)::text || ' ' || attempts FROM taskflow.jobs WHERE id = $SL")" "true 1" \
  "the slow job (2.5 s, lease 1.5 s) was kept alive by heartbeats, in one attempt"
grep -q '"msg": "job snooze"' "$T_DIR/py.out"
ok $? "the example logs its snooze"

done_testing
