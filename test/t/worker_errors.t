#!/usr/bin/env bash
# Each failure mode ends in the right state with the right error type: timeout,
# non-zero exit, permanent exit code, a command's snooze (exit 75), HTTP 500 then 200, HTTP 400, SQL error,
# and a job type without a handler (not acquired; failed by a catch-all worker).
source "$(dirname "$0")/worker_lib.sh"

Q="wt_err_$$"
make_queue "$Q" 2
HTTP_LOG="$T_DIR/http.log"
: >"$HTTP_LOG"
perl "$(dirname "$0")/worker_httpd.pl" "$T_DIR/port" "$HTTP_LOG" &
HTTPD=$!
trap 'kill $HTTPD 2>/dev/null; t_cleanup' EXIT
for _ in $(seq 1 50); do [ -s "$T_DIR/port" ] && break; sleep 0.1; done
PORT=$(cat "$T_DIR/port")
URL="http://127.0.0.1:$PORT"

cat >"$T_DIR/handlers.json" <<JSON
{"handlers": {
  "slow":      {"executor": "command", "command": ["sleep", "30"], "timeout": "20s"},
  "exit3":     {"executor": "command", "command": ["/bin/sh", "-c", "echo 'disk full' >&2; exit 3"]},
  "exit65":    {"executor": "command", "command": ["/bin/sh", "-c", "echo 'bad input' >&2; exit 65"]},
  "exit66":    {"executor": "command", "command": ["/bin/sh", "-c", "exit 66"], "permanent_exit_codes": [66]},
  "snoozer":   {"executor": "command", "command": ["/bin/sh", "-c", "if [ \"\$TASKFLOW_ATTEMPT\" = 1 ]; then echo '{\"snooze\": 0.5}'; exit 75; fi; echo '{\"done\": true}'"]},
  "flaky":     {"executor": "http", "url": "$URL/flaky"},
  "bad":       {"executor": "http", "url": "$URL/bad"},
  "echo":      {"executor": "http", "url": "$URL/ok"},
  "double":    {"executor": "sql", "statement": "SELECT (\$1::jsonb ->> 'n')::int * 2 AS doubled"},
  "divide":    {"executor": "sql", "statement": "SELECT 1 / (\$1::jsonb ->> 'n')::int"}
}}
JSON

s() { sql "SELECT taskflow.schedule('$1', '${2:-{\}}', queue => '$Q'${3:+, $3})"; }
slow=$(s slow '{}' "timeout => '500 milliseconds', max_attempts => 1")
exit3=$(s exit3)
exit65=$(s exit65)
exit66=$(s exit66)
snoozer=$(s snoozer '{}' "max_attempts => 1")
flaky=$(s flaky '{"to": "a@example.com"}' "correlation_id => 'req-42'")
bad=$(s bad)
echo_job=$(s echo '{"n": 1}')
double=$(s double '{"n": 21}')
divide=$(s divide '{"n": 0}')
orphan=$(s unknown_type)

start_worker w --queue "$Q" --config "$T_DIR/handlers.json" --concurrency 8
wait_until 20 "SELECT bool_and(state IN ('SUCCEEDED', 'FAILED', 'DEAD')) FROM taskflow.jobs WHERE queue = '$Q' AND job_type <> 'unknown_type'"
ok $? "every handled job reached a final state" || show_log w

job() { sql "SELECT concat_ws(' ', state, attempts, last_error_type) FROM taskflow.jobs WHERE id = $1"; }
is "$(job "$slow")" "DEAD 1 timeout" "the job's own timeout (500 ms) beats the executor's (20s): timeout"
is "$(job "$exit3")" "DEAD 2 exit_code" "non-zero exit: retried, then DEAD with exit_code"
is "$(sql "SELECT last_error_message FROM taskflow.jobs WHERE id = $exit3")" "exit code 3: disk full" \
  "the stderr tail is the error message"
is "$(job "$exit65")" "FAILED 1 exit_code" "exit 65 (EX_DATAERR) is permanent: FAILED, not retried"
is "$(job "$exit66")" "FAILED 1 exit_code" "configured permanent exit code 66: FAILED"
is "$(sql "SELECT state || ' ' || attempts || ' ' || result FROM taskflow.jobs WHERE id = $snoozer")" 'SUCCEEDED 2 {"done": true}' \
  "exit 75 with {\"snooze\": 0.5}: snoozed, then SUCCEEDED on attempt 2 although max_attempts is 1"
is "$(sql "SELECT string_agg(outcome || ':' || COALESCE(backoff_delay::text, '-'), ',' ORDER BY attempt) FROM taskflow.job_attempts WHERE job_id = $snoozer")" \
  "snoozed:00:00:00.5,succeeded:-" "the first attempt is recorded as snoozed for 0.5 s"
is "$(sql "SELECT state || ' ' || attempts FROM taskflow.jobs WHERE id = $flaky")" "SUCCEEDED 2" "HTTP 500 then 200: retried, then SUCCEEDED"
is "$(sql "SELECT (h -> 'attempts' -> 0 ->> 'error_type') || ' ' || (h -> 'attempts' -> 0 ->> 'error_message') FROM taskflow.job_history($flaky) h")" \
  "http_500 HTTP 500: upstream exploded" "the 500 attempt is recorded with its body"
is "$(sql "SELECT result FROM taskflow.jobs WHERE id = $flaky")" '{"delivered": true}' "the 200's JSON body is the result"
is "$(grep '^/flaky' "$HTTP_LOG" | cut -d' ' -f2- | tr '\n' ',')" "$flaky:1 1 req-42 none,$flaky:2 2 req-42 none," \
  "Idempotency-Key job_id:attempt, attempt and correlation id headers; no secret, no signature"
is "$(job "$bad")" "FAILED 1 http_400" "HTTP 400: FAILED, not retried"
is "$(sql "SELECT result FROM taskflow.jobs WHERE id = $echo_job")" '{"got": {"n": 1}}' "the payload is POSTed as the body"
is "$(sql "SELECT state || ' ' || result FROM taskflow.jobs WHERE id = $double")" 'SUCCEEDED {"rows": [{"doubled": 42}]}' \
  "sql executor: payload as \$1, rows as the result"
is "$(job "$divide")" "FAILED 1 22012" "sql executor: an error fails with the SQLSTATE as error type"
is "$(job "$orphan")" "PENDING 0" "a job type without a handler is not acquired"

stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"

start_worker catchall --queue "$Q" --catch-all --handler ping=noop
wait_until 10 "SELECT state = 'FAILED' FROM taskflow.jobs WHERE id = $orphan"
ok $? "a catch-all worker acquires it"
is "$(job "$orphan")" "FAILED 1 no_handler" "and fails it, not retryable, with no_handler"
stop_worker catchall TERM
is "$W_STATUS" 0 "the catch-all worker exits 0"

# The worker needs nothing but the taskflow_worker group role.
ROLE="wt_worker_$$"
sql "CREATE ROLE $ROLE LOGIN IN ROLE taskflow_worker" >/dev/null
ping=$(s ping)
PGUSER=$ROLE start_worker least --queue "$Q" --handler ping=noop
wait_until 10 "SELECT state = 'SUCCEEDED' FROM taskflow.jobs WHERE id = $ping"
ok $? "a worker connected as a role with only taskflow_worker runs jobs" || show_log least
stop_worker least TERM
is "$W_STATUS" 0 "and exits 0"
sql "DROP ROLE $ROLE" >/dev/null
done_testing
