#!/usr/bin/env bash
# Multi-tenancy under concurrency: 8 connections acquire (max_jobs 1..5) and complete in loops.
#  1. limits: a queue with concurrency_limit 6 and tenants with max_running 2 and 3; a sampler
#     connection counts RUNNING jobs all along, and each acquirer counts them right after its
#     acquire (inside its transaction, while it holds the limit locks): no count may exceed a
#     limit, and every job is done once;
#  2. fairness: tenants of weight 3 and 1, both backlogged: the weight-3 tenant gets 75% +- 5%
#     of the acquisitions made by the 8 connections together;
#  3. rate limits: 8 connections hammer a queue limited to 40 starts per hour: exactly 40 start;
#     then a tenant limited to 30 per hour next to an unlimited one: 30 and all of the other's.
# Bounded: every loop has a deadline. Needs the cluster environment (PGHOST, PGPORT, ...).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

WORKERS=8
SFX="tfc$$_$RANDOM"
Q="${SFX}_lim"; QF="${SFX}_fair"; QR="${SFX}_rate"
TA="${SFX}_a"; TB="${SFX}_b"; TC="${SFX}_c"; TW3="${SFX}_w3"; TW1="${SFX}_w1"
LOG="${SFX}_log"; SAMPLES="${SFX}_samples"
DIR=$(mktemp -d /tmp/tftenc.XXXXXX)


cleanup() {
  kill_background
  psql -X -q -At >/dev/null 2>&1 <<SQL
DELETE FROM taskflow.rate_limits WHERE name IN ('$QR', '$TB');
DELETE FROM taskflow.tenants WHERE id IN ('$TA', '$TB', '$TC', '$TW3', '$TW1');
$(drop_queues_sql "$Q" "$QF" "$QR")
DROP TABLE IF EXISTS $LOG, $SAMPLES;
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

plan 15

# --- 1. limits ---------------------------------------------------------------------------------
PER_TENANT=600
sql "SELECT taskflow.create_queue('$Q', concurrency_limit => 6)" >/dev/null
sql "SELECT taskflow.set_tenant_limit('$TA', 2); SELECT taskflow.set_tenant_limit('$TB', 3)" >/dev/null
sql "CREATE TABLE $LOG (phase text, worker int, job_id bigint, tenant text, q_running int, a_running int, b_running int)" >/dev/null
sql "CREATE TABLE $SAMPLES (samples int, max_q int, max_a int, max_b int)" >/dev/null
n=$(sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'tc', 'queue', '$Q', 'tenant_id', t)) FROM unnest(ARRAY['$TA', '$TB', '$TC']) t, generate_series(1, $PER_TENANT)))")
is "$n" "$((3 * PER_TENANT))" "$((3 * PER_TENANT)) ready jobs of three tenants (limits: queue 6, tenant a 2, tenant b 3, tenant c none)"

# An acquirer: acquire (max_jobs 1..5 by worker), count RUNNING in the same transaction, commit;
# then complete in a second transaction. Stops when nothing of the queue is left PENDING, or at
# its deadline.
limit_worker() {
  local w=$1 max=$(( ($1 - 1) % 5 + 1 ))
  acquire_loop_sql "tc-$w" "$Q" "$max" "INSERT INTO $LOG (phase, worker, job_id, tenant, q_running, a_running, b_running)
      SELECT 'limits', $w, u.i, u.t,
             (SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state = 'RUNNING'),
             (SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TA' AND state = 'RUNNING'),
             (SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TB' AND state = 'RUNNING')
      FROM unnest(ids, tens) AS u(i, t);" | racer_psql go "l$w"
}

# The sampler: counts committed RUNNING jobs as fast as it can until the queue is drained.
sampler() { running_sampler_sql "$Q" "$TA" "$TB" "$SAMPLES" | racer_psql go s; }

start=$(date +%s%N)
run_racers $WORKERS limit_worker go sampler
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$RACERS_FAILED" 0 "8 acquirers (max_jobs 1..5) and the sampler finished without error"
if [ "$RACERS_FAILED" -ne 0 ]; then cat "$DIR"/l*.err "$DIR"/s.err | sed 's/^/# /' | head -20; fi
echo "# limits phase: $((3 * PER_TENANT)) jobs in ${elapsed_ms} ms"

is "$(sql "SELECT count(*) || ' ' || count(DISTINCT job_id) FROM $LOG WHERE phase = 'limits'")" \
  "$((3 * PER_TENANT)) $((3 * PER_TENANT))" "every job was acquired exactly once"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state <> 'SUCCEEDED'")" 0 "all of them SUCCEEDED"
is "$(sql "SELECT max(q_running) <= 6 AND max(a_running) <= 2 AND max(b_running) <= 3 FROM $LOG")" t \
  "counted by each acquirer right after its acquire: queue <= 6, tenant a <= 2, tenant b <= 3"
echo "# max seen by acquirers: $(sql "SELECT 'queue ' || max(q_running) || ', a ' || max(a_running) || ', b ' || max(b_running) FROM $LOG")"
is "$(sql "SELECT max(q_running) = 6 FROM $LOG")" t "the queue limit was reached (the test did press on it)"
is "$(sql "SELECT max_q <= 6 AND max_a <= 2 AND max_b <= 3 FROM $SAMPLES")" t \
  "the sampler never saw more RUNNING than a limit"
echo "# sampler: $(sql "SELECT samples || ' samples, max queue ' || max_q || ', a ' || max_a || ', b ' || max_b FROM $SAMPLES")"
ok $([ "$(sql "SELECT samples FROM $SAMPLES")" -ge 50 ] && echo 0 || echo 1) "the sampler took at least 50 samples"
is "$(sql "SELECT count(DISTINCT worker) FROM $LOG WHERE phase = 'limits'")" "$WORKERS" "every connection got jobs"

# --- 2. fairness under concurrency -------------------------------------------------------------
CALLS=120
sql "SELECT taskflow.create_queue('$QF')" >/dev/null
sql "SELECT taskflow.set_tenant_weight('$TW3', 3); SELECT taskflow.set_tenant_weight('$TW1', 1)" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'tf', 'queue', '$QF', 'tenant_id', t)) FROM unnest(ARRAY['$TW3', '$TW1']) t, generate_series(1, 3000)))" >/dev/null
fair_worker() {
  local w=$1 max=$(( ($1 - 1) % 5 + 1 ))
  racer_psql go2 "f$w" <<SQL
DO \$\$
DECLARE
  ids bigint[]; toks uuid[]; tens text[];
BEGIN
  FOR i IN 1 .. $CALLS LOOP
    SELECT array_agg(job_id), array_agg(lease_token), array_agg(tenant_id) INTO ids, toks, tens
      FROM taskflow.acquire('tf-$w', ARRAY['$QF'], $max);
    EXIT WHEN ids IS NULL;
    INSERT INTO $LOG (phase, worker, job_id, tenant) SELECT 'fair', $w, u.i, u.t FROM unnest(ids, tens) AS u(i, t);
    PERFORM taskflow.complete_many(ids, toks);
    COMMIT;
  END LOOP;
END
\$\$;
SQL
}
run_racers $WORKERS fair_worker go2
is "$RACERS_FAILED" 0 "8 fairness acquirers finished without error"
total=$(sql "SELECT count(*) FROM $LOG WHERE phase = 'fair'")
is "$total" "$(( CALLS * (1 + 2 + 3 + 4 + 5 + 1 + 2 + 3) ))" "each connection made its $CALLS calls, every call got max_jobs"
share=$(sql "SELECT round(100.0 * count(*) FILTER (WHERE tenant = '$TW3') / count(*), 1) FROM $LOG WHERE phase = 'fair'")
echo "# weight-3 share over $total acquisitions by $WORKERS connections: $share%"
ok $(awk -v s="$share" 'BEGIN { exit !(s >= 70 && s <= 80) }' && echo 0 || echo 1) \
  "weight 3 vs 1, both backlogged, 8 connections: the weight-3 tenant got 75% +- 5% ($share%)"
left=$(sql "SELECT count(*) FILTER (WHERE tenant_id = '$TW3') || ' ' || count(*) FILTER (WHERE tenant_id = '$TW1') FROM taskflow.jobs WHERE queue = '$QF' AND state = 'PENDING'")
ok $(awk -v l="$left" 'BEGIN { split(l, a, " "); exit !(a[1] > 0 && a[2] > 0) }' && echo 0 || echo 1) \
  "both tenants stayed backlogged all along (left PENDING: $left)"

# --- 3. rate limit under concurrency -----------------------------------------------------------
sql "SELECT taskflow.create_queue('$QR')" >/dev/null
sql "SELECT taskflow.set_rate_limit('queue', '$QR', 40, '1 hour')" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'tr', 'queue', '$QR', 'tenant_id', '$TA')) FROM generate_series(1, 500)))" >/dev/null
rate_worker() {
  local w=$1 max=$(( ($1 - 1) % 5 + 1 ))
  racer_psql go3 "r$w" <<SQL
DO \$\$
DECLARE
  ids bigint[]; toks uuid[];
BEGIN
  FOR i IN 1 .. 60 LOOP
    SELECT array_agg(job_id), array_agg(lease_token) INTO ids, toks FROM taskflow.acquire('tr-$w', ARRAY['$QR'], $max);
    IF ids IS NOT NULL THEN PERFORM taskflow.complete_many(ids, toks); END IF;
    COMMIT;
  END LOOP;
END
\$\$;
SQL
}
run_racers $WORKERS rate_worker go3
# 40 per hour refills 0.011 tokens a second: no extra start within this test's time.
is "$RACERS_FAILED|$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$QR' AND state <> 'PENDING'")" "0|40" \
  "480 concurrent acquire calls on a queue limited to 40 starts per hour: exactly 40 started"

# Tenant rate limit: tenant b limited to 30 starts per hour, tenant c not limited, same queue.
sql "SELECT taskflow.set_rate_limit('queue', '$QR', NULL); SELECT taskflow.set_rate_limit('tenant', '$TB', 30, '1 hour')" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'tr', 'queue', '$QR', 'tenant_id', t)) FROM unnest(ARRAY['$TB', '$TC']) t, generate_series(1, 200)))" >/dev/null
run_racers $WORKERS rate_worker go3
is "$RACERS_FAILED|$(sql "SELECT count(*) FILTER (WHERE tenant_id = '$TB') || ' ' || count(*) FILTER (WHERE tenant_id = '$TC') FROM taskflow.jobs WHERE queue = '$QR' AND state <> 'PENDING' AND job_type = 'tr'")" \
  "0|30 200" "tenant rate limit under 8 connections: exactly 30 of tenant b's jobs started, all 200 of tenant c's"

done_testing
