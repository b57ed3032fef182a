#!/usr/bin/env bash
# Lock waits are no oracle on other tenants' rows. While another session holds a row lock on a
# job (a worker between acquire and commit) or on an automation rule, a confined role that
# names that job or rule gets exactly the answer it gets for an id that does not exist, at
# once: the tenant is part of the condition of every statement that locks a row by id, so the
# row is never locked, and lock_timeout never fires. A lock wait on the tenant's own job still
# times out (55P03), but its error shows neither TaskFlow's internal SQL nor the row's ctid.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

SFX="tlw$$_$RANDOM"
Q="${SFX}_q"; RA="${SFX}_a"; TA="${SFX}_ta"; TB="${SFX}_tb"
DIR=$(mktemp -d /tmp/tflockwait.XXXXXX)

cleanup() {
  [ -n "${hold_fd:-}" ] && { echo "ROLLBACK;" >&3; exec 3>&-; } 2>/dev/null
  [ -n "${hold_pid:-}" ] && wait "$hold_pid" 2>/dev/null
  psql -X -q -At >/dev/null 2>&1 <<SQL
$(drop_queues_sql "$Q")
DELETE FROM taskflow.automation_rules WHERE tenant_id IN ('$TA', '$TB');
DELETE FROM taskflow.tenant_roles WHERE role_name::text = '$RA';
DELETE FROM taskflow.tenants WHERE id IN ('$TA', '$TB');
DROP ROLE IF EXISTS $RA;
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

plan 10
sql "CREATE ROLE $RA; SELECT taskflow.grant_tenant('$RA', '$TA'); SELECT taskflow.create_queue('$Q')" >/dev/null
own=$(sql "SELECT taskflow.schedule('lw.a', queue => '$Q', tenant_id => '$TA')")
foreign=$(sql "SELECT taskflow.schedule('lw.b', queue => '$Q', tenant_id => '$TB')")
rule=$(sql "SELECT taskflow.create_rule('lw', '{\"type\": \"event\", \"on\": \"job_dead\"}', '[{\"job_type\": \"x\"}]', tenant_id => '$TB')")
missing=$(sql "SELECT max(id) + 1000000 FROM taskflow.jobs")
missing_rule=$(sql "SELECT max(id) + 1000000 FROM taskflow.automation_rules")

# The holder: a worker that has acquired both jobs and not committed yet (their rows stay
# locked), and that also holds tenant tb's rule row.
mkfifo "$DIR/in"
psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/in" >"$DIR/hold.out" 2>&1 &
hold_pid=$!
exec 3>"$DIR/in"
hold_fd=3
cat >&3 <<SQL
SET application_name = '${SFX}_holder';
BEGIN;
SELECT count(*) FROM taskflow.acquire('${SFX}-worker', ARRAY['$Q'], 10);
SELECT id FROM taskflow.automation_rules WHERE id = $rule FOR UPDATE;
SQL
wait_until 10 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = '${SFX}_holder' AND state = 'idle in transaction')" \
  || echo "# the holder did not get its locks: $(cat "$DIR/hold.out")"

# One call as the confined role, with a lock timeout: the error (SQLSTATE, message, context)
# or the result, the id replaced by N.
tenant() {  # $1: id to replace, $2: statement
  psql -X -q -At -v VERBOSITY=verbose -c "SET ROLE $RA" -c "SET lock_timeout = '300ms'" -c "$2" 2>&1 \
    | grep -v '^LOCATION:' | sed "s/\(job\|rule\) $1\b/\1 N/g" | paste -sd'|' -
}

is "$(tenant "$missing" "SELECT taskflow.cancel($missing)")" "ERROR:  P0002: job N does not exist" \
  "cancel of a job that does not exist: P0002"
is "$(tenant "$foreign" "SELECT taskflow.cancel($foreign)")" "$(tenant "$missing" "SELECT taskflow.cancel($missing)")" \
  "cancel of another tenant's job held by a worker: the same answer, at once (it was 55P03 after lock_timeout, with internal SQL and the ctid)"
is "$(tenant "$foreign" "SELECT taskflow.retry($foreign)")" "$(tenant "$missing" "SELECT taskflow.retry($missing)")" \
  "retry of it: the same answer as for a missing job"
is "$(tenant "$foreign" "SELECT taskflow.schedule('x', queue => '$Q', parent_job_id => $foreign)")" \
   "$(tenant "$missing" "SELECT taskflow.schedule('x', queue => '$Q', parent_job_id => $missing)")" \
  "schedule with it as parent: the same answer as for a missing parent"
is "$(tenant "$foreign" "SELECT taskflow.get_job($foreign)")" "" "get_job of it: NULL, at once"
got=$(tenant "$rule" "SELECT taskflow.alter_rule($rule, name => 'mine')")
is "$got" "$(tenant "$missing_rule" "SELECT taskflow.alter_rule($missing_rule, name => 'mine')")" \
  "alter_rule of another tenant's locked rule: the same answer as for a missing rule ($got)"
is "$(tenant "$rule" "SELECT taskflow.disable_rule($rule)")" "$(tenant "$missing_rule" "SELECT taskflow.disable_rule($missing_rule)")" \
  "disable_rule of it: the same answer as for a missing rule"
is "$(tenant "$rule" "SELECT taskflow.drop_rule($rule)")" "$(tenant "$missing_rule" "SELECT taskflow.drop_rule($missing_rule)")" \
  "drop_rule of it: the same answer as for a missing rule"

# The tenant's own job, held by the worker: cancel waits and times out, as it should, but the
# error names no internal statement and no ctid.
got=$(tenant "$own" "SELECT taskflow.cancel($own)")
is "$(echo "$got" | cut -d'|' -f1)" "ERROR:  55P03: canceling statement due to lock timeout" \
  "cancel of the tenant's own job held by a worker waits for the lock (55P03)"
ok $(echo "$got" | grep -qiE 'ctid|locking tuple|SQL statement|taskflow\.jobs|\([0-9]+,[0-9]+\)' && echo 1 || echo 0) \
  "and its error shows no internal SQL and no ctid"
echo "$got" | tr '|' '\n' | sed 's/^/#   /'

done_testing
