#!/usr/bin/env bash
# `make test`: installs what is missing, builds everything, starts a throwaway cluster and runs
#   0. the lint step (test/lint.sh: the boundary rules of docs/architecture.md),
#   1. the GoogleTest suites (ctest),
#   2. the pgTAP suites in test/sql (pg_prove),
#   3. the process-level TAP suites in test/t (prove: worker, pg_cron, concurrency),
# then stops the cluster and ends with `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}

bash test/deps.sh --browser || { echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0
note_fail() { echo "FAILED: $*"; failed=$((failed + 1)); }
# count TAP lines of one runner's verbose output: ok / not ok, plus a failed file that died
count_tap() {
  local text=$1 rc=$2 name=$3 ok nok
  ok=$(echo "$text" | grep -cE '^[[:space:]]*ok [0-9]+')
  nok=$(echo "$text" | grep -cE '^[[:space:]]*not ok [0-9]+')
  passed=$((passed + ok)); failed=$((failed + nok))
  if [ "$rc" -ne 0 ] && [ "$nok" -eq 0 ]; then note_fail "$name exited $rc"; fi
}

echo "== build: extension"
if ! { make -s -j"$JOBS" >/dev/null && make -s install >/dev/null; }; then
  make -j"$JOBS" 2>&1 | tail -30
  note_fail "extension build"; echo "$passed passed, $failed failed"; exit 1
fi
echo "== build: CMake (core tests, worker, bench)"
if ! { cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >build-cmake.log 2>&1 \
       && cmake --build build -j"$JOBS" >>build-cmake.log 2>&1; }; then
  tail -40 build-cmake.log
  note_fail "cmake build"; echo "$passed passed, $failed failed"; exit 1
fi
rm -f build-cmake.log
if [ -f build/worker/taskflow-worker ]; then cmake --install build --component worker >/dev/null 2>&1 || true; fi

# --- 0. lint: the boundary rules (TF_FUNCTION, no PostgreSQL header in core, cpp_only.hpp, format)
echo "== lint"
out=$(bash test/lint.sh 2>&1); rc=$?
echo "$out" | grep -E '^not ok|^#' | head -40
count_tap "$out" "$rc" "lint"

# --- 1. GoogleTest ---------------------------------------------------------------------------
echo "== ctest"
out=$(cd build && ctest --output-on-failure -j"$JOBS" 2>&1); rc=$?
echo "$out" | grep -E 'tests passed|Failed|\*\*\*' | tail -20
total=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p' | tail -1)
nfail=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p' | tail -1)
if [ -n "$total" ]; then
  passed=$((passed + total - nfail)); failed=$((failed + nfail))
  [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ] && note_fail "ctest exited $rc"
else
  note_fail "ctest produced no summary"
fi

# --- cluster ---------------------------------------------------------------------------------
PGTMP=$(mktemp -d /tmp/tftest.XXXXXX)
cleanup() { bash "$ROOT/test/pgcluster.sh" stop "$PGTMP"; }
trap cleanup EXIT
if ! envs=$(bash test/pgcluster.sh start "$PGTMP"); then
  note_fail "cluster start"; echo "$passed passed, $failed failed"; exit 1
fi
eval "$envs"
export TASKFLOW_WORKER_BIN="$ROOT/build/worker/taskflow-worker"

# --- 2. pgTAP ----------------------------------------------------------------------------------
echo "== pg_prove test/sql"
out=$(pg_prove -v --ext .sql test/sql/ 2>&1); rc=$?
echo "$out" | grep -E '^test/|not ok|^#|Result|Failed' | grep -vE '^# *$' | head -150
count_tap "$out" "$rc" "pg_prove"

# --- 3. process-level TAP ------------------------------------------------------------------------
if compgen -G "test/t/*.t" >/dev/null; then
  echo "== prove test/t"
  out=$(prove -v test/t/ 2>&1); rc=$?
  echo "$out" | grep -E '^test/|not ok|^# |Result|Failed' | head -150
  count_tap "$out" "$rc" "prove"
fi

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
