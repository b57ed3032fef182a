#!/usr/bin/env bash
# Throwaway PostgreSQL 15 cluster for tests and benchmarks.
#   test/pgcluster.sh start DIR   initdb + start; prints `export PG...` lines to eval
#   test/pgcluster.sh stop DIR    stop and remove DIR
# PostgreSQL refuses to run as root, so the cluster runs as an unprivileged OS user
# (TASKFLOW_PG_OSUSER, default `postgres`). Extra postgresql.conf lines come from
# TASKFLOW_PG_CONF (e.g. "fsync=on").
set -euo pipefail
cmd=${1:?usage: pgcluster.sh start|stop DIR}
dir=${2:?usage: pgcluster.sh start|stop DIR}
PGBIN=${PGBIN:-$(pg_config --bindir)}
OSUSER=${TASKFLOW_PG_OSUSER:-postgres}
DB=${TASKFLOW_TEST_DB:-taskflow_test}

# shellcheck source=scripts/pg_init.sh
. "$(dirname "$0")/../scripts/pg_init.sh"  # as_pg, ensure_os_user, init_cluster

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "$p"; return 0; fi
  done
  echo "pgcluster: no free port found" >&2; return 1
}

case "$cmd" in
start)
  ensure_os_user
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chown "$OSUSER" "$dir"; chmod 755 "$dir"
  port=$(free_port)
  init_cluster "$dir" data "$port" "$DB" test/pgcluster.sh --no-sync || exit 1
  cat >>"$dir/data/postgresql.conf" <<CONF
max_connections = 120
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%a '
CONF
  if [ -n "${TASKFLOW_PG_CONF:-}" ]; then printf '%s\n' "$TASKFLOW_PG_CONF" >>"$dir/data/postgresql.conf"; fi
  as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { cat "$dir/postgres.log" >&2; exit 1; }
  "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -c "CREATE DATABASE $DB" >/dev/null
  "$PGBIN/psql" -X -q -h "$dir" -p "$port" -U postgres -d "$DB" -v ON_ERROR_STOP=1 \
    -c "CREATE EXTENSION pg_cron" -c "CREATE EXTENSION taskflow" -c "CREATE EXTENSION pgtap" >/dev/null
  cat <<ENV
export PGHOST='$dir'
export PGPORT=$port
export PGUSER=postgres
export PGDATABASE=$DB
export TASKFLOW_TEST_PGDATA='$dir/data'
export TASKFLOW_DATABASE_URL='postgresql://postgres@127.0.0.1:$port/$DB'
ENV
  ;;
stop)
  if [ -d "$dir/data" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  ;;
*) echo "usage: pgcluster.sh start|stop DIR" >&2; exit 2 ;;
esac
