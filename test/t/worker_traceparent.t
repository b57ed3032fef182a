#!/usr/bin/env bash
# Trace context reaches command handlers: a job scheduled with a traceparent runs with
# TRACEPARENT set to it (OpenTelemetry's environment carrier); a job without one runs without
# TRACEPARENT, even when the worker itself was started with one.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_tp_$$"
make_queue "$Q" 1
TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
handler_script show <<'SH'
#!/bin/sh
set=false
[ "${TRACEPARENT+x}" = x ] && set=true
printf '{"tp": "%s", "set": %s}' "${TRACEPARENT:-}" "$set"
SH
cat >"$T_DIR/handlers.json" <<JSON
{"handlers": {"show": {"executor": "command", "command": ["$T_DIR/show.sh"]}}}
JSON
with=$(sql "SELECT taskflow.schedule('show', queue => '$Q', traceparent => '$TP')")
without=$(sql "SELECT taskflow.schedule('show', queue => '$Q')")

# The worker's own environment has a TRACEPARENT (e.g. started by a traced deploy script).
TRACEPARENT=00-11111111111111111111111111111111-2222222222222222-01 \
  start_worker w --queue "$Q" --config "$T_DIR/handlers.json"
wait_until 30 "SELECT count(*) = 2 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "both jobs succeed" || show_log w
is "$(sql "SELECT result::text FROM taskflow.jobs WHERE id = $with")" "{\"tp\": \"$TP\", \"set\": true}" \
  "a command handler gets the job's traceparent in TRACEPARENT"
is "$(sql "SELECT result::text FROM taskflow.jobs WHERE id = $without")" '{"tp": "", "set": false}' \
  "a job without one runs without TRACEPARENT (not the worker's own)"
stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"
done_testing
