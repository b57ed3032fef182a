#!/usr/bin/env bash
# Cancel of a running long job: the heartbeat answers cancel_requested, the
# handler's process group is killed within one heartbeat interval, and the job
# ends CANCELLED (not retried).
source "$(dirname "$0")/worker_lib.sh"

Q="wt_cancel_$$"
make_queue "$Q"
handler_script long <<'SH'
#!/bin/sh
sleep 60 &
echo "$$ $!" >"$PIDFILE"
wait
SH
export PIDFILE="$T_DIR/pids"

id=$(sql "SELECT taskflow.schedule('long', queue => '$Q')")
start_worker w --queue "$Q" --lease 3s --heartbeat-interval 1s --handler "long=command:$T_DIR/long.sh"
wait_until 10 "SELECT state = 'RUNNING' FROM taskflow.jobs WHERE id = $id"
ok $? "the job runs"
deadline=$(( $(date +%s) + 5 ))
until [ -s "$PIDFILE" ] || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.05; done
shell_pid=0 sleep_pid=0
[ -s "$PIDFILE" ] && read -r shell_pid sleep_pid <"$PIDFILE"

cancel_running w "$id" 'test: no longer needed' "cancel of a RUNNING job leaves it RUNNING with cancel_requested"
[ "$CANCEL_MS" -le 2000 ]
ok $? "within one heartbeat interval, plus reporting ($CANCEL_MS ms)"
! alive "$shell_pid" && ! alive "$sleep_pid"
ok $? "the handler and its child were killed"
is "$(sql "SELECT (h -> 'attempts' -> 0 ->> 'outcome') || ' ' || (h -> 'attempts' -> 0 ->> 'error_type') FROM taskflow.job_history($id) h")" \
  "cancelled cancelled" "the attempt is recorded as cancelled"
grep -q "cancel requested; stopping the handler job_id=$id " "$T_DIR/w.log"
ok $? "the worker logged the cancel"
sleep 1.5
is "$(sql "SELECT state || ' ' || attempts FROM taskflow.jobs WHERE id = $id")" "CANCELLED 1" "and it is not retried"

stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"
done_testing
