#!/usr/bin/env bash
# pg_dump and restore keep the jobs: the extension's tables are registered with
# pg_extension_config_dump, so a dump of the taskflow schema restored into a new database
# brings back queues (including settings of the default queue), jobs, attempts, events and the
# id sequence, and the restored database works.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

Q="tf_dump_$$"
DB="tf_dump_restore_$$"
DIR=$(mktemp -d /tmp/tfdump.XXXXXX)
N=0
FAILED=0

rsql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

default_priority=$(sql "SELECT priority FROM taskflow.queues WHERE name = 'default'" 2>/dev/null)
cleanup() {
  psql -X -q -At -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  psql -X -q -At >/dev/null 2>&1 <<SQL
UPDATE taskflow.queues SET priority = ${default_priority:-0} WHERE name = 'default';
$(drop_queues_sql "$Q")
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

echo "1..11"

# Source: a queue with its own policy, jobs in four states with history, a tuned default queue.
psql -X -q -At -v ON_ERROR_STOP=1 >/dev/null <<SQL
SELECT taskflow.create_queue('$Q', priority => 4, retry_policy => '{"max_attempts": 2, "strategy": "linear", "base_delay": "1 hour", "jitter": "none"}', lease => interval '2 minutes');
SELECT taskflow.alter_queue('default', priority => ${default_priority:-0} + 7);
SELECT taskflow.schedule('dump.ok', '{"n": 1}', queue => '$Q', correlation_id => 'c1');
SELECT taskflow.schedule('dump.retry', '{"n": 2}', queue => '$Q');
SELECT taskflow.schedule('dump.later', '{"n": 3}', queue => '$Q', run_at => now() + interval '1 day');
SELECT taskflow.schedule('dump.ready', '{"n": 4}', queue => '$Q', unique_key => 'u4');
CREATE TEMP TABLE l AS SELECT * FROM taskflow.acquire('dumper', ARRAY['$Q'], 2, job_types => ARRAY['dump.ok', 'dump.retry']);
SELECT taskflow.complete(job_id, lease_token, '{"done": true}') FROM l WHERE job_type = 'dump.ok';
SELECT taskflow.fail(job_id, lease_token, 'oops', 'try later') FROM l WHERE job_type = 'dump.retry';
SQL
snapshot() {  # $1: the psql function to use
  $1 "SELECT jsonb_build_object(
        'queue', (SELECT to_jsonb(q) - 'created_at' - 'updated_at' FROM taskflow.queues q WHERE name = '$Q'),
        'jobs', (SELECT jsonb_agg(to_jsonb(j) ORDER BY id) FROM taskflow.jobs j WHERE queue = '$Q'),
        'attempts', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.job_id, a.attempt) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id WHERE j.queue = '$Q'),
        'events', (SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id) FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id WHERE j.queue = '$Q'))"
}
before=$(snapshot sql)
ok $([ "$(echo "$before" | grep -o '"state"' | wc -l)" -eq 4 ] && echo 0 || echo 1) "the source has four jobs in the test queue"
max_id=$(sql "SELECT max(id) FROM taskflow.jobs")

pg_dump -Fc -n taskflow -e taskflow -f "$DIR/taskflow.dump" 2>"$DIR/dump.err"
ok $? "pg_dump of the taskflow schema and extension"
psql -X -q -At -d postgres -c "CREATE DATABASE $DB" >/dev/null
pg_restore --exit-on-error -d "$DB" "$DIR/taskflow.dump" 2>"$DIR/restore.err"
ok $? "pg_restore into a new database without errors"
[ -s "$DIR/restore.err" ] && sed 's/^/#   /' "$DIR/restore.err" | head -10

is "$(snapshot rsql)" "$before" "queue, jobs, attempts and events are restored exactly"
is "$(rsql "SELECT count(*) FROM taskflow.queues WHERE name = 'default'")" 1 "the restored database has one default queue"
is "$(rsql "SELECT priority FROM taskflow.queues WHERE name = 'default'")" "$(( ${default_priority:-0} + 7 ))" \
  "the default queue keeps its settings across dump and restore"
is "$(rsql "SELECT taskflow.queue_retry_policy('$Q') ->> 'strategy'")" linear "the queue's retry policy is restored"

new_id=$(rsql "SELECT taskflow.schedule('dump.new', queue => '$Q')")
ok $([ -n "$new_id" ] && [ "$new_id" -gt "$max_id" ] && echo 0 || echo 1) "a new job in the restored database gets a fresh id ($new_id > $max_id)"
is "$(rsql "SELECT taskflow.schedule('dump.ready', queue => '$Q', unique_key => 'u4') = id FROM taskflow.jobs WHERE unique_key = 'u4'")" t \
  "unique keys hold in the restored database"
is "$(rsql "SELECT job_type FROM taskflow.acquire('after-restore', ARRAY['$Q'], 10) ORDER BY job_id" | paste -sd, -)" "dump.ready,dump.new" \
  "the restored database hands out its ready jobs"
is "$(rsql "SELECT string_agg(job_type || '=' || (taskflow.get_job(id) ->> 'state'), ',' ORDER BY id) FROM taskflow.jobs WHERE queue = '$Q' AND job_type IN ('dump.ok', 'dump.retry', 'dump.later')")" \
  "dump.ok=SUCCEEDED,dump.retry=SCHEDULED,dump.later=SCHEDULED" "the restored jobs keep their states"

exit $(( FAILED > 0 ))
