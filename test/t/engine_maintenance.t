#!/usr/bin/env bash
# The maintenance worker on a running server, on its own (no direct calls of the _ functions):
#  - the Cleaner deletes SUCCEEDED and CANCELLED jobs older than taskflow.retention (7 days) with
#    their attempts and events, and keeps FAILED, DEAD and recent jobs;
#  - the Rescuer ends an expired lease of a cancel-requested job as CANCELLED, and one on the
#    last attempt as DEAD (listed in dead_letter).
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

Q="tf_maint_$$"


cleanup() {
  psql -X -q -At >/dev/null 2>&1 <<SQL
DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '$Q');
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE queue = '$Q');
DELETE FROM taskflow.jobs WHERE queue = '$Q';
SELECT taskflow.drop_queue('$Q');
SQL
}
trap cleanup EXIT

require_db

plan 10

sql "SELECT taskflow.create_queue('$Q', retry_policy => '{\"max_attempts\": 1}')" >/dev/null
is "$(sql "SHOW taskflow.retention")" "7d" "taskflow.retention is 7 days"

# Six finished jobs: SUCCEEDED, CANCELLED, FAILED, DEAD finished 8 days ago; SUCCEEDED and
# CANCELLED finished 6 days ago.
ids=$(psql -X -q -At -v ON_ERROR_STOP=1 <<SQL
CREATE TEMP TABLE made (k text, id bigint);
INSERT INTO made SELECT k, taskflow.schedule('clean', queue => '$Q', correlation_id => k)
  FROM unnest(ARRAY['ok_old', 'cancel_old', 'failed_old', 'dead_old', 'ok_new', 'cancel_new']) k;
CREATE TEMP TABLE leased AS SELECT * FROM taskflow.acquire('m', ARRAY['$Q'], 10);
SELECT count(taskflow.complete(l.job_id, l.lease_token)) FROM leased l WHERE l.correlation_id LIKE 'ok_%';
SELECT count(taskflow.fail(l.job_id, l.lease_token, 'x', retryable => false)) FROM leased l WHERE l.correlation_id = 'failed_old';
SELECT count(taskflow.fail(l.job_id, l.lease_token, 'x')) FROM leased l WHERE l.correlation_id = 'dead_old';
SELECT count(taskflow.cancel(l.job_id)) FROM leased l WHERE l.correlation_id LIKE 'cancel_%';
SELECT count(taskflow.release(l.job_id, l.lease_token)) FROM leased l WHERE l.correlation_id LIKE 'cancel_%';
UPDATE taskflow.jobs j SET finished_at = now() - interval '8 days' FROM made WHERE j.id = made.id AND made.k LIKE '%_old';
UPDATE taskflow.jobs j SET finished_at = now() - interval '6 days' FROM made WHERE j.id = made.id AND made.k LIKE '%_new';
SELECT string_agg(k || '=' || j.state, ' ' ORDER BY made.id) FROM made JOIN taskflow.jobs j ON j.id = made.id;
SQL
)
is "$(echo "$ids" | tail -1)" "ok_old=SUCCEEDED cancel_old=CANCELLED failed_old=FAILED dead_old=DEAD ok_new=SUCCEEDED cancel_new=CANCELLED" \
  "fixture: six finished jobs"

wait_until 10 "SELECT NOT EXISTS (SELECT FROM taskflow.jobs WHERE queue = '$Q' AND correlation_id IN ('ok_old', 'cancel_old'))"
ok $? "the Cleaner deletes the SUCCEEDED and CANCELLED jobs finished 8 days ago, on its own"
is "$(sql "SELECT string_agg(correlation_id, ' ' ORDER BY id) FROM taskflow.jobs WHERE queue = '$Q'")" \
  "failed_old dead_old ok_new cancel_new" "it keeps FAILED, DEAD and the jobs within retention"
is "$(sql "SELECT count(*) FROM taskflow.job_attempts a WHERE NOT EXISTS (SELECT FROM taskflow.jobs j WHERE j.id = a.job_id)")|$(sql "SELECT count(*) FROM taskflow.job_events e WHERE NOT EXISTS (SELECT FROM taskflow.jobs j WHERE j.id = e.job_id)")" \
  "0|0" "no attempt or event is left behind without its job"

# Expired leases, handled by the running Rescuer.
c=$(sql "SELECT taskflow.schedule('cancel-me', queue => '$Q')")
ctok=$(sql "SELECT lease_token FROM taskflow.acquire('m', ARRAY['$Q'], 1, lease => interval '1 second')")
is "$(sql "SELECT taskflow.cancel($c)")" RUNNING "a RUNNING job gets a cancel request"
d=$(sql "SELECT taskflow.schedule('die', queue => '$Q')")
sql "SELECT lease_token FROM taskflow.acquire('m', ARRAY['$Q'], 1, lease => interval '1 second')" >/dev/null
wait_until 10 "SELECT state = 'CANCELLED' FROM taskflow.jobs WHERE id = $c"
ok $? "its expired lease ends it as CANCELLED (not retried)"
wait_until 10 "SELECT state = 'DEAD' FROM taskflow.jobs WHERE id = $d"
ok $? "an expired lease on the last attempt ends the job DEAD"
is "$(sql "SELECT last_error_type FROM taskflow.dead_letter WHERE id = $d")" "lease_expired" "it is listed in dead_letter with error lease_expired"
is "$(sql "SELECT COALESCE(taskflow.complete($c, '$ctok')::text, 'NULL')")" NULL "the holder's late complete gets NULL"

done_testing
