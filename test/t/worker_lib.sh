# Shared helpers for the worker TAP scripts (test/t/worker_*.t), sourced by each.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE) and the
# worker binary at $TASKFLOW_WORKER_BIN (default build/worker/taskflow-worker).
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/tap_lib.sh"  # the counter, ok/is/diag/done_testing, sql

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORKER_BIN=${TASKFLOW_WORKER_BIN:-$ROOT/build/worker/taskflow-worker}
case "$WORKER_BIN" in /*) ;; *) WORKER_BIN="$ROOT/$WORKER_BIN" ;; esac
# Leave TASKFLOW_DATABASE_URL unset inside the tests so every worker uses the PG* variables.
unset TASKFLOW_DATABASE_URL

T_DIR=$(mktemp -d /tmp/tfworker.XXXXXX)
chmod 755 "$T_DIR"
declare -A T_WORKERS=()

if [ ! -x "$WORKER_BIN" ]; then
  echo "Bail out! no worker binary at $WORKER_BIN (build it, or set TASKFLOW_WORKER_BIN)"
  exit 1
fi
if ! psql -X -q -At -c "SELECT 1" >/dev/null 2>&1; then
  echo "Bail out! no database: export PGHOST, PGPORT, PGUSER, PGDATABASE (test/pgcluster.sh start DIR)"
  exit 1
fi

t_cleanup() {
  local name
  for name in "${!T_WORKERS[@]}"; do
    kill -CONT "${T_WORKERS[$name]}" 2>/dev/null
    kill -KILL "${T_WORKERS[$name]}" 2>/dev/null
  done
  if [ "$T_FAILED" -eq 0 ] && [ -z "${KEEP_LOGS:-}" ]; then rm -rf "$T_DIR"; else echo "# logs kept in $T_DIR"; fi
}
trap t_cleanup EXIT

# A queue of its own per script, with fast fixed retries.
make_queue() {
  local name=$1 attempts=${2:-3}
  sql "SELECT taskflow.create_queue('$name', retry_policy => '{\"max_attempts\": $attempts, \"strategy\": \"fixed\", \"base_delay\": \"200 milliseconds\", \"jitter\": \"none\"}')" >/dev/null
}

# handler_script NAME: writes stdin (a script with its #! line) to $T_DIR/NAME.sh, executable,
# for a --handler "TYPE=command:$T_DIR/NAME.sh".
handler_script() {
  cat >"$T_DIR/$1.sh"
  chmod +x "$T_DIR/$1.sh"
}

# schedule_jobs QUEUE JOB_TYPE COUNT [PAYLOAD]: COUNT ready jobs in one schedule_many; PAYLOAD
# is an SQL expression over i (1 .. COUNT), default jsonb_build_object('i', i).
schedule_jobs() {
  sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object(
       'job_type', '$2', 'queue', '$1', 'payload', ${4:-jsonb_build_object('i', i)}))
       FROM generate_series(1, $3) i))" >/dev/null
}

# start_worker NAME ARGS...: runs the worker in the background, log in $T_DIR/NAME.log.
start_worker() {
  local name=$1; shift
  "$WORKER_BIN" --lease 2s --poll-interval 500ms "$@" >"$T_DIR/$name.log" 2>&1 &
  T_WORKERS[$name]=$!
}

worker_pid() { echo "${T_WORKERS[$1]:-0}"; }

# stop_worker NAME [SIGNAL]: signals the worker and waits; its exit status is in $W_STATUS,
# the milliseconds from the signal to its exit in $W_MS.
# (Not in a $(...) subshell: only this shell can wait for its children.)
W_STATUS=
W_MS=
stop_worker() {
  local name=$1 sig=${2:-TERM} pid started
  pid=${T_WORKERS[$name]:-}
  if [ -z "$pid" ]; then W_STATUS="not running"; return; fi
  started=$(date +%s%N)
  kill -"$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  W_STATUS=$?
  W_MS=$(( ($(date +%s%N) - started) / 1000000 ))
  unset "T_WORKERS[$name]"
}

# cancel_running WORKER JOB REASON DESCRIPTION: cancels the RUNNING JOB (one test, DESCRIPTION,
# that cancel answers RUNNING), then one test that it ends CANCELLED within 5 s (WORKER's log
# shown if not); the milliseconds from the cancel to CANCELLED in $CANCEL_MS.
CANCEL_MS=
cancel_running() {
  local started rc
  started=$(date +%s%N)
  is "$(sql "SELECT taskflow.cancel($2, '$3')")" RUNNING "$4"
  wait_until 5 "SELECT state = 'CANCELLED' FROM taskflow.jobs WHERE id = $2"
  rc=$?
  ok "$rc" "the job ends CANCELLED"
  [ "$rc" -eq 0 ] || show_log "$1"
  CANCEL_MS=$(( ($(date +%s%N) - started) / 1000000 ))
}

# wait_worker NAME SECONDS: waits for the worker to exit by itself; W_STATUS as above,
# or "timeout" (the worker is then killed).
wait_worker() {
  local name=$1 seconds=$2 pid deadline
  pid=${T_WORKERS[$name]:-}
  if [ -z "$pid" ]; then W_STATUS="not running"; return; fi
  deadline=$(( $(date +%s%N) + seconds * 1000000000 ))
  while kill -0 "$pid" 2>/dev/null && [ "$(date +%s%N)" -lt "$deadline" ]; do sleep 0.05; done
  if [ -d "/proc/$pid" ] && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != "Z" ]; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    W_STATUS=timeout
  else
    wait "$pid" 2>/dev/null
    W_STATUS=$?
  fi
  unset "T_WORKERS[$name]"
}

# wait_until SECONDS "SQL returning t": polls every 100 ms; returns 1 on timeout. Replaces
# tap_lib.sh's: it also gives up as soon as a started worker has died.
wait_until() {
  local seconds=$1 query=$2 deadline
  deadline=$(( $(date +%s%N) + seconds * 1000000000 ))
  while [ "$(date +%s%N)" -lt "$deadline" ]; do
    [ "$(sql "$query" 2>/dev/null)" = "t" ] && return 0
    workers_alive || return 1
    sleep 0.1
  done
  return 1
}

# workers_alive: false (with the log shown) as soon as a started worker has exited on its own,
# so a worker that cannot start fails the test at once instead of after every timeout.
workers_alive() {
  local name pid
  for name in "${!T_WORKERS[@]}"; do
    pid=${T_WORKERS[$name]}
    if ! alive "$pid"; then
      diag "worker $name exited unexpectedly:"
      show_log "$name" 10
      wait "$pid" 2>/dev/null
      unset "T_WORKERS[$name]"
      return 1
    fi
  done
  return 0
}

# Print a worker's log as TAP comments (after a failure).
show_log() { sed 's/^/#   /' "$T_DIR/$1.log" | tail -"${2:-40}"; }

# alive PID: running and not a zombie waiting to be reaped.
alive() {
  [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != "Z" ]
}
