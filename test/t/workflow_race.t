#!/usr/bin/env bash
# Workflows under real concurrency (issue 13): a dependency resolves exactly once.
#  1. Two dependencies of one job finish in two open transactions: the second finisher waits for
#     the first (the dependent's row), and the job is released once, by the last one.
#  2. Fifty jobs with two dependencies each; both sessions complete their halves with
#     complete_many at the same moment, in opposite orders: no deadlock, every job released
#     exactly once.
#  3. The Rescuer finishes one dependency (expired lease) while a worker completes the other:
#     released once (run-anyway edges), with the Rescuer's DEAD dependency in its results.
#  4. schedule(depends_on) against the dependency's complete: the complete waits for the
#     schedule's commit, then releases the new job (it is never left waiting forever).
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

queue_fixture wfrace "DELETE FROM taskflow.job_dependencies WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = 'tf_wfrace_$$');"

plan 12
sql "SELECT taskflow.create_queue('$Q', retry_policy => '{\"max_attempts\": 1}')" >/dev/null

releases() {  # the number of release events of job $1
  sql "SELECT count(*) FROM taskflow.job_events WHERE job_id = $1 AND actor = 'workflow' AND to_state = 'PENDING'"
}

# --- 1. two dependencies finish in two open transactions ---------------------------------------
p1=$(sql "SELECT taskflow.schedule('r1.p1', queue => '$Q')")
p2=$(sql "SELECT taskflow.schedule('r1.p2', queue => '$Q')")
c=$(sql "SELECT taskflow.schedule('r1.c', queue => '$Q', depends_on => ARRAY[$p1, $p2]::bigint[])")
t1=$(sql "SELECT lease_token FROM taskflow.acquire('w1', ARRAY['$Q'], 1, job_types => ARRAY['r1.p1'])")
t2=$(sql "SELECT lease_token FROM taskflow.acquire('w2', ARRAY['$Q'], 1, job_types => ARRAY['r1.p2'])")
hold_open "tf_wfrace_a_$$" a1 8 SUCCEEDED <<SQL
SELECT taskflow.complete($p1, '$t1', '{"from": 1}');
SQL
expect_blocked 15 "tf_wfrace_b_$$" b1 "the second finisher waits for the first one's transaction (the dependent's row)" <<SQL
SELECT taskflow.complete($p2, '$t2', '{"from": 2}');
SQL
is "$(cat "$DIR/a1.out")|$(cat "$DIR/b1.out")" "SUCCEEDED|SUCCEEDED" "both dependencies completed"
is "$(sql "SELECT state || ' ' || dependencies_pending FROM taskflow.jobs WHERE id = $c")|$(releases "$c")" \
  "PENDING 0|1" "the dependent is released exactly once, nothing pending"
is "$(sql "SELECT reason FROM taskflow.job_events WHERE job_id = $c ORDER BY id DESC LIMIT 1")" \
  "dependencies met, released by job $p2 (SUCCEEDED)" "by the last dependency to finish"

# --- 2. fifty fan-ins, both halves at once, opposite orders -------------------------------------
sql "SELECT taskflow.schedule('r2.a', queue => '$Q') FROM generate_series(1, 50)" >/dev/null
sql "SELECT taskflow.schedule('r2.b', queue => '$Q') FROM generate_series(1, 50)" >/dev/null
sql "WITH a AS (SELECT id, row_number() OVER (ORDER BY id) n FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'r2.a'),
          b AS (SELECT id, row_number() OVER (ORDER BY id) n FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'r2.b')
     SELECT taskflow.schedule('r2.c', queue => '$Q', depends_on => ARRAY[a.id, b.id]) FROM a JOIN b USING (n)" >/dev/null
# lease every dependency, then complete the a's ascending and the b's descending, concurrently
sql "SELECT count(*) FROM taskflow.acquire('w', ARRAY['$Q'], 100, job_types => ARRAY['r2.a', 'r2.b'])" >/dev/null
for half in a b; do
  order=$([ $half = a ] && echo ASC || echo DESC)
  psql -X -q -At -v ON_ERROR_STOP=1 >"$DIR/r2$half.out" 2>&1 <<SQL &
SELECT taskflow.complete_many(array_agg(id ORDER BY id $order), array_agg(lease_token ORDER BY id $order))
FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'r2.$half';
SQL
done
wait
is "$(cat "$DIR/r2a.out")|$(cat "$DIR/r2b.out")" "50|50" "both batches completed, no deadlock"
is "$(sql "SELECT count(*) FILTER (WHERE state = 'PENDING' AND dependencies_pending = 0) FROM taskflow.jobs WHERE queue = '$Q' AND job_type = 'r2.c'")" \
  "50" "all fifty dependents released"
is "$(sql "SELECT count(*) FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id WHERE j.queue = '$Q' AND j.job_type = 'r2.c' AND e.actor = 'workflow'")" \
  "50" "each exactly once"

# --- 3. the Rescuer against a worker ------------------------------------------------------------
p1=$(sql "SELECT taskflow.schedule('r3.p1', queue => '$Q')")
p2=$(sql "SELECT taskflow.schedule('r3.p2', queue => '$Q')")
c=$(sql "SELECT taskflow.schedule('r3.c', queue => '$Q', depends_on => ARRAY[$p1, $p2]::bigint[], on_dependency_failure => 'run')")
sql "SELECT count(*) FROM taskflow.acquire('w1', ARRAY['$Q'], 1, job_types => ARRAY['r3.p1'])" >/dev/null
t2=$(sql "SELECT lease_token FROM taskflow.acquire('w2', ARRAY['$Q'], 1, job_types => ARRAY['r3.p2'])")
hold_open "tf_wfrace_r_$$" r3 8 t <<SQL
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $p1;
SELECT taskflow._rescue_expired() >= 1;
SQL
expect_blocked 15 "tf_wfrace_w_$$" w3 "the worker's complete waits for the Rescuer's transaction" <<SQL
SELECT taskflow.complete($p2, '$t2');
SQL
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $p1")|$(sql "SELECT state || ' ' || dependencies_pending FROM taskflow.jobs WHERE id = $c")|$(releases "$c")" \
  "DEAD|PENDING 0|1" "the Rescuer's DEAD and the worker's SUCCEEDED release the dependent once"
is "$(sql "SELECT string_agg(x ->> 'state', ',' ORDER BY x ->> 'job_id') FROM jsonb_array_elements(taskflow.dependency_results($c)) x")" \
  "DEAD,SUCCEEDED" "and it sees both outcomes"

# --- 4. schedule(depends_on) against the dependency's complete ------------------------------------
p=$(sql "SELECT taskflow.schedule('r4.p', queue => '$Q')")
t=$(sql "SELECT lease_token FROM taskflow.acquire('w', ARRAY['$Q'], 1, job_types => ARRAY['r4.p'])")
hold_open "tf_wfrace_s_$$" s4 8 '^[0-9]' <<SQL
SELECT taskflow.schedule('r4.c', queue => '$Q', depends_on => ARRAY[$p]::bigint[]);
SQL
expect_blocked 15 "tf_wfrace_c_$$" c4 "the complete waits for the uncommitted schedule that depends on it" <<SQL
SELECT taskflow.complete($p, '$t');
SQL
c=$(head -1 "$DIR/s4.out")
is "$(sql "SELECT state || ' ' || dependencies_pending FROM taskflow.jobs WHERE id = $c")|$(releases "$c")" \
  "PENDING 0|1" "then the new job is released (not left waiting forever)"

done_testing
