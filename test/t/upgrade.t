#!/usr/bin/env bash
# Releases that upgrade: for every frozen release script (sql/releases/taskflow--X.sql), in a
# database of its own: CREATE EXTENSION taskflow VERSION 'X', fill it with queues, jobs in every
# state, rules, tenants and API keys, ALTER EXTENSION taskflow UPDATE (the chain of
# sql/taskflow--A--B.sql scripts up to default_version), check the data survived and still
# works, run every pgTAP suite against it (scripts/installcheck.sh --existing), and compare every
# object of the extension with a
# fresh install (test/upgrade/schema_diff.py: functions with their bodies, tables, columns,
# defaults, indexes, constraints, triggers, policies, types, grants, comments, membership).
# Then it checks that the comparison catches what an incomplete upgrade script would leave.
# It runs on a private cluster of its own (test/pgcluster.sh) whose cron.database_name is the
# upgraded database, so the suites that need pg_cron run too. Needs `make install` (the frozen
# release scripts and the upgrade scripts installed next to the current one).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
UPG=tf_upgrade
CLUSTER=$(mktemp -d /tmp/tfupgrade.XXXXXX)
if ! envs=$(TASKFLOW_TEST_DB=$UPG bash test/pgcluster.sh start "$CLUSTER" 2>&1); then
  echo "Bail out! cannot start a private cluster: $envs"; exit 1
fi
eval "$envs"

V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" taskflow.control)
RELEASES=()
for f in sql/releases/taskflow--*.sql; do
  r=$(basename "$f" .sql); r=${r#taskflow--}
  [[ "$r" != "$V" && "$r" != *--* ]] && RELEASES+=("$r")   # not frozen upgrade scripts (A--B)
done
FRESH="tf_fresh"
admin() { psql -X -q -At -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
on() { local db=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$db" "$@"; }
cleanup() { bash test/pgcluster.sh stop "$CLUSTER"; }
trap cleanup EXIT

plan $(( ${#RELEASES[@]} * 8 + 1 + 7 ))

admin "CREATE DATABASE $FRESH" >/dev/null
out=$(on "$FRESH" -c "CREATE EXTENSION taskflow" -c "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'" 2>&1)
is "$out" "$V" "a fresh install is $V"

# What the data looks like, before and after the upgrade (the same text means it survived).
DATA_SQL="
SELECT 'jobs ' || string_agg(state || '=' || n, ' ' ORDER BY state) FROM (SELECT state::text, count(*) n FROM taskflow.jobs GROUP BY 1) s
UNION ALL SELECT 'attempts ' || count(*) FROM taskflow.job_attempts
UNION ALL SELECT 'events ' || count(*) FROM taskflow.job_events
UNION ALL SELECT 'queues ' || string_agg(name || ':' || priority || ':' || coalesce(concurrency_limit::text, '-') || ':' || paused, ' ' ORDER BY name) FROM taskflow.queues
UNION ALL SELECT 'rules ' || string_agg(name || ':' || trigger_type || ':' || enabled, ' ' ORDER BY name) FROM taskflow.automation_rules
UNION ALL SELECT 'tenants ' || string_agg(id || ':' || coalesce(max_running::text, '-') || ':' || weight, ' ' ORDER BY id) FROM taskflow.tenants
UNION ALL SELECT 'tenant roles ' || string_agg(role_name::text || ':' || tenant_id, ' ' ORDER BY tenant_id, role_name::text) FROM taskflow.tenant_roles
UNION ALL SELECT 'api keys ' || string_agg(coalesce(tenant_id, '-') || ':' || role || ':' || db_role || ':' || (revoked_at IS NOT NULL), ' ' ORDER BY id) FROM taskflow.api_keys
UNION ALL SELECT 'histograms ' || COALESCE(string_agg(x, ' ' ORDER BY x), '-') FROM (
  SELECT h.queue || ':' || h.metric || ':le=' || COALESCE((taskflow._histogram_bounds())[h.bucket]::text, '+Inf') || ':' || h.observations AS x
  FROM taskflow.stats_histogram h WHERE h.observations > 0) x
UNION ALL SELECT 'series ' || COALESCE(string_agg(x, ' ' ORDER BY x), '-') FROM (
  SELECT t || ':' || queue || ':' || metric || ':le=' || COALESCE((taskflow._histogram_bounds())[i::int]::text, '+Inf') || ':' || sum(v) AS x FROM (
    SELECT 'all' AS t, s.queue, 'wait' AS metric, u.v, u.i FROM taskflow.stats_series s, unnest(s.wait_hist) WITH ORDINALITY u(v, i)
    UNION ALL SELECT 'all', s.queue, 'run', u.v, u.i FROM taskflow.stats_series s, unnest(s.run_hist) WITH ORDINALITY u(v, i)
    UNION ALL SELECT s.tenant_id, s.queue, 'wait', u.v, u.i FROM taskflow.stats_series_tenant s, unnest(s.wait_hist) WITH ORDINALITY u(v, i)
    UNION ALL SELECT s.tenant_id, s.queue, 'run', u.v, u.i FROM taskflow.stats_series_tenant s, unnest(s.run_hist) WITH ORDINALITY u(v, i)) y
  GROUP BY t, queue, metric, i HAVING sum(v) > 0) x"

for R in "${RELEASES[@]}"; do
  OLD=$UPG
  out=$(on "$OLD" -c "DROP EXTENSION IF EXISTS taskflow CASCADE" -c "CREATE EXTENSION taskflow VERSION '$R'" -c "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'" 2>&1)
  is "$out" "$R" "$R: CREATE EXTENSION taskflow VERSION '$R' from sql/releases/taskflow--$R.sql"

  # --- fill it: queues, jobs in every state, rules, tenants, API keys -------------------------
  fill=$(on "$OLD" 2>&1 <<SQL
-- the retry delay outlasts the test: the job to retry stays SCHEDULED through the upgrade
-- (with "1s" the Promoter moved it to PENDING while the update ran, and the counts differed)
SELECT taskflow.create_queue('upg_mail', priority => 5, concurrency_limit => 8,
  retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": "1 hour"}');
SELECT taskflow.create_queue('upg_paused');
SELECT taskflow.pause_queue('upg_paused');
SELECT taskflow.set_tenant_limit('acme', 4);
SELECT taskflow.set_tenant_weight('globex', 3);
DROP ROLE IF EXISTS upg_acme_app;
CREATE ROLE upg_acme_app NOLOGIN;
SELECT taskflow.grant_tenant('upg_acme_app', 'acme');
SELECT count(*) FROM (SELECT taskflow.schedule('send', jsonb_build_object('n', g), queue => 'upg_mail',
  tenant_id => CASE WHEN g % 2 = 0 THEN 'acme' ELSE 'globex' END) FROM generate_series(1, 12) g) s;
SELECT taskflow.schedule('later', '{}', queue => 'upg_mail', run_at => now() + interval '1 day');
SELECT taskflow.schedule('held', '{}', queue => 'upg_paused', unique_key => 'held-1');
-- acquire 6: complete 2, fail 1 permanently (FAILED), keep 1 RUNNING, 1 to retry (SCHEDULED),
-- 1 out of attempts (DEAD); cancel 1 PENDING
CREATE TEMP TABLE got AS SELECT * FROM taskflow.acquire('upg-worker', ARRAY['upg_mail'], 6);
SELECT count(*) = 6 FROM got;
SELECT taskflow.complete(job_id, lease_token, '{"ok": true}') FROM (SELECT * FROM got ORDER BY job_id LIMIT 2) g;
SELECT taskflow.fail(job_id, lease_token, 'bad_input', 'no', retryable => false) FROM (SELECT * FROM got ORDER BY job_id OFFSET 2 LIMIT 1) g;
SELECT taskflow.fail(job_id, lease_token, 'boom', 'try again') FROM (SELECT * FROM got ORDER BY job_id OFFSET 4 LIMIT 1) g;
UPDATE taskflow.jobs SET max_attempts = 1 WHERE id = (SELECT job_id FROM got ORDER BY job_id OFFSET 5 LIMIT 1);
SELECT taskflow.fail(job_id, lease_token, 'boom', 'out of attempts') FROM (SELECT * FROM got ORDER BY job_id OFFSET 5 LIMIT 1) g;
SELECT taskflow.cancel(id, 'upgrade test') FROM taskflow.jobs WHERE queue = 'upg_mail' AND state = 'PENDING' ORDER BY id LIMIT 1;
-- sub-jobs and a batch: the library is the new release's, the schema still R's (docs/releasing.md)
SELECT taskflow.schedule('child', '{}', queue => 'upg_mail',
  parent_job_id => (SELECT min(id) FROM taskflow.jobs WHERE queue = 'upg_mail'));
SELECT count(*) FROM taskflow.schedule_many(jsonb_build_array(
  jsonb_build_object('job_type', 'batch', 'queue', 'upg_mail', 'tenant_id', 'acme'),
  jsonb_build_object('job_type', 'batch', 'queue', 'upg_mail',
                     'parent_job_id', (SELECT min(id) FROM taskflow.jobs WHERE queue = 'upg_mail'))));
SELECT taskflow.create_rule('upg alert', '{"type": "event", "on": "job_dead"}',
  '[{"job_type": "alert", "queue": "upg_mail"}]');
SELECT taskflow.create_rule('upg hook', '{"type": "webhook"}', '[{"job_type": "hook"}]', tenant_id => 'acme');
SELECT taskflow.disable_rule(id) FROM taskflow.automation_rules WHERE name = 'upg hook';
SELECT taskflow.create_api_key(NULL, 'admin') IS NOT NULL;
\o /dev/null
SELECT taskflow.create_api_key('acme');
\o
SELECT taskflow.revoke_api_key(taskflow.create_api_key('globex'));
-- the finished jobs in the metrics' histograms and time series (a release may move their buckets)
SELECT taskflow._rollup();
SQL
  ); rc=$?
  ok "$rc" "$R: filled with queues, jobs in every state, rules, tenants, a tenant role and API keys"
  [ "$rc" -ne 0 ] && echo "$fill" | sed 's/^/#   /'
  KEY=$(on "$OLD" -c "SELECT taskflow.create_api_key('acme')")
  before=$(on "$OLD" -c "$DATA_SQL")

  # --- upgrade ------------------------------------------------------------------------------------
  out=$(on "$OLD" -c "ALTER EXTENSION taskflow UPDATE" -c "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'" 2>&1)
  is "$out" "$V" "$R: ALTER EXTENSION taskflow UPDATE reaches $V"
  after=$(on "$OLD" -c "$DATA_SQL")
  is "$after" "$before" "$R: the data survived the upgrade (jobs by state, attempts, events, queues, rules, tenants, keys, histogram observations per upper bound)"

  # The old rows still work under the new code: a DEAD job retries, a pending one is acquired,
  # the key still authenticates, the paused queue stays paused, the running lease still counts.
  out=$(on "$OLD" 2>&1 <<SQL
SELECT taskflow.retry((SELECT id FROM taskflow.jobs WHERE state = 'DEAD' LIMIT 1));
SELECT count(*) FROM taskflow.acquire('upg-worker-2', ARRAY['upg_mail'], 1);
SELECT tenant_id || ' ' || role FROM taskflow.authenticate_api_key('$KEY');
SELECT count(*) FROM taskflow.acquire('upg-worker-2', ARRAY['upg_paused'], 5);
SELECT count(*) FROM taskflow.jobs WHERE state = 'RUNNING' AND worker_id = 'upg-worker';
SQL
  )
  is "$(echo $out)" "PENDING 1 acme client 0 1" "$R: after the upgrade old jobs retry and acquire, the old key authenticates, the queue stays paused"

  # Workflows on the old rows: a new job may depend on jobs created before the update (their
  # dependency columns default to none); finishing an old job resolves the edge (here: an old
  # PENDING job cancelled cancels its dependent), and schedule_workflow works.
  out=$(on "$OLD" 2>&1 <<SQL
SELECT min(id) AS old_pending FROM taskflow.jobs WHERE tenant_id = 'acme' AND state = 'PENDING' \gset
SELECT taskflow.schedule('upg_after', '{}', queue => 'upg_mail', tenant_id => 'acme', depends_on => ARRAY[
  (SELECT min(id) FROM taskflow.jobs WHERE tenant_id = 'acme' AND state = 'SUCCEEDED'), :old_pending]) AS dep \gset
SELECT state || ' ' || dependencies_pending FROM taskflow.jobs WHERE id = :dep;
SELECT taskflow.cancel(:old_pending, 'upgrade test');
SELECT state || ' ' || (cancel_reason LIKE 'dependency % ended CANCELLED') FROM taskflow.jobs WHERE id = :dep;
SELECT jsonb_typeof(taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "wa", "queue": "upg_mail"},
  {"key": "b", "job_type": "wb", "queue": "upg_mail"}], "edges": [{"from": "a", "to": "b"}]}') -> 'jobs');
SQL
  )
  is "$(echo $out)" "SCHEDULED 1 CANCELLED CANCELLED true object" "$R: after the upgrade a job depends on old jobs, an old job's end resolves it, schedule_workflow works"

  # --- the pgTAP suites against the upgraded database ---------------------------------------------
  # Without the filler rows: several suites count every rule, tenant or firing in the database
  # (rules_seed fires once per registered tenant, rules_manage lists all rules), as they would
  # on a fresh install. The schema they run against is the upgraded one.
  on "$OLD" -c "TRUNCATE taskflow.jobs, taskflow.automation_rules, taskflow.tenants, taskflow.tenant_roles, taskflow.api_keys CASCADE" \
    -c "SELECT taskflow.drop_queue('upg_mail'), taskflow.drop_queue('upg_paused')" >/dev/null
  out=$(bash scripts/installcheck.sh --existing "$OLD" 2>&1); rc=$?
  ok "$rc" "$R: the pgTAP suites pass against the upgraded database ($(echo "$out" | grep -cE '^test/sql/.*ok$') suites)"
  [ "$rc" -ne 0 ] && echo "$out" | grep -vE '^test/sql/.* ok$' | sed 's/^/#   /' | head -60

  # --- the same objects as a fresh install ---------------------------------------------------------
  out=$(python3 test/upgrade/schema_diff.py "$OLD" "$FRESH" 2>&1); rc=$?
  ok "$rc" "$R: after the upgrade every object equals a fresh $V install"
  [ "$rc" -ne 0 ] && echo "$out" | sed 's/^/#   /'
done

# --- the comparison catches what an incomplete upgrade script leaves behind --------------------------
# A copy of the fresh install, changed the ways a forgotten line of an upgrade script would leave it.
MUT="tf_mutated"
admin "CREATE DATABASE $MUT" >/dev/null
on "$MUT" -c "CREATE EXTENSION taskflow" >/dev/null
diff_after() { on "$MUT" -c "$1" >/dev/null && python3 test/upgrade/schema_diff.py "$MUT" "$FRESH" 2>&1; }
has() { grep -qxF "$1" <<<"$2"; }

out=$(diff_after "CREATE OR REPLACE FUNCTION taskflow.authenticate_api_key(key text) RETURNS TABLE(tenant_id text, role text, db_role name) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS 'SELECT NULL::text, NULL::text, NULL::name WHERE false'")
ok "$(has "DIFFERS: function taskflow.authenticate_api_key(text)" "$out"; echo $?)" "a function body left at the old version is named"
on "$MUT" -c "DROP EXTENSION taskflow CASCADE" -c "CREATE EXTENSION taskflow" >/dev/null 2>&1
out=$(diff_after "ALTER TABLE taskflow.jobs ALTER COLUMN priority SET DEFAULT 7")
ok "$(has "DIFFERS: column taskflow.jobs.priority" "$out"; echo $?)" "a column default not changed is named"
out=$(diff_after "ALTER TABLE taskflow.jobs ALTER COLUMN priority SET DEFAULT 0; DROP INDEX taskflow.jobs_ready_idx")
ok "$(has "MISSING after the upgrade: index taskflow.jobs_ready_idx" "$out" && ! grep -q 'jobs.priority' <<<"$out"; echo $?)" \
  "a missing index is named (and the column put back is no longer)"
on "$MUT" -c "DROP EXTENSION taskflow CASCADE" -c "CREATE EXTENSION taskflow" >/dev/null 2>&1
out=$(diff_after "ALTER TABLE taskflow.queues ADD COLUMN upg_extra int")
ok "$(has "LEFT OVER by the upgrade (not in a fresh install): column taskflow.queues.upg_extra" "$out" \
      && has "DIFFERS: column order taskflow.queues" "$out"; echo $?)" "a column the release does not have is named, with the table's column order"
on "$MUT" -c "DROP EXTENSION taskflow CASCADE" -c "CREATE EXTENSION taskflow" >/dev/null 2>&1
out=$(diff_after "REVOKE EXECUTE ON FUNCTION taskflow.get_job(bigint) FROM taskflow_client")
ok "$(has "DIFFERS: function taskflow.get_job(bigint)" "$out" && grep -q '^    +acl .*taskflow_client=X' <<<"$out"; echo $?)" \
  "a missing GRANT is named, with the ACL line that differs"
on "$MUT" -c "DROP EXTENSION taskflow CASCADE" -c "CREATE EXTENSION taskflow" >/dev/null 2>&1
out=$(diff_after "COMMENT ON TABLE taskflow.jobs IS NULL; ALTER TABLE taskflow.tenants NO FORCE ROW LEVEL SECURITY")
ok "$(has "MISSING after the upgrade: comment table taskflow.jobs" "$out" && has "DIFFERS: table taskflow.tenants" "$out"; echo $?)" \
  "a missing COMMENT and a missing FORCE ROW LEVEL SECURITY are named"
on "$MUT" -c "DROP EXTENSION taskflow CASCADE" -c "CREATE EXTENSION taskflow" >/dev/null 2>&1
out=$(diff_after "DROP POLICY tenant_isolation ON taskflow.jobs")
ok "$(has "MISSING after the upgrade: policy policy tenant_isolation on table taskflow.jobs" "$out"; echo $?)" "a missing row level security policy is named"
[ "$T_FAILED" -gt 0 ] && echo "$out" | sed 's/^/#   /' | head -20

done_testing
