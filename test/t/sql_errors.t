#!/usr/bin/env bash
# Errors of the SQL API as psql shows them (VERBOSITY default, SHOW_CONTEXT errors): an error
# TaskFlow raises on purpose has its message, its hint where one helps, and no CONTEXT naming
# TaskFlow's internal functions (extension/pg/error_context.cpp; docs/functions.md, "Errors").
# The caller's own frames stay, and so does the context of errors nobody raised on purpose.
# Needs the PG* environment of test/pgcluster.sh.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
require_db
plan 10
Q=sqlerr_q_$$
trap 'sql "SELECT taskflow.drop_queue('"'$Q'"')" >/dev/null 2>&1' EXIT
sql "SELECT taskflow.create_queue('$Q')" >/dev/null

# errors STATEMENTS [PSQL-ARGS...]: psql's full error report of each statement (stderr).
errors() {
  local s=$1; shift
  psql -X -q "$@" -v VERBOSITY=default 2>&1 >/dev/null <<<"$s" | sed 's/^psql:<stdin>:[0-9]*: //'
}
HINT_QUEUE="HINT:  List the queues with SELECT name FROM taskflow.queues (or: taskflow queues list); create one with SELECT taskflow.create_queue('name')."

is "$(errors "SELECT taskflow.pause_queue('no_such_queue')")" \
"ERROR:  queue \"no_such_queue\" does not exist
$HINT_QUEUE" "pause_queue of an unknown queue: the message and a hint, no CONTEXT"
is "$(errors "SELECT taskflow.resume_queue('no_such_queue')")" \
"ERROR:  queue \"no_such_queue\" does not exist
$HINT_QUEUE" "resume_queue of an unknown queue"
is "$(errors "SELECT taskflow.metrics(-1)")" \
"ERROR:  max_tenants must be between 0 and 1000
HINT:  Per-tenant series are bounded so that many tenants cannot blow up a scrape." \
  "a PL/pgSQL public function's own RAISE (metrics): no CONTEXT"
is "$(errors "SELECT taskflow.create_queue('$Q', retry_policy => '{\"max_attempts\": 0}')")" \
"ERROR:  retry policy max_attempts must be at least 1, got 0" \
  "create_queue with a bad retry policy (raised by an internal helper): no CONTEXT"
is "$(errors "SELECT taskflow.create_queue('bad name!')")" \
"ERROR:  queue name contains a character that is not allowed
HINT:  Use only letters A-Z a-z, digits, '_', '.', ':' and '-'." \
  "create_queue with a bad name (a C check under PL/pgSQL): no CONTEXT"
is "$(errors "SELECT taskflow.schedule('x', queue => 'nope_$$')")" \
"ERROR:  queue \"nope_$$\" does not exist
HINT:  Create it first: SELECT taskflow.create_queue('nope_$$');" "schedule into an unknown queue (C)"
is "$(errors "SELECT taskflow.create_rule('r', trigger => '{\"type\": \"bogus\"}', actions => '[]')")" \
"ERROR:  trigger.type must be cron, webhook or event, got \"bogus\"
HINT:  Examples: {\"type\": \"cron\", \"schedule\": \"0 7 * * *\"}, {\"type\": \"webhook\"}, {\"type\": \"event\", \"on\": \"job_succeeded\", \"job_type\": \"import\"}" \
  "create_rule with a bad trigger"
# the caller's frames stay: the statement its function ran, and the function's line
is "$(errors "DO \$\$ BEGIN PERFORM taskflow.pause_queue('no_such_queue'); END \$\$")" \
"ERROR:  queue \"no_such_queue\" does not exist
$HINT_QUEUE
CONTEXT:  SQL statement \"SELECT taskflow.pause_queue('no_such_queue')\"
PL/pgSQL function inline_code_block line 1 at PERFORM" \
  "called from the caller's own PL/pgSQL: its frames are kept, TaskFlow's are not"
is "$(errors "DO \$\$ BEGIN RAISE EXCEPTION 'mine'; END \$\$")" \
"ERROR:  mine
CONTEXT:  PL/pgSQL function inline_code_block line 1 at RAISE" "the caller's own RAISE keeps its CONTEXT"
# VERBOSITY verbose: still no internal frame (only the SQLSTATE and the location are added)
out=$(psql -X -q -v VERBOSITY=verbose -c "SELECT taskflow.pause_queue('no_such_queue')" 2>&1)
ok "$(grep -q '^ERROR:  42704: queue "no_such_queue" does not exist' <<<"$out" && ! grep -q 'CONTEXT\|_set_queue_paused' <<<"$out"; echo $?)" \
  "VERBOSITY verbose: the SQLSTATE, no internal frame"

done_testing
