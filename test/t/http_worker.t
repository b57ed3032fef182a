#!/usr/bin/env bash
# taskflow-worker --http: an API-only instance (--concurrency 0), and a worker that serves the API
# and runs the jobs scheduled through it, the X-Correlation-ID flowing into its log lines;
# /metrics with the worker's own series (and not the database-wide ones).
. "$(dirname "$0")/http_lib.sh"

require_worker_http
ADMIN=$(new_key '' admin)
ADM=(-H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json')
sql "SELECT taskflow.create_queue('webq')" >/dev/null
# The worker logs in as the test's superuser (worker protocol and the API's SET ROLE alike).
W_URL="postgresql://$PGUSER@127.0.0.1:$PGPORT/$T_DB"

# start_worker NAME ARGS...: taskflow-worker --http 127.0.0.1:0 ...; T_PORTS[NAME] from its log.
start_worker() {
  local name=$1; shift
  "$WORKER_BIN" --db "$W_URL" --http 127.0.0.1:0 --poll-interval 200ms "$@" >"$T_DIR/$name.log" 2>&1 &
  T_SERVERS[$name]=$!
  disown "$!"
  local i port=""
  for i in $(seq 1 100); do
    port=$(sed -n 's/.*HTTP API listening on [^ ]*:\([0-9]*\) .*/\1/p' "$T_DIR/$name.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  T_PORTS[$name]=$port
  [ -n "$port" ]
}

# --- API only -----------------------------------------------------------------------------------
"$WORKER_BIN" --db "$W_URL" --concurrency 0 >"$T_DIR/usage.log" 2>&1
is "$?" 2 "--concurrency 0 without --http is a usage error (exit 2)"

start_worker api --concurrency 0
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
start_worker both --queue webq --handler ping=noop
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
printf '%s\n' "$BODY" >"$T_DIR/metrics.txt"
promtool check metrics <"$T_DIR/metrics.txt" >"$T_DIR/promtool.out" 2>&1
ok $? "promtool check metrics accepts the worker's /metrics" || sed 's/^/# /' "$T_DIR/promtool.out"
grep -Eq '^taskflow_worker_handler_duration_seconds_count\{job_type="ping",outcome="succeeded"\} [2-9]' "$T_DIR/metrics.txt"
ok $? "/metrics has the worker's handler durations (both ping jobs)"
grep -Eq '^taskflow_worker_jobs_running 0$' "$T_DIR/metrics.txt"
ok $? "and its jobs running"
grep -q '^taskflow_http_requests_total' "$T_DIR/metrics.txt"
ok $? "and the HTTP server's"
grep -q '^taskflow_jobs{' "$T_DIR/metrics.txt"
ok $((1 - $?)) "but not taskflow.metrics(): the database-wide series come from one place (--http-database-metrics)"

done_testing
