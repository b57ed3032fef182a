#!/usr/bin/env bash
# Races between a lease holder and the Rescuer or a cancel, with real concurrent transactions:
#  1. complete wins: the holder's complete locks the job first; the lease expires while its
#     transaction is open; the Rescuer (the running one and a direct call) skips it; after the
#     commit the job is SUCCEEDED and stays so.
#  2. the Rescuer wins: it rescues the job in an open transaction; the holder's complete, fail
#     and heartbeat wait for it and then get NULL / lost.
#  3. cancel against complete: a cancel waiting on an open complete sees SUCCEEDED and is
#     refused (55000); nothing is overwritten.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

queue_fixture race

plan 13
sql "SELECT taskflow.create_queue('$Q', retry_policy => '{\"max_attempts\": 3, \"strategy\": \"fixed\", \"base_delay\": \"1 hour\", \"jitter\": \"none\"}')" >/dev/null

# --- 1. complete wins ---------------------------------------------------------------------------
j1=$(sql "SELECT taskflow.schedule('race1', queue => '$Q')")
# The lease (3 s) outlasts the start of the holder's session even on a loaded machine, so the
# complete holds the row before the lease expires; its transaction stays open past the expiry.
t1=$(sql "SELECT lease_token FROM taskflow.acquire('holder', ARRAY['$Q'], 1, lease => interval '3 seconds')")
hold_open "tf_race_a_$$" a1 6 SUCCEEDED <<SQL
SELECT taskflow.complete($j1, '$t1', '{"by": "holder"}');
SQL
a1=$HELD_PID
# Once the complete holds the row and the lease (3 s) has expired, call the Rescuer directly
# too (the running one tries every second on its own).
wait_until 15 "SELECT lease_expires_at < now() FROM taskflow.jobs WHERE id = $j1"
sql "SELECT taskflow._rescue_expired()" >/dev/null
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $j1")" RUNNING \
  "while the holder's complete is uncommitted, the Rescuer has not touched the expired job"
wait "$a1"
is "$(cat "$DIR/a1.out")" SUCCEEDED "the holder's complete returns SUCCEEDED"
sleep 1.5  # give the running Rescuer a round after the commit
is "$(sql "SELECT state || ' ' || (result ->> 'by') FROM taskflow.jobs WHERE id = $j1")" "SUCCEEDED holder" \
  "the complete that won the race is not overwritten"
is "$(sql "SELECT string_agg(attempt || ':' || outcome, ' ') FROM taskflow.job_attempts WHERE job_id = $j1")|$(sql "SELECT count(*) FROM taskflow.job_events WHERE job_id = $j1 AND actor = 'rescuer'")" \
  "1:succeeded|0" "one attempt, succeeded; no rescuer event"

# --- 2. the Rescuer wins --------------------------------------------------------------------------
j2=$(sql "SELECT taskflow.schedule('race2', queue => '$Q')")
t2=$(sql "SELECT lease_token FROM taskflow.acquire('holder', ARRAY['$Q'], 1, lease => interval '1 hour')")
hold_open "tf_race_r_$$" r2 2 '^t$' <<SQL
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $j2;
SELECT taskflow._rescue_expired() >= 1;
SQL
r2=$HELD_PID
session "tf_race_c_$$" c2 -c "SELECT COALESCE(taskflow.complete($j2, '$t2')::text, 'NULL')" &
c2=$!
session "tf_race_f_$$" f2 -c "SELECT COALESCE(taskflow.fail($j2, '$t2', 'late')::text, 'NULL')" &
f2=$!
wait_blocked "tf_race_c_$$"
ok $? "the holder's complete waits for the Rescuer's open transaction"
wait "$r2" "$c2" "$f2"
is "$(head -1 "$DIR/r2.out")" t "the Rescuer rescued the job"
is "$(cat "$DIR/c2.out")" NULL "then the holder's complete returns NULL"
is "$(cat "$DIR/f2.out")" NULL "and the holder's fail returns NULL"
is "$(sql "SELECT taskflow.heartbeat($j2, '$t2')")" lost "and its heartbeat answers lost"
is "$(sql "SELECT state || ' ' || attempts || ' ' || last_error_type FROM taskflow.jobs WHERE id = $j2")" "SCHEDULED 1 lease_expired" \
  "the job is SCHEDULED for its retry, as the Rescuer left it"

# --- 3. cancel against complete -------------------------------------------------------------------
j3=$(sql "SELECT taskflow.schedule('race3', queue => '$Q')")
t3=$(sql "SELECT lease_token FROM taskflow.acquire('holder', ARRAY['$Q'], 1)")
hold_open "tf_race_a3_$$" a3 4 SUCCEEDED <<SQL
SELECT taskflow.complete($j3, '$t3');
SQL
expect_blocked 10 "tf_race_x_$$" x3 "a cancel waits for the open complete" \
  -v VERBOSITY=verbose -c "SELECT taskflow.cancel($j3)" </dev/null
ok $(grep -q "ERROR:  55000: cannot cancel job $j3: it is SUCCEEDED" "$DIR/x3.out" && echo 0 || echo 1) \
  "then it is refused: 55000 cannot cancel, it is SUCCEEDED"
is "$(sql "SELECT state || ' ' || cancel_requested FROM taskflow.jobs WHERE id = $j3")" "SUCCEEDED false" \
  "the job stays SUCCEEDED without a cancel request"

done_testing
