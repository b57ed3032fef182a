#!/usr/bin/env bash
# Workflows over HTTP (issue 13): POST /jobs with depends_on, POST /workflows (201, Location, ids
# by key; a cycle is 422 and writes nothing), GET /workflows/{id} (another tenant's is 404),
# GET /workflows, POST /workflows/{id}/cancel.
. "$(dirname "$0")/http_lib.sh"

ACME=$(new_key acme)
OTHER=$(new_key other)
Q="hwf_$$"
sql "SELECT taskflow.create_queue('$Q')" >/dev/null
start_main "taskflow-http starts and listens" --http-auth-cache-ttl 0
key_args AUTH "$ACME"
key_args OTH "$OTHER"
JSON=(-H 'Content-Type: application/json')

req POST /jobs "${AUTH[@]}" "${JSON[@]}" -d '{"job_type": "a", "queue": "'$Q'"}'
A=$(json_get "$BODY" '{id}')
req POST /jobs "${AUTH[@]}" "${JSON[@]}" -d '{"job_type": "b", "queue": "'$Q'", "depends_on": ['$A'], "on_dependency_failure": "run"}'
is "$STATUS" 201 "POST /jobs with depends_on: 201"
B=$(json_get "$BODY" '{id}')
is "$(sql "SELECT state || ' ' || dependencies_pending || ' ' || tenant_id FROM taskflow.jobs WHERE id = $B")" "SCHEDULED 1 acme" \
  "the job waits for its dependency, in the key's tenant"
req POST /jobs "${OTH[@]}" "${JSON[@]}" -d '{"job_type": "b", "queue": "'$Q'", "depends_on": ['$A']}'
is "$STATUS" 422 "depending on another tenant's job: 422"
req POST /jobs "${AUTH[@]}" "${JSON[@]}" -d '{"job_type": "b", "queue": "'$Q'", "depends_on": "x"}'
is "$STATUS" 400 "depends_on that is not an array of ids: 400"

SPEC='{"name": "report-42", "nodes": [{"key": "p1", "job_type": "render", "queue": "'$Q'"},
  {"key": "p2", "job_type": "render", "queue": "'$Q'"}, {"key": "merge", "job_type": "merge", "queue": "'$Q'"}],
  "edges": [{"from": "p1", "to": "merge"}, {"from": "p2", "to": "merge"}]}'
req POST /workflows "${AUTH[@]}" "${JSON[@]}" -d "$SPEC"
is "$STATUS" 201 "POST /workflows: 201"
W=$(json_get "$BODY" '{workflow_id}')
is "$(header Location)" "/workflows/$W" "Location names the workflow"
MERGE=$(json_get "$BODY" '{jobs,merge}')
is "$(sql "SELECT state || ' ' || tenant_id FROM taskflow.jobs WHERE id = $MERGE")" "SCHEDULED acme" \
  "ids by key; the fan-in node waits, in the key's tenant"

before=$(sql "SELECT count(*) FROM taskflow.jobs")
req POST /workflows "${AUTH[@]}" "${JSON[@]}" -d '{"nodes": [{"key": "a", "job_type": "x", "queue": "'$Q'"}, {"key": "b", "job_type": "x", "queue": "'$Q'"}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}'
is "$STATUS:$(json_get "$BODY" '{detail}')" '422:workflow has a cycle: "a" -> "b" -> "a"' "a cycle: 422 naming it"
is "$(sql "SELECT count(*) FROM taskflow.jobs")" "$before" "and nothing was written"
req POST /workflows "${AUTH[@]}" "${JSON[@]}" -d '{"nodes": [], "bogus": 1}'
is "$STATUS" 400 "an unknown body key: 400"

req GET "/workflows/$W" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{state}'):$(json_get "$BODY" '{counts,SCHEDULED}')" "200:running:1" "GET /workflows/{id}: state and counts"
req GET "/workflows/$W" "${OTH[@]}"
is "$STATUS" 404 "another tenant's workflow: 404"
req GET "/workflows?limit=10" "${AUTH[@]}"
is "$STATUS:$(json_get "$BODY" '{workflows,0,name}')" "200:report-42" "GET /workflows lists it"
req GET "/workflows" "${OTH[@]}"
is "$(json_get "$BODY" '{workflows}')" "[]" "not to another tenant"
req POST "/workflows/$W/cancel" "${OTH[@]}" "${JSON[@]}" -d '{}'
is "$STATUS" 404 "another tenant cannot cancel it: 404"
req POST "/workflows/$W/cancel" "${AUTH[@]}" "${JSON[@]}" -d '{"reason": "not needed"}'
is "$STATUS:$(json_get "$BODY" '{cancelled}')" "200:2" "POST /workflows/{id}/cancel cancels the roots"
is "$(sql "SELECT string_agg(state::text, ',' ORDER BY id) FROM taskflow.jobs WHERE id IN (SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = $W)")" \
  "CANCELLED,CANCELLED,CANCELLED" "and the waiting merge follows"
done_testing
