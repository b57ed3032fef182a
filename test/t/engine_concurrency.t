#!/usr/bin/env bash
# Concurrency: 8 connections drain 10,000 ready jobs at once through acquire(max_jobs => 50) +
# complete_many. Every job must be acquired exactly once (attempt 1, no duplicates), none left,
# all SUCCEEDED. Then unique keys under concurrent schedules and under a rolled-back holder.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

JOBS=10000
WORKERS=8
BATCH=50
LOG="tf_conc_log_$$"
queue_fixture conc "DROP TABLE IF EXISTS $LOG;"

plan 14

sql "SELECT taskflow.create_queue('$Q')" >/dev/null
sql "CREATE TABLE $LOG (worker integer NOT NULL, job_id bigint NOT NULL, attempt integer NOT NULL, lease_token uuid NOT NULL)" >/dev/null
n=$(sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'conc', 'queue', '$Q', 'payload', jsonb_build_object('i', i))) FROM generate_series(1, $JOBS) i))")
is "$n" "$JOBS" "$JOBS ready jobs scheduled"

# Each worker: one connection, a loop of (acquire up to $BATCH, record, complete_many, commit)
# until acquire hands out nothing. All start together when the go file appears.
worker() {
  local w=$1
  racer_psql go "w$w" <<SQL
DO \$\$
DECLARE
  ids bigint[]; toks uuid[]; atts integer[]; accepted integer; rounds integer := 0;
BEGIN
  LOOP
    SELECT array_agg(job_id), array_agg(lease_token), array_agg(attempt) INTO ids, toks, atts
      FROM taskflow.acquire('conc-$w', ARRAY['$Q'], $BATCH);
    EXIT WHEN ids IS NULL;
    INSERT INTO $LOG (worker, job_id, attempt, lease_token)
      SELECT $w, i, a, t FROM unnest(ids, atts, toks) AS u(i, a, t);
    accepted := taskflow.complete_many(ids, toks);
    IF accepted <> cardinality(ids) THEN
      RAISE EXCEPTION 'complete_many accepted % of %', accepted, cardinality(ids);
    END IF;
    COMMIT;
    rounds := rounds + 1;
  END LOOP;
  RAISE NOTICE 'worker % done after % rounds', $w, rounds;
END
\$\$;
SQL
}

start=$(date +%s%N)
run_racers $WORKERS worker go
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
is "$RACERS_FAILED" 0 "all $WORKERS workers finished without error"
if [ "$RACERS_FAILED" -ne 0 ]; then cat "$DIR"/w*.err | sed 's/^/# /' | head -20; fi
echo "# drained $JOBS jobs with $WORKERS connections in ${elapsed_ms} ms"

is "$(sql "SELECT count(*) FROM $LOG")" "$JOBS" "$JOBS acquisitions recorded"
is "$(sql "SELECT count(DISTINCT job_id) FROM $LOG")" "$JOBS" "every job was acquired (no job missing)"
is "$(sql "SELECT count(*) FROM (SELECT job_id FROM $LOG GROUP BY job_id HAVING count(*) > 1) d")" 0 \
  "no job was acquired twice"
is "$(sql "SELECT count(*) FROM $LOG WHERE attempt <> 1")" 0 "every acquisition was attempt 1"
is "$(sql "SELECT count(*) FROM $LOG l LEFT JOIN taskflow.jobs j ON j.id = l.job_id WHERE j.queue IS DISTINCT FROM '$Q'")" 0 \
  "every acquired job belongs to the test queue"
is "$(sql "SELECT count(*) FILTER (WHERE state = 'SUCCEEDED') || ' ' || count(*) FILTER (WHERE state <> 'SUCCEEDED') FROM taskflow.jobs WHERE queue = '$Q'")" \
  "$JOBS 0" "all $JOBS jobs SUCCEEDED, none in another state"
is "$(sql "SELECT count(*) FROM taskflow.acquire('conc-check', ARRAY['$Q'], 1000)")" 0 "nothing is left to acquire"
is "$(sql "SELECT count(*) || ' ' || count(*) FILTER (WHERE attempt = 1 AND outcome = 'succeeded') FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id WHERE j.queue = '$Q'")" \
  "$JOBS $JOBS" "job_attempts: exactly one succeeded attempt per job"
is "$(sql "SELECT count(*) FROM (SELECT j.id FROM taskflow.jobs j LEFT JOIN taskflow.job_events e ON e.job_id = j.id WHERE j.queue = '$Q' GROUP BY j.id HAVING count(e.*) <> 3) x")" 0 \
  "job_events: each job has exactly its three transitions"
busy=$(sql "SELECT count(DISTINCT worker) FROM $LOG")
ok $([ "$busy" -ge 4 ] && echo 0 || echo 1) "the work was shared: $busy of $WORKERS workers got jobs"

# Unique keys under concurrency: 8 sessions schedule the same key 25 times each at once.
for w in $(seq 1 $WORKERS); do
  ( while [ ! -e "$DIR/go2" ]; do sleep 0.01; done
    for _ in $(seq 1 25); do echo "SELECT taskflow.schedule('uniq', queue => '$Q', unique_key => 'the-key');"; done \
      | psql -X -q -At -v ON_ERROR_STOP=1 >"$DIR/u$w.out" 2>"$DIR/u$w.err" ) &
done
touch "$DIR/go2"
wait
is "$(cat "$DIR"/u*.out | sort -u | wc -l)|$(cat "$DIR"/u*.err | wc -c)" "1|0" \
  "200 concurrent schedules with one unique key all return the same id, without errors"

# A holder that rolls back: the waiting schedule gets its own, new job.
sql "SELECT taskflow.cancel(id) FROM taskflow.jobs WHERE queue = '$Q' AND unique_key = 'the-key' AND state = 'PENDING'" >/dev/null
psql -X -q -At -v ON_ERROR_STOP=1 >"$DIR/rb.out" 2>&1 <<SQL &
BEGIN;
SELECT taskflow.schedule('uniq', queue => '$Q', unique_key => 'rb-key');
SELECT pg_sleep(1.5);
ROLLBACK;
SQL
rb=$!
sleep 0.5
second=$(sql "SELECT taskflow.schedule('uniq', queue => '$Q', unique_key => 'rb-key')")
wait "$rb"
first=$(head -1 "$DIR/rb.out")
is "$(sql "SELECT count(*) || ' ' || bool_and(id = ${second:-0}) FROM taskflow.jobs WHERE queue = '$Q' AND unique_key = 'rb-key'")|$([ "$first" != "$second" ] && echo differ)" \
  "1 true|differ" "a schedule waiting on a rolled-back holder of the key creates the one job with the key"

done_testing
