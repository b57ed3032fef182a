#!/usr/bin/env bash
# scripts/router_script.py, the generator of the router's install script (docs/scale-out.md,
# "The router's files"), on a small made-up sql/src, table and hand-written part: what it
# renders from the shard's definitions, and how it refuses bad input. No database needed:
# test/t/scale_out.t and test/t/docs.t run the real script on real servers.
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
cd "$(dirname "$0")/../.."
scratch_dir tfroutergen
plan 16

cat >"$TMP/010_src.sql" <<'EOF'
\echo Use "CREATE EXTENSION x" to load this file. \quit
-- CREATE FUNCTION taskflow.ghost(a int) RETURNS int  (a comment, not a definition)
CREATE FUNCTION taskflow.sched(job_type text, payload jsonb DEFAULT '{}', -- (a comment)
    tags text[] DEFAULT ARRAY['default', 'a,b'], /* (another, with a ')' ) */
    at timestamptz DEFAULT (now() + interval '1 day'), n numeric(10, 2) DEFAULT 1.5,
    tenant_id text DEFAULT 'default')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $body$
BEGIN
  -- a definition inside a body is not one: CREATE FUNCTION taskflow.inner(x int) RETURNS int;
  RETURN (SELECT $$;$$::text)::int;
END
$body$;
CREATE FUNCTION taskflow.pairs(rule_id bigint) RETURNS TABLE(key text, secret text)
LANGUAGE sql AS $$ SELECT 'k', 's' $$;
CREATE FUNCTION taskflow.listing(tenant_id text DEFAULT NULL, after_id bigint DEFAULT NULL,
    max_rows integer DEFAULT 100)
RETURNS TABLE(id bigint, tenant text) LANGUAGE sql AS $$ SELECT 1::bigint, 'x' $$;
CREATE FUNCTION taskflow.keys() RETURNS TABLE(id bigint) LANGUAGE sql AS $$ SELECT 1::bigint $$;
CREATE FUNCTION taskflow.twice(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;
CREATE OR REPLACE FUNCTION taskflow.twice(a int) RETURNS int LANGUAGE sql AS $$ SELECT a + 1 $$;
CREATE FUNCTION taskflow.over(a int) RETURNS int LANGUAGE sql AS $$ SELECT a $$;
CREATE FUNCTION taskflow.over(a text) RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;
EOF
cat >"$TMP/table.txt" <<'EOF'
# a comment
[jobs]
proxy sched   taskflow_router.tenant_partition(tenant_id)  client,worker
proxy pairs   taskflow_router.rule_shard(rule_id)          client   # a comment
proxy twice   0  admin
merge listing client,admin  returns=taskflow.listing_rows  order=id  max_rows=500
[keys]
proxy keys    0  http
all   sched   -
EOF
printf '%s\n' '\echo Use "CREATE EXTENSION x" to load this file. \quit' 'CREATE SCHEMA taskflow;' \
  '-- @proxied jobs' 'SELECT 1;' '-- @proxied keys' 'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA taskflow FROM PUBLIC;' \
  '-- @grants' 'SELECT 2;' >"$TMP/hand.sql"
gen() { python3 scripts/router_script.py "$TMP/${1:-hand.sql}" "$TMP/${2:-table.txt}" "$TMP/010_src.sql" 2>&1; }

out=$(gen); rc=$?
is "$rc" 0 "it builds a script from a hand-written part, a table and sql/src"
is "$(sed -n '/^CREATE FUNCTION taskflow.sched(/,/^\$\$;/p' <<<"$out" | tr -s ' \n' ' ')" \
  "CREATE FUNCTION taskflow.sched(job_type text, payload jsonb DEFAULT '{}', tags text[] DEFAULT ARRAY['default', 'a,b'], at timestamptz DEFAULT (now() + interval '1 day'), n numeric(10, 2) DEFAULT 1.5, tenant_id text DEFAULT 'default') RETURNS bigint LANGUAGE plproxy AS \$\$ CLUSTER 'taskflow'; RUN ON taskflow_router.tenant_partition(tenant_id); \$\$; " \
  "a proxied function takes the shard's arguments (defaults with quotes, commas, brackets, parentheses; comments left out) and return type, and the table's RUN ON"
ok "$(grep -q '^RETURNS TABLE(key text, secret text)$\|) RETURNS TABLE(key text, secret text)$' <<<"$out"; echo $?)" \
  "a RETURNS TABLE is taken whole"
ok "$(grep -q 'FUNCTION taskflow.twice(a int) RETURNS int$' <<<"$out" && grep -q '  RUN ON 0;' <<<"$out"; echo $?)" \
  "a function replaced (CREATE OR REPLACE, same arguments) is taken once; RUN ON a shard number"
is "$(grep -c 'ghost\|inner' <<<"$out")" 0 "definitions in comments and in function bodies are not definitions"
is "$(grep -n '^-- @proxied\|^SELECT 1;\|FUNCTION taskflow.sched(\|FUNCTION taskflow.keys()\|^REVOKE\|^GRANT\|^SELECT 2;' <<<"$out" | cut -d: -f2 | cut -c1-30 | tr '\n' '|')" \
  "CREATE FUNCTION taskflow.sched|SELECT 1;|CREATE FUNCTION taskflow.keys(|REVOKE ALL ON ALL FUNCTIONS IN|$(printf 'GRANT EXECUTE ON FUNCTION task|%.0s' 1 2 3 4 5)SELECT 2;|" \
  "each section goes at its -- @proxied line, the grants at -- @grants, the hand-written lines stay in place"
is "$(sed -n '/^GRANT/,/;$/p' <<<"$out" | tr -s ' \n' ' ')" \
  "GRANT EXECUTE ON FUNCTION taskflow.sched(text, jsonb, text[], timestamptz, numeric(10, 2), text) TO taskflow_client, taskflow_worker; GRANT EXECUTE ON FUNCTION taskflow.pairs(bigint) TO taskflow_client; GRANT EXECUTE ON FUNCTION taskflow.twice(int) TO taskflow_admin; GRANT EXECUTE ON FUNCTION taskflow_router._listing_tenant(text, text, bigint, integer), taskflow_router._listing_all(text, bigint, integer), taskflow.listing(text, bigint, integer) TO taskflow_client, taskflow_admin; GRANT EXECUTE ON FUNCTION taskflow.keys() TO taskflow_http; " \
  "one GRANT per set of roles (in the table's order; a merged list's three functions to its roles), each function named by its argument types"
is "$(sed -n '/^CREATE FUNCTION taskflow_router._listing_tenant(/,/^\$\$;/p' <<<"$out" | tr -s ' \n' ' ')" \
  "CREATE FUNCTION taskflow_router._listing_tenant(route text, tenant_id text, after_id bigint, max_rows integer) RETURNS SETOF taskflow.listing_rows LANGUAGE plproxy AS \$\$ CLUSTER 'taskflow'; RUN ON taskflow_router.tenant_partition(route); SELECT * FROM taskflow.listing(tenant_id, after_id, max_rows); \$\$; " \
  "a merged list: the tenant's shard (its arguments without defaults)"
ok "$(grep -q '^  RUN ON ALL;$' <<<"$out" && grep -q 'CREATE FUNCTION taskflow_router._listing_all(tenant_id text, after_id bigint, max_rows integer)$' <<<"$out"; echo $?)" \
  "a merged list: every shard"
is "$(sed -n '/^CREATE FUNCTION taskflow_router._sched_all(/,/^\$\$;/p' <<<"$out" | tr -s ' \n' ' ')" \
  "CREATE FUNCTION taskflow_router._sched_all(job_type text, payload jsonb, tags text[], at timestamptz, n numeric(10, 2), tenant_id text) RETURNS SETOF integer LANGUAGE plproxy AS \$\$ CLUSTER 'taskflow'; RUN ON ALL; SELECT 1 FROM taskflow.sched(job_type, payload, tags, at, n, tenant_id); \$\$; " \
  "all: the shard's function on every shard, one row each (granted to no one: '-')"
is "$(sed -n '/^CREATE FUNCTION taskflow.listing(/,/^\$\$;/p' <<<"$out" | grep -c "max_rows > 500\|ORDER BY m.id LIMIT listing.max_rows;\|route text := COALESCE(listing.tenant_id, taskflow_router.caller_tenant());\|^    max_rows integer DEFAULT 100)$")" 4 \
  "a merged list: the plpgsql wrapper with the shard's defaults, the max_rows bound, the merge order and cut"

printf '[jobs]\nproxy gone 0 admin\n' >"$TMP/gone.txt"
out=$(gen hand.sql gone.txt); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'gone.txt:2: taskflow.gone is not defined in sql/src' <<<"$out"; echo $?)" \
  "a listed function that sql/src does not define fails, with the table's line and its name"
printf '[jobs]\nproxy over 0 admin\n' >"$TMP/over.txt"
out=$(gen hand.sql over.txt); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'taskflow.over is defined in sql/src with different arguments' <<<"$out"; echo $?)" \
  "a listed function that sql/src overloads fails (the router could not tell which one)"
printf '[jobs]\nproxy sched taskflow_router.tenant_partition(tenant_id)\n' >"$TMP/short.txt"
out=$(gen hand.sql short.txt); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q "short.txt:2: expected 'proxy FUNCTION ROUTE GRANTEES'" <<<"$out"; echo $?)" \
  "a line without its grantees fails"
printf '[jobs]\nmerge sched client returns=x order=id max_rows=10\n' >"$TMP/nomax.txt"
out=$(gen hand.sql nomax.txt); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q 'taskflow.sched: max_rows= given but the function has no max_rows argument' <<<"$out"; echo $?)" \
  "a merged list with a bound but no max_rows argument fails"
grep -v '@proxied keys' "$TMP/hand.sql" >"$TMP/nokeys.sql"
out=$(gen nokeys.sql); rc=$?
ok "$([ "$rc" -ne 0 ] && grep -q "no line '-- @proxied keys'" <<<"$out"; echo $?)" \
  "a section of the table without its line in the hand-written part fails"
done_testing
