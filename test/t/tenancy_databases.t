#!/usr/bin/env bash
# Tenants are per database. Shared memory (fair-share passes, max_running slot reservations) is
# one for the whole cluster, so its keys include the database: tenant `acme` with max_running 2
# in database A, holding 2 uncommitted slots, does not take the slots of tenant `acme` in
# database B; within A the two slots are still held against a second session.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

A="tf_tdb_a_$$"
B="tf_tdb_b_$$"
DIR=$(mktemp -d /tmp/tftdb.XXXXXX)

on() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
admin() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  exec 3>&- 2>/dev/null
  kill_background
  admin "DROP DATABASE IF EXISTS $A WITH (FORCE)" >/dev/null 2>&1
  admin "DROP DATABASE IF EXISTS $B WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db
plan 3

for db in "$A" "$B"; do
  admin "CREATE DATABASE $db" >/dev/null
  on "$db" "CREATE EXTENSION taskflow" >/dev/null
  on "$db" "SELECT taskflow.create_queue('q'); SELECT taskflow.set_tenant_limit('acme', 2)" >/dev/null
  on "$db" "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'x', 'queue', 'q', 'tenant_id', 'acme')) FROM generate_series(1, 6)))" >/dev/null
done
acquired() { on "$1" "SELECT count(*) FROM taskflow.acquire('w', ARRAY['q'], 10)"; }

# Session in A acquires acme's 2 slots and keeps its transaction open.
mkfifo "$DIR/a"
psql -X -q -At -v ON_ERROR_STOP=1 -d "$A" <"$DIR/a" >"$DIR/a.out" 2>&1 &
exec 3>"$DIR/a"
echo "BEGIN; SELECT count(*) FROM taskflow.acquire('session-a', ARRAY['q'], 10);" >&3
for _ in $(seq 1 100); do [ -s "$DIR/a.out" ] && break; sleep 0.05; done
is "$(cat "$DIR/a.out")" "2" "database A: acme (max_running 2) acquires 2 in an open transaction"
is "$(acquired "$A")" "0" "database A: a second session gets none while they are held"
is "$(acquired "$B")" "2" "database B: its own tenant acme still gets its 2 slots"
echo "COMMIT;" >&3
exec 3>&-
wait

done_testing
