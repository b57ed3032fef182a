#!/usr/bin/env bash
# Runs taskflow-bench on a throwaway cluster: builds the bench, starts a cluster with the
# installed extension (test/pgcluster.sh), runs the bench with every argument passed through,
# and stops the cluster on exit. `make bench BENCH_ARGS="--scale 0.1"` calls this.
#   bash bench/run.sh [taskflow-bench options]      e.g. --scale 0.1 --only drain,ceiling-drain
#   bash bench/run.sh --peers [bench/peers/run.mjs options]   Graphile Worker and pg-boss against
#                                                   taskflow-worker on the same cluster (npm ci first)
# Extra postgresql.conf lines for the cluster come from TASKFLOW_PG_CONF (see pgcluster.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${TASKFLOW_BENCH_BUILD:-$root/build-bench-run}

# bench/ is its own CMake project too, so the bench builds whatever state the rest is in.
peers=0
if [ "${1:-}" = "--peers" ]; then peers=1; shift; fi
if [ $peers = 1 ]; then
  # The peers' packages at the versions in package-lock.json (node_modules stays out of git).
  (cd "$root/bench/peers" && npm ci --no-audit --no-fund --silent >/dev/null)
else
  cmake -S "$root/bench" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j"$(nproc)" --target taskflow-bench >/dev/null
fi
# The worker scenarios run the real taskflow-worker.
if [ -z "${TASKFLOW_WORKER_BIN:-}" ]; then
  cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" -j"$(nproc)" --target taskflow-worker >/dev/null
  export TASKFLOW_WORKER_BIN="$root/build/worker/taskflow-worker"
fi

cluster=$(mktemp -d /tmp/taskflow-bench.XXXXXX)
trap 'bash "$root/test/pgcluster.sh" stop "$cluster"' EXIT
env_lines=$(bash "$root/test/pgcluster.sh" start "$cluster")  # fails the script if start fails
eval "$env_lines"
if [ $peers = 1 ]; then
  node "$root/bench/peers/run.mjs" "$@"
else
  "$build/taskflow-bench" --db "$TASKFLOW_DATABASE_URL" "$@"
fi
