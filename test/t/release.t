#!/usr/bin/env bash
# Release metadata: the version has one home (default_version in taskflow.control) and every
# file that cannot derive it says the same; META.json follows the PGXN Meta Spec v1
# (scripts/meta_json.py), and the validator refuses broken files. No database needed, except
# the binaries' --version which needs the CMake build (build/, or TASKFLOW_BUILD_DIR).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
BUILD=${TASKFLOW_BUILD_DIR:-build}
scratch_dir tfrelease
plan 22

V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" taskflow.control)
ok "$([[ $V =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]]; echo $?)" "taskflow.control has default_version X.Y.Z ($V)"

# --- derived at build time ---------------------------------------------------------------------
is "$(make -s --no-print-directory version)" \
  "$V" "the Makefile's EXTVERSION is read from taskflow.control"
is "$("$BUILD/worker/taskflow-worker" --version 2>&1)" "taskflow-worker $V" "taskflow-worker --version"
is "$("$BUILD/worker/http/taskflow-http" --version 2>&1)" "taskflow-http $V" "taskflow-http --version"
is "$("$BUILD/cli/taskflow" --version 2>&1)" "taskflow $V" "taskflow --version (the CLI)"
is "$(sed -n 's/^#define TASKFLOW_VERSION "\(.*\)"/\1/p' "$BUILD/taskflow-generated/include/taskflow/version.hpp")" \
  "$V" "the generated taskflow/version.hpp"
ok "$(grep -q 'TASKFLOW_VERSION' worker/http/src/openapi.cpp && ! grep -qE '"version": "[0-9]+\.[0-9]+\.[0-9]+"' worker/http/src/openapi.cpp; echo $?)" \
  "the OpenAPI document's info.version is TASKFLOW_VERSION, not a literal"

# --- the git commit of the build (taskflow_build_info{revision}; scripts/build_commit.sh) ----------
H=extension/generated/build_commit.h
want=unknown; [ -e .git ] && want=$(git rev-parse --short HEAD)
is "$(sed -n 's/^#define TASKFLOW_BUILD_COMMIT "\(.*\)"$/\1/p' "$H")" "$want" \
  "make recorded the commit it built from ($want) in $H"
# an up-to-date build stays up to date: make runs the script, which leaves the header alone
before=$(stat -c '%y %n' "$H" taskflow.so 2>&1 | tr '\n' ' ')
make -s >/dev/null 2>&1
is "$(stat -c '%y %n' "$H" taskflow.so 2>&1 | tr '\n' ' ')" "$before" "a second make rewrites nothing (no rebuild loop)"
# in a scratch repository: the short hash, unchanged header kept, a new commit rewritten
G=(git -C "$TMP/repo" -c user.name=t -c user.email=t@example.com)
mkdir -p "$TMP/repo" && git init -q "$TMP/repo" && "${G[@]}" commit -q --allow-empty -m one
sh scripts/build_commit.sh "$TMP/out/b.h" "$TMP/repo"
touch -d '2001-01-01' "$TMP/out/b.h"
sh scripts/build_commit.sh "$TMP/out/b.h" "$TMP/repo"
is "$(grep -c "\"$("${G[@]}" rev-parse --short HEAD)\"" "$TMP/out/b.h"):$(stat -c %Y "$TMP/out/b.h")" \
  "1:$(date -d '2001-01-01' +%s)" "the script writes the short hash, and leaves an unchanged header alone"
"${G[@]}" commit -q --allow-empty -m two
sh scripts/build_commit.sh "$TMP/out/b.h" "$TMP/repo"
ok "$(grep -q "\"$("${G[@]}" rev-parse --short HEAD)\"" "$TMP/out/b.h" && [ "$(stat -c %Y "$TMP/out/b.h")" != "$(date -d '2001-01-01' +%s)" ]; echo $?)" \
  "a new commit rewrites it"
mkdir -p "$TMP/tarball"
sh scripts/build_commit.sh "$TMP/out/u.h" "$TMP/tarball"
ok "$(grep -q '"unknown"' "$TMP/out/u.h"; echo $?)" "outside a git checkout: unknown"

# --- checked: files that cannot derive it -------------------------------------------------------
is "$(python3 -c 'import json; print(json.load(open("dashboard/package.json"))["version"])')" "$V" \
  "dashboard/package.json"
is "$(python3 -c 'import json; d=json.load(open("dashboard/package-lock.json")); print(d["version"], d["packages"][""]["version"])')" \
  "$V $V" "dashboard/package-lock.json"
ok "$(grep -qE "^## \[$V\]" CHANGELOG.md; echo $?)" "CHANGELOG.md has a section for $V"
stale=$(grep -rnoE '"version": ?"[0-9]+\.[0-9]+\.[0-9]+"' README.md docs/ | grep -v "\"$V\"")
is "$stale" "" "the version shown in README.md and docs/ examples is $V"
ok "$(compgen -G "sql/updates/taskflow--*--$V.sql" >/dev/null || [ "$V" = 0.1.0 ]; echo $?)" \
  "an upgrade script leads to $V (sql/updates/taskflow--*--$V.sql)"

# --- META.json: PGXN Meta Spec v1 --------------------------------------------------------------
out=$(python3 scripts/meta_json.py --project . META.json 2>&1); rc=$?
ok "$rc" "META.json is valid (PGXN Meta Spec v1) and its versions are $V"; [ -n "$out" ] && echo "$out" | sed 's/^/# /'
ok "$(grep -q 'PostgreSQL License\|Permission to use, copy, modify, and distribute this software' LICENSE; echo $?)" \
  "LICENSE is the PostgreSQL License"

# The validator refuses what the spec refuses (each broken copy names the field).
broken() {  # broken PYTHON-EXPRESSION-ON-d EXPECTED-FIELD
  python3 -c "import json,sys; d=json.load(open('META.json')); $1; json.dump(d, open('$TMP/m.json','w'))"
  python3 scripts/meta_json.py "$TMP/m.json" 2>&1
}
out=$(broken "del d['abstract']; d['license']='gpl'; d['version']='0.2'")
ok "$(grep -q 'abstract: required key is missing' <<<"$out" && grep -q "license: 'gpl' is not a license" <<<"$out" \
      && grep -q "version: '0.2' is not a semantic version" <<<"$out"; echo $?)" \
  "the validator refuses a missing abstract, an unknown license, a version that is not X.Y.Z"
out=$(broken "d['provides']['taskflow'].pop('file'); d['meta-spec']['version']='2.0.0'; d['prereqs']['runtime']['requires']['PostgreSQL']='fifteen'")
ok "$(grep -q 'provides.taskflow.file: required key is missing' <<<"$out" && grep -q 'meta-spec.version' <<<"$out" \
      && grep -q 'prereqs.runtime.requires.PostgreSQL' <<<"$out"; echo $?)" \
  "the validator refuses a provided extension without file, a 2.x meta-spec, a bad version range"
out=$(broken "d['version']='9.9.9'"; python3 scripts/meta_json.py --project . "$TMP/m.json" 2>&1)
ok "$(grep -q "version: '9.9.9' is not taskflow.control's default_version" <<<"$out"; echo $?)" \
  "--project refuses a META.json whose version is not taskflow.control's"

done_testing
