#!/usr/bin/env bash
# kill -9 of a worker while 10 long jobs run: after the lease expires a second
# worker runs each of them and they succeed; every first attempt ends
# lease_expired; nothing is lost; the ledger shows no attempt executed twice.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_crash_$$"
make_queue "$Q"
LEDGER="$T_DIR/ledger"
: >"$LEDGER"
handler_script long <<'SH'
#!/bin/sh
echo "start $TASKFLOW_JOB_ID $TASKFLOW_ATTEMPT $$" >>"$LEDGER"
sleep 3
echo "end $TASKFLOW_JOB_ID $TASKFLOW_ATTEMPT" >>"$LEDGER"
SH
export LEDGER

schedule_jobs "$Q" long 10
start_worker first --queue "$Q" --concurrency 10 --handler "long=command:$T_DIR/long.sh"
wait_until 15 "SELECT count(*) = 10 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'RUNNING'"
ok $? "the first worker runs all 10 jobs"
deadline=$(( $(date +%s) + 10 ))
while [ "$(grep -c '^start' "$LEDGER")" -lt 10 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.05; done
is "$(grep -c '^start' "$LEDGER")" 10 "all 10 handlers started"

stop_worker first KILL
is "$W_STATUS" 137 "the first worker died of SIGKILL"
sleep 0.3
alive=0
for pid in $(awk '$1 == "start" {print $4}' "$LEDGER"); do alive "$pid" && alive=$((alive + 1)); done
is "$alive" 0 "its handler processes died with it (PR_SET_PDEATHSIG)"

# The Rescuer fails each expired attempt within about a maintenance interval of expiry.
wait_until 10 "SELECT count(*) = 10 FROM taskflow.jobs WHERE queue = '$Q' AND state IN ('PENDING', 'SCHEDULED')"
ok $? "after the lease expired the jobs are ready again"

start_worker second --queue "$Q" --concurrency 10 --handler "long=command:$T_DIR/long.sh"
wait_until 20 "SELECT count(*) = 10 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "the second worker ran them all to SUCCEEDED" || show_log second

is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND attempts = 2")" 10 "each took exactly two attempts"
is "$(sql "SELECT count(*) FROM taskflow.jobs j WHERE queue = '$Q'
             AND taskflow.job_history(j.id) -> 'attempts' -> 0 ->> 'outcome' = 'lease_expired'
             AND taskflow.job_history(j.id) -> 'attempts' -> 1 ->> 'outcome' = 'succeeded'")" 10 \
  "history: attempt 1 lease_expired, attempt 2 succeeded"
is "$(awk '$1 == "start" {print $2, $3}' "$LEDGER" | sort | uniq -d | wc -l | tr -d ' ')" 0 \
  "no (job, attempt) was executed twice"
is "$(awk '$1 == "start" && $3 == 2' "$LEDGER" | wc -l | tr -d ' ')" 10 "each job started once in attempt 2"
is "$(awk '$1 == "end" && $3 == 1' "$LEDGER" | wc -l | tr -d ' ')" 0 "no attempt-1 handler ran to its end"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state <> 'SUCCEEDED'")" 0 "nothing lost"

stop_worker second TERM
is "$W_STATUS" 0 "the second worker exits 0"
done_testing
