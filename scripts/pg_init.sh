# Sourced by scripts/run.sh (make run) and test/pgcluster.sh (the test clusters): the one way
# both set up a PostgreSQL 15 cluster for TaskFlow. The caller sets PGBIN and OSUSER.
#   as_pg COMMAND...       runs COMMAND as the OS user $OSUSER (PostgreSQL refuses to run as root)
#   ensure_os_user         creates $OSUSER (a system user) when it does not exist
#   init_cluster DIR DATA PORT DB LABEL [INITDB_OPTION...]
#                          initdb DIR/DATA as $OSUSER (its output in DIR/initdb.log, shown on
#                          failure, then returns 1) and appends to its postgresql.conf: a line
#                          "# added by LABEL", the port, 127.0.0.1 only, the socket in DIR,
#                          pg_cron and taskflow preloaded, both working in the database DB. The
#                          caller appends its own settings after these.
as_pg() { if [ "$(id -un)" = "$OSUSER" ]; then "$@"; else runuser -u "$OSUSER" -- "$@"; fi; }

ensure_os_user() {
  id "$OSUSER" >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/bash "$OSUSER"
}

init_cluster() {
  local dir=$1 data=$2 port=$3 db=$4 label=$5
  shift 5
  as_pg "$PGBIN/initdb" -D "$dir/$data" -U postgres -A trust -E UTF8 "$@" >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; return 1; }
  cat >>"$dir/$data/postgresql.conf" <<CONF
# added by $label
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
shared_preload_libraries = 'pg_cron,taskflow'
cron.database_name = '$db'
taskflow.database_name = '$db'
CONF
}
