#!/usr/bin/env bash
# The dashboard's Jobs, Job detail and Dead letters views in a browser: Debian's Chromium driven
# by playwright-core (dashboard/tests/e2e-jobs.mjs) against a real taskflow-worker --http that
# runs the jobs. A command handler fails until a flag file exists, so two jobs with
# max_attempts 1 end DEAD; the browser reads the attempts and timeline of one, retries it after
# the flag is created and sees it succeed, re-drives the other's dead-letter group, bulk-cancels
# a filtered set of SCHEDULED jobs, pages with "Next page", and a tenant's key typing another
# tenant's job URL sees "not found". TASKFLOW_SCREENSHOTS=1 saves docs/img/job-timeline.png.
. "$(dirname "$0")/http_lib.sh"
. "$(dirname "$0")/dashboard_lib.sh"

browser_fixture e2e_jobs

# The handler: fails (exit 3, retryable) until $FLAG exists, then succeeds with a result.
FLAG="$T_DIR/flaky.ok"
cat >"$T_DIR/flaky.sh" <<SH
#!/bin/sh
cat >/dev/null
if [ -f "$FLAG" ]; then echo '{"ok": true, "attempt": '"\$TASKFLOW_ATTEMPT"'}'; exit 0; fi
echo "the flag file is missing" >&2
exit 3
SH
chmod +x "$T_DIR/flaky.sh"

# Two jobs of acme that end DEAD (one attempt each), one of globex nobody runs (no handler).
DEAD1=$(sql "SELECT taskflow.schedule('e2e.flaky', '{\"order\": 1}', queue => '$Q', tenant_id => 'acme', max_attempts => 1, correlation_id => 'e2e-order-1')")
DEAD2=$(sql "SELECT taskflow.schedule('e2e.flaky', '{\"order\": 2}', queue => '$Q', tenant_id => 'acme', max_attempts => 1)")
OTHER=$(sql "SELECT taskflow.schedule('e2e.other', '{}', queue => '$Q', tenant_id => 'globex')")

start_dashboard_worker "$Q" e2e-jobs-worker "e2e.flaky=command:$T_DIR/flaky.sh"

dead=0
for _ in $(seq 1 150); do
  dead=$(sql "SELECT count(*) FROM taskflow.jobs WHERE id IN ($DEAD1, $DEAD2) AND state = 'DEAD'")
  [ "$dead" -eq 2 ] && break
  sleep 0.1
done
is "$dead" 2 "the worker failed both flaky jobs into DEAD" || sed 's/^/# /' "$T_DIR/worker.log" | tail -20

run_browser_tests 240 dashboard/tests/e2e-jobs.mjs TF_DEAD_JOB="$DEAD1" TF_DEAD_JOB2="$DEAD2" \
  TF_OTHER_JOB="$OTHER" TF_FLAG_FILE="$FLAG" TF_WORKER_ID=e2e-jobs-worker
done_testing
