#!/usr/bin/env bash
# The example HTTP handlers in worker/examples/handlers (Node: node:http only; Python: the
# standard library only), each behind a worker: they verify the signature, succeed, fail,
# snooze with 429 + Retry-After, work longer than the lease, and stop when a cancel aborts
# the request.
source "$(dirname "$0")/worker_lib.sh"

export TASKFLOW_HTTP_SECRET="example-secret-$$-0123456789"
EXAMPLES="$ROOT/worker/examples/handlers"

# start_handler NAME COMMAND...: runs the handler on a free port; sets H_PORT, H_PID.
start_handler() {
  local name=$1; shift
  "$@" 0 >"$T_DIR/$name.out" 2>&1 &
  H_PID=$!
  H_PORT=
  for _ in $(seq 1 100); do
    H_PORT=$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$T_DIR/$name.out")
    [ -n "$H_PORT" ] && return 0
    sleep 0.1
  done
  return 1
}

job() { sql "SELECT concat_ws(' ', state, attempts, last_error_type) FROM taskflow.jobs WHERE id = $1"; }

run_example() {
  local lang=$1; shift
  local q="wt_ex_${lang}_$$" url
  make_queue "$q" 3
  start_handler "$lang" "$@"
  ok $? "$lang: the handler listens" || { cat "$T_DIR/$lang.out"; return; }
  url="http://127.0.0.1:$H_PORT/"
  local flags=()
  for type in greet charge rate_limited report; do flags+=(--handler "example.$type=http:$url"); done
  # A worker whose secret differs from the handler's: every request is refused with 401.
  cat >"$T_DIR/$lang-forged.json" <<JSON
{"handlers": {"example.forged": {"executor": "http", "url": "$url", "secret": "not-the-handlers-secret"}}}
JSON

  s() { sql "SELECT taskflow.schedule('$1', '$2', queue => '$q')"; }
  local greet declined charged limited report cancel forged not_before
  greet=$(s example.greet '{"name": "Ada"}')
  declined=$(s example.charge '{"card": "declined"}')
  charged=$(s example.charge '{"card": "ok"}')
  report=$(s example.report '{"seconds": 3}')
  start_worker "$lang" --queue "$q" "${flags[@]}" --config "$T_DIR/$lang-forged.json" --lease 2s \
    --heartbeat-interval 500ms --concurrency 4
  forged=$(s example.forged '{}')
  # Scheduled once the worker runs, so its first try comes well before not_before even on a
  # loaded machine (the handler answers 429 until then).
  not_before=$(( $(date +%s) + 4 ))
  limited=$(s example.rate_limited "{\"not_before\": $not_before}")

  wait_until 20 "SELECT bool_and(state IN ('SUCCEEDED', 'FAILED', 'DEAD')) FROM taskflow.jobs WHERE queue = '$q'"
  ok $? "$lang: every job ends" || show_log "$lang"
  is "$(sql "SELECT state || ' ' || (result ->> 'greeting') FROM taskflow.jobs WHERE id = $greet")" \
    "SUCCEEDED Hello, Ada!" "$lang: a signed request succeeds with the handler's JSON as the result"
  is "$(job "$declined")" "FAILED 1 http_422" "$lang: 422 fails the job at once"
  is "$(job "$charged")" "SUCCEEDED 1" "$lang: the same handler succeeds for a good card"
  is "$(job "$forged")" "FAILED 1 http_401" "$lang: a request signed with another secret is refused (401)"
  is "$(sql "SELECT concat_ws(' ', state, attempts - budget_offset, h #>> '{attempts,0,outcome}') FROM taskflow.jobs, taskflow.job_history($limited) h WHERE id = $limited")" \
    "SUCCEEDED 1 snoozed" "$lang: 429 + Retry-After snoozes the job; it succeeds without using an attempt"
  [ "$(sql "SELECT extract(epoch FROM finished_at) >= $not_before FROM taskflow.jobs WHERE id = $limited")" = t ]
  ok $? "$lang: and not before the handler's Retry-After"
  is "$(sql "SELECT state || ' ' || attempts || ' ' || (result ->> 'seconds') FROM taskflow.jobs WHERE id = $report")" \
    "SUCCEEDED 1 3" "$lang: a 3 s job under a 2 s lease succeeds on its first attempt (the lease kept alive)"

  cancel=$(s example.report '{"seconds": 60}')
  wait_until 10 "SELECT state = 'RUNNING' FROM taskflow.jobs WHERE id = $cancel"
  ok $? "$lang: a 60 s job runs"
  sleep 1
  sql "SELECT taskflow.cancel($cancel, 'test')" >/dev/null
  wait_until 5 "SELECT state = 'CANCELLED' FROM taskflow.jobs WHERE id = $cancel"
  ok $? "$lang: cancel ends it CANCELLED" || show_log "$lang"
  for _ in $(seq 1 30); do grep -q "job $cancel: the worker aborted the request" "$T_DIR/$lang.out" && break; sleep 0.1; done
  grep -q "job $cancel: the worker aborted the request" "$T_DIR/$lang.out"
  ok $? "$lang: the handler saw the request aborted and stopped"

  stop_worker "$lang" TERM
  is "$W_STATUS" 0 "$lang: the worker exits 0"
  kill "$H_PID" 2>/dev/null
  wait "$H_PID" 2>/dev/null
}

run_example node node "$EXAMPLES/node/handler.js"
run_example python python3 "$EXAMPLES/python/handler.py"
done_testing
