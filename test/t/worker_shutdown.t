#!/usr/bin/env bash
# SIGTERM during work: short jobs finish within the grace period, long ones are
# stopped and released; no job is left RUNNING; exit 0. A second signal stops
# at once (exit 128+N) and kills the handlers; the leases then expire.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_term_$$"
make_queue "$Q"
handler_script job <<'SH'
#!/bin/sh
echo $$ >"$PIDS/$TASKFLOW_JOB_ID.pid"
seconds=$(sed -n 's/.*"seconds": *\([0-9.]*\).*/\1/p')
sleep "$seconds"
SH
mkdir -p "$T_DIR/pids"
export PIDS="$T_DIR/pids"

schedule_jobs "$Q" job 6 "jsonb_build_object('seconds', CASE WHEN i <= 4 THEN 1 ELSE 60 END)"
start_worker w --queue "$Q" --concurrency 6 --shutdown-grace 2s --handler "job=command:$T_DIR/job.sh"
wait_until 10 "SELECT count(*) = 6 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'RUNNING'"
ok $? "six jobs run"
sleep 0.2
stop_worker w TERM
is "$W_STATUS" 0 "SIGTERM: exit 0"
[ "$W_MS" -ge 1900 ] && [ "$W_MS" -lt 8000 ]
ok $? "it waited for the grace period, then stopped ($W_MS ms)"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state = 'RUNNING'")" 0 "no job is left RUNNING"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED' AND (payload ->> 'seconds')::int = 1")" 4 \
  "the short jobs finished within the grace period"
is "$(sql "SELECT count(*) FROM taskflow.jobs j WHERE queue = '$Q' AND state = 'PENDING' AND (payload ->> 'seconds')::int = 60
             AND taskflow.job_history(j.id) -> 'attempts' -> 0 ->> 'outcome' = 'released'")" 2 \
  "the long jobs were released back to PENDING"
alive_count=0
for f in "$T_DIR"/pids/*.pid; do alive "$(cat "$f")" && alive_count=$((alive_count + 1)); done
is "$alive_count" 0 "no handler process is left"

# Second signal: stop at once.
rm -f "$T_DIR"/pids/*.pid
start_worker again --queue "$Q" --concurrency 6 --shutdown-grace 30s --handler "job=command:$T_DIR/job.sh"
wait_until 10 "SELECT count(*) = 2 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'RUNNING'"
ok $? "a new worker picks the two long jobs up"
sleep 0.3
pid=$(worker_pid again)
started=$(date +%s%N)
kill -TERM "$pid"
sleep 0.3
kill -TERM "$pid"
wait_worker again 5
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
is "$W_STATUS" 143 "a second SIGTERM exits at once with 128+15"
[ "$elapsed_ms" -lt 2000 ]
ok $? "without waiting for the 30s grace period ($elapsed_ms ms)"
sleep 0.2
alive_count=0
for f in "$T_DIR"/pids/*.pid; do alive "$(cat "$f")" && alive_count=$((alive_count + 1)); done
is "$alive_count" 0 "its handler processes were killed"
wait_until 10 "SELECT count(*) = 2 FROM taskflow.jobs j WHERE queue = '$Q' AND state IN ('PENDING', 'SCHEDULED')
                 AND taskflow.job_history(j.id) -> 'attempts' -> 1 ->> 'outcome' = 'lease_expired'"
ok $? "their leases expired and the Rescuer made them ready again"
done_testing
