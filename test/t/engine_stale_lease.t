#!/usr/bin/env bash
# Stale leases and the maintenance worker, on a running server (maintenance_interval 1s):
#  - a lease expires; the Rescuer moves the job back on its own within about one interval;
#    another worker acquires it; the first worker's complete returns NULL and changes nothing;
#    the second worker's complete succeeds;
#  - the Scheduler promotes a SCHEDULED job (run_at = now() + 2s) to PENDING on its own and
#    sends NOTIFY on the queue's channel; a schedule of ready jobs notifies once per transaction
#    at commit.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

queue_fixture stale

plan 23

is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskflow maintenance' AND datname = current_database()")" 1 \
  "the maintenance worker runs in this database"
is "$(sql "SHOW taskflow.maintenance_interval")" "1s" "maintenance_interval is 1s"

# Retries are due at once, so the rescued job can be acquired again right away.
sql "SELECT taskflow.create_queue('$Q', retry_policy => '{\"max_attempts\": 3, \"strategy\": \"fixed\", \"base_delay\": 0, \"jitter\": \"none\"}')" >/dev/null

# --- a stale lease ------------------------------------------------------------------------------
id=$(sql "SELECT taskflow.schedule('stale', queue => '$Q')")
IFS='|' read -r a1 tok1 < <(sql "SELECT attempt, lease_token FROM taskflow.acquire('worker-1', ARRAY['$Q'], 1, lease => interval '1 second')")
is "$a1" 1 "worker-1 acquires the job with a 1 second lease"

wait_until 10 "SELECT state <> 'RUNNING' FROM taskflow.jobs WHERE id = $id"
ok $? "the Rescuer takes the job back after the lease expired (polled up to 10 s)"
is "$(sql "SELECT outcome || ' ' || error_type FROM taskflow.job_attempts WHERE job_id = $id AND attempt = 1")" \
  "lease_expired lease_expired" "attempt 1 ended as lease_expired"
late=$(sql "SELECT round(extract(epoch FROM e.at - a.started_at - interval '1 second')::numeric, 2)
              FROM taskflow.job_events e, taskflow.job_attempts a
             WHERE e.job_id = $id AND e.actor = 'rescuer' AND a.job_id = $id AND a.attempt = 1")
ok $(awk -v l="${late:-99}" 'BEGIN { exit !(l <= 3) }' && echo 0 || echo 1) \
  "the rescue came within about one maintenance_interval of the expiry (${late:-?} s after it)"
is "$(sql "SELECT state IN ('SCHEDULED', 'PENDING') AND next_run_at <= now() FROM taskflow.jobs WHERE id = $id")" t \
  "the job is ready again (retried with zero backoff)"

IFS='|' read -r a2 tok2 < <(sql "SELECT attempt, lease_token FROM taskflow.acquire('worker-2', ARRAY['$Q'], 1, lease => interval '1 minute')")
is "$a2" 2 "worker-2 acquires the job as attempt 2"
ok $([ -n "$tok2" ] && [ "$tok2" != "$tok1" ] && echo 0 || echo 1) "with a new lease token"

before=$(sql "SELECT to_jsonb(j) FROM taskflow.jobs j WHERE id = $id")
events_before=$(sql "SELECT count(*) FROM taskflow.job_events WHERE job_id = $id")
is "$(sql "SELECT COALESCE(taskflow.complete($id, '$tok1', '{\"from\": \"worker-1\"}')::text, 'NULL')")" NULL \
  "worker-1's complete with the stale token returns NULL"
is "$(sql "SELECT to_jsonb(j) FROM taskflow.jobs j WHERE id = $id")" "$before" "and changes nothing in the job"
is "$(sql "SELECT count(*) FROM taskflow.job_events WHERE job_id = $id")" "$events_before" "and records no event"
is "$(sql "SELECT taskflow.job_history($id) -> 'attempts' -> 1 ->> 'outcome'")" running \
  "worker-2's attempt is still running"
is "$(sql "SELECT taskflow.heartbeat($id, '$tok1')")" lost "worker-1's heartbeat answers lost"
is "$(sql "SELECT taskflow.complete($id, '$tok2', '{\"from\": \"worker-2\"}')")" SUCCEEDED "worker-2's complete succeeds"
is "$(sql "SELECT state || ' ' || (result ->> 'from') FROM taskflow.jobs WHERE id = $id")" "SUCCEEDED worker-2" \
  "the job holds worker-2's result"

# --- the Scheduler promotes on its own and a wake-up is sent -----------------------------------
# A listener on the queue's channel, kept open for up to 12 s; psql prints each notification
# (with the sender's pid) after the statement it arrives during.
listen_args=(-c "LISTEN taskflow_$Q")
for _ in $(seq 1 24); do listen_args+=(-c "SELECT pg_sleep(0.5)"); done
PGAPPNAME="tf_listen_$$" psql -X -q -At "${listen_args[@]}" >"$DIR/listen.out" 2>&1 &
listener=$!
wait_until 5 "SELECT EXISTS (SELECT FROM pg_stat_activity WHERE application_name = 'tf_listen_$$' AND query LIKE '%pg_sleep%')"
ok $? "a session listens on channel taskflow_$Q"
received() { grep -c "notification \"taskflow_$Q\"" "$DIR/listen.out"; }

sid=$(sql "SELECT taskflow.schedule('later', queue => '$Q', run_at => now() + interval '2 seconds')")
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $sid")" SCHEDULED "a job with run_at = now() + 2s is SCHEDULED"
sleep 1
is "$(received)" 0 "scheduling a job for later sends no wake-up"
wait_until 8 "SELECT state = 'PENDING' FROM taskflow.jobs WHERE id = $sid"
ok $? "the maintenance worker promotes it to PENDING on its own"
sleep 1.2
n1=$(received)
ok $([ "$n1" -ge 1 ] && echo 0 || echo 1) "when it came due, a wake-up arrived on channel taskflow_$Q ($n1 received)"
senders=$(grep -o "notification \"taskflow_$Q\".* PID [0-9]*" "$DIR/listen.out" | sed 's/.* PID //' | sort -u | paste -sd, -)
is "$(sql "SELECT count(*) = 0 FROM unnest('{${senders:-0}}'::int[]) p
             WHERE NOT EXISTS (SELECT FROM pg_stat_activity a WHERE a.pid = p AND a.backend_type LIKE 'taskflow %')")" t \
  "the wake-up came from a taskflow background worker (pid ${senders:-none})"

# A transaction that schedules three ready jobs: one wake-up, after its commit.
psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null <<SQL
BEGIN;
SELECT taskflow.schedule('now', queue => '$Q');
SELECT taskflow.schedule('now', queue => '$Q');
SELECT taskflow.schedule('now', queue => '$Q');
COMMIT;
SQL
sleep 1.5
n2=$(received)
is "$((n2 - n1))" 1 "a transaction scheduling three ready jobs sent exactly one wake-up"
kill "$listener" 2>/dev/null; wait "$listener" 2>/dev/null
if [ "$T_FAILED" -ne 0 ]; then grep -v '^$' "$DIR/listen.out" | sed 's/^/# listener: /'; fi

done_testing
