#!/usr/bin/env bash
# Installs the Debian 12 packages TaskFlow needs to build, test and run, when they are missing.
#   bash test/deps.sh            build and run (make run): includes Node.js and npm for the dashboard
#   bash test/deps.sh --browser  also Chromium, for the dashboard's browser tests (make test)
set -euo pipefail
PKGS=(
  postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap
  libtap-parser-sourcehandler-pgtap-perl
  libpqxx-dev libspdlog-dev libgtest-dev cmake g++ make
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  prometheus curl python3 openssl
  nodejs npm
)
# The dashboard's browser tests (test/t/dashboard_browser.t) drive Debian's Chromium.
if [ "${1:-}" = "--browser" ]; then PKGS+=(chromium); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
