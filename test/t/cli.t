#!/usr/bin/env bash
# The taskflow command line (docs/cli.md) end to end against the cluster: every command, its
# JSON parsed, its exit codes, --help on every command. Needs the PG* environment and the binary
# at $TASKFLOW_CLI_BIN (default build/cli/taskflow).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CLI=${TASKFLOW_CLI_BIN:-$ROOT/build/cli/taskflow}
case "$CLI" in /*) ;; *) CLI="$ROOT/$CLI" ;; esac
[ -x "$CLI" ] || { echo "Bail out! no taskflow binary at $CLI (build it, or set TASKFLOW_CLI_BIN)"; exit 1; }
require_db
unset TASKFLOW_DATABASE_URL
plan 120
OUT=$(mktemp /tmp/tfcli.XXXXXX)
ERR=$(mktemp /tmp/tfcli.XXXXXX)
Q=cli_q_$$
QD=cli_dead_$$
T=cli_t_$$
cleanup() {
  sql "$(drop_queues_sql "$Q" "$QD")" >/dev/null 2>&1
  sql "DELETE FROM taskflow.automation_rules WHERE name = 'cli rule $$'; DROP ROLE IF EXISTS cli_nobody_$$" >/dev/null 2>&1
  rm -f "$OUT" "$ERR"
}
trap cleanup EXIT

# tf ARGS...: runs the tool; stdout in $OUT, stderr in $ERR, exit status in $RC.
tf() { "$CLI" "$@" >"$OUT" 2>"$ERR"; RC=$?; }
# jqo FILTER: jq over the last stdout (-e: a false/null result fails)
jqo() { jq -r "$@" <"$OUT"; }

# --- --help on every command, --version, usage errors -------------------------------------------
for cmd in "" status top jobs "jobs list" "jobs show" "jobs retry" "jobs cancel" dead-letters \
           "dead-letters redrive" "dead-letters purge" queues "queues list" "queues pause" "queues resume" \
           "queues create" "queues alter" rules "rules list" "rules enable" "rules disable" "rules fire" tenants; do
  # shellcheck disable=SC2086
  tf $cmd --help
  [ "$RC" -eq 0 ] && grep -q "^Usage: " "$OUT" && grep -q -- "--help" "$OUT"
  ok $? "taskflow $cmd --help exits 0 and prints the usage"
done
tf --help
grep -q "Exit codes: 0 ok" "$OUT" && grep -q "PGSERVICE" "$OUT"
ok $? "the top-level help documents the exit codes and the connection"
tf --version
V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$ROOT/taskflow.control")
is "$RC:$(cat "$OUT")" "0:taskflow $V" "--version is taskflow.control's default_version ($V)"
tf
is "$RC" 1 "no command: usage error (1)"
tf frobnicate
is "$RC" 1 "an unknown command: 1"
tf jobs list --state BOGUS
is "$RC" 1 "an unknown state: 1"
tf jobs show
is "$RC" 1 "jobs show without an id: 1"

# --- connection -------------------------------------------------------------------------------
tf status --db "host=/nonexistent/socket/dir port=1 connect_timeout=2"
is "$RC" 4 "an unreachable server: 4"
grep -q "cannot connect" "$ERR"
ok $? "and says it cannot connect"
tf status --db "dbname=postgres"
is "$RC" 4 "a database without the extension: 4"
grep -q "CREATE EXTENSION taskflow" "$ERR"
ok $? "and says how to install it"
TASKFLOW_DATABASE_URL="postgresql://$PGUSER@127.0.0.1:$PGPORT/$PGDATABASE" "$CLI" status >"$OUT" 2>"$ERR"
is "$?" 0 "a URL in TASKFLOW_DATABASE_URL connects"
"$CLI" --db "postgresql://$PGUSER@127.0.0.1:$PGPORT/$PGDATABASE" --json status >"$OUT" 2>"$ERR"
is "$?:$(jqo '.queues | map(.queue) | index("default") != null')" "0:true" "a URL in --db connects (before the command)"
tf status --json --db "postgresql://$PGUSER@127.0.0.1:$PGPORT/$PGDATABASE"
is "$RC" 0 "--db and --json after the command"
sql "CREATE ROLE cli_nobody_$$ LOGIN" >/dev/null
PGUSER=cli_nobody_$$ "$CLI" status >"$OUT" 2>"$ERR"
is "$?" 5 "a role without TaskFlow's grants: permission denied (5)"

# --- queues -----------------------------------------------------------------------------------
tf queues create "$Q" --priority 5 --lease "2 minutes" --json
is "$RC:$(jqo '"\(.name) \(.priority) \(.effective_lease_ms) \(.paused)"')" "0:$Q 5 120000 false" \
  "queues create: the queue with its settings (JSON)"
tf queues create "$Q"
is "$RC" 3 "creating it again: conflict (3)"
grep -q "already exists" "$ERR"
ok $? "with the server's message"
tf queues create "bad name!"
is "$RC" 1 "a malformed queue name: 1"
tf queues alter "$Q" --concurrency-limit 2 --retry-policy '{"max_attempts": 4, "strategy": "fixed", "base_delay": 1}' --json
is "$RC:$(jqo '"\(.concurrency_limit) \(.retry_policy.max_attempts) \(.retry_policy.strategy) \(.priority)"')" \
  "0:2 4 fixed 5" "queues alter changes only what is given"
tf queues alter "no_such_queue_$$" --priority 1
is "$RC" 2 "altering an unknown queue: not found (2)"
tf queues list
grep -qE "^$Q +5 +- +2 +2.00 s|^$Q +5 +- +2 +2m00s" "$OUT"
ok $? "queues list: a row per queue with priority, paused, limit, lease"
tf queues create "$QD" --retry-policy '{"max_attempts": 1}'
is "$RC" 0 "queues create (text)"
grep -q "queue $QD created" "$OUT"
ok $? "and says so"

# --- status -----------------------------------------------------------------------------------
sql "SELECT taskflow.schedule('cli.a', queue => '$Q', payload => jsonb_build_object('n', i)) FROM generate_series(1, 3) i" >/dev/null
sql "SELECT taskflow.schedule('cli.later', queue => '$Q', run_at => now() + interval '1 hour')" >/dev/null
tf status --json
is "$RC:$(jqo --arg q "$Q" '.queues[] | select(.queue == $q) | "\(.pending) \(.scheduled) \(.running) \(.paused)"')" \
  "0:3 1 0 false" "status --json: depth by state of the queue"
is "$(jqo --arg q "$Q" '.queues[] | select(.queue == $q) | .oldest_waiting_seconds >= 0')" true \
  "and the age of its oldest waiting job"
tf status
grep -qE "^$Q +- +3 +1 +0 +0 +0 +0 +0 +[0-9]+s" "$OUT"
ok $? "status: an aligned row per queue"
head -1 "$OUT" | grep -q "QUEUE  *PAUSED  *PENDING  *SCHEDULED  *RUNNING"
ok $? "under a header"
tf queues pause "$Q"
is "$RC" 0 "queues pause"
tf status --json
is "$(jqo --arg q "$Q" '.queues[] | select(.queue == $q) | .paused')" true "status shows the paused flag"
tf status
grep -qE "^$Q +paused +3" "$OUT"
ok $? "in the table too"
tf queues resume "$Q" --json
is "$RC:$(jqo .paused)" "0:false" "queues resume"
tf queues pause "no_such_queue_$$"
is "$RC" 2 "pausing an unknown queue: 2"
grep -q "does not exist" "$ERR" && ! grep -q "CONTEXT" "$ERR"
ok $? "with the message, without PL/pgSQL context"

# --- jobs list / show -------------------------------------------------------------------------
tf jobs list --queue "$Q" --json
is "$RC:$(jqo 'length')" "0:4" "jobs list --queue: the queue's jobs"
IDS=($(jqo '.[].id'))
is "$(jqo '[.[].state] | sort | unique | join(",")')" "PENDING,SCHEDULED" "with their states"
tf jobs list --queue "$Q" --state scheduled --json
is "$(jqo '[.[].job_type] | join(",")')" "cli.later" "--state (any case) filters"
tf jobs list --queue "$Q" --type cli.a --limit 2 --json
is "$(jqo '[.[].id] | join(",")')" "${IDS[0]},${IDS[1]}" "--type and --limit"
tf jobs list --queue "$Q" --type cli.a --after "${IDS[1]}" --json
is "$(jqo '[.[].id] | join(",")')" "${IDS[2]}" "--after: the next page"
tf jobs list --queue "$Q" --limit 2
grep -q "the next page: --after ${IDS[1]}" "$OUT" && grep -qE "^ *${IDS[0]} +$Q +cli.a +default +PENDING" "$OUT"
ok $? "jobs list: a table, with the next page's cursor"

sql "SELECT taskflow.cancel(${IDS[0]}, reason => 'not needed')" >/dev/null
sql "SELECT taskflow.retry(${IDS[0]})" >/dev/null
tf jobs show "${IDS[0]}"
is "$RC" 0 "jobs show"
grep -q "^Job ${IDS[0]}: cli.a" "$OUT" && grep -q "^Timeline" "$OUT" \
  && grep -qE "^  [0-9-]+ [0-9:.]+ +-> PENDING +$PGUSER +scheduled" "$OUT" \
  && grep -qE "PENDING -> CANCELLED +$PGUSER +cancelled: not needed" "$OUT" \
  && grep -qE "CANCELLED -> PENDING +$PGUSER +retried" "$OUT"
ok $? "a readable timeline: every transition with its actor and reason"
tf jobs show "${IDS[0]}" --json
is "$(jqo '"\(.job.id) \(.events | length) \(.job.state)"')" "${IDS[0]} 3 PENDING" "jobs show --json: job_detail's document"
tf jobs show 999999999
is "$RC" 2 "jobs show of a missing job: 2"

# --- jobs cancel / retry by id ----------------------------------------------------------------
tf jobs cancel "${IDS[1]}" --reason "cli test" --json
is "$RC:$(jqo '"\(.id) \(.state)"')" "0:${IDS[1]} CANCELLED" "jobs cancel ID"
tf jobs cancel "${IDS[1]}"
is "$RC" 3 "cancelling a CANCELLED job: refused by the state machine (3)"
grep -q "cannot cancel job ${IDS[1]}: it is CANCELLED" "$ERR"
ok $? "with the engine's message"
tf jobs cancel 999999999
is "$RC" 2 "cancelling a missing job: 2"
tf jobs retry "${IDS[1]}"
is "$RC" 0 "jobs retry ID"
grep -q "job ${IDS[1]} retried: PENDING" "$OUT"
ok $? "and says the state"
tf jobs retry "${IDS[1]}"
is "$RC" 3 "retrying a PENDING job: 3"
tf jobs cancel "${IDS[1]}" "${IDS[2]}" 999999999 --json
is "$RC:$(jqo '"\(.matched) \(.changed) \(.skipped_count)"')" "3:3 2 1" \
  "jobs cancel with several ids: bulk_jobs' answer; a skipped job exits 3"
tf jobs retry "${IDS[1]}" --queue "$Q"
is "$RC" 1 "ids and a filter together: usage error"
tf jobs retry
is "$RC" 1 "neither ids nor a filter: usage error"

# --- jobs retry / cancel by filter ------------------------------------------------------------
tf jobs retry --queue "$Q" --state CANCELLED
is "$RC" 1 "retry by filter without --yes: exits 1"
grep -q "^2 jobs match (state CANCELLED, queue $Q); nothing was retried. Run again with --yes" "$OUT"
ok $? "showing the count"
is "$(sql "SELECT count(*) FROM taskflow.list_jobs(queue => '$Q', state => 'CANCELLED')")" 2 "and changing nothing"
tf jobs retry --queue "$Q" --state CANCELLED --json
is "$(jqo '"\(.matched) \(.confirmed)"')" "2 false" "the count as JSON"
tf jobs retry --queue "$Q" --state CANCELLED --yes --json
is "$RC:$(jqo '"\(.matched) \(.changed)"')" "0:2 2" "with --yes: retried"
is "$(sql "SELECT count(*) FROM taskflow.list_jobs(queue => '$Q', state => 'PENDING')")" 3 "all pending again"
tf jobs cancel --queue "$Q" --type cli.a --yes --reason "bulk"
is "$RC" 0 "cancel by filter with --yes"
grep -q "^cancelled 3 of 3 jobs" "$OUT"
ok $? "says how many"
tf jobs cancel --queue "$Q" --type no.such.type --yes
is "$RC:$(cat "$OUT")" "0:no jobs match (queue $Q, type no.such.type)" "a filter matching nothing: 0"
tf jobs cancel --queue "$Q" --payload '$.(('
is "$RC" 1 "an invalid payload predicate: 1"

# --- dead letters -----------------------------------------------------------------------------
make_dead() {
  sql "SELECT taskflow.schedule('cli.d', queue => '$QD') FROM generate_series(1, $1)" >/dev/null
  sql "SELECT taskflow.fail(a.job_id, a.lease_token, 'boom', 'it broke') FROM taskflow.acquire('cli-w', ARRAY['$QD'], $1) a" >/dev/null
}
make_dead 2
tf dead-letters --json
is "$RC:$(jqo '.groups[] | select(.job_type == "cli.d") | "\(.error_type) \(.count) \(.sample_error)"')" \
  "0:boom 2 it broke" "dead-letters --json: grouped by type and error"
tf dead-letters
grep -qE "^cli.d +boom +2 +[0-9-]+ [0-9:.]+ +[0-9]+ +it broke$" "$OUT"
ok $? "dead-letters: a table of groups"
tf dead-letters redrive --type cli.d --error-type boom
is "$RC" 1 "redrive without --yes: 1"
grep -q "^2 dead jobs of type cli.d with error type boom; nothing was re-drove" "$OUT" || grep -q "^2 dead jobs" "$OUT"
ok $? "with the count"
is "$(sql "SELECT count(*) FROM taskflow.list_jobs(queue => '$QD', state => 'DEAD')")" 2 "nothing changed"
tf dead-letters redrive --type cli.d --error-type nothing-like-it
is "$RC" 2 "an unknown group: 2"
tf dead-letters redrive --type cli.d --error-type boom --yes --json
is "$RC:$(jqo '"\(.matched) \(.changed)"')" "0:2 2" "redrive --yes: retried"
is "$(sql "SELECT count(*) FROM taskflow.list_jobs(queue => '$QD', state => 'PENDING')")" 2 "the jobs are PENDING"
sql "SELECT taskflow.fail(a.job_id, a.lease_token, 'boom', 'again') FROM taskflow.acquire('cli-w', ARRAY['$QD'], 2) a" >/dev/null
tf dead-letters purge --type cli.d --error-type boom --yes
is "$RC" 0 "purge --yes"
is "$(sql "SELECT count(*) FROM taskflow.list_jobs(queue => '$QD')")" 0 "the dead jobs are gone"
tf dead-letters purge --type cli.d --error-type boom --yes
is "$RC" 2 "purging an empty group: 2"

# --- rules ------------------------------------------------------------------------------------
RULE=$(sql "SELECT taskflow.create_rule('cli rule $$', '{\"type\": \"webhook\"}', '[{\"job_type\": \"cli.r\", \"queue\": \"$Q\", \"payload\": {\"n\": \"{{ \$.event.n }}\"}}]')")
tf rules list --json
is "$RC:$(jqo --argjson id "$RULE" '.[] | select(.rule_id == $id) | "\(.name) \(.enabled)"')" "0:cli rule $$ true" \
  "rules list --json"
tf rules list
grep -qE "^ *$RULE +default +cli rule $$ +\{\"type\":\"webhook\"\} +yes" "$OUT"
ok $? "rules list: a table"
tf rules disable "$RULE"
is "$RC:$(cat "$OUT")" "0:rule $RULE disabled" "rules disable"
tf rules list --disabled --json
is "$(jqo --argjson id "$RULE" '[.[] | select(.rule_id == $id)] | length')" 1 "--disabled lists it"
tf rules list --enabled --json
is "$(jqo --argjson id "$RULE" '[.[] | select(.rule_id == $id)] | length')" 0 "--enabled does not"
tf rules list --enabled --disabled
is "$RC" 1 "--enabled with --disabled: usage error"
tf rules enable "$RULE"
is "$RC" 0 "rules enable"
tf rules fire "$RULE" --context '{"n": 7}' --json
is "$RC:$(jqo '.job_ids | length')" "0:1" "rules fire: the job it created"
JOB=$(jqo '.job_ids[0]')
is "$(sql "SELECT job_type || ' ' || payload::text FROM taskflow.list_jobs(queue => '$Q', job_type => 'cli.r')")" \
  "cli.r {\"n\": 7}" "made from the context"
tf rules fire "$RULE" --context '{"n": 8}'
grep -q "^rule $RULE fired: job [0-9]*$" "$OUT"
ok $? "rules fire (text)"
tf rules fire "$RULE" --json
is "$RC:$(jqo '"\(.job_ids | length) \(.firing.outcome) \(.firing.error_sqlstate)"')" "1:0 error 22023" \
  "a firing that fails (its template needs \$.event.n): the recorded firing, exit code from its SQLSTATE"
tf rules fire "$RULE"
grep -q "the firing failed" "$ERR"
ok $? "and says why"
tf rules enable 999999999
is "$RC" 2 "enabling a missing rule: 2"
tf rules fire "$RULE" --context 'not json'
is "$RC" 1 "a context that is not JSON: 1"

# --- tenants ----------------------------------------------------------------------------------
sql "SELECT taskflow.upsert_tenant('$T'); SELECT taskflow.set_tenant_limit('$T', 7); SELECT taskflow.set_tenant_weight('$T', 3)" >/dev/null
tf tenants --json
is "$RC:$(jqo --arg t "$T" '.tenants[] | select(.tenant_id == $t) | "\(.max_running) \(.weight) \(.running)"')" "0:7 3 0" \
  "tenants --json"
tf tenants
grep -qE "^$T +0 +7 +3 +- +0" "$OUT"
ok $? "tenants: a table"
tf tenants --limit 1 --json
is "$(jqo '.tenants | length')" 1 "--limit"

# --- top --------------------------------------------------------------------------------------
tf top --count 2 --interval 0.2 </dev/null
is "$RC:$(grep -c '^taskflow top ' "$OUT")" "0:2" "top without a terminal prints frames (--count 2)"
grep -qE "^$Q " "$OUT"
ok $? "each with the status table"
tf top --json --count 2 --interval 0.2 </dev/null
is "$RC:$(jq -s 'length' <"$OUT"):$(jq -s --arg q "$Q" '[.[] | .queues[] | select(.queue == $q)] | length' <"$OUT")" "0:2:2" \
  "top --json: one JSON document per frame"
start=$(date +%s)
printf q | "$CLI" top --interval 30 >"$OUT" 2>"$ERR"
RC=$?
is "$RC:$(( $(date +%s) - start < 10 ))" "0:1" "top quits on q (long before the next frame)"
"$CLI" top --interval 0.2 </dev/null >"$OUT" 2>"$ERR" &
pid=$!
for _ in $(seq 1 100); do [ "$(grep -c '^taskflow top ' "$OUT")" -ge 2 ] && break; sleep 0.1; done
kill -INT "$pid"
wait "$pid"
is "$?" 0 "top exits 0 on Ctrl-C (SIGINT)"
[ "$(grep -c '^taskflow top ' "$OUT")" -ge 2 ]
ok $? "after refreshing"

done_testing
