#!/usr/bin/env bash
# Multi-tenancy across sessions and transactions (what one pgTAP transaction cannot show):
#  - the first cancel / retry of a fresh session works (the caller's tenant is looked up then);
#  - a mapping that was rolled back does not stick to the role in that session;
#  - grant_tenant / revoke_tenant committed in one session take effect in another, already open
#    one, at its next statement;
#  - GRANT / REVOKE of a membership in a mapped role, and a rename of that role, committed in
#    another session reach an open session at its next transaction;
#  - the Rescuer (background worker) frees a tenant's max_running slot when a lease expires.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

SFX="tfs$$_$RANDOM"
Q="${SFX}_q"; R="${SFX}_role"; ADM="${SFX}_adm"; P="${SFX}_p"; M="${SFX}_m"
DIR=$(mktemp -d /tmp/tftens.XXXXXX)

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

cleanup() {
  kill_background
  psql -X -q -At >/dev/null 2>&1 <<SQL
DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '$Q');
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '$Q');
DELETE FROM taskflow.jobs WHERE queue = '$Q';
SELECT taskflow.drop_queue('$Q');
DELETE FROM taskflow.tenant_roles WHERE role_name::text IN ('$R', '$ADM', '$P', '${P}_renamed');
DELETE FROM taskflow.tenants WHERE id LIKE '${SFX}%';
DROP ROLE IF EXISTS $R;
DROP ROLE IF EXISTS $ADM;
DROP ROLE IF EXISTS $M;
DROP ROLE IF EXISTS $P;
DROP ROLE IF EXISTS ${P}_renamed;
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

plan 9
sql "SELECT taskflow.create_queue('$Q')" >/dev/null
sql "CREATE ROLE $R; CREATE ROLE $ADM; GRANT taskflow_admin TO $ADM" >/dev/null

# --- the first cancel / retry of a fresh session ----------------------------------------------
j1=$(sql "SELECT taskflow.schedule('s', queue => '$Q', tenant_id => '${SFX}_t')")
is "$(sql "SELECT taskflow.cancel($j1)")" "CANCELLED" "a superuser's fresh session: its first call, cancel, works"
is "$(sql "SELECT taskflow.retry($j1)")" "PENDING" "a superuser's fresh session: its first call, retry, works"
is "$(sql "SET ROLE $ADM; SELECT taskflow.cancel($j1)")" "CANCELLED" "an admin role's first call, cancel, works"

# --- a rolled-back mapping ----------------------------------------------------------------------
got=$(psql -X -q -At 2>&1 <<SQL
BEGIN;
SELECT taskflow.grant_tenant('$R', '${SFX}_rolled_back');
SET ROLE $R;
SELECT taskflow._caller_tenant();
ROLLBACK;
GRANT taskflow_client TO $R;
SET ROLE $R;
SELECT taskflow._caller_tenant();
RESET ROLE;
REVOKE taskflow_client FROM $R;
SQL
)
is "$(echo "$got" | grep -v '^$' | tr '\n' ' ' | sed 's/ *$//')" "${SFX}_rolled_back default" \
  "after a rolled-back grant_tenant the role is not confined any more in that session (a plain client: default)"

# --- changes committed elsewhere reach an open session -------------------------------------------
# Session A stays open: it reads its tenant, waits, and reads it again after session B changed it.
mkfifo "$DIR/in"
psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/in" >"$DIR/a.out" 2>&1 &
apid=$!
exec 3>"$DIR/in"
sql "SELECT taskflow.grant_tenant('$R', '${SFX}_one')" >/dev/null
echo "SET ROLE $R; SELECT taskflow._caller_tenant(); RESET ROLE;" >&3
sleep 0.5
sql "SELECT taskflow.grant_tenant('$R', '${SFX}_two')" >/dev/null
echo "SET ROLE $R; SELECT taskflow._caller_tenant(); RESET ROLE;" >&3
sleep 0.5
sql "SELECT taskflow.revoke_tenant('$R'); GRANT taskflow_client TO $R" >/dev/null
echo "SET ROLE $R; SELECT taskflow._caller_tenant(); RESET ROLE;" >&3
exec 3>&-
wait "$apid"
mapfile -t seen <"$DIR/a.out"
is "${seen[0]:-}" "${SFX}_one" "an open session sees the role's tenant"
is "${seen[1]:-}" "${SFX}_two" "grant_tenant to another tenant, committed in another session, applies at the next statement"
is "${seen[2]:-}" "default" "revoke_tenant committed in another session ends the confinement at the next statement"

# --- memberships and renames committed elsewhere reach an open session --------------------------
sql "CREATE ROLE $P; SELECT taskflow.grant_tenant('$P', '${SFX}_p'); CREATE ROLE $M; GRANT taskflow_client TO $M" >/dev/null
mkfifo "$DIR/in2"
psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/in2" >"$DIR/b.out" 2>&1 &
bpid=$!
exec 4>"$DIR/in2"
ask() { echo "SET ROLE $M; SELECT taskflow._caller_tenant(); RESET ROLE;" >&4; sleep 0.5; }
ask
sql "GRANT $P TO $M" >/dev/null; ask
sql "ALTER ROLE $P RENAME TO ${P}_renamed" >/dev/null; ask
sql "REVOKE ${P}_renamed FROM $M" >/dev/null; ask
exec 4>&-
wait "$bpid"
is "$(paste -sd' ' "$DIR/b.out")" "default ${SFX}_p ${SFX}_p default" \
  "an open session: a plain client (default), GRANT of a mapped role elsewhere confines it, a rename of that role keeps it confined, REVOKE frees it"

# --- the Rescuer frees a tenant's slot when a lease expires ----------------------------------------
sql "SELECT taskflow.set_tenant_limit('${SFX}_lim', 1)" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'l', 'queue', '$Q', 'tenant_id', '${SFX}_lim')) FROM generate_series(1, 2)))" >/dev/null
first=$(sql "SELECT count(*) FROM taskflow.acquire('crashed-worker', ARRAY['$Q'], 5, lease => '1 second')")
blocked=$(sql "SELECT count(*) FROM taskflow.acquire('w2', ARRAY['$Q'], 5)")
second=0; waited=0
while [ "$waited" -lt 150 ]; do  # up to 15 s: lease 1 s + about one maintenance_interval
  second=$(sql "SELECT count(*) FROM taskflow.acquire('w2', ARRAY['$Q'], 5)")
  [ "$second" != 0 ] && break
  sleep 0.1; waited=$((waited + 1))
done
is "$first $blocked $second" "1 0 1" \
  "max_running 1: a worker that never finishes holds the slot until its lease expires; the Rescuer frees it (after $((waited / 10)) s)"

done_testing
