#!/usr/bin/env bash
# Tenant max_running without a queue limit: the slot reservations of acquire (shared memory,
# held until the acquiring transaction ends) and the reuse of acquire's tenant scan.
#  1. 8 connections acquire (max_jobs 1..8) and complete in loops on a queue WITHOUT a
#     concurrency_limit (so no queue lock serializes them); tenants with max_running 2 and 3 and
#     one without: no acquirer (counting inside its transaction) and no sampler sees more RUNNING
#     than a limit, every job is done once, and the limits were reached;
#  2. an acquisition that has not committed holds its tenant's slots against other sessions; a
#     rolled-back one gives them back; a savepoint rolled back in the same transaction does not
#     block that transaction; PREPARE TRANSACTION after such an acquire is refused (0A000);
#  3. a session that acquired (and so cached the tenants with ready jobs) sees, at its next
#     acquire, a tenant whose first job another session scheduled and committed in between.
# Bounded: every loop has a deadline. Needs the cluster environment (PGHOST, PGPORT, ...).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

WORKERS=8
SFX="tfl$$_$RANDOM"
Q="${SFX}_q"; Q2="${SFX}_q2"
TA="${SFX}_a"; TB="${SFX}_b"; TC="${SFX}_c"; TL="${SFX}_l"; TM="${SFX}_m"; TN="${SFX}_n"; TP="${SFX}_p"
T1="${SFX}_t1"; T2="${SFX}_t2"
LOG="${SFX}_log"; SAMPLES="${SFX}_samples"
DIR=$(mktemp -d /tmp/tfslots.XXXXXX)

cleanup() {
  kill_background
  psql -X -q -At >/dev/null 2>&1 <<SQL
DELETE FROM taskflow.tenants WHERE id LIKE '${SFX}%';
$(drop_queues_sql "$Q" "$Q2")
DROP TABLE IF EXISTS $LOG, $SAMPLES;
DROP EXTENSION IF EXISTS dblink;
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

plan 12

# --- 1. limits under concurrency, no queue limit -------------------------------------------------
PER_TENANT=400
sql "SELECT taskflow.create_queue('$Q')" >/dev/null
sql "SELECT taskflow.set_tenant_limit('$TA', 2); SELECT taskflow.set_tenant_limit('$TB', 3)" >/dev/null
sql "CREATE TABLE $LOG (worker int, job_id bigint, a_running int, b_running int)" >/dev/null
sql "CREATE TABLE $SAMPLES (samples int, max_q int, max_a int, max_b int)" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'ts', 'queue', '$Q', 'tenant_id', t)) FROM unnest(ARRAY['$TA', '$TB', '$TC']) t, generate_series(1, $PER_TENANT)))" >/dev/null

# An acquirer: acquire, count the tenants' RUNNING jobs in the same transaction (its own
# uncommitted ones included), commit; sometimes hold the jobs a little; complete them.
acquirer() {
  acquire_loop_sql "ts-$1" "$Q" "$1" "INSERT INTO $LOG SELECT $1, i,
        (SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TA' AND state = 'RUNNING'),
        (SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TB' AND state = 'RUNNING')
      FROM unnest(ids) AS i;
    IF random() < 0.3 THEN PERFORM pg_sleep(0.001); END IF;  -- commit a little later, sometimes" |
    racer_psql go "l$1"
}

sampler() { running_sampler_sql "$Q" "$TA" "$TB" "$SAMPLES" | racer_psql go s; }

run_racers $WORKERS acquirer go sampler
is "$RACERS_FAILED" 0 "8 acquirers (max_jobs 1..8) and the sampler finished without error"
if [ "$RACERS_FAILED" -ne 0 ]; then cat "$DIR"/l*.err "$DIR"/s.err | sed 's/^/# /' | head -20; fi
is "$(sql "SELECT count(*) || ' ' || count(DISTINCT job_id) FROM $LOG")" "$((3 * PER_TENANT)) $((3 * PER_TENANT))" \
  "every job was acquired exactly once"
is "$(sql "SELECT max(a_running) <= 2 AND max(b_running) <= 3 FROM $LOG")" t \
  "counted by each acquirer inside its transaction: tenant a <= 2, tenant b <= 3"
echo "# max seen by acquirers: $(sql "SELECT 'a ' || max(a_running) || ', b ' || max(b_running) FROM $LOG")"
is "$(sql "SELECT max(a_running) = 2 AND max(b_running) = 3 FROM $LOG")" t "both limits were reached (the test did press on them)"
is "$(sql "SELECT max_a <= 2 AND max_b <= 3 AND samples >= 20 FROM $SAMPLES")" t \
  "the sampler (at least 20 samples) never saw more RUNNING than a limit"
echo "# sampler: $(sql "SELECT samples || ' samples, max a ' || max_a || ', b ' || max_b FROM $SAMPLES")"

# --- 2. reservations across sessions and transactions --------------------------------------------
schedule() {  # tenant count [queue]
  sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'ts', 'queue', '${3:-$Q}', 'tenant_id', '$1')) FROM generate_series(1, $2)))" >/dev/null
}
acquire_count() { sql "SELECT count(*) FROM taskflow.acquire('other', ARRAY['$Q'], 10)"; }
sql "SELECT taskflow.set_tenant_limit('$TL', 3); SELECT taskflow.set_tenant_limit('$TM', 2)" >/dev/null
sql "SELECT taskflow.set_tenant_limit('$TN', 2); SELECT taskflow.set_tenant_limit('$TP', 1)" >/dev/null

# Session A acquires for tenant l (limit 3) and keeps its transaction open.
schedule "$TL" 10
mkfifo "$DIR/a"
psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/a" >"$DIR/a.out" 2>&1 &
apid=$!
exec 3>"$DIR/a"
echo "BEGIN; SELECT count(*) FROM taskflow.acquire('session-a', ARRAY['$Q'], 10);" >&3
for _ in $(seq 1 100); do [ -s "$DIR/a.out" ] && break; sleep 0.05; done  # A has acquired
while_open=$(acquire_count)
echo "COMMIT;" >&3
exec 3>&-
wait "$apid"
after_commit=$(acquire_count)
sql "SELECT taskflow.complete(id, lease_token) FROM taskflow.jobs WHERE tenant_id = '$TL' AND state = 'RUNNING' LIMIT 1" >/dev/null
after_complete=$(acquire_count)
is "$(cat "$DIR/a.out" | tr '\n' ' ')$while_open $after_commit $after_complete" "3 0 0 1" \
  "max_running 3: an open transaction that acquired 3 holds them against another session (0), after its commit too (0); one completed frees one (1)"

# A rolled-back acquisition gives its slots back at once.
schedule "$TM" 5
rolled=$(psql -X -q -At -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT count(*) FROM taskflow.acquire('rb', ARRAY['$Q'], 10)" -c "ROLLBACK" 2>&1)
is "$rolled $(acquire_count)" "2 2" "max_running 2: acquired 2, rolled back; another session then gets 2"

# A savepoint rolled back: the same transaction may acquire again (its own reservations do not
# count against it twice); other sessions see the limit.
schedule "$TN" 5
sp=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM taskflow.acquire('sp', ARRAY['$Q'], 10);
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM taskflow.acquire('sp', ARRAY['$Q'], 10);
COMMIT;
SQL
)
is "$(echo $sp) $(acquire_count)" "2 2 0" \
  "max_running 2: acquire, ROLLBACK TO SAVEPOINT, acquire again in the same transaction: 2 and 2; then another session: 0"

# PREPARE TRANSACTION after acquiring a limited tenant's job: refused, nothing is kept.
schedule "$TP" 2
prep=$(psql -X -q -At -v VERBOSITY=verbose 2>&1 <<SQL
\set VERBOSITY verbose
BEGIN;
SELECT count(*) FROM taskflow.acquire('prep', ARRAY['$Q'], 10);
PREPARE TRANSACTION '${SFX}_x';
SQL
)
echo "$prep" | grep -q "0A000" ; ok $? "PREPARE TRANSACTION after acquiring a max_running tenant's job fails with 0A000"
echo "$prep" | grep -v '^1$' | sed 's/^/# /' | head -3
is "$(sql "SELECT count(*) FROM pg_prepared_xacts WHERE gid = '${SFX}_x'") $(acquire_count)" "0 1" \
  "no prepared transaction is left, and the tenant's slot is free again (another session gets 1)"

# --- 3. the tenant scan reused by a session sees tenants scheduled by others -----------------------
sql "SELECT taskflow.create_queue('$Q2')" >/dev/null
schedule "$T1" 50 "$Q2"
sql "CREATE EXTENSION IF NOT EXISTS dblink" >/dev/null
conn="dbname=$PGDATABASE host=$PGHOST port=$PGPORT user=${PGUSER:-postgres}"
seen=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT string_agg(tenant_id, ',') FROM taskflow.acquire('cache', ARRAY['$Q2'], 1);
SELECT 'ok' FROM dblink('$conn', \$x\$SELECT taskflow.schedule('ts', queue => '$Q2', tenant_id => '$T2')::text\$x\$) AS t(x text);
SELECT string_agg(tenant_id, ',' ORDER BY tenant_id) FROM taskflow.acquire('cache', ARRAY['$Q2'], 2);
SQL
)
is "$(echo $seen)" "$T1 ok $T1,$T2" \
  "after its first acquire (tenant t1 only), the session's next acquire(2) serves t2, scheduled and committed by another session in between"
# The same with a job that was not new: a job released by another session is ready again.
rel=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
SELECT count(*) FROM taskflow.acquire('cache', ARRAY['$Q2'], 10);
SELECT count(*) FROM dblink('$conn', \$x\$SELECT taskflow.release(id, lease_token)::text FROM taskflow.jobs WHERE queue = '$Q2' AND tenant_id = '$T2' AND state = 'RUNNING'\$x\$) AS t(x text);
SELECT string_agg(tenant_id, ',' ORDER BY tenant_id) FROM taskflow.acquire('cache', ARRAY['$Q2'], 2);
SQL
)
is "$(echo $rel)" "10 1 $T1,$T2" \
  "after an acquire(10) of t1's jobs, a job of t2 released by another session is served at the session's next acquire(2)"

done_testing
