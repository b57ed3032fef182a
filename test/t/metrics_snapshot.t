#!/usr/bin/env bash
# metrics() reads the roll-up watermark and the counters in one snapshot. A roll-up moves
# finished jobs from the tail (jobs finished since the watermark, counted from the jobs table at
# each scrape) into the counters and advances the watermark, in one commit; a scrape that read
# the watermark before that commit and the counters after it counted those jobs twice, and the
# counter went down again at the next scrape (Prometheus reads that as a counter reset).
# Here a roll-up commits while a scrape is under way: session B holds a lock the scrape needs
# (pg_extension, which it reads for taskflow_build_info) and rolls up; the scrape waits for that
# lock, B commits, and the scrape must count each finished job once. (With the watermark read
# in a statement of its own, before the one that waited, it counted the rolled-up jobs twice.)
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

queue_fixture msnap
plan 7
sql "SELECT taskflow.create_queue('$Q')" >/dev/null
N=5
T="${Q}_t"
APP_A="${Q}_scrape"
APP_C="${Q}_tenants"
finished() { grep -oP "^taskflow_jobs_finished_total\\{queue=\"$Q\",outcome=\"succeeded\"\\} \\K[0-9]+" "$@"; }

# Session A: one connection for the whole test, so that the scrape below runs with metrics()'s
# plans already cached (the lock is then taken after the statement's snapshot, as in a
# Prometheus exporter's long-lived connection).
mkfifo "$DIR/a.in"
PGAPPNAME=$APP_A psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/a.in" >"$DIR/a.out" 2>&1 &
exec 3>"$DIR/a.in"
echo "SELECT 'warm', taskflow.metrics() IS NOT NULL;" >&3
wait_output 15 '^warm|t$' "$DIR/a.out" || diag "session A: $(cat "$DIR/a.out")"
# Session C: the dashboard's Tenants page (jobs started in the last hour: rolled-up starts plus
# the tail), the same way; it reads taskflow.stats_tenant_starts, which B locks too.
mkfifo "$DIR/c.in"
PGAPPNAME=$APP_C psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/c.in" >"$DIR/c.out" 2>&1 &
exec 5>"$DIR/c.in"
echo "SELECT 'warm', taskflow.dashboard_tenants() IS NOT NULL;" >&5
wait_output 15 '^warm|t$' "$DIR/c.out" || diag "session C: $(cat "$DIR/c.out")"

# N jobs of the queue finish, then session B takes the lock and rolls them up (not
# committed yet). The maintenance worker may roll them up first (the tail is empty then), or
# B's roll-up may stop short of them (at the oldest running transaction's start): then again.
rolled=""
for attempt in 1 2 3 4 5; do
  sql "SELECT taskflow.schedule('snap', '{}', queue => '$Q', tenant_id => '$T') FROM generate_series(1, $N)" >/dev/null
  sql "$(acquire_loop_sql msnap "$Q" $N '')" >/dev/null
  rm -f "$DIR/b.in"; mkfifo "$DIR/b.in"
  psql -X -q -At -v ON_ERROR_STOP=1 <"$DIR/b.in" >"$DIR/b.out" 2>&1 &
  b_pid=$!
  exec 4>"$DIR/b.in"
  cat >&4 <<SQL
BEGIN;
LOCK TABLE pg_catalog.pg_extension, taskflow.stats_tenant_starts IN ACCESS EXCLUSIVE MODE;
SELECT 'tail', count(*) FROM taskflow.jobs j
WHERE j.queue = '$Q' AND j.state = 'SUCCEEDED'
  AND j.finished_at >= (SELECT m.rolled_up_to FROM taskflow.stats_watermark m);
SELECT 'rolled', taskflow._rollup() >= 0;
SELECT 'counted', s.jobs = j.n, j.n
FROM taskflow.stats_queue s,
     (SELECT count(*) AS n FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED') j
WHERE s.queue = '$Q' AND s.outcome = 'SUCCEEDED';
SQL
  wait_output 15 '^counted|' "$DIR/b.out" || diag "session B: $(cat "$DIR/b.out")"
  if grep -qx "tail|$N" "$DIR/b.out" && grep -q "^counted|t|" "$DIR/b.out"; then
    rolled=$attempt; break
  fi
  echo "ROLLBACK;" >&4; exec 4>&-; wait "$b_pid"
  sql "SELECT taskflow._rollup()" >/dev/null   # count this attempt's jobs before the next one
done
ok "$([ -n "$rolled" ]; echo $?)" \
  "setup: $N finished jobs in the tail, rolled up by an uncommitted roll-up (attempt ${rolled:-none})" \
  || diag "session B: $(cat "$DIR/b.out")"
want=$(sed -n 's/^counted|t|//p' "$DIR/b.out")   # the queue's finished jobs, all attempts

# The scrape and the Tenants page wait for B's locks; B commits its roll-up meanwhile.
echo "SELECT 'scrape'; SELECT taskflow.metrics();" >&3
echo "SELECT 'tenants', taskflow.dashboard_tenants('$Q', 1) #>> '{tenants,0,started_1h}';" >&5
wait_blocked "$APP_A" 10
ok $? "the scrape waits for the lock of the roll-up"
wait_blocked "$APP_C" 10
ok $? "dashboard_tenants waits for the lock of the roll-up"
echo "COMMIT;" >&4; exec 4>&-; wait "$b_pid"
wait_output 15 '^taskflow_build_info' "$DIR/a.out"
is "$(sed -n '/^scrape$/,$p' "$DIR/a.out" | finished)" "$want" \
  "a roll-up committing during the scrape: each finished job counted once (tail or counters)"
wait_output 15 '^tenants|' "$DIR/c.out"
is "$(sed -n 's/^tenants|//p' "$DIR/c.out")" "$want" \
  "dashboard_tenants at the same time: each job started in the last hour counted once"

# After the roll-up: the same count, now from the counters.
is "$(sql "SELECT taskflow.metrics()" | finished)" "$want" "the next scrape counts the same"
echo "\\q" >&3; exec 3>&-; echo "\\q" >&5; exec 5>&-; wait
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE queue = '$Q' AND state = 'SUCCEEDED'")" "$want" \
  "all the queue's jobs finished"

done_testing
