#!/usr/bin/env bash
# The boundary rules of docs/architecture.md, checked (run by `make test` and `make lint`).
# Prints TAP; exits non-zero when a rule is broken.
#   1. Every SQL-callable C function is a TF_FUNCTION: PG_FUNCTION_INFO_V1 and PG_FUNCTION_ARGS
#      appear only in the TF_FUNCTION macro (extension/pg/guard.hpp), and every C symbol the SQL
#      scripts name ('MODULE_PATHNAME', 'symbol') is defined with TF_FUNCTION.
#   2. extension/core includes no PostgreSQL header, neither directly (an #include naming a
#      header of the server's include directories, or a pg/, api/ or bgw/ header) nor
#      indirectly (the compiler's dependency list of every core file).
#   3. cpp_only.hpp checks every inclusion: it has no include guard, it is the last #include of
#      every core file, and a core header first included after postgres.h does not compile.
#   4. Every C++ file (extension/, worker/, bench/, cli/, test/core/) is formatted as
#      .clang-format says (make format applies it).
#   5. Job states come from the core: no state name is written as an SQL string literal
#      ('RUNNING') in extension/api/*.cpp or extension/bgw/*.cpp; statements render states with
#      api::StateSql / api::StateListSql (api/common.cpp, the one place that quotes them).
#   6. No function is longer than 80 lines (C++ in extension/, worker/, bench/; SQL in sql/src/)
#      but the data tables test/function_length.py exempts, each with its reason.
#   7. The HTTP server's SQL is all in worker/http/src/statements.cpp (named prepared statements
#      of the SQL API, values only as parameters): no other file there has an SQL string literal
#      or calls exec/exec0/exec1/exec_params/prepare/quote/quote_name/esc.
#   8. search_path and jit are set in one place: no function definition in sql/src or router/src
#      sets them (sql/src/095_function_settings.sql sets them on every function of the schema,
#      the router's last statement sets search_path on every function of the router).
# Needs pg_config (the server's headers) and a C++17 compiler; clang-format for check 4;
# python3 for check 6.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_CONFIG=${PG_CONFIG:-pg_config}
CXX=${CXX:-g++}
INC_SERVER=$("$PG_CONFIG" --includedir-server)
INC_CLIENT=$("$PG_CONFIG" --includedir)
n=0; failures=0
check() {  # check NAME PROBLEMS: ok when PROBLEMS is empty, else not ok with them as diagnostics
  n=$((n + 1))
  if [ -z "$2" ]; then
    echo "ok $n - $1"
  else
    echo "not ok $n - $1"
    sed 's/^/#   /' <<<"$2"
    failures=$((failures + 1))
  fi
}

# ---- 1. every fmgr entry point through TF_FUNCTION ---------------------------------------------
problems=$(grep -rnE 'PG_FUNCTION_INFO_V1|PG_FUNCTION_ARGS' extension \
             | grep -vE '^extension/pg/guard\.hpp:[0-9]+:  (PG_FUNCTION_INFO_V1\(name\);|PGDLLEXPORT Datum name\(PG_FUNCTION_ARGS\))')
check "PG_FUNCTION_INFO_V1 and PG_FUNCTION_ARGS appear only in TF_FUNCTION (pg/guard.hpp)" "$problems"

defined=$(grep -rhoE '^TF_FUNCTION\([A-Za-z_0-9]+\)' extension | sed 's/TF_FUNCTION(\(.*\))/\1/' | sort -u)
named=$(grep -hoE "MODULE_PATHNAME' *, *'[A-Za-z_0-9]+'" sql/src/*.sql sql/updates/*.sql sql/releases/*.sql \
          | sed "s/.*, *'\(.*\)'/\1/" | sort -u)
problems=$(comm -13 <(echo "$defined") <(echo "$named") | sed 's/$/: named by an SQL script, not defined with TF_FUNCTION/')
[ -z "$named" ] && problems="no 'MODULE_PATHNAME', 'symbol' found in sql/: the check is broken"
check "every C function the SQL scripts name is a TF_FUNCTION ($(wc -w <<<"$named") symbols)" "$problems"

# ---- 2. no PostgreSQL header in extension/core ---------------------------------------------------
core_files=$(ls extension/core/*.hpp extension/core/*.cpp)
problems=""
for f in $core_files; do
  while IFS= read -r line; do
    header=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$line")
    if [[ $header == pg/* || $header == api/* || $header == bgw/* ]] \
       || [ -e "$INC_SERVER/$header" ] || [ -e "$INC_CLIENT/$header" ]; then
      problems+="$f: #include <$header> is a PostgreSQL (or boundary) header"$'\n'
    fi
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$f")
done
check "no core file names a PostgreSQL header or a pg/, api/, bgw/ header" "${problems%$'\n'}"

# The compiler's own list of every file a core file pulls in, with the server's headers on the
# include path (as in the extension's build): none may come from them or from pg/, api/, bgw/.
problems=""
for f in $core_files; do
  if ! deps=$("$CXX" -std=c++17 -M -x c++ -Iextension -isystem "$INC_SERVER" "$f" 2>&1); then
    problems+="$f: the compiler could not list its dependencies: $(head -3 <<<"$deps")"$'\n'
    continue
  fi
  bad=$(tr ' \\' '\n\n' <<<"$deps" | grep -E "^($INC_SERVER|$INC_CLIENT)/|extension/(pg|api|bgw)/" | sort -u)
  [ -n "$bad" ] && problems+="$f pulls in: $(tr '\n' ' ' <<<"$bad")"$'\n'
done
check "no core file includes a PostgreSQL header indirectly (compiler dependency list)" "${problems%$'\n'}"

# ---- 3. cpp_only.hpp checks every inclusion ----------------------------------------------------
problems=""
grep -qE '^[[:space:]]*#[[:space:]]*(pragma[[:space:]]+once|ifndef|define)' extension/core/cpp_only.hpp \
  && problems+="extension/core/cpp_only.hpp has an include guard or #pragma once: later inclusions go unchecked"$'\n'
for f in $core_files; do
  [ "$f" = extension/core/cpp_only.hpp ] && continue
  last=$(grep -E '^[[:space:]]*#[[:space:]]*include' "$f" | tail -1)
  [[ $last == '#include "cpp_only.hpp"'* ]] || problems+="$f: its last #include is not \"cpp_only.hpp\" ($last)"$'\n'
done
check "cpp_only.hpp has no include guard and is the last #include of every core file" "${problems%$'\n'}"

# Behaviour: a core header first included after postgres.h must not compile, even when another
# core header (and so cpp_only.hpp) came before postgres.h.
problems=""
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for h in extension/core/*.hpp; do
  [ "$h" = extension/core/cpp_only.hpp ] && continue
  first=core/job_state.hpp; [ "$h" = extension/core/job_state.hpp ] && first=core/errors.hpp
  printf '#include "%s"\n#include "postgres.h"\n#include "core/%s"\n' "$first" "$(basename "$h")" >"$tmp/probe.cpp"
  out=$("$CXX" -std=c++17 -fsyntax-only -Wno-register -Iextension -isystem "$INC_SERVER" "$tmp/probe.cpp" 2>&1)
  grep -q 'extension/core is pure C++' <<<"$out" \
    || problems+="core/$(basename "$h") included after postgres.h compiled without cpp_only.hpp's #error"$'\n'
done
check "every core header refuses to compile after postgres.h" "${problems%$'\n'}"

# ---- 4. formatting ----------------------------------------------------------------------------
# .clang-format describes the house style, applied to the whole tree once; every C++ file must
# stay so (`make format` reformats; generated sources in extension/generated/ are not ours).
CXX_DIRS=(extension worker bench cli test/core)
if command -v clang-format >/dev/null; then
  problems=""
  while IFS= read -r f; do
    clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || problems+="$f: not clang-format clean (make format, or clang-format -i $f)"$'\n'
  done < <(find "${CXX_DIRS[@]}" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) \
             -not -path 'extension/generated/*' 2>/dev/null | sort)
  check "every C++ file is clang-format clean" "${problems%$'\n'}"
else
  check "clang-format is installed (test/deps.sh)" "clang-format not found on PATH"
fi

# ---- 5. job states rendered from core -------------------------------------------------------------
# A state literal in an SQL statement of api/ or bgw/ (comments aside: a whole-line // comment
# and a trailing // comment without a quote after it) is a copy of the core's vocabulary.
state_re="'(PENDING|SCHEDULED|RUNNING|SUCCEEDED|FAILED|DEAD|CANCELLED)'"
problems=$(grep -nHE "$state_re" extension/api/*.cpp extension/bgw/*.cpp \
             | sed -E 's#^([^:]+:[0-9]+:)[[:space:]]*//.*$#\1#; s#[[:space:]]//[^"]*$##' \
             | grep -E "$state_re" \
             | sed -E 's#^([^:]+:[0-9]+):.*$#\1: a job state written as an SQL literal (use api::StateSql / api::StateListSql)#')
check "no job state is an SQL literal in extension/api or extension/bgw (rendered from core)" "$problems"
# ---- 6. function length ------------------------------------------------------------------------
problems=$(python3 test/function_length.py 2>&1)
check "no function longer than 80 lines but the exempt data tables (test/function_length.py)" "$problems"
# ---- 7. the HTTP server's SQL in one place -----------------------------------------------------
problems=$(grep -rnE '"[[:space:]]*(SELECT|INSERT|UPDATE|DELETE|WITH|SET|RESET|CALL|DO|COPY|TRUNCATE)[[:space:](]|\b(exec|exec0|exec1|exec_params|exec_params1|prepare|prepare_now|quote|quote_name|esc)[[:space:]]*\(' \
             worker/http/src --include='*.cpp' --include='*.hpp' --include='*.inc' \
           | grep -v '^worker/http/src/statements\.cpp:' | sed 's/$/   (SQL belongs in statements.cpp)/')
[ -f worker/http/src/statements.cpp ] || problems="worker/http/src/statements.cpp is missing: the check is broken"
check "the HTTP server's SQL is only in worker/http/src/statements.cpp (named prepared statements)" "$problems"
# ---- 8. search_path and jit set in one place ---------------------------------------------------------
problems=$(grep -nHE '^[^-]*\bSET[[:space:]]+(search_path|jit)\b' sql/src/*.sql router/src/*.sql 2>/dev/null \
             | grep -v '^sql/src/095_function_settings\.sql:' | grep -v 'ALTER FUNCTION %s SET search_path' \
             | sed 's/$/   (095_function_settings.sql sets it for every function)/')
check "no function definition sets search_path or jit itself (sql/src/095_function_settings.sql does)" "$problems"

echo "1..$n"
[ "$failures" -eq 0 ]
