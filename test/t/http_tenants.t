#!/usr/bin/env bash
# Tenant isolation through API keys: a client key runs as its tenant's database role (mapped with
# taskflow.grant_tenant), so it reaches exactly what that role reaches through the SQL API.
# Revocation takes effect within the key cache's TTL.
. "$(dirname "$0")/http_lib.sh"

ADMIN=$(new_key '' admin)
ACME=$(new_key acme)
ACME2=$(new_key acme)
GLOBEX=$(new_key globex)
start_main "taskflow-http starts" --http-auth-cache-ttl 1s
key_args A "$ACME"
key_args A2 "$ACME2"
key_args G "$GLOBEX"
key_args ADM "$ADMIN"

is "$(sql "SELECT count(DISTINCT db_role) || ' ' || count(*) FROM taskflow.api_keys WHERE tenant_id = 'acme'")" "1 2" \
  "two keys of one tenant share its database role"
is "$(sql "SELECT m.tenant_id FROM taskflow.tenant_roles m JOIN taskflow.api_keys k ON m.role_name::text = k.db_role WHERE k.tenant_id = 'globex' LIMIT 1")" \
  globex "the tenant's role is mapped with taskflow.grant_tenant"
is "$(sql "SELECT count(*) FROM taskflow.api_keys WHERE key_hash = sha256(convert_to('$ACME', 'UTF8'))")|$(sql "SELECT count(*) FROM taskflow.api_keys WHERE prefix = '$ACME'")" \
  "1|0" "only the key's SHA-256 is stored, not the key"

is "$(sql "SELECT string_agg(prefix || ':' || COALESCE(tenant_id, '-') || ':' || role, ',' ORDER BY id) FROM taskflow.list_api_keys()")" \
  "${ADMIN:0:12}:-:admin,${ACME:0:12}:acme:client,${ACME2:0:12}:acme:client,${GLOBEX:0:12}:globex:client" \
  "list_api_keys shows prefixes, tenants and roles"
psql -X -q -c "SELECT taskflow.create_api_key('acme', 'owner')" 2>"$T_DIR/err1"
grep -q 'role must be' "$T_DIR/err1"
ok $? "create_api_key refuses an unknown role"
psql -X -q -c "SELECT taskflow.create_api_key(NULL)" 2>"$T_DIR/err2"
grep -q 'needs a tenant_id' "$T_DIR/err2"
ok $? "create_api_key refuses a client key without a tenant"
is "$(sql "SELECT taskflow.revoke_api_key('tfk_nosuchkey')")" f "revoke_api_key of an unknown key: false"
is "$(sql "SELECT has_function_privilege('taskflow_client', 'taskflow.create_api_key(text, text)', 'EXECUTE')")|$(sql "SELECT has_function_privilege('taskflow_http', 'taskflow.authenticate_api_key(text)', 'EXECUTE')")|$(sql "SELECT has_function_privilege('taskflow_http', 'taskflow.create_api_key(text, text)', 'EXECUTE')")" \
  "f|t|f" "keys are created by admins only; the server's role may only look them up"

req POST /jobs "${A[@]}" -d '{"job_type": "acme.job"}'
AJOB=$(json_get "$BODY" '{id}')
req POST /jobs "${G[@]}" -d '{"job_type": "globex.job"}'
GJOB=$(json_get "$BODY" '{id}')
is "$(sql "SELECT string_agg(tenant_id, ',' ORDER BY id) FROM taskflow.jobs WHERE id IN ($AJOB, $GJOB)")" "acme,globex" \
  "each key schedules for its own tenant"

# --- a parent of another tenant is answered as a missing one ----------------------------------
MISSING=$(sql "SELECT max(id) + 1000000 FROM taskflow.jobs")
req POST /jobs "${A[@]}" -d "{\"job_type\": \"acme.child\", \"parent_job_id\": $GJOB}"
foreign="$STATUS $(echo "$BODY" | sed "s/job $GJOB\b/job N/g")"
req POST /jobs "${A[@]}" -d "{\"job_type\": \"acme.child\", \"parent_job_id\": $MISSING}"
missing="$STATUS $(echo "$BODY" | sed "s/job $MISSING\b/job N/g")"
is "$foreign" "$missing" "POST /jobs with another tenant's job as parent: the same answer as for a missing parent"
is "$(sql "SELECT count(*) FROM taskflow.jobs WHERE parent_job_id = $GJOB")" 0 "and no acme job hangs under globex's job"

# --- reads --------------------------------------------------------------------------------------
req GET "/jobs/$AJOB" "${A2[@]}"
is "$STATUS" 200 "another key of the same tenant reads the job"
req GET "/jobs/$GJOB" "${A[@]}"
is_problem 404 "acme reading globex's job: as if it did not exist"
req GET "/jobs/$GJOB/history" "${A[@]}"
is_problem 404 "acme reading globex's job history"
req GET /jobs "${A[@]}"
is "$(json_sql "$BODY" "SELECT string_agg(DISTINCT j->>'tenant_id', ',') FROM jsonb_array_elements((:'j'::jsonb)->'jobs') j")" acme \
  "acme lists only acme's jobs"
req GET "/jobs?tenant=globex" "${A[@]}"
is "$STATUS:$(json_sql "$BODY" "SELECT jsonb_array_length((:'j'::jsonb)->'jobs')")" "200:0" \
  "acme asking for globex's jobs gets none"
req GET /jobs "${ADM[@]}"
is "$(json_sql "$BODY" "SELECT string_agg(DISTINCT j->>'tenant_id', ',' ORDER BY j->>'tenant_id') FROM jsonb_array_elements((:'j'::jsonb)->'jobs') j")" \
  "acme,globex" "an admin key lists every tenant"

# --- writes -------------------------------------------------------------------------------------
req POST "/jobs/$GJOB/cancel" "${A[@]}"
is_problem 404 "acme cancelling globex's job: does not exist"
is "$(sql "SELECT state FROM taskflow.jobs WHERE id = $GJOB")" PENDING "and the job is untouched"
req POST "/jobs/$GJOB/cancel" "${G[@]}"
is "$STATUS:$(json_get "$BODY" '{state}')" "200:CANCELLED" "globex cancels its own job"
req POST "/jobs/$GJOB/retry" "${A[@]}"
is_problem 404 "acme retrying globex's cancelled job: 404, not 409"
req POST /jobs "${A[@]}" -d '{"job_type": "x", "tenant_id": "globex"}'
is_problem 403 "acme scheduling for globex"
req POST /jobs "${A[@]}" -d '{"job_type": "x", "tenant_id": "acme"}'
is "$STATUS" 201 "acme naming its own tenant"
req GET /admin/queues "${A[@]}"
is_problem 403 "a client key on /admin/queues"
req POST "/jobs/$AJOB/cancel" "${ADM[@]}"
is "$STATUS:$(json_get "$BODY" '{state}')" "200:CANCELLED" "an admin key cancels any tenant's job"

# --- revocation ---------------------------------------------------------------------------------
req GET "/jobs/$AJOB" "${A2[@]}"
is "$STATUS" 200 "the second acme key works"
is "$(sql "SELECT taskflow.revoke_api_key('$ACME2')")" t "revoke_api_key with the full key"
sleep 1.2
req GET "/jobs/$AJOB" "${A2[@]}"
is_problem 401 "a revoked key is refused once the cache TTL (1 s) has passed"
req GET "/jobs/$AJOB" "${A[@]}"
is "$STATUS" 200 "the tenant's other key still works"

done_testing
