#!/usr/bin/env bash
# `make run`: the whole product on one machine, in one command.
#   1. installs the missing Debian packages (test/deps.sh), builds and installs the extension,
#      builds taskflow-worker;
#   2. starts PostgreSQL 15 with the extension on .run/pgdata inside the checkout (git-ignored,
#      reused on the next run), as the OS user `postgres`;
#   3. starts a worker with worker/examples/handlers.json on the queue `demo`, serving the HTTP API
#      and the dashboard (built by CMake from dashboard/, see docs/dashboard.md);
#   4. schedules three sample jobs (one succeeds, one fails twice then succeeds, one runs out of
#      attempts and goes DEAD), waits for them and prints their final states and histories;
#   5. keeps running until Ctrl-C, then stops the worker (gracefully) and PostgreSQL.
# Settings: TASKFLOW_RUN_DIR (default .run), TASKFLOW_RUN_PORT (default: first free from 54330),
# TASKFLOW_RUN_DB (default taskflow), TASKFLOW_WORKER_BIN (default build/worker/taskflow-worker),
# SKIP_DEPS=1 / SKIP_BUILD=1 to skip those steps.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_DIR=${TASKFLOW_RUN_DIR:-$ROOT/.run}
DB=${TASKFLOW_RUN_DB:-taskflow}
OSUSER=postgres
QUEUE=demo

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "run: $*" >&2; exit 1; }
# shellcheck source=scripts/pg_init.sh
. "$ROOT/scripts/pg_init.sh"  # as_pg, ensure_os_user, init_cluster

# --- 1. dependencies and build -----------------------------------------------------------------
if [ -z "${SKIP_DEPS:-}" ]; then
  step "dependencies (apt-get, only what is missing)"
  bash test/deps.sh
fi
PGBIN=$(pg_config --bindir)
if [ -z "${SKIP_BUILD:-}" ]; then
  step "build: extension (make && make install), taskflow-worker and the dashboard (cmake, npm ci)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  make -s -j"$(nproc)" >/dev/null
  $SUDO make -s install >/dev/null
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build build -j"$(nproc)" --target taskflow-worker >/dev/null
fi
WORKER=${TASKFLOW_WORKER_BIN:-$ROOT/build/worker/taskflow-worker}
[ -x "$WORKER" ] || die "no worker binary at $WORKER (run without SKIP_BUILD)"

# --- 2. PostgreSQL on the embedded data directory ----------------------------------------------
step "PostgreSQL 15 on $RUN_DIR/pgdata"
ensure_os_user
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)
chown "$OSUSER" "$RUN_DIR"
chmod 755 "$RUN_DIR"
if ! as_pg test -x "$RUN_DIR"; then
  die "the OS user $OSUSER cannot reach $RUN_DIR (a parent directory is not searchable);
     chmod o+x the parent directories, or set TASKFLOW_RUN_DIR to a directory it can reach"
fi
PGDATA=$RUN_DIR/pgdata
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  port=${TASKFLOW_RUN_PORT:-}
  if [ -z "$port" ]; then
    port=54330
    while ! port_free "$port"; do port=$((port + 1)); done
  fi
  echo "initdb (first run; the data directory is kept for the next runs)"
  init_cluster "$RUN_DIR" pgdata "$port" "$DB" "scripts/run.sh (make run)" || die "initdb failed"
fi
port=$(sed -n 's/^port = \([0-9]*\).*/\1/p' "$PGDATA/postgresql.conf" | tail -1)
if as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
  echo "already running on port $port"
  PG_STARTED_HERE=""
else
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$RUN_DIR/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$RUN_DIR/postgres.log" >&2; die "PostgreSQL did not start (log: $RUN_DIR/postgres.log)"; }
  echo "started on port $port (log: $RUN_DIR/postgres.log)"
  PG_STARTED_HERE=1
fi
export PGHOST=$RUN_DIR PGPORT=$port PGUSER=postgres PGDATABASE=$DB
psql_q() { psql -X -q -v ON_ERROR_STOP=1 -P pager=off "$@"; }

# From here on, any exit (Ctrl-C, an error) stops what this script started; data is kept.
WORKER_PID=""
stopping=""
shutdown() {
  local status=$?
  [ -n "$stopping" ] && return
  stopping=1
  trap - INT TERM EXIT
  echo
  step "stopping"
  if [ -n "$WORKER_PID" ] && kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    if wait "$WORKER_PID" 2>/dev/null; then echo "worker stopped (exit 0)"; else echo "worker exited with $?"; fi
  fi
  if [ -n "$PG_STARTED_HERE" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null && echo "PostgreSQL stopped; data kept in $PGDATA"
  fi
  exit "$status"
}
trap 'shutdown' EXIT
trap 'exit 0' INT TERM
if [ "$(psql_q -d postgres -At -c "SELECT count(*) FROM pg_database WHERE datname = '$DB'")" = 0 ]; then
  psql_q -d postgres -c "CREATE DATABASE $DB"
fi
psql_q -c "CREATE EXTENSION IF NOT EXISTS taskflow" 2>&1 | grep -v 'already exists' || true
psql_q -At -c "SELECT 'taskflow ' || extversion FROM pg_extension WHERE extname = 'taskflow'"
psql_q -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM taskflow.queues WHERE name = '$QUEUE') THEN
    PERFORM taskflow.create_queue('$QUEUE', retry_policy =>
      '{\"max_attempts\": 3, \"strategy\": \"fixed\", \"base_delay\": \"1 second\", \"jitter\": \"none\"}');
  END IF;
END \$\$"

# A sample automation: every demo.hello that succeeds enqueues a demo.audit follow-up (an
# event rule; it fires inside the transaction that completes the job). See docs/automation.md.
psql_q -c "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM taskflow.automation_rules WHERE name = 'audit-hello') THEN
    PERFORM taskflow.create_rule('audit-hello',
      '{\"type\": \"event\", \"on\": \"job_succeeded\", \"job_type\": \"demo.hello\", \"queue\": \"$QUEUE\"}',
      '[{\"job_type\": \"demo.audit\", \"queue\": \"$QUEUE\", \"payload\": {\"hello_job\": \"{{ \$.event.job.id }}\"}}]');
  END IF;
END \$\$"
echo "automation rule 'audit-hello': when demo.hello succeeds, enqueue demo.audit"

# --- 3. the worker -------------------------------------------------------------------------------
step "taskflow-worker (queue $QUEUE, handlers worker/examples/handlers.json)"
WORKER_LOG=$RUN_DIR/worker.log
DB_URL="host=$RUN_DIR port=$port user=postgres dbname=$DB"
# setsid: Ctrl-C reaches this script only, which then stops the worker with one SIGTERM
# (a second signal would make the worker stop at once).
HTTP_PORT=${TASKFLOW_RUN_HTTP_PORT:-8080}
while ! port_free "$HTTP_PORT"; do HTTP_PORT=$((HTTP_PORT + 1)); done
setsid "$WORKER" --db "$DB_URL" --queue "$QUEUE" --config worker/examples/handlers.json --concurrency 4 \
  --lease 30s --shutdown-grace 10s --http "127.0.0.1:$HTTP_PORT" >>"$WORKER_LOG" 2>&1 &
WORKER_PID=$!
sleep 0.5
kill -0 "$WORKER_PID" 2>/dev/null || { tail -20 "$WORKER_LOG" >&2; die "the worker did not start (log: $WORKER_LOG)"; }
echo "pid $WORKER_PID, log $WORKER_LOG, HTTP API and dashboard on http://127.0.0.1:$HTTP_PORT/"
# An admin API key for the HTTP API, made once and kept beside the data directory.
if [ ! -s "$RUN_DIR/api-key" ]; then
  psql_q -At -c "SELECT taskflow.create_api_key('default', 'admin')" >"$RUN_DIR/api-key"
  chmod 600 "$RUN_DIR/api-key"
fi
API_KEY=$(cat "$RUN_DIR/api-key")

# --- 4. sample jobs --------------------------------------------------------------------------------
step "sample jobs"
ids=$(psql_q -At -c "SELECT taskflow.schedule('demo.hello', '{\"name\": \"TaskFlow\"}', queue => '$QUEUE', correlation_id => 'make-run')" \
                 -c "SELECT taskflow.schedule('demo.flaky', '{\"to\": \"ops@example.com\"}', queue => '$QUEUE', correlation_id => 'make-run')" \
                 -c "SELECT taskflow.schedule('demo.doomed', '{\"card\": \"4000-0000-0000-0002\"}', queue => '$QUEUE', correlation_id => 'make-run')" \
      | tr '\n' ',' | sed 's/,$//')
echo "scheduled jobs $ids: demo.hello (succeeds), demo.flaky (fails twice, then succeeds), demo.doomed (always fails -> DEAD)"
echo -n "waiting for them to finish (retries back off 1 s) "
for _ in $(seq 1 120); do
  if [ "$(psql_q -At -c "SELECT bool_and(state IN ('SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED')) FROM taskflow.jobs WHERE id IN ($ids)")" = t ]; then
    break
  fi
  kill -0 "$WORKER_PID" 2>/dev/null || { echo; tail -20 "$WORKER_LOG" >&2; die "the worker stopped (log: $WORKER_LOG)"; }
  echo -n .
  sleep 0.5
done
echo
psql_q -c "SELECT id, job_type, state, attempts, last_error_type, result
             FROM taskflow.jobs WHERE id IN ($ids) ORDER BY id"
echo "follow-up jobs enqueued by the automation rule 'audit-hello':"
for _ in $(seq 1 20); do
  [ "$(psql_q -At -c "SELECT count(*) FROM taskflow.jobs WHERE parent_job_id IN ($ids) AND state = 'SUCCEEDED'")" -gt 0 ] && break
  sleep 0.25
done
psql_q -c "SELECT id, job_type, state, parent_job_id, correlation_id, result
             FROM taskflow.jobs WHERE parent_job_id IN ($ids) ORDER BY id"
for id in ${ids//,/ }; do
  echo "history of job $id ($(psql_q -At -c "SELECT job_type FROM taskflow.jobs WHERE id = $id")):"
  psql_q -c "SELECT a.attempt, a.outcome, a.error_type, left(a.error_message, 60) AS error_message,
                    a.backoff_delay, to_char(a.started_at, 'HH24:MI:SS.MS') AS started
               FROM jsonb_to_recordset(taskflow.job_history($id) -> 'attempts')
                    AS a(attempt int, outcome text, error_type text, error_message text,
                         backoff_delay text, started_at timestamptz)" \
         -c "SELECT e.from_state, e.to_state, e.actor, e.reason, to_char(e.at, 'HH24:MI:SS.MS') AS at
               FROM jsonb_to_recordset(taskflow.job_history($id) -> 'events')
                    AS e(from_state text, to_state text, actor text, reason text, at timestamptz)"
done

# --- 5. keep running -------------------------------------------------------------------------------
step "running: the worker waits for jobs on queue '$QUEUE' (Ctrl-C stops it and PostgreSQL)"
cat <<HELP
Dashboard: http://127.0.0.1:$HTTP_PORT/
  sign in with the admin API key (kept in $RUN_DIR/api-key):
  $API_KEY

Schedule more jobs from another terminal:
  psql -h $RUN_DIR -p $port -U postgres $DB -c "SELECT taskflow.schedule('demo.hello', '{\"name\": \"you\"}', queue => '$QUEUE')"
  psql -h $RUN_DIR -p $port -U postgres $DB -c "SELECT taskflow.schedule('demo.sleep', '{\"seconds\": 5}', queue => '$QUEUE')"
Look at them:
  psql -h $RUN_DIR -p $port -U postgres $DB -c "SELECT id, job_type, state, attempts, result FROM taskflow.jobs ORDER BY id DESC LIMIT 10"
  psql -h $RUN_DIR -p $port -U postgres $DB -c "SELECT jsonb_pretty(taskflow.job_history(1))"
  psql -h $RUN_DIR -p $port -U postgres $DB -c "SELECT * FROM taskflow.dead_letter"
Or over HTTP (admin key in $RUN_DIR/api-key):
  curl -s -X POST http://127.0.0.1:$HTTP_PORT/jobs -H "Authorization: Bearer $API_KEY" \\
       -H 'Content-Type: application/json' -d '{"job_type": "demo.hello", "queue": "$QUEUE", "payload": {"name": "curl"}}'
  curl -s http://127.0.0.1:$HTTP_PORT/jobs/1 -H "Authorization: Bearer $API_KEY"
  curl -s http://127.0.0.1:$HTTP_PORT/health;  curl -s http://127.0.0.1:$HTTP_PORT/metrics | head
Follow the worker: tail -f $WORKER_LOG
Connection URL: postgresql://postgres@127.0.0.1:$port/$DB
HELP
wait "$WORKER_PID" || true
