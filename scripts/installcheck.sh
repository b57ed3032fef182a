#!/usr/bin/env bash
# `make installcheck`: the pgTAP suites (test/sql/*.sql) against an installed server.
#   scripts/installcheck.sh DB               create database DB (dropped first if it exists), install
#                                            taskflow and pgtap in it, run the suites, drop it
#   scripts/installcheck.sh --existing DB    run the suites in DB as it is (taskflow installed;
#                                            pgtap is created when missing): test/t/upgrade.t
# The server comes from the libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...), as for
# psql; the user must be a superuser. The server needs shared_preload_libraries = 'taskflow'
# (and pg_cron for the cron suites) and the pgTAP extension (Debian: postgresql-15-pgtap).
# The suites that need pg_cron (cron.job, cron rules) run only where pg_cron is installed: pg_cron lives in
# one database per server (cron.database_name); the others are listed as not run.
set -uo pipefail
cd "$(dirname "$0")/.."
existing=0
if [ "${1:-}" = "--existing" ]; then existing=1; shift; fi
DB=${1:?usage: scripts/installcheck.sh [--existing] DB}
command -v pg_prove >/dev/null || { echo "installcheck: pg_prove not found (Debian: apt-get install libtap-parser-sourcehandler-pgtap-perl)" >&2; exit 2; }
psql_db() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" "${@:2}"; }

if [ "$existing" -eq 0 ]; then
  PGOPTIONS="-c client_min_messages=warning" psql_db postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" -c "CREATE DATABASE \"$DB\"" || exit 2
  trap 'psql_db postgres -c "DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)" >/dev/null 2>&1' EXIT
  psql_db "$DB" -c "CREATE EXTENSION taskflow" || exit 2
  if [ "$(psql_db "$DB" -c "SELECT current_setting('cron.database_name', true) = current_database()")" = t ]; then
    psql_db "$DB" -c "CREATE EXTENSION IF NOT EXISTS pg_cron" || exit 2
  fi
fi
PGOPTIONS="-c client_min_messages=warning" psql_db "$DB" -c "CREATE EXTENSION IF NOT EXISTS pgtap" || exit 2
echo "installcheck: taskflow $(psql_db "$DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'taskflow'") in database $DB"

suites=()
for f in test/sql/*.sql; do
  if grep -qE 'cron\.job|"type": *"cron"' "$f" \
     && [ "$(psql_db "$DB" -c "SELECT count(*) FROM pg_extension WHERE extname = 'pg_cron'")" = 0 ]; then
    echo "installcheck: not run: $f (needs pg_cron, which is not installed in $DB)"
    continue
  fi
  suites+=("$f")
done
PGDATABASE=$DB pg_prove ${PG_PROVE_FLAGS:-} "${suites[@]}"
