#!/usr/bin/env bash
# Exit codes and startup checks of taskflow-worker (docs/worker.md, "Exit codes").
source "$(dirname "$0")/worker_lib.sh"

run() { "$WORKER_BIN" "$@" >"$T_DIR/out" 2>&1; echo $?; }

is "$(run --help)" 0 "--help exits 0"
grep -q -- "--handler" "$T_DIR/out"
ok $? "--help lists --handler"
is "$(run --version)" 0 "--version exits 0"
is "$(run --bogus)" 2 "an unknown flag exits 2"
is "$(run)" 2 "no handlers exits 2"
is "$(run --handler ping)" 2 "a malformed --handler exits 2"
is "$(run --handler ping=teleport)" 2 "an unknown executor exits 2"
is "$(run --handler x=command:/nonexistent/program)" 2 "a missing program exits 2"
grep -q "/nonexistent/program" "$T_DIR/out"
ok $? "and names it"
echo '{"handlers": {"x": {"executor": "noop", "timeout": "1s"}}}' >"$T_DIR/bad.json"
is "$(run --config "$T_DIR/bad.json")" 2 "a handler file with an invalid key exits 2"
is "$(run --handler a=noop --lease soon)" 2 "a bad duration exits 2"
is "$(run --handler a=noop --lease 2s --heartbeat-interval 3s)" 2 "a heartbeat interval longer than the lease exits 2"
is "$(run --handler a=noop --log-level loud)" 2 "an unknown log level exits 2"

is "$(run --handler a=noop --queue "wt_no_such_queue_$$")" 3 "an unknown queue exits 3"
grep -q "create_queue" "$T_DIR/out"
ok $? "with the engine's hint to create it"
is "$(run --handler a=noop --db "host=$T_DIR port=1 connect_timeout=2")" 3 "an unreachable database exits 3"
is "$(run --handler a=noop --db "dbname=postgres")" 3 "a database without the extension exits 3"
grep -q "CREATE EXTENSION taskflow" "$T_DIR/out"
ok $? "and says how to install it"

# TASKFLOW_* environment variables configure the same options.
TASKFLOW_LOG_FORMAT=json TASKFLOW_QUEUES=default TASKFLOW_WORKER_ID=env-worker \
  start_worker env --handler a=noop --shutdown-grace 1s
deadline=$(( $(date +%s) + 10 ))
until grep -q '"worker started"' "$T_DIR/env.log" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
grep -q '"worker_id":"env-worker"' "$T_DIR/env.log"
ok $? "TASKFLOW_WORKER_ID and TASKFLOW_LOG_FORMAT are read from the environment"
stop_worker env TERM
is "$W_STATUS" 0 "it exits 0 on SIGTERM"
done_testing
