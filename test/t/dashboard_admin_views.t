#!/usr/bin/env bash
# The dashboard's Queues, Rules and Tenants views in a browser: Debian's Chromium driven by
# playwright-core (dashboard/tests/e2e-admin.mjs) against a real taskflow-worker --http that
# serves the dashboard and runs the queue's jobs: pause a queue and see the worker leave its jobs
# PENDING, resume and see them run; a refused setting shows the extension's message; enable,
# disable and fire a rule and see its firing (and a failing firing's error and SQLSTATE); a
# client key has no Queues and sees only its tenant on Tenants.
. "$(dirname "$0")/http_lib.sh"
. "$(dirname "$0")/dashboard_lib.sh"

browser_fixture e2e_admin_work
sql "SELECT taskflow.set_tenant_limit('acme', 4), taskflow.set_tenant_weight('acme', 2),
            taskflow.set_tenant_limit('globex', 2)" >/dev/null
# globex has started a job in the last hour too, so acme's share is a fraction
sql "SELECT taskflow.schedule('e2e.sleep', '{\"seconds\": 0}', queue => '$Q', tenant_id => 'globex')" >/dev/null
RULE=$(sql "SELECT taskflow.create_rule('acme orders', '{\"type\": \"webhook\"}',
              '[{\"job_type\": \"e2e.sleep\", \"queue\": \"$Q\", \"payload\": {\"seconds\": 0}}]', tenant_id => 'acme')")
# a rule whose action names a queue dropped after the rule was made: its firings fail
sql "SELECT taskflow.create_queue('e2e_gone')" >/dev/null
BAD_RULE=$(sql "SELECT taskflow.create_rule('acme broken', '{\"type\": \"webhook\"}',
              '[{\"job_type\": \"e2e.sleep\", \"queue\": \"e2e_gone\"}]', tenant_id => 'acme')")
sql "SELECT taskflow.drop_queue('e2e_gone')" >/dev/null
sql "SELECT taskflow.create_rule('globex rule', '{\"type\": \"webhook\"}',
       '[{\"job_type\": \"e2e.sleep\", \"queue\": \"$Q\"}]', tenant_id => 'globex')" >/dev/null

start_dashboard_worker "$Q" e2e-admin-worker "e2e.sleep=sleep"
for _ in $(seq 1 100); do
  [ "$(sql "SELECT count(*) FROM taskflow.jobs WHERE tenant_id = 'globex' AND state = 'SUCCEEDED'")" -ge 1 ] && break
  sleep 0.1
done
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE tenant_id = 'globex' AND state = 'SUCCEEDED'")" 1 "the worker ran globex's job"

run_browser_tests 240 dashboard/tests/e2e-admin.mjs TF_RULE_ID="$RULE" TF_BAD_RULE_ID="$BAD_RULE"
done_testing
