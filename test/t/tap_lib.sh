# The one TAP helper library of the bash scripts in test/t (sourced, not run: prove runs *.t
# only). Every script sources it, directly or through worker_lib.sh / http_lib.sh (which add
# their own fixtures on top), so all share one counter and one set of TAP functions:
#   plan N                       prints the plan "1..N" up front (else done_testing prints it)
#   ok STATUS DESCRIPTION        one TAP line from an exit status (0 passes); returns 1 when the
#                                test failed, so `ok $? "..." || show_log w` shows diagnostics
#   is GOT WANT DESCRIPTION      equality, with got/want as diagnostics
#   diag TEXT...                 one "# TEXT" line per argument
#   done_testing                 ends the script: the plan if none was printed, and the status
#                                (1 when a test failed); call it last (or `exit` its status)
#   fail_setup REASON            a missing prerequisite: one failed test, then exit 1 (unlike
#                                "Bail out!", the rest of the prove run goes on)
#   sql STATEMENT                one statement through psql (PG* environment), unaligned output
#   sql_true QUERY               succeeds when QUERY returns t (errors count as false)
#   output_is WANT COMMAND...    succeeds when COMMAND prints exactly WANT
#   poll_until SECONDS INTERVAL COMMAND...
#                                runs COMMAND every INTERVAL seconds until it succeeds, within
#                                SECONDS (returns 1 on timeout)
#   wait_until SECONDS QUERY     polls QUERY until it returns t, within SECONDS
#   wait_blocked APP [SECONDS]   waits until the session with application_name APP waits for a
#                                lock (default within 10 s)
#   wait_output SECONDS REGEX FILE
#                                waits until a line of FILE (a background session's output)
#                                matches the grep REGEX, within SECONDS
#   kill_background              kills this shell's background jobs (for a cleanup trap)
#   cleanup_at_exit SQL          at exit: kills the background jobs, runs SQL (errors ignored)
#                                and removes $DIR when set
#   own_cluster_dir PREFIX       for a script that runs a small cluster of its own as the OS user
#                                postgres: sets PGBIN, OSUSER and DIR (a new /tmp/PREFIX.* that
#                                user can read), and a trap that stops that cluster ($DIR/data)
#                                and removes DIR at exit
#   as_pg COMMAND...             runs COMMAND as OSUSER
#   own_cluster_port             after own_cluster_dir: sets port to a free TCP port of 127.0.0.1
#                                for that cluster and hands DIR to OSUSER
#   require_db                   fails the setup when the PG* environment reaches no database
#   queue_fixture NAME [SQL]     for an engine script working on a queue of its own: sets
#                                Q=tf_NAME_<pid> and DIR (a new /tmp/tfNAME.*); at exit runs SQL,
#                                then drops the queue (cleanup_at_exit); fails the setup without
#                                a database (require_db)
#   drop_queues_sql Q...         SQL that deletes the queues' jobs (attempts, events) and drops them
# Concurrent sessions (the race scripts; output files in $DIR):
#   session APP NAME [PSQL ARGS...]
#                                psql as application_name APP (ON_ERROR_STOP), SQL from stdin or
#                                -c, output and errors in $DIR/NAME.out; start it with & to keep
#                                its transaction open next to the script's own statements
#   hold_open APP NAME SECONDS REGEX
#                                in the background, `session APP NAME` runs BEGIN, the SQL on
#                                stdin, pg_sleep(SECONDS) and COMMIT: a transaction held open;
#                                waits (15 s at most) until its output matches REGEX (the SQL
#                                ran, its locks are held); its pid in HELD_PID
#   expect_blocked SECONDS APP NAME DESCRIPTION [PSQL ARGS...]
#                                after hold_open: starts `session APP NAME` in the background
#                                (stdin: its SQL), tests (DESCRIPTION) that it waits for a lock
#                                within SECONDS, then waits until both sessions have ended (the
#                                held one, HELD_PID, and this one)
#   racer_psql GO NAME           in a racer function: waits until $DIR/GO exists, then runs psql
#                                (ON_ERROR_STOP) on stdin, output in $DIR/NAME.out and .err
#   run_racers N FUNCTION GO [COMPANION]
#                                runs FUNCTION 1 .. FUNCTION N (and COMPANION once) in the
#                                background, creates $DIR/GO so they start at once, waits for
#                                them all; RACERS_FAILED counts those that failed
#   acquire_loop_sql WORKER QUEUE MAX_JOBS SQL
#                                a DO block that acquires up to MAX_JOBS of QUEUE as WORKER (into
#                                ids, toks, tens: job ids, lease tokens, tenants), runs SQL in the
#                                acquiring transaction, commits, sometimes holds the jobs 1 ms,
#                                completes them all (or raises), until nothing of QUEUE is PENDING
#                                (deadline 40 s)
#   running_sampler_sql QUEUE TENANT_A TENANT_B TABLE
#                                a DO block that counts the committed RUNNING jobs of QUEUE and of
#                                the two tenants, with a fresh snapshot each time, until QUEUE is
#                                drained (deadline 45 s); then inserts (samples, max queue, max a,
#                                max b) into TABLE
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
  [ "$status" -eq 0 ]
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
sql_true() { [ "$(sql "$1" 2>/dev/null)" = "t" ]; }
output_is() { [ "$("${@:2}")" = "$1" ]; }
poll_until() {
  local deadline=$(( $(date +%s%N) + $1 * 1000000000 )) interval=$2
  shift 2
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    "$@" && return 0
    sleep "$interval"
  done
  return 1
}
wait_until() { poll_until "$1" 0.1 sql_true "$2"; }
wait_blocked() {
  poll_until "${2:-10}" 0.05 output_is 1 \
    sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1' AND wait_event_type = 'Lock'"
}
wait_output() { poll_until "$1" 0.05 grep -q -- "$2" "$3"; }
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
# scratch_dir PREFIX: a temporary directory in $TMP, removed when the test exits.
scratch_dir() {
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  trap 'rm -rf "$TMP"' EXIT
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
own_cluster_port() {
  port=$(( 20000 + RANDOM % 30000 ))
  for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null || break
    port=$(( 20000 + RANDOM % 30000 ))
  done
  chown "$OSUSER" "$DIR"
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
queue_fixture() {
  Q="tf_$1_$$"
  DIR=$(mktemp -d "/tmp/tf$1.XXXXXX")
  cleanup_at_exit "${2:-}
$(drop_queues_sql "$Q")"
  require_db
}

session() {
  PGAPPNAME=$1 psql -X -q -At -v ON_ERROR_STOP=1 "${@:3}" >"$DIR/$2.out" 2>&1
}
HELD_PID=
hold_open() {
  local sql
  sql="BEGIN;
$(cat)
SELECT pg_sleep($3);
COMMIT;"
  session "$1" "$2" <<<"$sql" &
  HELD_PID=$!
  wait_output 15 "$4" "$DIR/$2.out"
}
expect_blocked() {
  local seconds=$1 app=$2 name=$3 description=$4 blocked
  shift 4
  session "$app" "$name" "$@" <&0 &  # <&0: a background job would read /dev/null
  blocked=$!
  wait_blocked "$app" "$seconds"
  ok $? "$description"
  wait "$HELD_PID" "$blocked"
}

racer_psql() {
  while [ ! -e "$DIR/$1" ]; do sleep 0.01; done
  psql -X -q -At -v ON_ERROR_STOP=1 >"$DIR/$2.out" 2>"$DIR/$2.err"
}
RACERS_FAILED=0
run_racers() {
  local n=$1 fn=$2 go=$3 companion=${4:-} pids=() w p
  rm -f "$DIR/$go"
  for w in $(seq 1 "$n"); do "$fn" "$w" & pids+=($!); done
  if [ -n "$companion" ]; then "$companion" & pids+=($!); fi
  touch "$DIR/$go"
  RACERS_FAILED=0
  for p in "${pids[@]}"; do wait "$p" || RACERS_FAILED=$((RACERS_FAILED + 1)); done
}
acquire_loop_sql() {
  cat <<SQL
DO \$\$
DECLARE
  ids bigint[]; toks uuid[]; tens text[]; deadline timestamptz := clock_timestamp() + interval '40 seconds';
BEGIN
  LOOP
    EXIT WHEN clock_timestamp() > deadline;
    SELECT array_agg(job_id), array_agg(lease_token), array_agg(tenant_id) INTO ids, toks, tens
      FROM taskflow.acquire('$1', ARRAY['$2'], $3);
    IF ids IS NULL THEN
      COMMIT;
      EXIT WHEN NOT EXISTS (SELECT FROM taskflow.jobs WHERE queue = '$2' AND state = 'PENDING');
      PERFORM pg_sleep(0.002);
      CONTINUE;
    END IF;
    $4
    COMMIT;
    IF random() < 0.5 THEN PERFORM pg_sleep(0.001); END IF;  -- hold the jobs a little, sometimes
    IF taskflow.complete_many(ids, toks) <> cardinality(ids) THEN
      RAISE EXCEPTION 'complete_many refused a job';
    END IF;
    COMMIT;
  END LOOP;
END
\$\$;
SQL
}
running_sampler_sql() {
  cat <<SQL
DO \$\$
DECLARE
  q int; a int; b int; mq int := 0; ma int := 0; mb int := 0; n int := 0;
  deadline timestamptz := clock_timestamp() + interval '45 seconds';
BEGIN
  LOOP
    EXIT WHEN clock_timestamp() > deadline;
    SELECT count(*) FILTER (WHERE queue = '$1'), count(*) FILTER (WHERE tenant_id = '$2'),
           count(*) FILTER (WHERE tenant_id = '$3')
      INTO q, a, b FROM taskflow.jobs WHERE state = 'RUNNING';
    mq := greatest(mq, q); ma := greatest(ma, a); mb := greatest(mb, b); n := n + 1;
    COMMIT;  -- a fresh snapshot for every sample
    EXIT WHEN NOT EXISTS (SELECT FROM taskflow.jobs WHERE queue = '$1' AND state IN ('PENDING', 'RUNNING'));
  END LOOP;
  INSERT INTO $4 VALUES (n, mq, ma, mb);
END
\$\$;
SQL
}
