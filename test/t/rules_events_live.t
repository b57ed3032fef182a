#!/usr/bin/env bash
# Automation rules across sessions, on a running server:
#  - two concurrent deliveries of the same webhook delivery_id: the second waits for the first
#    and returns its job ids; one job in all;
#  - an event rule fired by the Rescuer (a lease expires, the job goes DEAD in the background
#    worker's transaction) creates its follow-up job;
#  - a session that has handled a webhook (and cached its rule) sees another session's changes
#    at once: a disabled rule is refused, new tenant attributes are used.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

Q="tf_rulelive_$$"
DIR=$(mktemp -d /tmp/tfrulelive.XXXXXX)


cleanup_at_exit "SELECT taskflow.drop_rule(id) FROM taskflow.automation_rules WHERE name LIKE '$Q%';
DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue LIKE '$Q%');
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue LIKE '$Q%');
DELETE FROM taskflow.jobs WHERE queue LIKE '$Q%';
SELECT taskflow.drop_queue('$Q');
SELECT taskflow.drop_queue('${Q}_lease');"

plan 10
sql "SELECT taskflow.create_queue('$Q')" >/dev/null
sql "SELECT taskflow.create_queue('${Q}_lease', retry_policy => '{\"max_attempts\": 1}', lease => '1 second')" >/dev/null

# --- concurrent deliveries of one delivery_id -------------------------------------------------
RULE=$(sql "SELECT taskflow.create_rule('${Q}_hook', '{\"type\": \"webhook\", \"secret\": null}',
  '[{\"job_type\": \"live.hook\", \"queue\": \"$Q\", \"payload\": {\"n\": \"{{ \$.event.body.n }}\"}}]')")
KEY=$(sql "SELECT key FROM taskflow.webhook_credentials($RULE)")
# The first delivery holds its transaction open for 2 seconds after creating its job.
psql -X -q -At -v ON_ERROR_STOP=1 >"$DIR/first.out" 2>"$DIR/first.err" <<SQL &
BEGIN;
SELECT string_agg(id::text, ',') FROM taskflow.handle_webhook('$KEY', '{"n": 1}', delivery_id => 'live-1') AS t(id);
SELECT pg_sleep(2);
COMMIT;
SQL
FIRST_PID=$!
sleep 0.5
start=$(date +%s%N)
SECOND=$(sql "SELECT string_agg(id::text, ',') FROM taskflow.handle_webhook('$KEY', '{\"n\": 1}', delivery_id => 'live-1') AS t(id)")
waited=$(( ($(date +%s%N) - start) / 1000000 ))
wait "$FIRST_PID"
FIRST=$(grep -E '^[0-9,]+$' "$DIR/first.out" | head -1)
ok "$([ -n "$FIRST" ] && echo 0 || echo 1)" "the first delivery created its job ($FIRST)"
is "$SECOND" "$FIRST" "a concurrent repeat of the delivery returns the first delivery's ids"
ok "$([ "$waited" -ge 1000 ] && echo 0 || echo 1)" "it waited for the first delivery to commit (${waited} ms)"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'live.hook'")" "1" "one job in all"

# --- an event rule fired by the Rescuer --------------------------------------------------------
sql "SELECT taskflow.create_rule('${Q}_dead', '{\"type\": \"event\", \"on\": \"job_dead\", \"queue\": \"${Q}_lease\"}',
  '[{\"job_type\": \"live.after_dead\", \"queue\": \"$Q\", \"payload\": {\"error\": \"{{ \$.event.job.last_error_type }}\"}}]')" >/dev/null
J=$(sql "SELECT taskflow.schedule('live.expires', queue => '${Q}_lease', correlation_id => 'live-corr')")
sql "SELECT job_id FROM taskflow.acquire('live-worker', ARRAY['${Q}_lease'])" >/dev/null
found=""
for _ in $(seq 1 100); do
  found=$(sql "SELECT payload ->> 'error' FROM taskflow.jobs WHERE parent_job_id = $J")
  [ -n "$found" ] && break
  sleep 0.1
done
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $J")" "DEAD" "the Rescuer moved the expired job to DEAD"
is "$found" "lease_expired" "the job_dead rule fired in the Rescuer's transaction and created the follow-up"
is "$(sql "SELECT correlation_id FROM taskflow.jobs WHERE parent_job_id = $J")" "live-corr" "the follow-up inherits the correlation_id"

# --- the webhook rule cache follows other sessions' changes ----------------------------------
sql "SELECT taskflow.upsert_tenant('${Q}_t', '{\"tier\": \"gold\"}')" >/dev/null
RC=$(sql "SELECT taskflow.create_rule('${Q}_cached', '{\"type\": \"webhook\", \"secret\": null}',
  '[{\"job_type\": \"live.cached\", \"queue\": \"$Q\", \"payload\": {\"tier\": \"{{ \$.tenant.attributes.tier }}\"}}]',
  tenant_id => '${Q}_t')")
CKEY=$(sql "SELECT key FROM taskflow.webhook_credentials($RC)")
psql -X -q -At >"$DIR/cached.out" 2>&1 <<SQL
SELECT 'first:' || (SELECT payload ->> 'tier' FROM taskflow.jobs WHERE id = (SELECT taskflow.handle_webhook('$CKEY', '{}')));
\! psql -X -q -At -c "SELECT taskflow.disable_rule($RC)" >/dev/null
SELECT 'disabled:' || count(*) FROM taskflow.handle_webhook('$CKEY', '{}');
\! psql -X -q -At -c "SELECT taskflow.enable_rule($RC)" -c "SELECT taskflow.upsert_tenant('${Q}_t', '{\"tier\": \"platinum\"}')" >/dev/null
SELECT 'after:' || string_agg(id::text, ',') FROM taskflow.handle_webhook('$CKEY', '{}') AS t(id);
SQL
is "$(grep -c 'webhook key not accepted' "$DIR/cached.out")" "1" "a session that cached the rule refuses it once another session disabled it"
AFTER=$(sed -n 's/^after://p' "$DIR/cached.out")
is "$(sql "SELECT payload ->> 'tier' FROM taskflow.jobs WHERE id = ${AFTER:-0}")" "platinum" \
  "and, re-enabled, uses the tenant attributes another session changed"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE job_type = 'live.cached'")" "2" "the cached session created exactly the jobs it was allowed to"
sql "DELETE FROM taskflow.tenants WHERE id = '${Q}_t'" >/dev/null

done_testing
