#!/usr/bin/env bash
# Fairness once the shared pass table has seen more (queue, tenant) flows than it reserves
# (65,536): a long-lived cluster with many tenants and queues gets there. Two tenants that are
# new to a new queue must still share it. Runs on its OWN throwaway cluster (test/pgcluster.sh),
# because filling the table changes the fairness state of the whole server until it restarts.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
QUEUES=70
TENANTS=1000


CLUSTER=$(mktemp -d /tmp/tfpass.XXXXXX)
cleanup() { bash "$ROOT/test/pgcluster.sh" stop "$CLUSTER" >/dev/null 2>&1; }
trap cleanup EXIT
if ! envs=$(bash "$ROOT/test/pgcluster.sh" start "$CLUSTER" 2>&1); then
  echo "Bail out! could not start a cluster: $envs"
  exit 1
fi
eval "$envs"

plan 4

# $QUEUES queues with one ready job for each of $TENANTS tenants; one acquire(1) per queue makes
# every tenant of the queue a contender, so each (queue, tenant) flow gets its entry.
start=$(date +%s)
out=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
DO \$\$
BEGIN
  FOR q IN 1 .. $QUEUES LOOP
    PERFORM taskflow.create_queue('fill_' || q);
    PERFORM count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object(
      'job_type', 'fill', 'queue', 'fill_' || q, 'tenant_id', 't' || t)) FROM generate_series(1, $TENANTS) t));
  END LOOP;
END
\$\$;
SELECT count(*) FROM generate_series(1, $QUEUES) q, LATERAL taskflow.acquire('filler', ARRAY['fill_' || q], 1) a;
SQL
)
is "$out" "$QUEUES" "$((QUEUES * TENANTS)) flows seen by acquire ($QUEUES queues x $TENANTS contending tenants), in $(( $(date +%s) - start )) s"

# A new queue: tenant x schedules 200 jobs, then tenant y 20. One job per acquire, 40 times.
sql "SELECT taskflow.create_queue('fresh')" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'f', 'queue', 'fresh', 'tenant_id', 'x')) FROM generate_series(1, 200)))" >/dev/null
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'f', 'queue', 'fresh', 'tenant_id', 'y')) FROM generate_series(1, 20)))" >/dev/null
got=$(psql -X -q -At -v ON_ERROR_STOP=1 2>&1 <<SQL
CREATE TEMP TABLE got (n serial, tenant text);
DO \$\$
BEGIN
  FOR i IN 1 .. 40 LOOP
    INSERT INTO got (tenant) SELECT tenant_id FROM taskflow.acquire('w', ARRAY['fresh'], 1);
  END LOOP;
END
\$\$;
SELECT count(*) FILTER (WHERE tenant = 'x') || ' ' || count(*) FILTER (WHERE tenant = 'y') FROM got;
SQL
)
echo "# 40 single acquisitions after the table filled: x y = $got"
is "$(echo "$got" | awk '{print $1 + $2}')" 40 "40 jobs acquired"
ok $(echo "$got" | awk '{exit !($2 >= 18)}' && echo 0 || echo 1) \
  "the newcomer y still gets about half of the next 40 acquisitions (at least 18)"

# The same in batches: one acquire of 20.
sql "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object('job_type', 'f', 'queue', 'fresh', 'tenant_id', 'y')) FROM generate_series(1, 20)))" >/dev/null
batch=$(sql "SELECT count(*) FILTER (WHERE tenant_id = 'y') FROM taskflow.acquire('w', ARRAY['fresh'], 20)")
ok $([ "${batch:-0}" -ge 8 ] && echo 0 || echo 1) "a batch of 20 is still spread: $batch of y's jobs (at least 8)"

done_testing
