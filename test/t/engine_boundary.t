#!/usr/bin/env bash
# The C++/PostgreSQL boundary at the level of a connection: each kind of error raised inside
# taskflow's C++ code ends the statement with a clean ERROR and the right SQLSTATE, and the same
# connection (same backend pid) answers the next statement; the server never restarts.
# Loading: on a server without taskflow in shared_preload_libraries, CREATE EXTENSION taskflow
# and LOAD 'taskflow' refuse with a hint.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE); runs a second small
# cluster as the OS user postgres for the loading check.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

own_cluster_dir tfboundary

require_db

plan 24

started=$(sql "SELECT pg_postmaster_start_time()")

# One psql session per kind: pid, the failing call, then pid and a real API call again.
# ON_ERROR_STOP is off, so psql goes on after the ERROR on the same connection.
check_kind() {
  local kind=$1 code=$2
  local out err
  out=$(psql -X -q -At -v ON_ERROR_STOP=0 -v VERBOSITY=verbose 2>"$DIR/$kind.err" <<SQL
\set VERBOSITY verbose
SELECT 'pid=' || pg_backend_pid();
SELECT taskflow._selftest_boundary('$kind');
SELECT 'pid=' || pg_backend_pid();
SELECT 'alive=' || (taskflow.get_job(-1) IS NULL);
SQL
  )
  err=$(cat "$DIR/$kind.err")
  ok $(echo "$err" | grep -q "^ERROR:  $code:" && echo 0 || echo 1) "_selftest_boundary('$kind') raises an ERROR with SQLSTATE $code"
  [ "$(echo "$err" | grep -c '^ERROR:')" -eq 1 ] || echo "$err" | sed 's/^/#   stderr: /'
  local pids
  pids=$(echo "$out" | grep '^pid=' | sort -u | wc -l)
  is "$(echo "$out" | grep -c '^pid=')/$pids/$(echo "$out" | grep -c '^alive=true')" "2/1/1" \
    "after '$kind' the same connection (same backend pid) answers the next statements"
}

check_kind domain 55000
check_kind std XX000
check_kind unknown XX000
check_kind bad_alloc 53200
check_kind postgres 22012
check_kind spi 22012

# Inside an explicit transaction: the error aborts it, ROLLBACK ends it, the session goes on.
out=$(psql -X -q -At -v ON_ERROR_STOP=0 2>"$DIR/tx.err" <<'SQL'
BEGIN;
SELECT taskflow._selftest_boundary('std');
SELECT 'in-aborted-tx';
ROLLBACK;
SELECT 'after=' || 1;
SQL
)
is "$(grep -c 'current transaction is aborted' "$DIR/tx.err")|$(echo "$out" | grep -c '^after=1$')" "1|1" \
  "inside a transaction: the error aborts it as usual, and after ROLLBACK the session works"

is "$(sql "SELECT pg_postmaster_start_time()")" "$started" "the server did not restart (no backend crashed)"
is "$(sql "SELECT taskflow._selftest_boundary('none')")" "ok: none 64" "the self-test works on a fresh connection"

# --- loading outside shared_preload_libraries ---------------------------------------------
own_cluster_port
plain() { psql -X -q -At -h "$DIR" -p "$port" -U postgres "$@"; }
# First with taskflow preloaded: create the extension in database postgres. Then restart with
# shared_preload_libraries = '' (the last setting in postgresql.conf wins).
if as_pg "$PGBIN/initdb" -D "$DIR/data" -U postgres -A trust -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1; then
  cat >>"$DIR/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$DIR'
fsync = off
max_connections = 10
shared_preload_libraries = 'taskflow'
CONF
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 start >/dev/null 2>&1
  plain -d postgres -c "CREATE EXTENSION taskflow" -c "CREATE DATABASE plain" >/dev/null 2>&1
  echo "shared_preload_libraries = ''" >>"$DIR/data/postgresql.conf"
  as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w -t 60 restart >/dev/null 2>&1
fi
is "$(plain -d postgres -c "SELECT current_setting('shared_preload_libraries') || '|' || count(*) FROM pg_extension WHERE extname = 'taskflow'" 2>&1)" "|1" \
  "a second cluster runs without taskflow in shared_preload_libraries, with the extension created earlier"

out=$(plain -d postgres -v ON_ERROR_STOP=0 2>&1 <<'SQL'
\set VERBOSITY verbose
SELECT taskflow.schedule('x');
SELECT 'after=' || 1;
SQL
)
ok $(echo "$out" | grep -q 'ERROR:  55000: taskflow must be loaded via shared_preload_libraries' && echo 0 || echo 1) \
  "calling a taskflow function refuses: must be loaded via shared_preload_libraries (55000)"
ok $(echo "$out" | grep -q "^HINT:  Add taskflow to shared_preload_libraries" && echo "$out" | grep -q '^after=1$' && echo 0 || echo 1) \
  "with the hint; and the session goes on"
[ "$T_FAILED" -eq 0 ] || echo "$out" | sed 's/^/#   /'
plain() { psql -X -q -At -h "$DIR" -p "$port" -U postgres -d plain "$@"; }

out=$(plain -v ON_ERROR_STOP=0 2>&1 <<'SQL'
\set VERBOSITY verbose
CREATE EXTENSION taskflow;
SELECT 'after=' || count(*) FROM pg_extension WHERE extname = 'taskflow';
SQL
)
ok $(echo "$out" | grep -q 'ERROR:  55000: taskflow must be loaded via shared_preload_libraries' && echo 0 || echo 1) \
  "CREATE EXTENSION taskflow refuses: must be loaded via shared_preload_libraries (55000)"
ok $(echo "$out" | grep -q "^HINT:  Add taskflow to shared_preload_libraries" && echo 0 || echo 1) \
  "with a hint that says how to fix it"
is "$(echo "$out" | grep '^after=')" "after=0" "the extension was not created, and the session goes on"
[ "$T_FAILED" -eq 0 ] || echo "$out" | sed 's/^/#   /'

out=$(plain -v ON_ERROR_STOP=0 2>&1 <<'SQL'
LOAD 'taskflow';
SELECT 'after=' || 1;
SQL
)
ok $(echo "$out" | grep -q 'ERROR:  taskflow must be loaded via shared_preload_libraries' && echo 0 || echo 1) \
  "LOAD 'taskflow' refuses with the same error"
ok $(echo "$out" | grep -q "^HINT:  Add taskflow to shared_preload_libraries" && echo 0 || echo 1) "and the same hint"
is "$(echo "$out" | grep '^after=')" "after=1" "the session that tried LOAD goes on"

done_testing
