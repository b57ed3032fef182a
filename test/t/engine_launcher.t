#!/usr/bin/env bash
# The launcher serves every database in which the extension is installed, not only
# taskflow.database_name: one maintenance worker per such database rescues its expired leases;
# wake-ups are sent by each database's own worker; CREATE EXTENSION after start is served, DROP EXTENSION stops the worker, and DROP DATABASE,
# ALTER DATABASE ... RENAME and CREATE DATABASE ... TEMPLATE of a served database work at once
# (its worker is stopped for them).
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

A="tf_launch_a_$$"
B="tf_launch_b_$$"
C="tf_launch_c_$$"
C2="tf_launch_c2_$$"
D="tf_launch_d_$$"

on() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" -c "$1"; }
admin() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
workers_in() {  # number of maintenance workers connected to database $1
  admin "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskflow maintenance' AND datname = '$1'"
}
wait_workers() { poll_until "$3" 0.2 output_is "$2" workers_in "$1"; }  # $1 database, $2 wanted count, $3 seconds
# A job whose 1 second lease expires; prints its id. max_attempts 1: the Rescuer ends it DEAD.
expired_job() {
  on "$1" "SELECT taskflow.create_queue('launch', retry_policy => '{\"max_attempts\": 1}')" >/dev/null 2>&1
  local id
  id=$(on "$1" "SELECT taskflow.schedule('x', queue => 'launch')")
  on "$1" "SELECT count(*) FROM taskflow.acquire('w', ARRAY['launch'], 1, lease => interval '1 second')" >/dev/null
  echo "$id"
}
rescued() {  # $1 database, $2 job id, $3 seconds
  poll_until "$3" 0.2 output_is DEAD/lease_expired \
    on "$1" "SELECT state || '/' || COALESCE(last_error_type, '') FROM taskflow.jobs WHERE id = $2"
}
cleanup() {
  for db in "$A" "$B" "$C" "$C2" "$D"; do admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; done
}
trap cleanup EXIT

require_db

plan 20

is "$(admin "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskflow launcher' AND datname IS NULL")" 1 \
  "one launcher runs, connected to no database"

# --- two databases with the extension, neither named in taskflow.database_name ------------------
admin "CREATE DATABASE $A" >/dev/null
admin "CREATE DATABASE $B" >/dev/null
on "$A" "CREATE EXTENSION taskflow" >/dev/null
on "$B" "CREATE EXTENSION taskflow" >/dev/null
ok $([ "$(on "$A" "SHOW taskflow.database_name")" != "$A" ] && [ "$(on "$A" "SHOW taskflow.database_name")" != "$B" ] && echo 0 || echo 1) \
  "taskflow.database_name names neither database"
wait_workers "$A" 1 5; ok $? "CREATE EXTENSION in a second database: a maintenance worker serves it within 5 s"
wait_workers "$B" 1 5; ok $? "... and one serves a third database"
ja=$(expired_job "$A"); jb=$(expired_job "$B")
rescued "$A" "$ja" 10; ok $? "an expired lease in the first database is rescued by its worker"
rescued "$B" "$jb" 10; ok $? "an expired lease in the other database is rescued by its worker"

# Wake-ups in that database come from its own worker (not the in-transaction fallback NOTIFY of
# the scheduling session): a listener records the sender's pid.
listen_args=(-d "$A" -c "LISTEN taskflow_launch")
for _ in $(seq 1 8); do listen_args+=(-c "SELECT pg_sleep(0.5)"); done
PGAPPNAME="tf_launch_listen_$$" psql -X -q -At "${listen_args[@]}" >"/tmp/tf_launch_listen_$$.out" 2>&1 &
listener=$!
wait_until 5 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'tf_launch_listen_$$' AND query LIKE '%pg_sleep%')"
on "$A" "SELECT taskflow.schedule('wake', queue => 'launch')" >/dev/null
sleep 1.5
sender=$(grep -o 'notification "taskflow_launch".* PID [0-9]*' "/tmp/tf_launch_listen_$$.out" | sed 's/.* PID //' | head -1)
is "$(admin "SELECT backend_type || '@' || datname FROM pg_stat_activity WHERE pid = ${sender:-0}")" "taskflow maintenance@$A" \
  "a wake-up in that database is sent by its maintenance worker (pid ${sender:-none})"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null; rm -f "/tmp/tf_launch_listen_$$.out"

# --- a database created without the extension is not served until CREATE EXTENSION -------------
admin "CREATE DATABASE $C" >/dev/null
sleep 2
is "$(workers_in "$C")" 0 "a database without the extension has no worker"
on "$C" "CREATE EXTENSION taskflow" >/dev/null
wait_workers "$C" 1 5; ok $? "CREATE EXTENSION there later is noticed within 5 s"
jc=$(expired_job "$C")
rescued "$C" "$jc" 10; ok $? "and its expired lease is rescued"

# --- DROP EXTENSION stops the worker; CREATE EXTENSION again starts one -------------------------
on "$B" "DROP EXTENSION taskflow" >/dev/null
wait_workers "$B" 0 5; ok $? "DROP EXTENSION: the database's worker exits within 5 s"
on "$B" "CREATE EXTENSION taskflow" >/dev/null
wait_workers "$B" 1 5; ok $? "CREATE EXTENSION again: served again within 5 s"
jb=$(expired_job "$B")
rescued "$B" "$jb" 10; ok $? "and its expired lease is rescued"

# --- commands that need a database without other connections -----------------------------------
t0=$(date +%s%N)
admin "ALTER DATABASE $C RENAME TO $C2" >/dev/null 2>&1
ok $? "ALTER DATABASE ... RENAME of a served database succeeds"
wait_workers "$C2" 1 5; ok $? "the renamed database is served again"
admin "CREATE DATABASE $D TEMPLATE $C2" >/dev/null 2>&1
ok $? "CREATE DATABASE ... TEMPLATE a served database succeeds"
wait_workers "$D" 1 5; ok $? "the copy, which has the extension, is served within 5 s"

t0=$(date +%s%N)
admin "DROP DATABASE $A" >/dev/null 2>&1
st=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok $([ "$st" -eq 0 ] && [ "$ms" -lt 4000 ] && echo 0 || echo 1) "DROP DATABASE of a served database succeeds at once (${ms} ms)"
admin "DROP DATABASE $D WITH (FORCE)" >/dev/null 2>&1
ok $? "DROP DATABASE ... WITH (FORCE) too"
sleep 1
is "$(admin "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskflow maintenance' AND datname IN ('$A', '$D')")|$(workers_in "$B")|$(workers_in "$C2")" \
  "0|1|1" "no worker is left for the dropped databases; the others still run"

done_testing
