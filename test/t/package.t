#!/usr/bin/env bash
# The installed C++ package: `cmake --install` of the build tree (build/, or TASKFLOW_BUILD_DIR)
# into a temporary prefix installs taskflow-worker and taskflow-http (not the benchmark), the
# worker library, its headers (with taskflow/version.hpp), a CMake package and a pkg-config file;
# worker/examples/embedded_worker.cpp then builds out of the tree against that prefix, once with
# find_package(TaskFlow) and once with pkg-config. No database needed.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${TASKFLOW_BUILD_DIR:-build}
scratch_dir tfpackage
PREFIX=$TMP/prefix
V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" taskflow.control)
plan 11

out=$(cmake --install "$BUILD" --prefix "$PREFIX" 2>&1); rc=$?
ok "$rc" "cmake --install $BUILD --prefix <tmp>"
[ "$rc" -ne 0 ] && echo "$out" | tail -20 | sed 's/^/#   /'
is "$(cd "$PREFIX/bin" 2>/dev/null && ls | tr '\n' ' ')" "taskflow taskflow-http taskflow-worker " \
  "bin/ holds taskflow (the CLI), taskflow-http and taskflow-worker, not the benchmark"
is "$("$PREFIX/bin/taskflow-worker" --version 2>&1)" "taskflow-worker $V" "the installed taskflow-worker runs"
LIBDIR=$(dirname "$(find "$PREFIX" -name libtaskflow_worker.a | head -1)")
ok "$([ -f "$LIBDIR/libtaskflow_worker.a" ] && [ -f "$PREFIX/include/taskflow/worker.hpp" ] \
      && grep -q "\"$V\"" "$PREFIX/include/taskflow/version.hpp"; echo $?)" \
  "the library, taskflow/worker.hpp and taskflow/version.hpp ($V) are installed"

# --- the public headers need no libpqxx ---------------------------------------------------------------
# Handlers reach the database through SqlSession (JobContext::Sql()). libpqxx's headers live in
# /usr/include on Debian, so leaving them off the include path proves nothing: instead no installed
# header may mention pqxx, and a file that includes every one of them must compile with a namespace
# alias named pqxx (ill-formed once anything declared namespace pqxx) and without libpqxx's guards.
is "$(grep -rlE "pqxx(::|/)|namespace pqxx" "$PREFIX/include" 2>/dev/null)" "" "no installed header includes or declares anything of libpqxx"
printf '%s\n' '#include <taskflow/worker.hpp>' '#include <taskflow/json_limits.hpp>' \
  '#include <taskflow/log_format.hpp>' '#include <taskflow/version.hpp>' \
  'namespace pqxx = std;' '#if defined(PQXX_H_CONNECTION_BASE) || defined(PQXX_H_CONNECTION)' '#error libpqxx included' '#endif' \
  'int main() { taskflow::WorkerOptions o; o.Validate(); return 0; }' >"$TMP/headers.cpp"
out=$(c++ -std=c++17 -fsyntax-only -I"$PREFIX/include" "$TMP/headers.cpp" 2>&1); rc=$?
ok "$rc" "the installed headers compile without libpqxx: no include, no forward declaration"
[ "$rc" -ne 0 ] && echo "$out" | tail -20 | sed 's/^/#   /'

# --- find_package(TaskFlow) ------------------------------------------------------------------------
mkdir -p "$TMP/cm"
cat >"$TMP/cm/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(embedded LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(TaskFlow \${WANT_VERSION} REQUIRED)
add_executable(embedded_worker "$ROOT/worker/examples/embedded_worker.cpp")
target_link_libraries(embedded_worker PRIVATE TaskFlow::worker)
CMAKE
out=$( { cmake -S "$TMP/cm" -B "$TMP/cm/build" -DCMAKE_PREFIX_PATH="$PREFIX" -DWANT_VERSION="${V%.*}" \
         && cmake --build "$TMP/cm/build" -j2; } 2>&1); rc=$?
ok "$rc" "embedded_worker.cpp builds out of the tree with find_package(TaskFlow ${V%.*}) and TaskFlow::worker"
[ "$rc" -ne 0 ] && echo "$out" | tail -20 | sed 's/^/#   /'
ok "$([ -x "$TMP/cm/build/embedded_worker" ]; echo $?)" "... and links an executable"
out=$(cmake -S "$TMP/cm" -B "$TMP/cm/build9" -DCMAKE_PREFIX_PATH="$PREFIX" -DWANT_VERSION=9.0 2>&1); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'compatible with requested version "9.0"' <<<"$out" \
      && grep -q "version: $V" <<<"$out"; echo $?)" \
  "find_package(TaskFlow 9.0) is refused: the package says its version"

# --- pkg-config ---------------------------------------------------------------------------------------
export PKG_CONFIG_PATH="$LIBDIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
is "$(pkg-config --modversion taskflow-worker 2>&1)" "$V" "pkg-config --modversion taskflow-worker"
out=$(c++ -std=c++17 -o "$TMP/embedded_worker_pc" worker/examples/embedded_worker.cpp \
        $(pkg-config --cflags --libs taskflow-worker) 2>&1); rc=$?
ok "$([ "$rc" -eq 0 ] && [ -x "$TMP/embedded_worker_pc" ]; echo $?)" \
  "embedded_worker.cpp builds with \$(pkg-config --cflags --libs taskflow-worker)"
[ "$rc" -ne 0 ] && echo "$out" | tail -20 | sed 's/^/#   /'

done_testing
