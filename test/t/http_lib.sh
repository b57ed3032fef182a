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
# A taskflow-worker logs in as the test's superuser (worker protocol and the API's SET ROLE alike).
W_URL="postgresql://$PGUSER@127.0.0.1:$PGPORT/$T_DB"

t_cleanup() {
  local name
  for name in "${!T_SERVERS[@]}"; do stop_server "$name"; done
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $T_DB WITH (FORCE)" >/dev/null 2>&1
  if [ "$T_FAILED" -eq 0 ] && [ -z "${KEEP_LOGS:-}" ]; then rm -rf "$T_DIR"; else echo "# logs kept in $T_DIR"; fi
}
trap t_cleanup EXIT

# wait_port NAME PATTERN FILE: waits (7.5 s at most) for the first "PATTERN<port>" in FILE (a
# server's output) and sets T_PORTS[NAME] to that port; fails when none came.
wait_port() {
  local i port=""
  for i in $(seq 1 150); do
    port=$(grep -o "$2[0-9]*" "$3" 2>/dev/null | head -1 | grep -o '[0-9]*$')
    [ -n "$port" ] && break
    sleep 0.05
  done
  T_PORTS[$1]=$port
  [ -n "$port" ]
}

# start_server NAME ARGS...: taskflow-http (connecting as $T_URL; `T_URL=... start_server` for
# another login) on a free port of 127.0.0.1; waits until it listens.
start_server() {
  local name=$1; shift
  "$HTTP_BIN" --db "$T_URL" --http 127.0.0.1:0 "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.log" &
  T_SERVERS[$name]=$!
  disown "$!"
  wait_port "$name" '^listening on .*:' "$T_DIR/$name.out"
}

# start_main DESCRIPTION ARGS...: start_server main ARGS, and one test (DESCRIPTION) that it listens.
start_main() {
  local description=$1; shift
  start_server main "$@"
  ok $? "$description"
}

# start_http_worker NAME ARGS...: taskflow-worker --http on a free port of 127.0.0.1 (as $W_URL,
# polling every 200 ms), log in $T_DIR/NAME.log; waits until it listens (T_PORTS[NAME]).
start_http_worker() {
  local name=$1; shift
  "$WORKER_BIN" --db "$W_URL" --http 127.0.0.1:0 --poll-interval 200ms "$@" >"$T_DIR/$name.log" 2>&1 &
  T_SERVERS[$name]=$!
  disown "$!"
  wait_port "$name" 'HTTP API listening on [^ ]*:' "$T_DIR/$name.log"
}

# wait_exit PID: waits (5 s at most) for the background process PID to exit; its exit status in
# EXIT_STATUS, or "timeout" (it is then killed).
EXIT_STATUS=
wait_exit() {
  local i
  for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$1" 2>/dev/null; then
    kill -KILL "$1"; wait "$1" 2>/dev/null; EXIT_STATUS=timeout
  else
    wait "$1"; EXIT_STATUS=$?
  fi
}

# refuses_non_member PID LOG WHAT: two tests: WHAT, started as PID with a login role outside
# taskflow_http, exits 3 at once, and its LOG says why.
refuses_non_member() {
  wait_exit "$1"
  is "$EXIT_STATUS" 3 "$3 with a role outside taskflow_http refuses to start (exit 3)"
  grep -q 'not a member of taskflow_http' "$2"
  ok $? "and says why ($(head -1 "$2"))"
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

# key_args ARRAY KEY [CONTENT_TYPE]: sets ARRAY to the curl arguments that send KEY as a bearer
# token (and CONTENT_TYPE, e.g. application/json, as the Content-Type).
key_args() {
  local -n t_key_args=$1
  t_key_args=(-H "Authorization: Bearer $2")
  [ -z "${3:-}" ] || t_key_args+=(-H "Content-Type: $3")
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

# problem_cases CURL_ARGS... <<TABLE: per line "STATUS|METHOD|PATH|BODY|DESCRIPTION" of TABLE, a
# request (BODY, when not empty, sent with -d; CURL_ARGS, e.g. a key's header, on each) and an
# is_problem STATUS DESCRIPTION test of its response.
problem_cases() {
  local status method path body description
  while IFS='|' read -r status method path body description <&3; do
    [ -n "$status" ] || continue
    if [ -n "$body" ]; then req "$method" "$path" "$@" -d "$body"; else req "$method" "$path" "$@"; fi
    is_problem "$status" "$description"
  done 3<&0 </dev/null
}

# check_metrics DESCRIPTION: writes the last response's body (a /metrics scrape) to
# $T_DIR/metrics.txt; one test (DESCRIPTION) that `promtool check metrics` accepts it.
check_metrics() {
  local rc
  printf '%s\n' "$BODY" >"$T_DIR/metrics.txt"
  promtool check metrics <"$T_DIR/metrics.txt" >"$T_DIR/promtool.out" 2>&1
  rc=$?
  ok "$rc" "$1"
  [ "$rc" -eq 0 ] || sed 's/^/# /' "$T_DIR/promtool.out"
}
# has_metric ERE DESCRIPTION: one test that a line of $T_DIR/metrics.txt matches ERE.
has_metric() {
  grep -Eq "$1" "$T_DIR/metrics.txt"
  ok $? "$2"
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
