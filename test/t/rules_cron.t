#!/usr/bin/env bash
# One real pg_cron firing: a cron rule scheduled every minute ('* * * * *') makes pg_cron run
# SELECT taskflow.fire_rule(<id>) on its own, which creates the rule's job within 70 seconds.
# Dropping the rule removes its pg_cron job. Needs the cluster environment (PGHOST, PGPORT,
# PGUSER, PGDATABASE) with pg_cron created in the test database.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

Q="tf_cron_$$"
RULE=""


cleanup() {
  psql -X -q -At >/dev/null 2>&1 <<SQL
SELECT taskflow.drop_rule(id) FROM taskflow.automation_rules WHERE name = '$Q';
DELETE FROM taskflow.rule_firings WHERE rule_id = ${RULE:-0};
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '$Q');
DELETE FROM taskflow.jobs WHERE queue = '$Q';
SELECT taskflow.drop_queue('$Q');
SQL
}
trap cleanup EXIT

if ! sql "SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'" | grep -q 1; then
  echo "1..0 # SKIP pg_cron is not installed in $PGDATABASE"
  exit 0
fi
plan 6

sql "SELECT taskflow.create_queue('$Q')" >/dev/null
RULE=$(sql "SELECT taskflow.create_rule('$Q', '{\"type\": \"cron\", \"schedule\": \"* * * * *\"}',
  '[{\"job_type\": \"cron.tick\", \"queue\": \"$Q\", \"payload\": {\"minute\": \"{{ \$.now.minute }}\"}}]')")
ok $? "a cron rule scheduled every minute is created (rule $RULE)"
is "$(sql "SELECT schedule || ' / ' || command || ' / ' || active FROM cron.job WHERE jobname = 'taskflow-rule-$RULE'")" \
  "* * * * * / SELECT taskflow.fire_rule($RULE) / true" "its pg_cron job runs fire_rule every minute"

# Nobody calls fire_rule here: only pg_cron can create the job. Poll with a bound of 70 seconds.
start=$(date +%s)
found=""
while [ $(( $(date +%s) - start )) -lt 70 ]; do
  found=$(sql "SELECT id FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'cron.tick' LIMIT 1")
  [ -n "$found" ] && break
  sleep 1
done
ok "$([ -n "$found" ] && echo 0 || echo 1)" "pg_cron fired the rule and its job exists within 70 seconds ($(( $(date +%s) - start ))s)"
if [ -z "$found" ]; then
  sql "SELECT status || ': ' || return_message FROM cron.job_run_details WHERE command LIKE '%fire_rule($RULE)%' ORDER BY runid DESC LIMIT 3" | sed 's/^/# cron: /'
fi
is "$(sql "SELECT source || ' ' || matched || ' ' || (job_ids @> ARRAY[${found:-0}::bigint]) FROM taskflow.rule_firings WHERE rule_id = $RULE ORDER BY id LIMIT 1")" \
  "fire_rule true true" "the firing is audited with the job it created"
JOBID=$(sql "SELECT jobid FROM cron.job WHERE jobname = 'taskflow-rule-$RULE'")
sql "SELECT taskflow.drop_rule($RULE)" >/dev/null
is "$(sql "SELECT count(*) FROM cron.job WHERE jobname = 'taskflow-rule-$RULE'")" "0" "drop_rule removes the pg_cron job"
# Let a run that started before the drop finish, then compare pg_cron's log with the audit.
for _ in $(seq 1 100); do
  [ "$(sql "SELECT count(*) FROM cron.job_run_details WHERE jobid = $JOBID AND status IN ('starting', 'running')")" = "0" ] && break
  sleep 0.1
done
is "$(sql "SELECT count(*) FROM cron.job_run_details WHERE jobid = $JOBID AND status = 'succeeded'")" \
  "$(sql "SELECT count(*) FROM taskflow.rule_firings WHERE rule_id = $RULE")" "each successful pg_cron run is one firing"

done_testing
