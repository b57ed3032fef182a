#!/usr/bin/env bash
# The launcher when max_worker_processes is too small: on a small cluster of its own
# (max_worker_processes = 4: PostgreSQL's logical replication launcher, the TaskFlow launcher and
# two maintenance workers), three databases with the
# extension get two workers, the launcher logs one WARNING (not one per retry) and keeps
# retrying, nothing crashes, and the third database is served as soon as a slot is free.
# Runs a second small cluster as the OS user postgres (like engine_boundary.t).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

own_cluster_dir tfslots

own_cluster_port
small() { psql -X -q -At -v ON_ERROR_STOP=1 -h "$DIR" -p "$port" -U postgres "$@"; }
workers() {
  small -d postgres -c "SELECT count(*) FILTER (WHERE backend_type = 'taskflow maintenance') || '|' || string_agg(datname, ',' ORDER BY datname) FILTER (WHERE backend_type = 'taskflow maintenance') FROM pg_stat_activity"
}
wait_workers() { poll_until "$2" 0.2 output_is "$1" workers; }  # $1 wanted "count|databases", $2 seconds

plan 6

if ! as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1; then
  echo "Bail out! initdb failed: $(tail -3 "$DIR/initdb.log")"
  exit 1
fi
cat >>"$DIR/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$DIR'
fsync = off
max_connections = 20
shared_preload_libraries = 'taskflow'
max_worker_processes = 4
max_parallel_workers = 0
log_min_messages = warning
CONF
as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start >/dev/null 2>&1
started=$(small -d postgres -c "SELECT pg_postmaster_start_time()")

for db in tf_s1 tf_s2 tf_s3; do
  small -d postgres -c "CREATE DATABASE $db" >/dev/null
  small -d "$db" -c "CREATE EXTENSION taskflow" >/dev/null
  sleep 1  # one after the other, so the first two get the slots
done
wait_workers "2|tf_s1,tf_s2" 10; ok $? "max_worker_processes = 4: the first two databases are served"
echo "# workers: $(workers)"
sleep 4
is "$(grep -c 'no background worker slot free for the maintenance worker' "$DIR/postgres.log")" 1 \
  "the launcher logged one WARNING for the third, not one per retry"
grep -q 'HINT:.*raise max_worker_processes' "$DIR/postgres.log"; ok $? "with a hint to raise max_worker_processes"
small -d tf_s1 -c "DROP EXTENSION taskflow" >/dev/null
wait_workers "2|tf_s2,tf_s3" 10; ok $? "once a slot is free (DROP EXTENSION in the first), the third is served"
echo "# workers: $(workers)"
is "$(small -d postgres -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskflow launcher'")" 1 "the launcher still runs"
is "$(small -d postgres -c "SELECT pg_postmaster_start_time()")" "$started" "the server did not restart"
[ "$T_FAILED" -eq 0 ] || sed 's/^/#   /' "$DIR/postgres.log" | tail -20

done_testing
