# Shared helpers for the HTTP API TAP scripts (test/t/http_*.t), sourced by each.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE), curl, and the server:
# $TASKFLOW_HTTP_BIN (default build/worker/http/taskflow-http). Each script works in a database
# of its own (created here, dropped at exit), so its tenants, keys and jobs meet no other test.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"  # the counter, ok/is/diag/done_testing, fail_setup, sql

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HTTP_BIN=${TASKFLOW_HTTP_BIN:-$ROOT/build/worker/http/taskflow-http}
case "$HTTP_BIN" in /*) ;; *) HTTP_BIN="$ROOT/$HTTP_BIN" ;; esac
unset TASKFLOW_DATABASE_URL

T_DIR=$(mktemp -d /tmp/tfhttp-t.XXXXXX)
chmod 755 "$T_DIR"
declare -A T_SERVERS=()
declare -A T_PORTS=()

if [ ! -x "$HTTP_BIN" ]; then
  fail_setup "no server binary at $HTTP_BIN (build it, or set TASKFLOW_HTTP_BIN)"
fi
command -v curl >/dev/null || fail_setup "curl is not installed"
if ! psql -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
  fail_setup "no database: export PGHOST, PGPORT, PGUSER, PGDATABASE (test/pgcluster.sh start DIR)"
fi

# A database of this script's own, with the extension.
T_DB="tfhttp_$(basename "$0" .t | tr -c 'a-z0-9_\n' '_')_$$"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $T_DB" >/dev/null || {
  fail_setup "cannot create database $T_DB"; }
psql -X -q -v ON_ERROR_STOP=1 -d "$T_DB" -c "CREATE EXTENSION taskflow" >/dev/null || {
  fail_setup "cannot create the extension in $T_DB"; }
export PGDATABASE=$T_DB

# The role the server logs in as: NOINHERIT, so it holds nothing but what SET ROLE gives it.
T_LOGIN=tf_http_login
psql -X -q -d "$T_DB" -c "DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$T_LOGIN') THEN
    CREATE ROLE $T_LOGIN LOGIN NOINHERIT;
  END IF;
  GRANT taskflow_http TO $T_LOGIN;
END\$\$" >/dev/null 2>&1
T_URL="postgresql://$T_LOGIN@127.0.0.1:$PGPORT/$T_DB"

t_cleanup() {
  local name
  for name in "${!T_SERVERS[@]}"; do stop_server "$name"; done
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" >/dev/null 2>&1
  if [ "$T_FAILED" -eq 0 ] && [ -z "${KEEP_LOGS:-}" ]; then rm -rf "$T_DIR"; else echo "# logs kept in $T_DIR"; fi
}
trap t_cleanup EXIT

# start_server NAME ARGS...: taskflow-http on a free port of 127.0.0.1; waits until it listens.
start_server() {
  local name=$1; shift
  "$HTTP_BIN" --db "$T_URL" --http 127.0.0.1:0 "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.log" &
  T_SERVERS[$name]=$!
  disown "$!"
  local i port=""
  for i in $(seq 1 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$T_DIR/$name.out" 2>/dev/null | head -1)
    [ -n "$port" ] && break
    sleep 0.05
  done
  T_PORTS[$name]=$port
  [ -n "$port" ]
}

# stop_server NAME: SIGTERM, then SIGKILL after 5 s.
stop_server() {
  local name=$1 pid=${T_SERVERS[$1]} i
  kill -TERM "$pid" 2>/dev/null
  for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  unset "T_SERVERS[$name]"
}

base() { echo "http://127.0.0.1:${T_PORTS[${1:-main}]}"; }

# req METHOD PATH [curl args...]: sets STATUS, BODY, HEADERS (of server `main` unless SERVER=...).
STATUS=; BODY=; HEADERS=
req() {
  local method=$1 path=$2; shift 2
  local out="$T_DIR/body.$$" hdr="$T_DIR/headers.$$"
  STATUS=$(curl -s -o "$out" -D "$hdr" -w '%{http_code}' --max-time 20 -X "$method" \
    "$(base "${SERVER:-main}")$path" "$@")
  BODY=$(cat "$out" 2>/dev/null)
  HEADERS=$(tr -d '\r' <"$hdr" 2>/dev/null)
  rm -f "$out" "$hdr"
}

# jq-free JSON field access through psql: json_get '<json>' '<jsonpath-ish key path>'
# e.g. json_get "$BODY" "{id}" or "{jobs,0,state}".
json_get() { echo "SELECT (:'j'::jsonb) #>> '$2'" | psql -X -q -At -v ON_ERROR_STOP=1 -v j="$1"; }
# json_sql '<json>' "SQL using :'j'": any query over a JSON document.
json_sql() { echo "$2" | psql -X -q -At -v ON_ERROR_STOP=1 -v j="$1"; }
header() { echo "$HEADERS" | sed -n "s/^$1: //Ip" | tail -1; }

# is_problem STATUS DESCRIPTION: the last response had this status and a problem+json body.
is_problem() {
  local want=$1; shift
  local ctype; ctype=$(header Content-Type)
  if [ "$STATUS" = "$want" ] && [ "$ctype" = "application/problem+json" ] &&
     [ "$(json_get "$BODY" '{status}')" = "$want" ]; then
    ok 0 "$* -> $want problem+json"
  else
    ok 1 "$* -> $want problem+json"
    printf '#   got: %s %s %s\n' "$STATUS" "$ctype" "$BODY"
  fi
}

# require_worker_http: fails the setup unless taskflow-worker ($TASKFLOW_WORKER_BIN, default
# build/worker/taskflow-worker) was built with --http; sets WORKER_BIN.
require_worker_http() {
  WORKER_BIN=${TASKFLOW_WORKER_BIN:-$ROOT/build/worker/taskflow-worker}
  case "$WORKER_BIN" in /*) ;; *) WORKER_BIN="$ROOT/$WORKER_BIN" ;; esac
  if ! grep -q -- '--http' <<<"$("$WORKER_BIN" --help 2>/dev/null)"; then  # no pipe: grep -q quitting early must not SIGPIPE the worker
    fail_setup "$WORKER_BIN has no --http (built without worker/http?)"
  fi
}

# new_key TENANT [ROLE]: a fresh API key (TENANT empty for an admin key).
new_key() {
  PGOPTIONS='-c client_min_messages=warning' sql "SELECT taskflow.create_api_key(NULLIF('$1', ''), '${2:-client}')"
}
