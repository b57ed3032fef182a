#!/usr/bin/env bash
# The OpenAPI document types what the API returns, for tools used without flags: a TypeScript
# client generated from the served /openapi.json with openapi-typescript must type-check
# (tsc --noEmit) on the natural calls (test/openapi-client/client.ts: schedule a job with an
# object payload and the defaulted fields left out, read a job, its history attempts, queue
# statistics), and the keys the server really returns are the ones the schemas declare.
# Needs Node.js and npm: `npm ci` from test/openapi-client/package-lock.json when
# node_modules is missing or older than the lock file.
. "$(dirname "$0")/http_lib.sh"

CLIENT="$ROOT/test/openapi-client"
command -v npm >/dev/null || fail_setup "npm is not installed (test/deps.sh installs it)"
if [ ! -d "$CLIENT/node_modules" ] || [ "$CLIENT/package-lock.json" -nt "$CLIENT/node_modules" ]; then
  (cd "$CLIENT" && npm ci --no-audit --no-fund >"$T_DIR/npm.log" 2>&1 && touch node_modules) ||
    { sed 's/^/#   /' "$T_DIR/npm.log" | tail -20; fail_setup "npm ci in test/openapi-client failed"; }
fi

ADMIN=$(new_key '' admin)
sql "SELECT taskflow.create_queue('mail')" >/dev/null
start_main "taskflow-http starts" --http-auth-cache-ttl 0
key_args ADM "$ADMIN"

req GET /openapi.json
is "$STATUS" 200 "GET /openapi.json"
printf '%s' "$BODY" >"$T_DIR/openapi.json"

# --- the generated client type-checks -----------------------------------------------------------
rm -rf "$CLIENT/generated" && mkdir -p "$CLIENT/generated"
(cd "$CLIENT" && npx --no-install openapi-typescript "$T_DIR/openapi.json" -o generated/api.d.ts) >"$T_DIR/gen.log" 2>&1
ok $? "openapi-typescript generates a client from the served document" || sed 's/^/#   /' "$T_DIR/gen.log"
# (a property; the empty body of POST /jobs/{id}/retry and the file's `webhooks`/`$defs` exports
# are Record<string, never> by right)
grep -nE '^ *[A-Za-z_]+\??: Record<string, never>' "$CLIENT/generated/api.d.ts" >"$T_DIR/never.txt"
ok $(( ! $? )) "no property in it is typed Record<string, never> (an object that can hold nothing)" ||
  sed 's/^/#   /' "$T_DIR/never.txt"
(cd "$CLIENT" && npx --no-install tsc -p tsconfig.json) >"$T_DIR/tsc.log" 2>&1
ok $? "tsc --noEmit accepts the natural calls in client.ts" || sed 's/^/#   /' "$T_DIR/tsc.log" | head -40

# --- the served responses have exactly the declared keys -----------------------------------------
# keys_of SCHEMA: the property names of components.schemas.SCHEMA, sorted, one line.
keys_of() {
  json_sql "$(cat "$T_DIR/openapi.json")" \
    "SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_object_keys((:'j'::jsonb) #> '{components,schemas,$1,properties}') k"
}
# required_of SCHEMA: its required names, sorted, one line.
required_of() {
  json_sql "$(cat "$T_DIR/openapi.json")" \
    "SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_array_elements_text((:'j'::jsonb) #> '{components,schemas,$1,required}') k"
}
# keys JSON PATH: the keys of the object at PATH ('{}' for the document itself), sorted.
keys() { json_sql "$1" "SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_object_keys((:'j'::jsonb) #> '$2') k"; }

TP=00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01
req POST /jobs "${ADM[@]}" -H "traceparent: $TP" -d '{"job_type": "typed", "queue": "mail", "payload": {"n": 1}}'
JOB=$(json_get "$BODY" '{id}')
req GET "/jobs/$JOB" "${ADM[@]}"
# JobDetail: Job plus the workflow fields get_job has (allOf[1]); list_jobs returns plain Jobs
detail_keys=$(json_sql "$(cat "$T_DIR/openapi.json")" \
  "SELECT string_agg(k, ' ' ORDER BY k) FROM (SELECT jsonb_object_keys((:'j'::jsonb) #> '{components,schemas,Job,properties}') k
     UNION SELECT jsonb_object_keys((:'j'::jsonb) #> '{components,schemas,JobDetail,allOf,1,properties}')) x")
is "$(keys "$BODY" '{}')" "$detail_keys" "GET /jobs/{id} returns exactly the JobDetail schema's properties (Job's and the workflow fields)"
is "$(keys_of Job)" "$(required_of Job)" "and every one of them is required (always present, null when unset)"
req GET "/jobs?queue=mail" "${ADM[@]}"
is "$(keys "$BODY" '{jobs,0}')" "$(keys_of Job)" "GET /jobs returns Job objects too"

# one finished attempt and one running attempt
sql "SELECT taskflow.fail(job_id, lease_token, 'boom', 'first try') FROM taskflow.acquire('w1', ARRAY['mail'])" >/dev/null
sql "UPDATE taskflow.jobs SET next_run_at = now() WHERE id = $JOB" >/dev/null
sql "SELECT count(*) FROM taskflow.acquire('w1', ARRAY['mail'])" >/dev/null
req GET "/jobs/$JOB/history" "${ADM[@]}"
is "$(keys "$BODY" '{}')" "$(keys_of JobHistory)" "GET /jobs/{id}/history returns the JobHistory schema's properties"
is "$(keys "$BODY" '{attempts,0}')" "$(required_of Attempt)" "a finished attempt has the Attempt schema's required keys"
is "$(keys "$BODY" '{attempts,1}')" "$(keys_of Attempt)" "the running attempt has all of them (with lease_expires_at)"
is "$(json_get "$BODY" '{attempts,0,outcome}'):$(json_get "$BODY" '{attempts,1,outcome}')" "failed:running" \
  "the outcomes are in the schema's enum"
is "$(keys "$BODY" '{events,0}')" "$(keys_of JobEvent)" "an event has the JobEvent schema's properties"

# the worker protocol's acquire: every declared key, the traceparent among them
sql "SELECT taskflow.create_queue('typed_pull')" >/dev/null
req POST /jobs "${ADM[@]}" -H "traceparent: $TP" -d '{"job_type": "typed", "queue": "typed_pull"}'
req POST /jobs/acquire "${ADM[@]}" -d '{"worker_id": "typed", "queues": ["typed_pull"]}'
ACQ_REQUIRED=$(json_sql "$(cat "$T_DIR/openapi.json")" \
  "SELECT string_agg(k, ' ' ORDER BY k) FROM jsonb_array_elements_text((:'j'::jsonb) #> '{paths,/jobs/acquire,post,responses,200,content,application/json,schema,properties,jobs,items,required}') k")
is "$(keys "$BODY" '{jobs,0}')" "$ACQ_REQUIRED" "POST /jobs/acquire returns exactly the keys its schema requires"
is "$(json_get "$BODY" '{jobs,0,traceparent}')" "$TP" "with the job's traceparent"

req GET /admin/queues "${ADM[@]}"
is "$(keys "$BODY" '{queues,0}')" "$(keys_of QueueStats)" "GET /admin/queues rows have the QueueStats schema's properties"
is "$(keys_of QueueStats)" "$(required_of QueueStats)" "and every one of them is required"

stop_server main
done_testing
