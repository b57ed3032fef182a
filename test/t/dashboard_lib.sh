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
  "$WORKER_BIN" --help 2>/dev/null | grep -q -- '--http' || fail_setup "$WORKER_BIN has no --http"
}
