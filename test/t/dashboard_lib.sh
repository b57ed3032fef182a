# Shared by the dashboard's browser tests in test/t (sourced after http_lib.sh, not run):
#   require_browser    fails the test's setup unless taskflow-worker (with --http), Debian's
#                      Chromium, node and dashboard/node_modules/playwright-core are there;
#                      sets WORKER_BIN and CHROMIUM
require_browser() {
  WORKER_BIN=${TASKFLOW_WORKER_BIN:-$ROOT/build/worker/taskflow-worker}
  case "$WORKER_BIN" in /*) ;; *) WORKER_BIN="$ROOT/$WORKER_BIN" ;; esac
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] || fail_setup "no Chromium at $CHROMIUM (test/deps.sh installs the Debian package chromium)"
  command -v node >/dev/null || fail_setup "node is not installed (test/deps.sh installs nodejs)"
  [ -f "$ROOT/dashboard/node_modules/playwright-core/package.json" ] ||
    fail_setup "dashboard/node_modules has no playwright-core (the CMake build runs npm ci)"
  grep -q -- '--http' <<<"$("$WORKER_BIN" --help 2>/dev/null)" || fail_setup "$WORKER_BIN has no --http"
}
#   start_dashboard_worker QUEUE WORKER_ID HANDLER
#                      starts taskflow-worker --http on a free port, running QUEUE's jobs with
#                      HANDLER (type=executor); one test that it listens; sets port and T_PORTS[worker]
start_dashboard_worker() {
  port=""
  "$WORKER_BIN" --db "postgresql://$PGUSER@127.0.0.1:$PGPORT/$T_DB" --http 127.0.0.1:0 \
    --poll-interval 200ms --queue "$1" --handler "$3" --worker-id "$2" >"$T_DIR/worker.log" 2>&1 &
  T_SERVERS[worker]=$!
  disown "$!"
  for _ in $(seq 1 100); do
    port=$(sed -n 's/.*HTTP API listening on [^ ]*:\([0-9]*\) .*/\1/p' "$T_DIR/worker.log" | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ]
  ok $? "taskflow-worker --http serves the dashboard and runs jobs" || sed 's/^/# /' "$T_DIR/worker.log"
  T_PORTS[worker]=$port
}
