#!/usr/bin/env bash
# taskflow.metrics() passes `promtool check metrics` (the Prometheus text format linter, Debian
# package prometheus) after a variety of jobs: every state, retries, dead and cancelled jobs,
# tenants whose names need escaping, automation rule firings, counters both rolled up by the
# maintenance worker and still in the tail, with and without the per-tenant bound; and as the
# taskflow_worker role, which the worker's HTTP /metrics uses.
# Needs the cluster environment (PGHOST, PGPORT, PGUSER, PGDATABASE) of test/pgcluster.sh.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

OUT=$(mktemp -d /tmp/tfpromtool.XXXXXX)
# Removes jobs of the test's queues (with their attempts and events) matching a condition.
remove_jobs() {
  sql "CREATE TEMP TABLE gone AS SELECT id FROM taskflow.jobs WHERE queue IN ('prom_a', 'prom_b') AND ($1);
       DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM gone);
       DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM gone);
       DELETE FROM taskflow.jobs WHERE id IN (SELECT id FROM gone)" >/dev/null
}
drop_test_queues() {
  sql "SELECT count(taskflow.drop_rule(id)) FROM taskflow.automation_rules WHERE name = 'prom \"rule\"'" >/dev/null 2>&1
  remove_jobs true 2>/dev/null
  sql "SELECT taskflow.drop_queue('prom_a')" >/dev/null 2>&1
  sql "SELECT taskflow.drop_queue('prom_b')" >/dev/null 2>&1
}
trap 'rm -rf "$OUT"; drop_test_queues' EXIT

require_db
# promtool is a requirement (test/deps.sh installs it): without it the test fails, it never
# passes or skips unchecked.
command -v promtool >/dev/null ||
  fail_setup "promtool not found (Debian package prometheus; test/deps.sh installs it)"

# Checks one scrape with promtool: a clean exit and no complaint on stdout or stderr.
check() {
  local name=$1 file=$2
  promtool check metrics <"$file" >"$file.lint" 2>&1
  local rc=$?
  if [ "$rc" -eq 0 ] && [ ! -s "$file.lint" ]; then ok 0 "promtool check metrics: $name"
  else ok 1 "promtool check metrics: $name"; sed 's/^/#   /' "$file.lint"; fi
}
scrape() { psql -X -At -v ON_ERROR_STOP=1 -c "SELECT taskflow.metrics($1)" >"$2"; }

# --- a variety of jobs ------------------------------------------------------------------------
drop_test_queues
setup=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' 2>&1
SELECT taskflow.create_queue('prom_a', retry_policy => '{"max_attempts": 2, "strategy": "fixed", "base_delay": "0 seconds", "jitter": "none"}');
SELECT taskflow.create_queue('prom_b');
-- tenants whose names need escaping in a label value
SELECT count(*) FROM taskflow.schedule_many((
  SELECT jsonb_agg(jsonb_build_object('job_type', 'p.' || (g % 4), 'queue', CASE WHEN g % 3 = 0 THEN 'prom_b' ELSE 'prom_a' END,
                                      'tenant_id', (ARRAY['acme', 'quote"d', 'back\slash', 'spaces, commas={}', 'ünïcødé', 'other'])[1 + g % 6]))
  FROM generate_series(1, 120) g));
SELECT taskflow.schedule('p.later', queue => 'prom_a', run_at => now() + interval '1 hour');
-- succeeded
SELECT taskflow.complete_many(array_agg(job_id), array_agg(lease_token))
FROM taskflow.acquire('prom-w', ARRAY['prom_a', 'prom_b'], 40, job_types => ARRAY['p.0', 'p.1']);
-- failed once, retried (SCHEDULED due now), then dead
SELECT count(taskflow.fail(job_id, lease_token, 'flaky')) FROM taskflow.acquire('prom-w', ARRAY['prom_a'], 10, job_types => ARRAY['p.2']);
SELECT count(taskflow.fail(job_id, lease_token, 'flaky')) FROM taskflow.acquire('prom-w', ARRAY['prom_a'], 100, job_types => ARRAY['p.2']);
-- failed for good
SELECT count(taskflow.fail(job_id, lease_token, 'bad', retryable => false)) FROM taskflow.acquire('prom-w', ARRAY['prom_b'], 5, job_types => ARRAY['p.2']);
-- cancelled, and some left running
SELECT count(taskflow.cancel(id)) FROM taskflow.jobs WHERE queue = 'prom_a' AND job_type = 'p.3' AND state = 'PENDING' AND id % 2 = 0;
SELECT count(*) FROM taskflow.acquire('prom-w', ARRAY['prom_a', 'prom_b'], 6, job_types => ARRAY['p.3']);
SQL
)
rc=$?; ok $rc "a variety of jobs: succeeded, retried, dead, failed, cancelled, running, pending, scheduled"
[ $rc -eq 0 ] || echo "$setup" | sed 's/^/#   /'
rules=$(psql -X -q -At -v ON_ERROR_STOP=1 <<'SQL' 2>&1
SELECT count(taskflow.drop_rule(id)) FROM taskflow.automation_rules WHERE name = 'prom "rule"';
SELECT taskflow.create_rule('prom "rule"', '{"type": "webhook"}', '[{"job_type": "p.rule", "queue": "prom_b"}]',
                            condition => '$.event.ok == true') AS r \gset
SELECT count(*) FROM taskflow.fire_rule(:r, '{"ok": true}');
SELECT count(*) FROM taskflow.fire_rule(:r, '{"ok": false}');
SQL
  )
rc=$?; ok $rc "automation rule firings (created and skipped)"
[ $rc -eq 0 ] || echo "$rules" | sed 's/^/#   /'

# --- scrapes ----------------------------------------------------------------------------------
scrape "" "$OUT/tail.prom"
check "jobs just finished (counted from the tail)" "$OUT/tail.prom"
for want in 'taskflow_jobs{queue="prom_a",state="scheduled"}' 'taskflow_job_retries_total{queue="prom_a"}' \
            'taskflow_job_wait_seconds_bucket{queue="prom_b",le="+Inf"}' 'taskflow_tenant_jobs{tenant_id="quote\"d",state="running"}' \
            'taskflow_tenant_jobs_finished_total{tenant_id="back\\slash",outcome="succeeded"}'; do
  grep -qF "$want " "$OUT/tail.prom"; ok $? "the scrape has $want"
done
grep -qF 'taskflow_rule_firings_total{rule="prom \"rule\"",' "$OUT/tail.prom"; ok $? "the scrape has the rule's firings"
# revision: the commit the loaded library was built from (the header the Makefile generated);
# the same as git's HEAD unless the tree moved on since the build.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
rev=$(sed -n 's/^#define TASKFLOW_BUILD_COMMIT "\(.*\)"$/\1/p' "$ROOT/extension/generated/build_commit.h")
[[ $rev =~ ^([0-9a-f]{7,40}|unknown)$ ]]; ok $? "the build recorded a commit ($rev)"
if [ -e "$ROOT/.git" ] && [ "$rev" != "$(git -C "$ROOT" rev-parse --short HEAD)" ]; then
  echo "# the library was built from $rev, HEAD is now $(git -C "$ROOT" rev-parse --short HEAD): rebuild (make) to compare"
fi
want="taskflow_build_info{version=\"$(sql "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'")\",revision=\"$rev\",postgresql_version=\"$(sql "SHOW server_version")\"} 1"
grep -qxF "$want" "$OUT/tail.prom"; ok $? "the scrape has $want"
grep -qF 'taskflow_job_wait_seconds_bucket{queue="prom_b",le="0.0001"} ' "$OUT/tail.prom"
ok $? "the wait and run time histograms resolve sub-millisecond latencies (le=\"0.0001\")"
# One label name per concept (docs/observability.md, "Labels"): no other label name appears.
labels=$(grep -v '^#' "$OUT/tail.prom" | grep -oE '[{,][a-z_]+=' | tr -d '{,=' | sort -u | tr '\n' ' ')
is_labels="le outcome postgresql_version queue revision rule rule_id state tenant_id version "
[ "$labels" = "$is_labels" ]; ok $? "the label names are the documented ones (got: $labels)"
dead=$(grep -F 'taskflow_jobs_finished_total{queue="prom_a",outcome="dead"} ' "$OUT/tail.prom" | cut -d' ' -f2)
[ "${dead:-0}" -ge 1 ]; ok $? "dead jobs are counted (got ${dead:-none})"

# the maintenance worker rolls the counters up within a few intervals; the scrape stays valid
# and its counters stay the same
rolled=0
for _ in $(seq 1 50); do
  if [ "$(sql "SELECT rolled_up_to > (SELECT max(finished_at) FROM taskflow.jobs WHERE queue IN ('prom_a', 'prom_b')) FROM taskflow.stats_watermark")" = t ]; then
    rolled=1; break
  fi
  sleep 0.2
done
ok $((1 - rolled)) "the maintenance worker rolled the finished jobs up"
scrape "" "$OUT/rolled.prom"
check "after the roll-up" "$OUT/rolled.prom"
counters() { grep -E '^taskflow_(jobs_finished_total|job_retries_total|job_(wait|run)_seconds_(bucket|sum|count))\{queue="prom_' "$1"; }
diff <(counters "$OUT/tail.prom") <(counters "$OUT/rolled.prom") >"$OUT/diff" 2>&1
rc=$?; ok $rc "the roll-up changed no counter of the test's queues"; [ $rc -eq 0 ] || sed 's/^/#   /' "$OUT/diff"

scrape "max_tenants => 2" "$OUT/two.prom"
check "max_tenants => 2" "$OUT/two.prom"
tenants=$(grep -E '^taskflow_tenant_' "$OUT/two.prom" | sed -E 's/.*tenant_id="(([^"\\]|\\.)*)".*/\1/' | sort -u | wc -l)
[ "$tenants" -eq 3 ]; ok $? "max_tenants => 2: two tenants and \"other\" (got $tenants)"
scrape "max_tenants => 0" "$OUT/zero.prom"
check "max_tenants => 0" "$OUT/zero.prom"

psql -X -q -At -v ON_ERROR_STOP=1 -c "SET ROLE taskflow_worker" -c "SELECT taskflow.metrics()" >"$OUT/worker.prom" 2>"$OUT/worker.err"
rc=$?; ok $rc "taskflow_worker may call metrics()"; [ $rc -eq 0 ] || sed 's/^/#   /' "$OUT/worker.err"
check "as taskflow_worker" "$OUT/worker.prom"
psql -X -q -At -c "SET ROLE taskflow_client" -c "SELECT taskflow.metrics()" >/dev/null 2>"$OUT/client.err"
grep -q "permission denied" "$OUT/client.err"; ok $? "taskflow_client may not call metrics()"

# purge the test's jobs: the counters stay, the scrape stays valid
sql "SELECT taskflow.purge_failed(queue => 'prom_a'); SELECT taskflow.purge_failed(queue => 'prom_b')" >/dev/null
remove_jobs "state IN ('SUCCEEDED', 'CANCELLED')"
scrape "" "$OUT/purged.prom"
check "after deleting the finished jobs" "$OUT/purged.prom"
diff <(counters "$OUT/rolled.prom") <(counters "$OUT/purged.prom") >"$OUT/diff" 2>&1
rc=$?; ok $rc "deleting them changed no counter"; [ $rc -eq 0 ] || sed 's/^/#   /' "$OUT/diff"

done_testing
