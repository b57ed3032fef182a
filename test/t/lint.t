#!/usr/bin/env bash
# test/lint.sh, the boundary rules `make test` checks, catches what it is for: on a copy of the
# tree it passes, and with one breach of each rule it fails that rule's check, naming the file.
# Needs pg_config, a C++17 compiler and clang-format (test/deps.sh); no database.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/tflint.XXXXXX)
trap 'rm -rf "$W"' EXIT
plan 19

# The parts of the tree the lint reads: the extension, the worker (with the HTTP server), the
# benchmark, the CLI, the core's unit tests, the SQL scripts and the format file.
(cd "$ROOT" && tar -cf - --exclude='*.o' --exclude='*.so' --exclude='*.bc' --exclude='extension/generated' \
   extension worker bench cli test/core sql test/lint.sh test/function_length.py .clang-format) | tar -C "$W" -xf -

out=$(bash "$W/test/lint.sh" 2>&1); rc=$?
ok $rc "the tree passes the lint"; [ $rc -eq 0 ] || echo "$out" | sed 's/^/#   /'

# One breach of each rule.
cat >>"$W/extension/api/hooks.cpp" <<'EOF'
extern "C" {
PG_FUNCTION_INFO_V1(taskflow_unguarded);
}
EOF
echo "AS 'MODULE_PATHNAME', 'taskflow_not_guarded';" >>"$W/sql/src/030_jobs.sql"
sed -i '1i #include "utils/builtins.h"' "$W/extension/core/job_state.cpp"
printf '#include "../pg/guard.hpp"\n' >"$W/extension/core/leak.cpp"
sed -i '1i #pragma once' "$W/extension/core/cpp_only.hpp"
printf 'int   lint_probe ( ) ;\n' >>"$W/extension/core/fair_share.cpp"
printf 'int   lint_probe ( ) ;\n' >>"$W/cli/src/main.cpp"
printf 'const char* kLintProbe = "SELECT 1 FROM taskflow.jobs WHERE state = '"'DEAD'"'";\n' >>"$W/extension/api/admin.cpp"
printf 'const char* kLintProbe = "x IN ('"'PENDING'"')";  // a trailing comment\n' >>"$W/extension/bgw/maintenance.cpp"
printf '// a comment may name '"'RUNNING'"'\nint lint_probe2;  // and '"'DEAD'"' here\n' >>"$W/extension/bgw/launcher.cpp"
{ echo 'int LongProbe(int x) {'; for i in $(seq 1 80); do echo "  x += $i;"; done; echo '  return x;'; echo '}'; } \
  >"$W/worker/src/long_probe.cpp"
{ echo 'CREATE FUNCTION taskflow._long_probe() RETURNS integer LANGUAGE plpgsql AS $$'
  echo 'BEGIN'; for i in $(seq 1 80); do echo "  PERFORM $i;"; done; echo '  RETURN 0;'; echo 'END'; echo '$$;'; } \
  >>"$W/sql/src/030_jobs.sql"
printf '  tx.exec("SELECT taskflow.get_job(" + id + ")");\n' >>"$W/worker/http/src/workflow_handlers.inc"
printf 'CREATE FUNCTION taskflow._sp_probe() RETURNS int LANGUAGE sql\nSET search_path = pg_catalog\nAS $$ SELECT 1 $$;\n' \
  >>"$W/sql/src/072_maintenance.sql"
printf 'CREATE FUNCTION taskflow._jit_probe() RETURNS int LANGUAGE sql\nSET jit = on\nAS $$ SELECT 1 $$;\n' \
  >>"$W/sql/src/020_queues.sql"

out=$(bash "$W/test/lint.sh" 2>&1); rc=$?
ok $((rc == 0)) "the lint fails on the broken copy"
# the diagnostics of check NUMBER (its "not ok" line and the "#" lines after it)
check_output() { awk -v n="$1" '/^(not )?ok [0-9]+/ { on = ($0 ~ "^not ok " n " ") } on' <<<"$out"; }
has() { grep -qF -- "$2" <<<"$(check_output "$1")"; }
has 1 "extension/api/hooks.cpp"; ok $? "check 1 fails on a PG_FUNCTION_INFO_V1 outside TF_FUNCTION"
has 2 "taskflow_not_guarded"; ok $? "check 2 fails on an SQL script naming a C symbol that is no TF_FUNCTION"
has 3 "extension/core/job_state.cpp: #include <utils/builtins.h>"; ok $? "check 3 fails on a core file including a PostgreSQL header"
has 4 "extension/core/leak.cpp"; ok $? "check 4 fails on a core file reaching postgres.h through ../pg/"
has 4 "extension/core/job_state.cpp"; ok $? "check 4 also sees the direct include"
has 5 "cpp_only.hpp has an include guard or #pragma once"; ok $? "check 5 fails on cpp_only.hpp with #pragma once"
has 6 "core/validation.hpp included after postgres.h compiled"; ok $? "check 6 fails: with #pragma once a core header after postgres.h goes unchecked"
has 7 "extension/core/fair_share.cpp: not clang-format clean"; ok $? "check 7 fails on a C++ file that is not formatted"
has 7 "cli/src/main.cpp: not clang-format clean"; ok $? "check 7 covers the CLI too"
has 8 "extension/api/admin.cpp:"; ok $? "check 8 fails on a job state written as an SQL literal in api/"
has 8 "extension/bgw/maintenance.cpp:"; ok $? "check 8 fails on one in bgw/ (a trailing comment does not hide it)"
! has 8 "extension/bgw/launcher.cpp"; ok $? "check 8 ignores states named in comments"
has 9 "worker/src/long_probe.cpp:1: LongProbe: 83 lines"; ok $? "check 9 fails on a C++ function of 83 lines"
has 9 "_long_probe: 85 lines"; ok $? "check 9 fails on an SQL function body of 85 lines"
has 10 "worker/http/src/workflow_handlers.inc"; ok $? "check 10 fails on SQL built outside the HTTP server's statements.cpp"
has 11 "sql/src/072_maintenance.sql:"; ok $? "check 11 fails on a function definition with its own SET search_path"
has 11 "sql/src/020_queues.sql:"; ok $? "check 11 fails on a function definition with its own SET jit"
[ "$T_FAILED" -eq 0 ] || echo "$out" | sed 's/^/#   /'

done_testing
