#!/usr/bin/env bash
# pg_dump and restore keep the jobs: the extension's tables are registered with
# pg_extension_config_dump, so a dump of the taskflow schema restored into a new database
# brings back queues (including settings of the default queue), jobs, attempts, events and the
# id sequence, and the restored database works. The same for the tenants (attributes, limits,
# weights, rate limits, the role -> tenant mapping), automation rules and HTTP API keys (with
# their id sequences: a new key, rule or job after the restore gets a fresh id).
# (test/sql/dump_config.sql checks that every table and sequence is registered.)
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

Q="tf_dump_$$"
DB="tf_dump_restore_$$"
T="tf_dump_t$$"          # a tenant
R="tf_dump_role$$"       # a role mapped to it
DIR=$(mktemp -d /tmp/tfdump.XXXXXX)

rsql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

default_priority=$(sql "SELECT priority FROM taskflow.queues WHERE name = 'default'" 2>/dev/null)
cleanup() {
  psql -X -q -At -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1
  psql -X -q -At >/dev/null 2>&1 <<SQL
UPDATE taskflow.queues SET priority = ${default_priority:-0} WHERE name = 'default';
$(drop_queues_sql "$Q")
DELETE FROM taskflow.automation_rules WHERE tenant_id = '$T';
DELETE FROM taskflow.rule_firings WHERE tenant_id = '$T';
DELETE FROM taskflow.api_keys WHERE tenant_id = '$T';
DELETE FROM taskflow.rate_limits WHERE name = '$T';
DELETE FROM taskflow.tenant_roles WHERE tenant_id = '$T';
DELETE FROM taskflow.tenants WHERE id = '$T';
DROP ROLE IF EXISTS $R;
SQL
  rm -rf "$DIR"
}
trap cleanup EXIT

require_db

plan 19

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
-- tenants, the role mapping, rules, rule firings and API keys
CREATE ROLE $R;
SELECT taskflow.grant_tenant('$R', '$T');
SELECT taskflow.upsert_tenant('$T', '{"plan": "pro"}');
SELECT taskflow.set_tenant_limit('$T', 7);
SELECT taskflow.set_tenant_weight('$T', 3);
SELECT taskflow.set_rate_limit('tenant', '$T', 50, '1 minute');
-- (its firing below records a firing whose condition does not hold: no job in the queue)
SELECT taskflow.create_rule('dump-hook', '{"type": "webhook"}', '[{"job_type": "dump.hooked", "queue": "$Q"}]', condition => '\$.event.go == true', tenant_id => '$T');
SELECT taskflow.create_rule('dump-event', '{"type": "event", "on": "job_dead"}', '[{"job_type": "dump.alert", "queue": "$Q"}]', condition => '\$.job.attempts > 1', tenant_id => '$T');
SELECT count(*) FROM taskflow.fire_rule((SELECT id FROM taskflow.automation_rules WHERE tenant_id = '$T' AND name = 'dump-hook'));
SET client_min_messages = warning;
SELECT taskflow.create_api_key('$T') IS NOT NULL;
SELECT taskflow.create_api_key(NULL, 'admin') IS NOT NULL;
SQL
key=$(PGOPTIONS='-c client_min_messages=warning' sql "SELECT taskflow.create_api_key('$T')")
snapshot() {  # $1: the psql function to use
  $1 "SELECT jsonb_build_object(
        'queue', (SELECT to_jsonb(q) - 'created_at' - 'updated_at' FROM taskflow.queues q WHERE name = '$Q'),
        'jobs', (SELECT jsonb_agg(to_jsonb(j) ORDER BY id) FROM taskflow.jobs j WHERE queue = '$Q'),
        'attempts', (SELECT jsonb_agg(to_jsonb(a) ORDER BY a.job_id, a.attempt) FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id WHERE j.queue = '$Q'),
        'events', (SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id) FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id WHERE j.queue = '$Q'))"
}
automation() {  # $1: the psql function to use
  $1 "SELECT jsonb_build_object(
        'tenant', (SELECT to_jsonb(t) - 'created_at' - 'updated_at' FROM taskflow.tenants t WHERE id = '$T'),
        'rate', (SELECT to_jsonb(r) - 'tokens' - 'refreshed_at' FROM taskflow.rate_limits r WHERE name = '$T'),
        'mapping', (SELECT jsonb_agg(jsonb_build_object('role', m.role_name::text, 'tenant', m.tenant_id)) FROM taskflow.tenant_roles m WHERE m.tenant_id = '$T'),
        'rules', (SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM taskflow.automation_rules r WHERE r.tenant_id = '$T'),
        'firings', (SELECT jsonb_agg(to_jsonb(f) ORDER BY f.id) FROM taskflow.rule_firings f WHERE f.tenant_id = '$T'),
        'keys', (SELECT jsonb_agg(to_jsonb(k) ORDER BY k.id) FROM taskflow.api_keys k))"
}
before=$(snapshot sql)
before_automation=$(automation sql)
max_key=$(sql "SELECT max(id) FROM taskflow.api_keys")
max_rule=$(sql "SELECT max(id) FROM taskflow.automation_rules")
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

# Tenants, the mapping, rules, firings and keys
ok $(echo "$before_automation" | grep -q '"dump-event"' && echo "$before_automation" | grep -q '"matched": false' && echo "$before_automation" | grep -q '"prefix"' && echo 0 || echo 1) \
  "the source has the tenant's rules, a firing and API keys"
is "$(automation rsql)" "$before_automation" \
  "tenant (attributes, limit, weight), rate limit, role mapping, rules, firings and API keys are restored exactly"
is "$(rsql "SET ROLE $R; SELECT taskflow._caller_tenant()")" "$T" \
  "the restored mapping confines the role to its tenant"
is "$(rsql "SELECT tenant_id || ' ' || role FROM taskflow.authenticate_api_key('$key')")" "$T client" \
  "an API key created before the dump authenticates in the restored database"
keys_after=$(rsql "SET client_min_messages = warning; SELECT count(taskflow.create_api_key('$T')) FROM generate_series(1, 2)" 2>&1)
is "$keys_after" 2 "create_api_key works in the restored database, twice (it failed with a duplicate key)"
is "$(rsql "SELECT bool_and(id > $max_key) FROM taskflow.api_keys WHERE created_at > now() - interval '1 minute' AND id NOT IN (SELECT (x->>'id')::bigint FROM jsonb_array_elements('$(echo "$before_automation" | sed "s/'/''/g")'::jsonb -> 'keys') x)")" t \
  "the new keys got fresh ids (> $max_key)"
new_rule=$(rsql "SELECT taskflow.create_rule('dump-new', '{\"type\": \"webhook\"}', '[{\"job_type\": \"x\"}]', tenant_id => '$T')" 2>&1)
ok $([ -n "$new_rule" ] && [ "$new_rule" -gt "$max_rule" ] 2>/dev/null && echo 0 || echo 1) \
  "create_rule works in the restored database with a fresh id ($new_rule > $max_rule)"
tenant_job=$(rsql "SET ROLE $R; SELECT taskflow.schedule('dump.tenant', queue => '$Q')" 2>&1)
is "$(rsql "SELECT tenant_id FROM taskflow.jobs WHERE id = ${tenant_job:-0}")" "$T" \
  "the tenant's role schedules into its tenant in the restored database"

done_testing
