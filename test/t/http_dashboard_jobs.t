#!/usr/bin/env bash
# The dashboard's jobs routes: search with keyset pages, capped counts, bulk actions with a
# confirmed count, a job's detail, dead letters; a tenant's key sees and touches only its jobs.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
ACME=$(new_key acme)
GLOBEX=$(new_key globex)
start_main "taskflow-http starts"
key_args A "$ACME"
key_args G "$GLOBEX"
key_args ADM "$ADMIN"

for i in 1 2 3 4 5; do req POST /jobs "${A[@]}" -d "{\"job_type\": \"mail\", \"payload\": {\"n\": $i}}"; done
req POST /jobs "${G[@]}" -d '{"job_type": "globex.job"}'
GJOB=$(json_get "$BODY" '{id}')

req GET '/dashboard/api/jobs?limit=2' "${A[@]}"
is "$STATUS $(json_sql "$BODY" "SELECT jsonb_array_length(:'j'::jsonb -> 'jobs') || ' ' || (:'j'::jsonb ->> 'next_after' IS NOT NULL)")" \
  "200 2 true" "a page of 2 with a cursor"
seen=$(json_sql "$BODY" "SELECT string_agg(x ->> 'id', ',') FROM jsonb_array_elements(:'j'::jsonb -> 'jobs') x")
after=$(json_get "$BODY" '{next_after}')
while [ -n "$after" ]; do
  req GET "/dashboard/api/jobs?limit=2&after=$after" "${A[@]}"
  more=$(json_sql "$BODY" "SELECT string_agg(x ->> 'id', ',') FROM jsonb_array_elements(:'j'::jsonb -> 'jobs') x")
  [ -n "$more" ] && seen="$seen,$more"
  after=$(json_get "$BODY" '{next_after}')
done
is "$(echo "$seen" | tr ',' '\n' | sort -n | tr '\n' ' ')" \
  "$(sql "SELECT string_agg(id::text, ' ' ORDER BY id) || ' ' FROM taskflow.jobs WHERE tenant_id = 'acme'")" \
  "the pages of a tenant's key cover its jobs exactly once, and only its jobs"

req GET '/dashboard/api/jobs?payload=%24.n%20%3E%203&state=PENDING,SCHEDULED' "${A[@]}"
is "$STATUS $(json_sql "$BODY" "SELECT jsonb_array_length(:'j'::jsonb -> 'jobs')")" "200 2" "payload jsonpath and states filter"
req GET '/dashboard/api/jobs?payload=%24x%20%3D%3D%201' "${A[@]}"
is_problem 422 "a jsonpath with a variable"
req GET '/dashboard/api/jobs?state=DONE' "${A[@]}"
is_problem 400 "an unknown state"
req GET '/dashboard/api/jobs?colour=red' "${A[@]}"
is_problem 400 "an unknown parameter"

req GET '/dashboard/api/jobs/count?job_type=mail' "${A[@]}"
is "$STATUS $BODY" '200 {"count" : 5, "capped" : false}' "count"
req GET '/dashboard/api/jobs/count' "${G[@]}"
is "$(json_get "$BODY" '{count}')" "1" "another tenant's key counts its own jobs only"

req POST /dashboard/api/jobs/bulk "${A[@]}" -d '{"action": "cancel", "filter": {"job_type": "mail"}, "expected_count": 3}'
is_problem 409 "a filter matching more jobs than confirmed"
req POST /dashboard/api/jobs/bulk "${A[@]}" -d "{\"action\": \"cancel\", \"ids\": [$GJOB]}"
is "$STATUS $(json_get "$BODY" '{skipped,0,reason}')" "200 job $GJOB does not exist" "bulk on another tenant's id: not found"
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $GJOB")" PENDING "and it is untouched"
req POST /dashboard/api/jobs/bulk "${A[@]}" -d '{"action": "cancel", "filter": {"job_type": "mail"}, "expected_count": 5}'
is "$STATUS $(json_get "$BODY" '{changed}')" "200 5" "bulk cancel by filter with the confirmed count"
req POST /dashboard/api/jobs/bulk "${A[@]}" -d '{"action": "purge", "filter": {"job_type": "mail"}, "expected_count": 5}'
is_problem 403 "purge with a client key"
req POST /dashboard/api/jobs/bulk "${ADM[@]}" -d '{"action": "purge", "filter": {"job_type": "mail", "state": ["CANCELLED"]}, "expected_count": 5}'
is "$STATUS $(json_get "$BODY" '{changed}')" "200 5" "purge with an admin key"

req GET "/dashboard/api/jobs/$GJOB" "${G[@]}"
is "$STATUS $(json_get "$BODY" '{job,id}') $(json_get "$BODY" '{origin,kind}') $(json_get "$BODY" '{events,0,to_state}')" \
  "200 $GJOB caller PENDING" "job detail: the job, its origin and timeline"
req GET "/dashboard/api/jobs/$GJOB" "${A[@]}"
is_problem 404 "another tenant's job detail (typing its URL)"
req GET "/dashboard/api/jobs/count" "${ADM[@]}"
is "$STATUS" 200 "count is not taken for a job id"

req GET /dashboard/api/dead-letters "${A[@]}"
is "$STATUS $BODY" '200 {"capped": false, "groups": []}' "dead letters"
req POST /dashboard/api/dead-letters/redrive "${A[@]}" -d '{"job_type": "mail", "error_type": "x"}'
is "$STATUS $(json_get "$BODY" '{changed}')" "200 0" "re-drive an empty group"
req POST /dashboard/api/dead-letters/purge "${A[@]}" -d '{"job_type": "mail", "error_type": "x"}'
is_problem 403 "dead-letter purge with a client key"

req GET /openapi.json
is "$(json_sql "$BODY" "SELECT count(*) FROM jsonb_object_keys(:'j'::jsonb -> 'paths') k WHERE k LIKE '/dashboard/api/jobs%' OR k LIKE '/dashboard/api/dead-letters%'")" \
  "7" "OpenAPI documents the dashboard's job routes"

done_testing
