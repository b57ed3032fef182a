#!/usr/bin/env bash
# The systemd units (packaging/systemd/) pass `systemd-analyze verify` (any output is a failure:
# verify only warns about unknown keys and bad values), with ExecStart pointed at the built
# binaries (build/, or TASKFLOW_BUILD_DIR), keep their sandboxing, and score "OK" or better in
# `systemd-analyze security --offline=yes`. Needs systemd-analyze (Debian: the systemd package).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
BUILD=$(cd "${TASKFLOW_BUILD_DIR:-build}" 2>/dev/null && pwd)
scratch_dir tfsystemd
command -v systemd-analyze >/dev/null ||
  fail_setup "systemd-analyze is not installed (Debian: apt-get install systemd)"
plan 9

declare -A BIN=([taskflow-worker]="$BUILD/worker/taskflow-worker" [taskflow-http]="$BUILD/worker/http/taskflow-http")
for u in taskflow-worker taskflow-http; do
  sed "s|^ExecStart=/usr/local/bin/$u|ExecStart=${BIN[$u]}|" "packaging/systemd/$u.service" >"$TMP/$u.service"
  out=$(systemd-analyze verify "$TMP/$u.service" 2>&1); rc=$?
  ok "$([ "$rc" -eq 0 ] && [ -z "$out" ]; echo $?)" "$u.service: systemd-analyze verify says nothing"
  [ -n "$out" ] && echo "$out" | sed 's/^/#   /'
  missing=""
  for k in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes \
           RestrictAddressFamilies= SystemCallFilter=@system-service CapabilityBoundingSet= \
           EnvironmentFile=/etc/taskflow/ User=taskflow; do
    grep -q "^$k" "$TMP/$u.service" || missing="$missing $k"
  done
  is "$missing" "" "$u.service: sandboxing (NoNewPrivileges, ProtectSystem=strict, PrivateTmp, ...) and an EnvironmentFile for secrets"
  score=$(systemd-analyze security --offline=yes "$TMP/$u.service" 2>/dev/null | sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
  ok "$([[ "${score#* }" =~ ^(OK|SAFE)$ ]]; echo $?)" "$u.service: systemd-analyze security: $score"
done

# verify's silence means something: a misspelled key and a bad value are reported.
sed 's/^NoNewPrivileges=yes/NoNewPrivilege=yes/; s/^ProtectSystem=strict/ProtectSystem=sometimes/' \
  "$TMP/taskflow-http.service" >"$TMP/broken.service"
out=$(systemd-analyze verify "$TMP/broken.service" 2>&1)
ok "$(grep -q "Unknown key 'NoNewPrivilege'" <<<"$out" && grep -q 'sometimes' <<<"$out"; echo $?)" \
  "a misspelled key and a bad value make verify talk"
# and a unit whose binary does not exist fails
sed 's|^ExecStart=.*|ExecStart=/nonexistent/taskflow-http|' "$TMP/taskflow-http.service" >"$TMP/nobin.service"
systemd-analyze verify "$TMP/nobin.service" >/dev/null 2>&1
ok "$([ $? -ne 0 ]; echo $?)" "a unit whose ExecStart does not exist fails verify"
ok "$(grep -q 'KillSignal=SIGTERM' packaging/systemd/taskflow-worker.service && grep -q 'TimeoutStopSec=45s' packaging/systemd/taskflow-worker.service; echo $?)" \
  "taskflow-worker.service stops with SIGTERM and waits past the worker's 30 s shutdown grace"
done_testing
