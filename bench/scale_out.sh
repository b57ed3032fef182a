#!/usr/bin/env bash
# Scale-out benchmark (docs/scale-out.md, docs/benchmarks.md): a PL/Proxy router and two shards,
# three throwaway clusters on this machine (test/pgcluster.sh), measured with pgbench.
#   bash bench/scale_out.sh [SECONDS] [CLIENTS] [DRAIN_JOBS]     defaults: 10 4 4000
# Prints one line per measurement:
#   enqueue/get/list through the router vs the same call directly on the shard (same server);
#   enqueue at saturation on one shard and through the router onto two shards;
#   drain at saturation: one shard with one worker, two shards with one worker serving both.
# Durable servers: TASKFLOW_PG_CONF=$'fsync=on\nsynchronous_commit=on\nfull_page_writes=on'.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-10}
clients=${2:-4}
drain_jobs=${3:-4000}
worker_bin=${TASKFLOW_WORKER_BIN:-$root/build/worker/taskflow-worker}
PGBIN=${PGBIN:-$(pg_config --bindir)}
db=${TASKFLOW_TEST_DB:-taskflow_test}
dir=$(mktemp -d /tmp/tfscalebench.XXXXXX)
chmod 755 "$dir"
worker_pids=()
cleanup() {
  for p in "${worker_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for c in router s0 s1; do bash "$root/test/pgcluster.sh" stop "$dir/$c" >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

declare -A port
for c in router s0 s1; do
  mkdir -p "$dir/$c"
  port[$c]=$(bash "$root/test/pgcluster.sh" start "$dir/$c" | sed -n 's/^export PGPORT=//p')
done
unset PGHOST PGPORT PGDATABASE PGUSER TASKFLOW_DATABASE_URL
q() { local c=$1 d=$2; shift 2; "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${port[$c]}" -U postgres -d "$d" -c "$1"; }
url() { echo "postgresql://postgres@127.0.0.1:${port[$1]}/$db"; }
q s1 "$db" "SELECT taskflow.set_shard(1)" >/dev/null
q router postgres "CREATE DATABASE tf_router" >/dev/null
q router tf_router "CREATE EXTENSION plproxy; CREATE EXTENSION taskflow_router;
  SELECT taskflow_router.set_shard(0, 'host=127.0.0.1 port=${port[s0]} dbname=$db');
  SELECT taskflow_router.set_shard(1, 'host=127.0.0.1 port=${port[s1]} dbname=$db')" >/dev/null
q router tf_router "SELECT taskflow.create_queue('bench')" >/dev/null
echo "# $(nproc) cores; $("$PGBIN/postgres" --version); fsync=$(q s0 "$db" "SHOW fsync"), synchronous_commit=$(q s0 "$db" "SHOW synchronous_commit"); ${secs}s per run, $clients clients"

# tenants of shard 0 (for router-vs-direct on the same server) and of both shards
mapfile -t t0 < <(q router tf_router "SELECT t FROM (SELECT 'tenant' || i t FROM generate_series(1, 400) i) x
                                       WHERE taskflow_router.tenant_shard(t) = 0 LIMIT 100")
printf '%s\n' "${t0[@]}" | awk '{print "INSERT INTO t0 VALUES (" NR ", \x27" $0 "\x27);"}' > "$dir/t0.sql"
for d in "s0 $db" "router tf_router"; do
  set -- $d
  q "$1" "$2" "CREATE TABLE t0 (n int PRIMARY KEY, t text); CREATE TABLE t_all (n int PRIMARY KEY, t text);
               INSERT INTO t_all SELECT i, 'tenant' || i FROM generate_series(1, 100) i" >/dev/null
  "$PGBIN/psql" -X -q -h 127.0.0.1 -p "${port[$1]}" -U postgres -d "$2" -f "$dir/t0.sql" >/dev/null
done

cat >"$dir/enqueue0.sql" <<'SQL'
\set n random(1, 100)
SELECT taskflow.schedule('bench.job', '{"k": 1}', 'bench', (SELECT t FROM t0 WHERE n = :n));
SQL
cat >"$dir/enqueue_all.sql" <<'SQL'
\set n random(1, 100)
SELECT taskflow.schedule('bench.job', '{"k": 1}', 'bench', (SELECT t FROM t_all WHERE n = :n));
SQL
cat >"$dir/get.sql" <<'SQL'
\set id random(1, 2000)
SELECT taskflow.get_job(:id);
SQL
cat >"$dir/list.sql" <<'SQL'
\set n random(1, 100)
SELECT count(*) FROM taskflow.list_jobs((SELECT t FROM t0 WHERE n = :n), max_rows => 20);
SQL
cat >"$dir/list_all.sql" <<'SQL'
\set id random(1, 2000)
SELECT count(*) FROM taskflow.list_jobs(after_id => :id, max_rows => 50);
SQL
tps() {  # tps CLUSTER DB SCRIPT [CLIENTS]
  "$PGBIN/pgbench" -n -h 127.0.0.1 -p "${port[$1]}" -U postgres -c "${4:-$clients}" -j 2 -T "$secs" -f "$3" "$2" 2>/dev/null \
    | sed -n 's/^tps = \([0-9.]*\) .*/\1/p'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
line() { printf '%-58s %10s %10s %6s\n' "$@"; }

line "measurement (tps)" "direct" "router" "ratio"
d=$(tps s0 "$db" "$dir/enqueue0.sql"); r=$(tps router tf_router "$dir/enqueue0.sql")
line "schedule, one job (tenants of shard 0)" "$d" "$r" "$(ratio "$r" "$d")"
d=$(tps s0 "$db" "$dir/get.sql"); r=$(tps router tf_router "$dir/get.sql")
line "get_job by id (shard 0)" "$d" "$r" "$(ratio "$r" "$d")"
d=$(tps s0 "$db" "$dir/list.sql"); r=$(tps router tf_router "$dir/list.sql")
line "list_jobs of one tenant, 20 rows" "$d" "$r" "$(ratio "$r" "$d")"
d=$(tps s0 "$db" "$dir/list_all.sql"); r=$(tps router tf_router "$dir/list_all.sql")
line "list_jobs of all tenants, 50 rows (router: both shards)" "$d" "$r" "$(ratio "$r" "$d")"

# saturation: more clients, one shard directly vs the router spreading over two shards
sat=$((clients * 2))
d=$(tps s0 "$db" "$dir/enqueue_all.sql" "$sat"); r=$(tps router tf_router "$dir/enqueue_all.sql" "$sat")
line "enqueue at saturation ($sat clients): 1 shard vs router->2" "$d" "$r" "$(ratio "$r" "$d")"

# drain at saturation: N noop jobs, a worker with 16 handler threads per shard
clear_jobs() { q "$1" "$db" "TRUNCATE taskflow.jobs, taskflow.job_attempts, taskflow.job_events" >/dev/null; }
fill() { q "$1" "$db" "SELECT count(*) FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object(
          'job_type', 'bench.job', 'queue', 'bench', 'tenant_id', 'tenant' || (i % 100))) FROM generate_series(1, $2) i))" >/dev/null; }
pending() { local s=0 c; for c in "$@"; do s=$((s + $(q "$c" "$db" "SELECT count(*) FROM taskflow.jobs WHERE state <> 'SUCCEEDED'"))); done; echo $s; }
drain() {  # drain JOBS_PER_SHARD SHARD...
  local per=$1; shift
  local c args=()
  for c in "$@"; do clear_jobs "$c"; fill "$c" "$per"; args+=(--db "$(url "$c")"); done
  local t0=$(date +%s.%N)
  "$worker_bin" "${args[@]}" --queue bench --handler bench.job=noop --concurrency 16 --poll-interval 100ms \
    --log-level warn >"$dir/worker.log" 2>&1 &
  worker_pids=($!)
  while [ "$(pending "$@")" -gt 0 ]; do sleep 0.2; done
  local t1=$(date +%s.%N)
  kill -TERM "${worker_pids[0]}"; wait "${worker_pids[0]}" || true; worker_pids=()
  awk -v n=$((per * $#)) -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }'
}
one=$(drain "$drain_jobs" s0)
two=$(drain $((drain_jobs / 2)) s0 s1)
line "drain jobs/s: 1 shard vs 2 shards (one worker, --db twice)" "$one" "$two" "$(ratio "$two" "$one")"
