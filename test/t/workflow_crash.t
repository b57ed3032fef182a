#!/usr/bin/env bash
# Workflows with real workers that are killed mid-workflow (issue 13): nothing is left waiting.
#  A. root -> 4 slow middles -> sink, 2 attempts per job: kill -9 the worker while the middles
#     run; the Rescuer expires their leases, a second worker runs them again, the sink is
#     released and the workflow ends succeeded.
#  B. the same with 1 attempt per job and no second worker: the Rescuer ends the middles DEAD
#     and its transaction cancels the sink; every node is final.
source "$(dirname "$0")/worker_lib.sh"

QA="wt_wfcrash_a_$$"
QB="wt_wfcrash_b_$$"
make_queue "$QA" 2
make_queue "$QB" 1
handler_script slow <<'SH'
#!/bin/sh
sleep 3
SH

workflow() {  # workflow QUEUE: root -> m1..m4 -> sink; prints the workflow id
  sql "SELECT taskflow.schedule_workflow(jsonb_build_object('name', 'crash-$1',
         'nodes', jsonb_build_array(
           jsonb_build_object('key', 'root', 'job_type', 'fast', 'queue', '$1'),
           jsonb_build_object('key', 'm1', 'job_type', 'slow', 'queue', '$1'),
           jsonb_build_object('key', 'm2', 'job_type', 'slow', 'queue', '$1'),
           jsonb_build_object('key', 'm3', 'job_type', 'slow', 'queue', '$1'),
           jsonb_build_object('key', 'm4', 'job_type', 'slow', 'queue', '$1'),
           jsonb_build_object('key', 'sink', 'job_type', 'fast', 'queue', '$1')),
         'edges', (SELECT jsonb_agg(e) FROM (
            SELECT jsonb_build_object('from', 'root', 'to', 'm' || i) e FROM generate_series(1, 4) i
            UNION ALL
            SELECT jsonb_build_object('from', 'm' || i, 'to', 'sink') FROM generate_series(1, 4) i) x)))
       ->> 'workflow_id'"
}
unfinished() {  # nodes of workflow $1 not in a final state
  sql "SELECT count(*) FROM taskflow.workflow_nodes n JOIN taskflow.jobs j ON j.id = n.job_id
       WHERE n.workflow_id = $1 AND j.state IN ('PENDING', 'SCHEDULED', 'RUNNING')"
}
HANDLERS=(--handler "fast=command:/bin/true" --handler "slow=command:$T_DIR/slow.sh")
# kill_mid_workflow WORKER QUEUE WORKFLOW LABEL RUNNING_TEST KILLED_TEST: starts WORKER on QUEUE,
# tests that the four middles of WORKFLOW run, then kills the worker with SIGKILL (tested too).
kill_mid_workflow() {
  start_worker "$1" --queue "$2" --concurrency 4 "${HANDLERS[@]}"
  wait_until 20 "SELECT count(*) = 4 FROM taskflow.workflow_nodes n JOIN taskflow.jobs j ON j.id = n.job_id
                 WHERE n.workflow_id = $3 AND n.node_key LIKE 'm%' AND j.state = 'RUNNING'"
  ok $? "$4: $5"
  stop_worker "$1" KILL
  is "$W_STATUS" 137 "$4: $6"
}

# --- A ---------------------------------------------------------------------------------------
wa=$(workflow "$QA")
kill_mid_workflow first "$QA" "$wa" A "the root ran and the four middles were released and are running" \
  "the worker died of SIGKILL mid-workflow"
is "$(sql "SELECT j.state FROM taskflow.workflow_nodes n JOIN taskflow.jobs j ON j.id = n.job_id WHERE n.workflow_id = $wa AND n.node_key = 'sink'")" \
  SCHEDULED "A: the sink is still waiting"
start_worker second --queue "$QA" --concurrency 4 "${HANDLERS[@]}"
wait_until 40 "SELECT taskflow.workflow_status($wa) ->> 'state' = 'succeeded'"
ok $? "A: after the Rescuer and a second worker, the workflow succeeded" || show_log second
is "$(unfinished "$wa")" 0 "A: every node is final"
is "$(sql "SELECT count(*) FROM taskflow.workflow_nodes n JOIN taskflow.job_attempts a ON a.job_id = n.job_id
           WHERE n.workflow_id = $wa AND a.outcome = 'lease_expired'")" 4 "A: the four killed attempts ended lease_expired"
is "$(sql "SELECT count(*) FROM taskflow.workflow_nodes n JOIN taskflow.job_events e ON e.job_id = n.job_id
           WHERE n.workflow_id = $wa AND n.node_key = 'sink' AND e.actor = 'workflow' AND e.to_state = 'PENDING'")" 1 \
  "A: the sink was released exactly once"
stop_worker second TERM
is "$W_STATUS" 0 "A: the second worker exits 0"

# --- B ---------------------------------------------------------------------------------------
wb=$(workflow "$QB")
kill_mid_workflow third "$QB" "$wb" B "the middles are running" "the worker died of SIGKILL"
wait_until 20 "SELECT count(*) = 0 FROM taskflow.workflow_nodes n JOIN taskflow.jobs j ON j.id = n.job_id
               WHERE n.workflow_id = $wb AND j.state IN ('PENDING', 'SCHEDULED', 'RUNNING')"
ok $? "B: with no worker left, the Rescuer alone brings every node to a final state"
is "$(sql "SELECT taskflow.workflow_status($wb) -> 'counts'")" '{"DEAD": 4, "CANCELLED": 1, "SUCCEEDED": 1}' \
  "B: root SUCCEEDED, middles DEAD, sink CANCELLED"
is "$(sql "SELECT j.cancel_reason ~ '^dependency [0-9]+ ended DEAD$' FROM taskflow.workflow_nodes n JOIN taskflow.jobs j ON j.id = n.job_id WHERE n.workflow_id = $wb AND n.node_key = 'sink'")" \
  t "B: the sink's reason names a DEAD middle"
done_testing
