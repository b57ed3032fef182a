#!/usr/bin/env bash
# The HTTP handler contract (docs/worker.md), end to end against worker_httpd.pl:
# pooled keep-alive connections, signed requests, the outcome table, a request
# longer than the lease, and a cancel that aborts the request in flight.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_http_$$"
make_queue "$Q" 2
SECRET="s3cret-$$-0123456789abcdef"
printf '%s\n' "$SECRET" >"$T_DIR/secret"
HTTP_LOG="$T_DIR/http.log"
: >"$HTTP_LOG"
perl "$(dirname "$0")/worker_httpd.pl" "$T_DIR/port" "$HTTP_LOG" "$SECRET" &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$T_DIR/port" ] && break; sleep 0.1; done
URL="http://127.0.0.1:$(cat "$T_DIR/port")"

cat >"$T_DIR/handlers.json" <<JSON
{"handlers": {
  "echo":     {"executor": "http", "url": "$URL/ok", "secret_file": "$T_DIR/secret"},
  "forged":   {"executor": "http", "url": "$URL/ok", "secret": "not-the-receivers-secret"},
  "conflict": {"executor": "http", "url": "$URL/conflict", "secret_file": "$T_DIR/secret"},
  "gone":     {"executor": "http", "url": "$URL/gone", "secret_file": "$T_DIR/secret"},
  "snooze":   {"executor": "http", "url": "$URL/snooze", "secret_file": "$T_DIR/secret"},
  "snoozej":  {"executor": "http", "url": "$URL/snooze-json", "secret_file": "$T_DIR/secret"},
  "long":     {"executor": "http", "url": "$URL/long?ms=4000", "secret_file": "$T_DIR/secret"},
  "endless":  {"executor": "http", "url": "$URL/long?ms=60000", "secret_file": "$T_DIR/secret", "timeout": "2m"}
}}
JSON

s() { sql "SELECT taskflow.schedule('$1', '${2:-{\}}', queue => '$Q')"; }
job() { sql "SELECT concat_ws(' ', state, attempts, last_error_type) FROM taskflow.jobs WHERE id = $1"; }

# Keep-alive: 40 jobs through 4 handler threads open at most 4 connections.
for i in $(seq 1 40); do s echo "{\"n\": $i}" >/dev/null; done
start_worker w --queue "$Q" --config "$T_DIR/handlers.json" --concurrency 4 --heartbeat-interval 500ms
wait_until 20 "SELECT count(*) = 40 FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'echo' AND state = 'SUCCEEDED'"
ok $? "40 signed jobs succeed" || show_log w
requests=$(grep -c '^/ok ' "$HTTP_LOG")
accepts=$(grep -c '^ACCEPT' "$HTTP_LOG")
is "$requests" 40 "40 requests reached the handler"
[ "$accepts" -ge 1 ] && [ "$accepts" -le 4 ]
ok $? "over at most 4 TCP connections, one per handler thread ($accepts)"
is "$(grep '^/ok ' "$HTTP_LOG" | awk '{print $5}' | sort -u)" ok "every request's TaskFlow-Signature verifies"
is "$(sql "SELECT result FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'echo' AND payload = '{\"n\": 7}'")" \
  '{"got": {"n": 7}}' "the 2xx JSON body is the result"

# The outcome table.
forged=$(s forged)
conflict=$(s conflict)
gone=$(s gone)
wait_until 20 "SELECT bool_and(state IN ('FAILED', 'DEAD')) FROM taskflow.jobs WHERE id IN ($forged, $conflict, $gone)"
ok $? "the failing jobs end" || show_log w
is "$(job "$forged")" "FAILED 1 http_401" "a wrong secret: the receiver answers 401, FAILED at once"
is "$(grep "^/ok $forged:" "$HTTP_LOG" | awk '{print $5}')" bad "and the receiver saw a signature that does not verify"
is "$(job "$conflict")" "DEAD 2 http_409" "409 is retried until the attempts run out"
is "$(job "$gone")" "FAILED 1 http_410" "410 fails permanently"

# 429 + Retry-After: 1 and 503 + {"snooze_seconds": 1} snooze the job: it runs again after
# a second without using up an attempt (max_attempts 1: a failure would make it DEAD).
snooze=$(sql "SELECT taskflow.schedule('snooze', '{}', queue => '$Q', max_attempts => 1)")
snoozej=$(sql "SELECT taskflow.schedule('snoozej', '{}', queue => '$Q', max_attempts => 1)")
wait_until 15 "SELECT bool_and(state IN ('SUCCEEDED', 'FAILED', 'DEAD')) FROM taskflow.jobs WHERE id IN ($snooze, $snoozej)"
ok $? "the snoozed jobs end" || show_log w
for id in "$snooze" "$snoozej"; do
  is "$(sql "SELECT concat_ws(' ', state, attempts - budget_offset, result) FROM taskflow.jobs WHERE id = $id")" \
    'SUCCEEDED 1 {"after": "snooze"}' "job $id: snoozed, then SUCCEEDED with one counted attempt"
  is "$(sql "SELECT (h #>> '{attempts,0,outcome}') || ' ' || ((h #>> '{attempts,1,started_at}')::timestamptz - (h #>> '{attempts,0,finished_at}')::timestamptz >= interval '0.9 seconds') FROM taskflow.job_history($id) h")" \
    "snoozed true" "job $id: the first attempt is recorded as snoozed, the next one started a second later"
done
grep -q "job snoozed job_id=$snooze .*snooze_ms=1000 reason=\"HTTP 429, Retry-After: 1 " "$T_DIR/w.log"
ok $? "the worker logged the snooze with its reason" || show_log w

# A request longer than the lease (2s): the heartbeats keep the lease while it is open.
long=$(s long)
wait_until 10 "SELECT state = 'RUNNING' FROM taskflow.jobs WHERE id = $long"
ok $? "the long request starts"
sleep 3
is "$(sql "SELECT state = 'RUNNING' AND lease_expires_at > started_at + interval '2.5 seconds' FROM taskflow.jobs WHERE id = $long")" t \
  "3 s into the request the job is RUNNING with its lease extended past the first 2 s"
wait_until 10 "SELECT state = 'SUCCEEDED' FROM taskflow.jobs WHERE id = $long"
ok $? "the long request completes the job"
is "$(job "$long")" "SUCCEEDED 1" "on its first attempt"

# Cancel: the heartbeat sees it and the worker aborts the request; the handler sees the close.
endless=$(s endless)
wait_until 10 "SELECT state = 'RUNNING' FROM taskflow.jobs WHERE id = $endless"
ok $? "the endless request starts"
sleep 0.5
cancel_running w "$endless" 'test: stop it' "cancel of the running job"
[ "$CANCEL_MS" -le 2500 ]
ok $? "within a heartbeat interval and the report ($CANCEL_MS ms)"
for _ in $(seq 1 30); do grep -q "^ABORTED /long $endless\$" "$HTTP_LOG" && break; sleep 0.1; done
grep -q "^ABORTED /long $endless\$" "$HTTP_LOG"
ok $? "the handler saw its request aborted"

stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"
done_testing
