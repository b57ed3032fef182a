#!/usr/bin/env bash
# --prefetch auto (the default): the worker acquires ahead of its handler threads as far as its
# throughput warrants, and prefetched jobs never wait behind a long job while another worker is
# idle: a prefetched job that has not started within --prefetch-max-wait (100 ms) is released
# and another worker runs it.
#
# Two workers with one handler thread each and default settings drain 3,000 quick jobs (their
# buffers grow with the throughput), then meet one 4-second job followed by 20 quick ones. The
# worker that takes the long job also prefetches quick ones; they must all be done by the other
# worker before the long job ends.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_prefetch_auto_$$"
make_queue "$Q"

sql "SELECT count(*) FROM taskflow.schedule_many((
       SELECT jsonb_agg(jsonb_build_object('job_type', 'nap', 'queue', '$Q', 'priority', 10,
                                           'payload', jsonb_build_object('seconds', 0, 'phase', 'warm')))
         FROM generate_series(1, 3000))
       || jsonb_build_array(jsonb_build_object('job_type', 'nap', 'queue', '$Q', 'priority', 5,
                                               'payload', jsonb_build_object('seconds', 4, 'phase', 'long')))
       || (SELECT jsonb_agg(jsonb_build_object('job_type', 'nap', 'queue', '$Q', 'priority', 0,
                                               'payload', jsonb_build_object('seconds', 0, 'phase', 'after')))
             FROM generate_series(1, 20)))" >/dev/null
start_worker a --queue "$Q" --handler nap=sleep --concurrency 1 --worker-id "auto-a-$$"
start_worker b --queue "$Q" --handler nap=sleep --concurrency 1 --worker-id "auto-b-$$"

wait_until 60 "SELECT count(*) = 20 FROM taskflow.jobs WHERE queue = '$Q' AND payload->>'phase' = 'after'
                AND state = 'SUCCEEDED'"
ok $? "the 20 jobs after the long one SUCCEEDED"
is "$(sql "SELECT state FROM taskflow.jobs WHERE queue = '$Q' AND payload->>'phase' = 'long'")" RUNNING \
  "... while the long job is still running (none of them waited for it)"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND payload->>'phase' = 'warm' AND state = 'SUCCEEDED'")" \
  3000 "the 3,000 quick jobs before it SUCCEEDED"
# The worker running the long job had prefetched some of them (its buffer had grown with the
# quick jobs) and gave them back: without the release they would have waited 4 s.
released=$(sql "SELECT count(*) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
                 WHERE j.queue = '$Q' AND a.outcome = 'released'")
[ "$released" -ge 1 ]
ok $? "prefetched jobs were released to the idle worker ($released released attempts)"
long_worker=$(sql "SELECT worker_id FROM taskflow.jobs WHERE queue = '$Q' AND payload->>'phase' = 'long'")
is "$(sql "SELECT count(*) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
            WHERE j.queue = '$Q' AND a.outcome = 'released' AND a.worker_id <> '$long_worker'")" 0 \
  "only the worker busy with the long job released jobs"
grep -q "prefetched jobs waited too long" "$T_DIR/a.log" "$T_DIR/b.log"
ok $? "the release is logged"
is "$(sql "SELECT count(*) FROM taskflow.jobs j WHERE queue = '$Q' AND payload->>'phase' <> 'long'
            AND (SELECT count(*) FROM taskflow.job_attempts a WHERE a.job_id = j.id AND a.outcome = 'succeeded') <> 1")" 0 \
  "every quick job ran exactly once"

wait_until 20 "SELECT state = 'SUCCEEDED' FROM taskflow.jobs WHERE queue = '$Q' AND payload->>'phase' = 'long'"
ok $? "the long job SUCCEEDED"
stop_worker a TERM
is "$W_STATUS" 0 "worker a exits 0"
stop_worker b TERM
is "$W_STATUS" 0 "worker b exits 0"
done_testing
