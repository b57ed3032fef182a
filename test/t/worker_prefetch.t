#!/usr/bin/env bash
# --prefetch: jobs acquired ahead of a free handler thread. Many short jobs through two
# prefetching workers, each executed once; a busy worker never holds more than
# concurrency + prefetch jobs and refills in batches (once half its slots are free, or when
# a handler thread would idle), not one job per finished handler; SIGTERM releases the
# prefetched jobs that have not started at once and lets the running one finish.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_prefetch_$$"
make_queue "$Q"

# 1. 2,000 noop jobs, two workers with prefetch buffers.
schedule_jobs "$Q" ping 2000
start_worker a --queue "$Q" --handler ping=noop --concurrency 4 --prefetch 12 --log-level warn
start_worker b --queue "$Q" --handler ping=noop --concurrency 2 --prefetch 6 --log-level warn
wait_until 60 "SELECT count(*) = 2000 FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'"
ok $? "all 2,000 jobs SUCCEEDED"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND attempts <> 1")" 0 "each took one attempt"
is "$(sql "SELECT count(*) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
             WHERE j.queue = '$Q'")" 2000 "one attempt row per job"
stop_worker a TERM
is "$W_STATUS" 0 "worker a exits 0"
stop_worker b TERM
is "$W_STATUS" 0 "worker b exits 0"

# 2. Slots and refills: concurrency 2 + prefetch 4 = 6 slots; a busy worker acquires again
# once 3 are free (or a handler thread would idle). Jobs of one acquire share started_at.
schedule_jobs "$Q" nap 24 "jsonb_build_object('seconds', 0.2)"
start_worker c --queue "$Q" --handler nap=sleep --concurrency 2 --prefetch 4 --worker-id "prefetch-c-$$" \
  --log-format json --log-level debug
most=0
deadline=$(( $(date +%s%N) + 30000000000 ))
while [ "$(date +%s%N)" -lt "$deadline" ]; do
  read -r held left < <(sql "SELECT count(*) FILTER (WHERE state = 'RUNNING'), count(*) FILTER (WHERE state <> 'SUCCEEDED')
                             FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'nap'" | tr '|' ' ')
  [ "$held" -gt "$most" ] && most=$held
  [ "$left" -eq 0 ] && break
  sleep 0.05
done
is "$left" 0 "the 24 sleep jobs SUCCEEDED"
# What the worker holds: acquired and its handler not yet returned (its own debug log, in
# order; "job finished" is written before the slot is freed). The RUNNING rows sampled above
# can be more: a returned job stays RUNNING until the Completer's batch commits, as in River.
held=$(grep -o '"msg":"job \(acquired\|finished\)"' "$T_DIR/c.log" |
         awk '/acquired/ { n++ } /finished/ { n-- } n > m { m = n } END { print m + 0 }')
diag "RUNNING rows seen at most: $most (finished jobs wait for the Completer's commit)"
[ "$held" -ge 1 ] && [ "$held" -le 6 ] && [ "$(grep -c '"msg":"job finished"' "$T_DIR/c.log")" -eq 24 ]
ok $? "the worker never held more than concurrency + prefetch = 6 jobs (at most $held held)"
batches=$(sql "SELECT string_agg(n::text, ' ' ORDER BY started_at) FROM (
                 SELECT a.started_at, count(*) AS n FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
                  WHERE j.queue = '$Q' AND j.job_type = 'nap' GROUP BY a.started_at) b")
diag "acquire batches: $batches"
small=$(echo "$batches" | tr ' ' '\n' | head -n -1 | awk '$1 < 3' | wc -l)
is "$small" 0 "every acquire but the last took at least 3 jobs (half of the slots)"
stop_worker c TERM
is "$W_STATUS" 0 "worker c exits 0"

# 3. SIGTERM: the prefetched jobs that did not start go back at once; the running one finishes.
schedule_jobs "$Q" long 8 "jsonb_build_object('seconds', 1.5)"
start_worker d --queue "$Q" --handler long=sleep --concurrency 1 --prefetch 4 --shutdown-grace 10s
wait_until 10 "SELECT count(*) = 5 FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'long' AND state = 'RUNNING'"
ok $? "one job runs and four wait in the prefetch buffer"
sleep 0.3
stop_worker d TERM
is "$W_STATUS" 0 "SIGTERM: exit 0"
[ "$W_MS" -lt 5000 ]
ok $? "it waited only for the running job ($W_MS ms)"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'long' AND state = 'SUCCEEDED'")" 1 \
  "the running job finished"
is "$(sql "SELECT count(*) FROM taskflow.jobs j WHERE queue = '$Q' AND job_type = 'long' AND state = 'PENDING'
             AND taskflow.job_history(j.id) -> 'attempts' -> 0 ->> 'outcome' = 'released'")" 4 \
  "the four prefetched jobs were released"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'long' AND state = 'RUNNING'")" 0 \
  "no job is left RUNNING"
done_testing
