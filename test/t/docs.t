#!/usr/bin/env bash
# Docs that run: every SQL and shell example of the documents below runs, in order, against a
# fresh cluster of its own (test/pgcluster.sh, database "app", pg_cron and taskflow installed;
# a document that shows CREATE EXTENSION taskflow starts without taskflow), and the output each
# document shows is compared (test/doctest.py explains the format and the
# <!-- doctest: skip|error|output --> marks). One test per document; two documents run at once.
# Needs pg_config on PATH (the PostgreSQL taskflow is installed into) and the CMake build in build/.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
# Documents whose examples run. benchmarks.md runs its smoke run only (the others are benchmarks of
# minutes on clusters of their own, skipped with that reason); architecture.md and settings.md
# have no examples. scale-out.md starts its own second
# server (shard 1) in its scratch directory, which doctest.py stops at the end.
DOCS=(README.md docs/functions.md docs/automation.md docs/cli.md docs/tenancy.md docs/observability.md
      docs/dashboard.md docs/http.md docs/workflows.md docs/worker.md docs/scale-out.md
      docs/deploy.md docs/releasing.md docs/benchmarks.md)
plan $(( ${#DOCS[@]} + 3 ))

# the runner itself: a shown output that differs fails, a skip without a reason is refused
FIX=$(mktemp -d /tmp/tfdocfix.XXXXXX)
printf '%s\n' '```sh' 'echo two' '```' '' '<!-- doctest: output -->' '```' 'one' '```' >"$FIX/wrong.md"
printf '%s\n' '<!-- doctest: skip -->' '```sh' 'true' '```' >"$FIX/noreason.md"
out=$(python3 test/doctest.py "$FIX/wrong.md" 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'wrong.md:6: the output differs' <<<"$out"; echo $?)" "doctest.py: an output that differs fails, naming the line"
out=$(python3 test/doctest.py "$FIX/noreason.md" 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'needs a reason' <<<"$out"; echo $?)" "doctest.py: a skip mark without a reason is refused"
rm -rf "$FIX"

# every skip mark gives a reason (doctest.py refuses one without), and is used sparingly
skips=0; runs=0
for d in "${DOCS[@]}"; do
  list=$(python3 test/doctest.py --list "$d")
  skips=$(( skips + $(grep -c ' skip: ' <<<"$list") ))
  runs=$(( runs + $(grep -E ' (sql|sh|bash) ' <<<"$list" | grep -vEc ' (skip: |synopsis)') ))
done
ok "$(( skips * 4 <= runs ? 0 : 1 ))" "skip marks are few ($skips skipped, $runs run)"

# run_doc DOC RESULT: DOC's examples on a fresh cluster of its own; RESULT.rc, RESULT.out
run_doc() {
  local doc=$1 res=$2 dir envs
  dir=$(mktemp -d /tmp/tfdocs.XXXXXX); chmod 755 "$dir"
  # a port pgcluster.sh found free can be taken before the server binds it (other tests run
  # beside this one): start again, on another port
  for _ in 1 2 3; do
    envs=$(TASKFLOW_TEST_DB=app bash test/pgcluster.sh start "$dir/pg" 2>"$dir/err") && break
    bash test/pgcluster.sh stop "$dir/pg" >/dev/null 2>&1; envs=""
  done
  if [ -z "$envs" ]; then
    echo "a fresh cluster did not start:" >"$res.out"; cat "$dir/err" >>"$res.out"; echo 1 >"$res.rc"
    rm -rf "$dir"; return
  fi
  (
    eval "$envs"
    if grep -q '^CREATE EXTENSION taskflow;' "$doc"; then
      psql -X -q -c "DROP EXTENSION taskflow" >/dev/null
    fi
    python3 test/doctest.py "$doc"
  ) >"$res.out" 2>&1
  echo $? >"$res.rc"
  bash test/pgcluster.sh stop "$dir/pg" >/dev/null 2>&1
  rm -rf "$dir"
}
# Two lanes run at once, each document on its own cluster: the documents that start servers on
# the fixed port 8080 one after the other in the first lane, the others in the second (each
# lane in the order of DOCS).
RES=$(mktemp -d /tmp/tfdocres.XXXXXX)
lane() {
  local want=$1 i
  for i in "${!DOCS[@]}"; do
    if grep -q ':8080' "${DOCS[$i]}"; then [ "$want" = fixed ] || continue; else [ "$want" = free ] || continue; fi
    run_doc "${DOCS[$i]}" "$RES/$i"
  done
}
lane fixed & lane free & wait
for i in "${!DOCS[@]}"; do
  ok "$(cat "$RES/$i.rc" 2>/dev/null || echo 1)" "${DOCS[$i]}: its examples run and show what the document says"
  sed 's/^#* \{0,1\}/# /' "$RES/$i.out" 2>/dev/null
done
rm -rf "$RES"
done_testing
