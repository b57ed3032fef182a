#!/usr/bin/env bash
# The push executors hand a job its dependencies' results (docs/worker.md, docs/workflows.md):
# a real worker runs a fan-in workflow whose fan-in handlers are a command (reads
# TASKFLOW_DEPENDENCIES, or TASKFLOW_DEPENDENCIES_FILE when the JSON is over 64 KiB) and an
# sql statement (reads current_setting('taskflow_job.dependencies')); their results prove what
# they saw.
source "$(dirname "$0")/worker_lib.sh"

Q="wt_wfexec_$$"
make_queue "$Q" 1
# part: its result is {"part": <payload>}; a payload with "big": true adds 70,000 bytes to it
cat >"$T_DIR/part.sh" <<'SH'
#!/bin/sh
p=$(cat)
case "$p" in
  *'"big":true'*) printf '{"part": %s, "pad": "%s"}' "$p" "$(head -c 70000 /dev/zero | tr '\0' x)" ;;
  *) printf '{"part": %s}' "$p" ;;
esac
SH
# fanin: what it saw, and where from
cat >"$T_DIR/fanin.sh" <<'SH'
#!/bin/sh
if [ -n "${TASKFLOW_DEPENDENCIES_FILE:-}" ]; then
  printf '{"from": "file", "env_set": "%s", "seen": ' "${TASKFLOW_DEPENDENCIES+yes}"
  cat "$TASKFLOW_DEPENDENCIES_FILE"
  printf ', "file": "%s"}' "$TASKFLOW_DEPENDENCIES_FILE"
else
  printf '{"from": "env", "seen": %s}' "${TASKFLOW_DEPENDENCIES:-null}"
fi
SH
chmod +x "$T_DIR/part.sh" "$T_DIR/fanin.sh"
cat >"$T_DIR/handlers.json" <<JSON
{"handlers": {
  "wfx.part": {"executor": "command", "command": ["$T_DIR/part.sh"]},
  "wfx.fanin": {"executor": "command", "command": ["$T_DIR/fanin.sh"]},
  "wfx.sqlsum": {"executor": "sql", "statement": "SELECT sum((d -> 'result' -> 'part' ->> 'n')::int) AS total, count(*) AS parents, (\$1::jsonb ->> 'tag') AS tag FROM jsonb_array_elements(current_setting('taskflow_job.dependencies')::jsonb) d"}
}}
JSON

# workflow NAME BIG: p1, p2 -> fanin, sqlsum; a lone job without dependencies too
workflow() {
  sql "SELECT taskflow.schedule_workflow(jsonb_build_object('name', '$1',
         'nodes', jsonb_build_array(
           jsonb_build_object('key', 'p1', 'job_type', 'wfx.part', 'queue', '$Q', 'payload', jsonb_build_object('n', 1)),
           jsonb_build_object('key', 'p2', 'job_type', 'wfx.part', 'queue', '$Q', 'payload', jsonb_build_object('n', 2, 'big', $2)),
           jsonb_build_object('key', 'fanin', 'job_type', 'wfx.fanin', 'queue', '$Q'),
           jsonb_build_object('key', 'sqlsum', 'job_type', 'wfx.sqlsum', 'queue', '$Q', 'payload', jsonb_build_object('tag', '$1'))),
         'edges', jsonb_build_array(
           jsonb_build_object('from', 'p1', 'to', 'fanin'), jsonb_build_object('from', 'p2', 'to', 'fanin'),
           jsonb_build_object('from', 'p1', 'to', 'sqlsum'), jsonb_build_object('from', 'p2', 'to', 'sqlsum'))))
       ->> 'workflow_id'"
}
node() { echo "(SELECT n.job_id FROM taskflow.workflow_nodes n WHERE n.workflow_id = $1 AND n.node_key = '$2')"; }

small=$(workflow small false)
big=$(workflow big true)
lone=$(sql "SELECT taskflow.schedule('wfx.fanin', queue => '$Q')")
TASKFLOW_DEPENDENCIES='["the worker'"'"'s own"]' start_worker w --queue "$Q" --concurrency 2 --config "$T_DIR/handlers.json"
wait_until 40 "SELECT taskflow.workflow_status($small) ->> 'state' = 'succeeded' AND taskflow.workflow_status($big) ->> 'state' = 'succeeded'
               AND (SELECT state = 'SUCCEEDED' FROM taskflow.jobs WHERE id = $lone)"
ok $? "both workflows and the lone job succeeded" || show_log w

r() { echo "(SELECT result FROM taskflow.jobs WHERE id = $(node "$1" "$2"))"; }
is "$(sql "SELECT $(r "$small" fanin) ->> 'from' || ':' || string_agg((d ->> 'job_id') || '/' || (d ->> 'key') || '/' || (d ->> 'state') || '/' || (d -> 'result' -> 'part' ->> 'n'), ',' ORDER BY d ->> 'key')
           FROM jsonb_array_elements($(r "$small" fanin) -> 'seen') d")" \
   "env:$(sql "SELECT $(node "$small" p1)")/p1/SUCCEEDED/1,$(sql "SELECT $(node "$small" p2)")/p2/SUCCEEDED/2" \
   "command fan-in: TASKFLOW_DEPENDENCIES held both parents (id, key, state) with their results"
is "$(sql "SELECT ($(r "$small" fanin) -> 'seen') = taskflow.dependency_results($(node "$small" fanin))")" "t" \
   "command fan-in: what it saw is exactly dependency_results"
is "$(sql "SELECT $(r "$big" fanin) ->> 'from' || ':' || COALESCE($(r "$big" fanin) ->> 'env_set', '') || ':' || length($(r "$big" fanin) -> 'seen' -> 1 -> 'result' ->> 'pad') || ':' || (($(r "$big" fanin) -> 'seen') = taskflow.dependency_results($(node "$big" fanin)))")" \
   "file::70000:true" "command fan-in over 64 KiB: TASKFLOW_DEPENDENCIES_FILE held the whole array, TASKFLOW_DEPENDENCIES unset"
f=$(sql "SELECT $(r "$big" fanin) ->> 'file'")
ok $( [ -n "$f" ] && [ ! -e "$f" ] && echo 0 || echo 1 ) "the dependencies file ($f) is gone after the run"
is "$(sql "SELECT result FROM taskflow.jobs WHERE id = $lone")" '{"from": "env", "seen": null}' \
   "a job without dependencies gets no TASKFLOW_DEPENDENCIES, not even the worker's own"
is "$(sql "SELECT $(r "$small" sqlsum) -> 'rows' -> 0")" '{"tag": "small", "total": 3, "parents": 2}' \
   "sql fan-in: current_setting('taskflow_job.dependencies') held both parents' results, \$1 the payload"
stop_worker w TERM
is "$W_STATUS" 0 "the worker exits 0"
done_testing
