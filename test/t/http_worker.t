#!/usr/bin/env bash
# taskflow-worker --http: an API-only instance (--concurrency 0), and a worker that serves the API
# and runs the jobs scheduled through it, the X-Correlation-ID flowing into its log lines;
# /metrics with the worker's own series (and not the database-wide ones).
. "$(dirname "$0")/http_lib.sh"

require_worker_http
ADMIN=$(new_key '' admin)
key_args ADM "$ADMIN" application/json
sql "SELECT taskflow.create_queue('webq')" >/dev/null

# --- API only -----------------------------------------------------------------------------------
"$WORKER_BIN" --db "$W_URL" --concurrency 0 >"$T_DIR/usage.log" 2>&1
is "$?" 2 "--concurrency 0 without --http is a usage error (exit 2)"

start_http_worker api --concurrency 0
ok $? "taskflow-worker --http 127.0.0.1:0 --concurrency 0 serves the API"
SERVER=api req GET /health
is "$STATUS" 200 "GET /health on the API-only instance"
SERVER=api req POST /jobs "${ADM[@]}" -d '{"job_type": "ping", "queue": "webq"}'
is "$STATUS" 201 "POST /jobs on the API-only instance"
APIJOB=$(json_get "$BODY" '{id}')
sleep 1
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $APIJOB")" PENDING "an API-only instance runs no jobs"
kill -TERM "${T_SERVERS[api]}"
for i in $(seq 1 100); do kill -0 "${T_SERVERS[api]}" 2>/dev/null || break; sleep 0.05; done
kill -0 "${T_SERVERS[api]}" 2>/dev/null
ok $((1 - $?)) "SIGTERM stops it"
unset "T_SERVERS[api]"

# --- API and jobs -------------------------------------------------------------------------------
start_http_worker both --queue webq --handler ping=noop
ok $? "taskflow-worker --http with handlers"
SERVER=both req POST /jobs "${ADM[@]}" -H 'X-Correlation-ID: flow-7' -d '{"job_type": "ping", "queue": "webq"}'
JOB=$(json_get "$BODY" '{id}')
state=""
for i in $(seq 1 100); do
  state=$(sql "SELECT state FROM taskflow.jobs WHERE id = $JOB")
  [ "$state" = SUCCEEDED ] && break
  sleep 0.1
done
is "$state" SUCCEEDED "a job posted to the worker's API is run by it"
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $APIJOB")" SUCCEEDED "and so is the one the API-only instance took"
grep "job_id=$JOB " "$T_DIR/both.log" | grep -q 'correlation_id=flow-7'
ok $? "the worker's log lines about the job carry the request's X-Correlation-ID"
SERVER=both req GET /metrics
check_metrics "promtool check metrics accepts the worker's /metrics"
has_metric '^taskflow_worker_handler_duration_seconds_count\{job_type="ping",outcome="succeeded"\} [2-9]' \
  "/metrics has the worker's handler durations (both ping jobs)"
has_metric '^taskflow_worker_jobs_running 0$' "and its jobs running"
has_metric '^taskflow_http_requests_total' "and the HTTP server's"
grep -q '^taskflow_jobs{' "$T_DIR/metrics.txt"
ok $((1 - $?)) "but not taskflow.metrics(): the database-wide series come from one place (--http-database-metrics)"

done_testing
