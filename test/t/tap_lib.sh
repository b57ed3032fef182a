# The one TAP helper library of the bash scripts in test/t (sourced, not run: prove runs *.t
# only). Every script sources it, directly or through worker_lib.sh / http_lib.sh (which add
# their own fixtures on top), so all share one counter and one set of TAP functions:
#   plan N                       prints the plan "1..N" up front (else done_testing prints it)
#   ok STATUS DESCRIPTION        one TAP line from an exit status (0 passes); returns 0
#   is GOT WANT DESCRIPTION      equality, with got/want as diagnostics
#   diag TEXT...                 one "# TEXT" line per argument
#   done_testing                 ends the script: the plan if none was printed, and the status
#                                (1 when a test failed); call it last (or `exit` its status)
#   fail_setup REASON            a missing prerequisite: one failed test, then exit 1 (unlike
#                                "Bail out!", the rest of the prove run goes on)
#   sql STATEMENT                one statement through psql (PG* environment), unaligned output
#   wait_until SECONDS QUERY     polls QUERY until it returns t, within SECONDS
#   wait_blocked APP [SECONDS]   waits until the session with application_name APP waits for a
#                                lock (default within 10 s)
#   kill_background              kills this shell's background jobs (for a cleanup trap)
#   cleanup_at_exit SQL          at exit: kills the background jobs, runs SQL (errors ignored)
#                                and removes $DIR when set
#   own_cluster_dir PREFIX       for a script that runs a small cluster of its own as the OS user
#                                postgres: sets PGBIN, OSUSER and DIR (a new /tmp/PREFIX.* that
#                                user can read), and a trap that stops that cluster ($DIR/data)
#                                and removes DIR at exit
#   as_pg COMMAND...             runs COMMAND as OSUSER
#   require_db                   fails the setup when the PG* environment reaches no database
#   drop_queues_sql Q...         SQL that deletes the queues' jobs (attempts, events) and drops them
# Counters: T_COUNT (tests run) and T_FAILED (tests failed); T_PLANNED is set by plan.
T_COUNT=${T_COUNT:-0}
T_FAILED=${T_FAILED:-0}
T_PLANNED=${T_PLANNED:-}

plan() { T_PLANNED=$1; echo "1..$1"; }
ok() {
  local status=$1; shift
  T_COUNT=$((T_COUNT + 1))
  if [ "$status" -eq 0 ]; then
    echo "ok $T_COUNT - $*"
  else
    T_FAILED=$((T_FAILED + 1))
    echo "not ok $T_COUNT - $*"
  fi
  return 0
}
is() {
  local got=$1 want=$2; shift 2
  if [ "$got" = "$want" ]; then ok 0 "$*"; else
    ok 1 "$*"
    printf '#   got:  %s\n#   want: %s\n' "$got" "$want"
  fi
}
diag() { printf '# %s\n' "$@"; }
done_testing() {
  [ -n "$T_PLANNED" ] || echo "1..$T_COUNT"
  [ "$T_FAILED" -eq 0 ]
}
fail_setup() {
  ok 1 "$*"
  [ -n "$T_PLANNED" ] || echo "1..$T_COUNT"
  exit 1
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -c "$1"; }
wait_until() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    [ "$(sql "$2" 2>/dev/null)" = "t" ] && return 0
    sleep 0.1
  done
  return 1
}
wait_blocked() {
  local deadline=$(( $(date +%s) + ${2:-10} ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND wait_event_type = 'Lock'")" = 1 ] && return 0
    sleep 0.05
  done
  return 1
}
kill_background() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null; done
}
cleanup_at_exit() {
  T_CLEANUP_SQL=$1
  trap t_cleanup_at_exit EXIT
}
t_cleanup_at_exit() {
  kill_background
  psql -X -q -At >/dev/null 2>&1 <<<"$T_CLEANUP_SQL"
  [ -z "${DIR:-}" ] || rm -rf "$DIR"
}
own_cluster_dir() {
  PGBIN=${PGBIN:-$(pg_config --bindir)}
  OSUSER=${TASKFLOW_PG_OSUSER:-postgres}
  DIR=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$DIR"
  trap stop_own_cluster EXIT
}
as_pg() { if [ "$(id -un)" = "$OSUSER" ]; then "$@"; else runuser -u "$OSUSER" -- "$@"; fi; }
stop_own_cluster() {
  if [ -f "$DIR/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1
  fi
  rm -rf "$DIR"
}
require_db() {
  psql -X -q -At -c "SELECT 1" >/dev/null 2>&1 ||
    fail_setup "no database: export PGHOST, PGPORT, PGUSER, PGDATABASE (test/pgcluster.sh start DIR)"
}
drop_queues_sql() {
  local list q
  list=$(for q in "$@"; do printf "'%s'," "$q"; done); list=${list%,}
  cat <<SQL
DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue IN ($list));
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue IN ($list));
DELETE FROM taskflow.jobs WHERE queue IN ($list);
SELECT taskflow.drop_queue(q) FROM unnest(ARRAY[$list]) q;
SQL
}
