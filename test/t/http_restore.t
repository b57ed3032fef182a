#!/usr/bin/env bash
# Restoring onto a new server (docs/deploy.md): API keys live in taskflow.api_keys (pg_dump copies
# them), their database roles are cluster-wide (pg_dump does not). A second cluster stands for
# the new server.
#   - Restored without the roles: a request with a client key is a 500 problem
#     /problems/role-missing naming the role and pg_dumpall --globals-only (it was a 422 about an
#     invalid parameter: PostgreSQL's 22023 from SET ROLE), and the documented check query lists
#     the key.
#   - Roles restored after the database (tenant_roles then lost): the key is refused with a 500
#     /problems/role-unmapped (it used to act as tenant 'default'), until grant_tenant maps it.
#   - Roles first (pg_dumpall --globals-only), then the database: the key works and is confined
#     to its tenant, and the check query lists nothing.
. "$(dirname "$0")/http_lib.sh"

TENANT="restore_$$"
KEY=$(new_key "$TENANT")
ADMIN=$(new_key '' admin)
sql "SELECT taskflow.schedule('r', '{}', tenant_id => '$TENANT'), taskflow.schedule('r', '{}', tenant_id => 'default')" >/dev/null
ROLE=$(sql "SELECT db_role FROM taskflow.api_keys WHERE tenant_id = '$TENANT'")
CHECK_SQL="SELECT k.prefix || ' ' || k.db_role || ' ' ||
       CASE WHEN pg_catalog.to_regrole(pg_catalog.quote_ident(k.db_role)) IS NULL THEN 'role missing'
            ELSE 'not confined to its tenant' END
FROM taskflow.api_keys k
WHERE k.revoked_at IS NULL AND k.role = 'client'
  AND NOT EXISTS (SELECT FROM taskflow.tenant_roles m
                  WHERE m.role_name = pg_catalog.to_regrole(pg_catalog.quote_ident(k.db_role))
                    AND m.tenant_id = k.tenant_id)"
grep -qF "$(echo "$CHECK_SQL" | head -1)" "$ROOT/docs/deploy.md"
ok $? "the check query is the one docs/deploy.md shows"

pg_dump -Fc -f "$T_DIR/db.dump" "$T_DB"
ok $? "pg_dump -Fc of the database"
pg_dumpall --globals-only -f "$T_DIR/globals.sql"
ok $? "pg_dumpall --globals-only"

# The new server: a cluster of its own.
C2=$(mktemp -d /tmp/tfrestore.XXXXXX)
ENV2=$(TASKFLOW_TEST_DB=tf_restore_main bash "$ROOT/test/pgcluster.sh" start "$C2" 2>&1)
ok $? "a second cluster (the new server)"
trap 'bash "$ROOT/test/pgcluster.sh" stop "$C2"; t_cleanup' EXIT
on2() { (eval "$ENV2"; psql -X -q -At "$@"); }
PORT2=$( (eval "$ENV2"; echo "$PGPORT") )
on2 -d postgres -c "CREATE DATABASE restored" >/dev/null
(eval "$ENV2"; pg_restore -d restored "$T_DIR/db.dump") >"$T_DIR/restore1.log" 2>&1
grep -q "role \"$ROLE\" does not exist" "$T_DIR/restore1.log"
ok $? "pg_restore without the roles reports the key's missing role ($ROLE)"
on2 -d restored -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$T_LOGIN') THEN CREATE ROLE $T_LOGIN LOGIN NOINHERIT; END IF; END\$\$" \
  -c "GRANT taskflow_http TO $T_LOGIN" >/dev/null 2>&1

T_URL="postgresql://$T_LOGIN@127.0.0.1:$PORT2/restored"
start_server restored
ok $? "taskflow-http starts against the restored database"
SERVER=restored req GET /jobs -H "Authorization: Bearer $KEY"
is_problem 500 "a client key whose role is missing on this server"
is "$(json_get "$BODY" '{type}')|$(json_get "$BODY" '{detail}' | grep -c "\"$ROLE\" .*does not exist on this server")|$(json_get "$BODY" '{hint}' | grep -c 'pg_dumpall --globals-only')" \
  "/problems/role-missing|1|1" "the problem names the role and says how to restore it"
grep -q "database role $ROLE does not exist" "$T_DIR/restored.log"
ok $? "the server logs it as an error"
SERVER=restored req GET /jobs -H "Authorization: Bearer $ADMIN"
is "$STATUS" "200" "an admin key still works (its role comes with CREATE EXTENSION)"
is "$(on2 -d restored -c "$CHECK_SQL" | sed 's/^[^ ]* //')" "$ROLE role missing" "the check query lists the key whose role is missing"

# The documented order: roles first, then the database.
on2 -d postgres -f "$T_DIR/globals.sql" >/dev/null 2>&1

# The wrong order's aftermath: the roles arrive after the database. taskflow.tenant_roles could
# not be restored (its rows name roles that did not exist yet), so the key's role now exists but
# is mapped to no tenant: unconfined, it would act as tenant 'default'. authenticate_api_key
# refuses the key (28000) and the server says so (500 /problems/role-unmapped), never 200.
stop_server restored
start_server restored_late --http-auth-cache-ttl 0
SERVER=restored_late req GET "/jobs?limit=10" -H "Authorization: Bearer $KEY"
is_problem 500 "a client key whose role exists but is not mapped to its tenant"
is "$(json_get "$BODY" '{type}')|$(json_get "$BODY" '{detail}' | grep -c "$ROLE .*not mapped to its tenant '$TENANT'")|$(json_get "$BODY" '{hint}' | grep -c "grant_tenant('$ROLE', '$TENANT')")" \
  "/problems/role-unmapped|1|1" "the problem names the role and tenant and says how to map it again"
grep -q "$ROLE .*not mapped to its tenant" "$T_DIR/restored_late.log"
ok $? "the server logs it as an error"
is "$(on2 -d restored -c "$CHECK_SQL" | sed 's/^[^ ]* //')" "$ROLE not confined to its tenant" "the check query lists the key"
on2 -d restored -c "SELECT taskflow.grant_tenant('$ROLE', '$TENANT')" >/dev/null 2>&1
SERVER=restored_late req GET "/jobs?limit=10" -H "Authorization: Bearer $KEY"
is "$STATUS $(json_sql "$BODY" "SELECT string_agg(DISTINCT j ->> 'tenant_id', ',') FROM jsonb_array_elements((:'j'::jsonb) -> 'jobs') j")" \
  "200 $TENANT" "mapped again (the hint's grant_tenant), the key works, confined to its tenant"
stop_server restored_late
on2 -d postgres -c "CREATE DATABASE restored2" >/dev/null
(eval "$ENV2"; pg_restore -d restored2 "$T_DIR/db.dump") >"$T_DIR/restore2.log" 2>&1
ok "$(! grep -q 'does not exist' "$T_DIR/restore2.log"; echo $?)" "globals first: pg_restore finds every role"
T_URL="postgresql://$T_LOGIN@127.0.0.1:$PORT2/restored2"
start_server restored2
SERVER=restored2 req GET "/jobs?limit=10" -H "Authorization: Bearer $KEY"
is "$STATUS $(json_sql "$BODY" "SELECT string_agg(DISTINCT j ->> 'tenant_id', ',') FROM jsonb_array_elements(CASE WHEN jsonb_typeof(:'j'::jsonb) = 'array' THEN :'j'::jsonb ELSE (:'j'::jsonb) -> 'jobs' END) j")" \
  "200 $TENANT" "the key works on the new server and sees only its tenant's jobs"
is "$(on2 -d restored2 -c "$CHECK_SQL")" "" "the check query lists nothing"

done_testing
