#!/usr/bin/env bash
# Logs and metrics of the HTTP server and the worker (issue 10): with --log-format json every
# line of either binary is one JSON object (the embedded server's lines included) and job lines
# carry worker_id; the database-wide series come from one place only (taskflow-http, or a worker
# with --http-database-metrics), a worker's --metrics serves its own series with nothing but the
# taskflow_worker role; a worker --http with a role outside taskflow_http refuses to start; a
# payload nested too deeply (put in the database behind the API's back) fails its job instead of
# reaching a handler.
. "$(dirname "$0")/http_lib.sh"

require_worker_http
ADMIN=$(new_key '' admin)
key_args ADM "$ADMIN" application/json
sql "SELECT taskflow.create_queue('oq')" >/dev/null

# all_json FILE: every line of FILE is one JSON object (prints the first that is not).
all_json() {
  python3 -c '
import json, sys
n = 0
for line in open(sys.argv[1], encoding="utf-8", errors="replace"):
    n += 1
    try:
        if not isinstance(json.loads(line), dict): raise ValueError("not an object")
    except ValueError as e:
        print("line %d is not a JSON object: %s" % (n, line.rstrip()[:200])); sys.exit(1)
if n == 0: print("no lines"); sys.exit(1)
print("%d lines" % n)' "$1"
}

terminate_http_backends() {
  sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'taskflow-http' AND datname = current_database()" >/dev/null
}

# --- taskflow-http --log-format json --------------------------------------------------------------
start_server jlog --log-format json --log-level debug
ok $? "taskflow-http --log-format json starts"
SERVER=jlog req POST /jobs "${ADM[@]}" -d '{"job_type": "j", "queue": "oq"}'
is "$STATUS" 201 "a request to it"
SERVER=jlog req GET /jobs/999999 "${ADM[@]}"
terminate_http_backends
SERVER=jlog req GET /jobs/1 "${ADM[@]}"
is_problem 503 "a request on a connection the database dropped (logs a lost connection)"
SERVER=jlog req GET /metrics
stop_server jlog
msg=$(all_json "$T_DIR/jlog.log"); ok $? "every line taskflow-http wrote is a JSON object ($msg)"
[ -n "$msg" ] && diag "$msg"
grep -q '"level":"warning","msg":"GET /jobs/1: database connection lost' "$T_DIR/jlog.log"
ok $? "the lost-connection line is among them"
grep -q '"msg":"POST /jobs 201' "$T_DIR/jlog.log"
ok $? "and the request lines"

# --- taskflow-worker --http --log-format json -----------------------------------------------------
# A payload no handler may get: nested 150 levels, put in behind the API's back (a tenant could
# schedule it through SQL where no depth bound applies).
DEEP=$(sql "SELECT taskflow.schedule('deep', queue => 'oq')")
sql "UPDATE taskflow.jobs SET payload = ('{\"a\": ' || repeat('[', 149) || repeat(']', 149) || '}')::jsonb WHERE id = $DEEP" >/dev/null
"$WORKER_BIN" --db "$W_URL" --http 127.0.0.1:0 --queue oq --handler j=noop --handler deep=noop \
  --worker-id json-worker --poll-interval 200ms --log-format json --log-level debug \
  >"$T_DIR/wjson.out" 2>"$T_DIR/wjson.log" &
T_SERVERS[wjson]=$!; disown "$!"
wait_port wjson 'HTTP API listening on 127.0.0.1:' "$T_DIR/wjson.log"
ok $? "taskflow-worker --http --log-format json starts"
SERVER=wjson req POST /jobs "${ADM[@]}" -d '{"job_type": "j", "queue": "oq"}'
JOB=$(json_get "$BODY" '{id}')
for i in $(seq 1 100); do
  s1=$(sql "SELECT state FROM taskflow.jobs WHERE id = ${JOB:-0}")
  s2=$(sql "SELECT state FROM taskflow.jobs WHERE id = ${DEEP:-0}")
  [ "$s1" = SUCCEEDED ] && [ "$s2" != PENDING ] && [ "$s2" != RUNNING ] && break
  sleep 0.1
done
is "$s1" SUCCEEDED "the worker ran the job posted to it"
is "$s2 $(sql "SELECT last_error_type FROM taskflow.jobs WHERE id = ${DEEP:-0}")" "FAILED payload_too_deep" \
  "a payload nested 150 levels fails without reaching a handler (payload_too_deep, not retried)"
terminate_http_backends
SERVER=wjson req GET /jobs/1 "${ADM[@]}"
is_problem 503 "a request on a dropped connection (a lost-connection line of the embedded server)"
SERVER=wjson req GET /health
is "$STATUS" 200 "the worker's server is alive"
stop_server wjson
msg=$(all_json "$T_DIR/wjson.log"); ok $? "every line the worker wrote is a JSON object ($msg)"
[ -n "$msg" ] && diag "$msg"
python3 -c '
import json, sys
job_lines = [l for l in map(json.loads, open(sys.argv[1])) if "job_id" in l]
bad = [l for l in job_lines if l.get("worker_id") != "json-worker"]
print(len(job_lines), len(bad)); sys.exit(1 if not job_lines or bad else 0)' "$T_DIR/wjson.log" >"$T_DIR/wid.out"
ok $? "every job line carries worker_id (job lines, without it: $(cat "$T_DIR/wid.out"))"

# --- which series where -------------------------------------------------------------------------
start_server db
SERVER=db req GET /metrics
grep -q '^taskflow_jobs{' <<<"$BODY"
ok $? "taskflow-http's /metrics serves the database-wide series"
start_server nodb --database-metrics false
SERVER=nodb req GET /metrics
grep -q '^taskflow_jobs{\|^taskflow_http_database_up' <<<"$BODY"
ok $((1 - $?)) "taskflow-http --database-metrics false does not"
grep -q '^taskflow_http_connections_active ' <<<"$BODY"
ok $? "but still serves its own series"

"$WORKER_BIN" --db "$W_URL" --http 127.0.0.1:0 --queue oq --handler j=noop --poll-interval 200ms \
  >"$T_DIR/wm.out" 2>"$T_DIR/wm.log" &
T_SERVERS[wm]=$!; disown "$!"
wait_port wm 'HTTP API listening on 127.0.0.1:' "$T_DIR/wm.log"
ok $? "a worker with --http"
SERVER=wm req GET /metrics
printf '%s\n' "$BODY" >"$T_DIR/wm.prom"
grep -q '^taskflow_jobs{\|^taskflow_jobs_finished_total{' "$T_DIR/wm.prom"
ok $((1 - $?)) "its /metrics does not serve the database-wide series (sum() over workers would count them twice)"
grep -q '^taskflow_worker_jobs_running ' "$T_DIR/wm.prom" && grep -q '^taskflow_http_connections_active ' "$T_DIR/wm.prom"
ok $? "it serves its own: handlers and HTTP server"
stop_server wm
"$WORKER_BIN" --db "$W_URL" --http 127.0.0.1:0 --http-database-metrics --queue oq --handler j=noop \
  >"$T_DIR/wmd.out" 2>"$T_DIR/wmd.log" &
T_SERVERS[wmd]=$!; disown "$!"
wait_port wmd 'HTTP API listening on 127.0.0.1:' "$T_DIR/wmd.log"
SERVER=wmd req GET /metrics
grep -q '^taskflow_jobs{' <<<"$BODY"
ok $? "--http-database-metrics adds them (for the one instance that should serve them)"
stop_server wmd

# --metrics with a role that is only a taskflow_worker.
sql "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tf_only_worker') THEN CREATE ROLE tf_only_worker LOGIN IN ROLE taskflow_worker; END IF; END\$\$" >/dev/null
ONLY_WORKER="postgresql://tf_only_worker@127.0.0.1:$PGPORT/$T_DB"
"$WORKER_BIN" --db "$ONLY_WORKER" --metrics 127.0.0.1:0 --queue oq --handler j=noop --poll-interval 200ms \
  >"$T_DIR/wmet.out" 2>"$T_DIR/wmet.log" &
T_SERVERS[wmet]=$!; disown "$!"
wait_port wmet 'metrics listening address=127.0.0.1:' "$T_DIR/wmet.log"
ok $? "taskflow-worker --metrics 127.0.0.1:0 with a taskflow_worker role"
J2=$(sql "SELECT taskflow.schedule('j', queue => 'oq')")
for i in $(seq 1 100); do [ "$(sql "SELECT state FROM taskflow.jobs WHERE id = $J2")" = SUCCEEDED ] && break; sleep 0.1; done
SERVER=wmet req GET /metrics
printf '%s\n' "$BODY" >"$T_DIR/wmet.prom"
is "$STATUS" 200 "GET /metrics on it"
grep -q '^taskflow_worker_handler_duration_seconds_count{job_type="j",outcome="succeeded"} 1$' "$T_DIR/wmet.prom"
ok $? "it serves the worker's handler series (the job it ran)"
grep -q '^taskflow_jobs\|^taskflow_http_' "$T_DIR/wmet.prom"
ok $((1 - $?)) "and nothing else"
if command -v promtool >/dev/null; then
  promtool check metrics <"$T_DIR/wmet.prom" >"$T_DIR/wmet.promtool" 2>&1
  ok $? "promtool check metrics accepts it"
fi
SERVER=wmet req GET /other
is "$STATUS" 404 "other paths: 404"
stop_server wmet

# --- the worker's --http role ---------------------------------------------------------------------
"$WORKER_BIN" --db "$ONLY_WORKER" --http 127.0.0.1:0 --queue oq --handler j=noop >"$T_DIR/wrole.out" 2>"$T_DIR/wrole.log" &
refuses_non_member $! "$T_DIR/wrole.log" "taskflow-worker --http"

done_testing
