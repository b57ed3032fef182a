# Shared by the dashboard's browser tests in test/t (sourced after http_lib.sh, not run):
#   require_browser    fails the test's setup unless taskflow-worker (with --http), Debian's
#                      Chromium, node and dashboard/node_modules/playwright-core are there;
#                      sets WORKER_BIN and CHROMIUM
#   browser_fixture QUEUE
#                      require_browser, then the keys ADMIN (admin) and ACME (tenant acme) and
#                      the queue Q=QUEUE, created
require_browser() {
  CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
  [ -x "$CHROMIUM" ] || fail_setup "no Chromium at $CHROMIUM (test/deps.sh installs the Debian package chromium)"
  command -v node >/dev/null || fail_setup "node is not installed (test/deps.sh installs nodejs)"
  [ -f "$ROOT/dashboard/node_modules/playwright-core/package.json" ] ||
    fail_setup "dashboard/node_modules has no playwright-core (the CMake build runs npm ci)"
  require_worker_http
}
browser_fixture() {
  require_browser
  ADMIN=$(new_key '' admin)
  ACME=$(new_key acme)
  Q=$1
  sql "SELECT taskflow.create_queue('$Q')" >/dev/null
}
#   start_dashboard_worker QUEUE WORKER_ID HANDLER
#                      starts taskflow-worker --http on a free port (start_http_worker worker),
#                      running QUEUE's jobs with HANDLER (type=executor); one test that it
#                      listens (its log shown if not); sets port and T_PORTS[worker]
start_dashboard_worker() {
  local rc
  start_http_worker worker --queue "$1" --handler "$3" --worker-id "$2"
  rc=$?
  ok "$rc" "taskflow-worker --http serves the dashboard and runs jobs"
  [ "$rc" -eq 0 ] || sed 's/^/# /' "$T_DIR/worker.log"
  port=${T_PORTS[worker]}
}
#   run_browser_tests SECONDS SCRIPT [NAME=VALUE...]
#                      runs the browser test SCRIPT (dashboard/tests/*.mjs) against the worker on
#                      $port (set it for another server) with the keys $ADMIN and $ACME (tenant acme; globex the other one),
#                      queue $Q and the extra environment given; its TAP lines become this
#                      script's tests (renumbered), and a failing exit one more failed test
run_browser_tests() {
  local seconds=$1 script=$2 out rc line
  shift 2
  out=$(cd "$ROOT" && env TF_BASE_URL="http://127.0.0.1:$port" TF_ADMIN_KEY="$ADMIN" TF_CLIENT_KEY="$ACME" \
    TF_CLIENT_TENANT=acme TF_OTHER_TENANT=globex TF_QUEUE="$Q" CHROMIUM="$CHROMIUM" "$@" \
    timeout "$seconds" node "$script" 2>"$T_DIR/e2e.err")
  rc=$?
  while IFS= read -r line; do
    case "$line" in
      "ok "*) ok 0 "${line#ok * - }" ;;
      "not ok "*) ok 1 "${line#not ok * - }" ;;
      "#"*) echo "$line" ;;
    esac
  done <<<"$out"
  [ "$rc" -eq 0 ] || { ok 1 "$script exited $rc"; sed 's/^/# /' "$T_DIR/e2e.err" | tail -20; }
}
