#!/usr/bin/env bash
# A PostgreSQL restart (pg_ctl restart -m fast) while the worker runs: it
# reconnects (capped exponential backoff) and every job finishes, none twice.
source "$(dirname "$0")/worker_lib.sh"

if [ -z "${TASKFLOW_TEST_PGDATA:-}" ] || [ ! -f "$TASKFLOW_TEST_PGDATA/PG_VERSION" ]; then
  echo "Bail out! TASKFLOW_TEST_PGDATA must name the test cluster's data directory (test/pgcluster.sh exports it)"
  exit 1
fi
PGBIN=${PGBIN:-$(pg_config --bindir)}
PGOWNER=$(stat -c %U "$TASKFLOW_TEST_PGDATA")
as_owner() { if [ "$(id -un)" = "$PGOWNER" ]; then "$@"; else runuser -u "$PGOWNER" -- "$@"; fi; }

Q="wt_restart_$$"
make_queue "$Q"
LEDGER="$T_DIR/ledger"
: >"$LEDGER"
chmod 666 "$LEDGER"
handler_script job <<'SH'
#!/bin/sh
sleep 0.2
echo "$TASKFLOW_JOB_ID $TASKFLOW_ATTEMPT" >>"$LEDGER"
SH
export LEDGER

schedule_jobs "$Q" job 100
# A lease longer than the restart: jobs running across it keep their attempt.
start_worker w --queue "$Q" --concurrency 4 --lease 10s --handler "job=command:$T_DIR/job.sh"
wait_until 10 "SELECT count(*) >= 10 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "the worker is working"

as_owner "$PGBIN/pg_ctl" -D "$TASKFLOW_TEST_PGDATA" -m fast -w -t 60 \
  -l "$(dirname "$TASKFLOW_TEST_PGDATA")/postgres.log" restart >"$T_DIR/pg_ctl.log" 2>&1
ok $? "pg_ctl restart -m fast" || sed 's/^/#   /' "$T_DIR/pg_ctl.log"
# Wait for the server to accept connections again (pg_ctl -w already did, normally).
for _ in $(seq 1 50); do sql "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done

wait_until 60 "SELECT count(*) = 100 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "every job finished" || { show_log w; sql "SELECT state, count(*) FROM taskflow.jobs WHERE queue = '$Q' GROUP BY 1" | sed 's/^/#   /'; }
alive "$(worker_pid w)"
ok $? "the worker survived the restart"
grep -q "database connection lost" "$T_DIR/w.log"
ok $? "it noticed the lost connection"
grep -q "database connection restored" "$T_DIR/w.log"
ok $? "and reconnected"
is "$(awk '{print $1}' "$LEDGER" | sort -u | wc -l | tr -d ' ')" 100 "the ledger has all 100 jobs"
is "$(sort "$LEDGER" | uniq -d | wc -l | tr -d ' ')" 0 "no attempt ran twice"
diag "attempts used: $(sql "SELECT string_agg(attempts || 'x' || n, ' ') FROM (SELECT attempts, count(*) n FROM taskflow.jobs WHERE queue = '$Q' GROUP BY 1 ORDER BY 1) s")"

stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"
done_testing
