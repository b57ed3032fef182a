#!/usr/bin/env bash
# Installs the Debian 12 packages TaskFlow needs to build, test and run, when they are missing.
#   bash test/deps.sh            build and run (make run): includes Node.js and npm for the dashboard
#   bash test/deps.sh --browser  also Chromium, for the dashboard's browser tests (make test)
set -euo pipefail
PKGS=(
  postgresql-15 postgresql-server-dev-15 postgresql-15-cron postgresql-15-pgtap postgresql-15-plproxy
  libtap-parser-sourcehandler-pgtap-perl
  libpqxx-dev libspdlog-dev libgtest-dev cmake g++ make
  nlohmann-json3-dev libcli11-dev libcpp-httplib-dev
  prometheus curl python3 openssl libssl-dev jq systemd clang-format
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The dashboard is built with Node.js and npm, and its browser tests drive Chromium. These are
# checked by command, not by package name: a machine may have Node.js from another package that
# bundles npm, and asking apt for Debian's npm there would fight it.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
