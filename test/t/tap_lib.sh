# Shared helpers of the bash TAP scripts in test/t (sourced, not run: prove runs *.t only).
#   ok STATUS DESCRIPTION        one TAP line from an exit status
#   is GOT WANT DESCRIPTION      equality, with got/want as diagnostics
#   sql STATEMENT                one statement through psql (PG* environment), unaligned output
#   wait_until SECONDS QUERY     polls QUERY until it returns t, within SECONDS
#   require_db                   bails out (TAP) when the PG* environment reaches no database
#   drop_queues_sql Q...         SQL that deletes the queues' jobs (attempts, events) and drops them
# Counters: N (tests run) and FAILED (tests failed); a script ends with `exit $(( FAILED > 0 ))`.
N=${N:-0}
FAILED=${FAILED:-0}

ok() {
  local status=$1; shift
  N=$((N + 1))
  if [ "$status" -eq 0 ]; then echo "ok $N - $*"; else FAILED=$((FAILED + 1)); echo "not ok $N - $*"; fi
}
is() {
  local got=$1 want=$2; shift 2
  if [ "$got" = "$want" ]; then ok 0 "$*"; else ok 1 "$*"; printf '#   got:  %s\n#   want: %s\n' "$got" "$want"; fi
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
require_db() {
  if ! psql -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
    echo "Bail out! no database: export PGHOST, PGPORT, PGUSER, PGDATABASE (test/pgcluster.sh start DIR)"
    exit 1
  fi
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
