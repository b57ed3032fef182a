#!/usr/bin/env bash
# The dashboard in a browser: Debian's Chromium driven by playwright-core (dashboard/tests/e2e.mjs)
# against a real taskflow-worker --http serving the dashboard and running jobs: sign in, a job
# scheduled with SQL appears without a reload, keyboard navigation, text alternatives, a tenant's
# key sees only its tenant, a bad key is refused. TASKFLOW_SCREENSHOTS=1 saves docs/img/overview.png.
. "$(dirname "$0")/http_lib.sh"
. "$(dirname "$0")/dashboard_lib.sh"

browser_fixture e2e_work
QO=e2e_other
sql "SELECT taskflow.create_queue('$QO'), taskflow.pause_queue('$QO')" >/dev/null
sql "SELECT taskflow.set_tenant_limit('acme', 4)" >/dev/null
# A job of the other tenant in the shared queue that no worker takes (no handler for its type),
# and one in the other queue.
sql "SELECT taskflow.schedule('e2e.other', '{}', queue => '$Q', tenant_id => 'globex'),
            taskflow.schedule('e2e.other', '{}', queue => '$QO', tenant_id => 'globex')" >/dev/null
# One job of acme done before the browser opens.
sql "SELECT taskflow.schedule('e2e.sleep', '{\"seconds\": 0}', queue => '$Q', tenant_id => 'acme')" >/dev/null

start_dashboard_worker "$Q" e2e-worker-1 "e2e.sleep=sleep"
SERVER=worker req GET /
is "$STATUS $(header Content-Type)" "200 text/html; charset=utf-8" "the worker's / is the dashboard"
wait_for_done() {
  for _ in $(seq 1 100); do
    [ "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'e2e.sleep' AND state = 'SUCCEEDED'")" -ge 1 ] && return 0
    sleep 0.1
  done
  return 1
}
wait_for_done
ok $? "the worker ran the first job"

run_browser_tests 180 dashboard/tests/e2e.mjs TF_OTHER_QUEUE="$QO"
done_testing
