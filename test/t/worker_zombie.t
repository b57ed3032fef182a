#!/usr/bin/env bash
# A worker stopped with SIGSTOP past its lease, then resumed (a zombie): the
# job is rescued and run by another worker; the zombie's late complete is
# refused and does not overwrite the new attempt's result.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_zombie_$$"
make_queue "$Q"
handler_script slow <<'SH'
#!/bin/sh
sleep 1.5
printf '{"worker": "%s", "attempt": %s}\n' "$WORKER_NAME" "$TASKFLOW_ATTEMPT"
SH

id=$(sql "SELECT taskflow.schedule('slow', queue => '$Q')")
WORKER_NAME=zombie start_worker zombie --queue "$Q" --handler "slow=command:$T_DIR/slow.sh" --worker-id zombie
wait_until 10 "SELECT state = 'RUNNING' FROM taskflow.jobs WHERE id = $id"
ok $? "the first worker runs the job"
kill -STOP "$(worker_pid zombie)"

# Lease 2s, Rescuer every second: the attempt expires while the worker is frozen.
wait_until 10 "SELECT state IN ('PENDING', 'SCHEDULED') FROM taskflow.jobs WHERE id = $id"
ok $? "the frozen worker's attempt was rescued"
WORKER_NAME=healthy start_worker healthy --queue "$Q" --handler "slow=command:$T_DIR/slow.sh" --worker-id healthy
wait_until 10 "SELECT state = 'SUCCEEDED' FROM taskflow.jobs WHERE id = $id"
ok $? "the second worker completed the job" || show_log healthy

# Resume the zombie: its handler finished long ago, so it reports at once.
kill -CONT "$(worker_pid zombie)"
deadline=$(( $(date +%s) + 10 ))
until grep -q 'outcome refused' "$T_DIR/zombie.log" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.1; done
grep -q "outcome refused.*job_id=$id .*report=complete" "$T_DIR/zombie.log"
ok $? "the zombie's late complete was refused" || show_log zombie

is "$(sql "SELECT state || ' ' || (result ->> 'worker') || ' ' || (result ->> 'attempt') FROM taskflow.jobs WHERE id = $id")" \
  "SUCCEEDED healthy 2" "the result is still the second attempt's"
is "$(sql "SELECT string_agg(a ->> 'worker_id' || ':' || (a ->> 'outcome'), ' ' ORDER BY (a ->> 'attempt')::int)
             FROM jsonb_array_elements(taskflow.job_history($id) -> 'attempts') a")" \
  "zombie:lease_expired healthy:succeeded" "history: zombie lease_expired, healthy succeeded"

stop_worker zombie TERM
is "$W_STATUS" 0 "the zombie exits 0"
stop_worker healthy TERM
is "$W_STATUS" 0 "the healthy worker exits 0"
done_testing
