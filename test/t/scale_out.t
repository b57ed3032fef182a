#!/usr/bin/env bash
# Scale-out (docs/scale-out.md): a PL/Proxy router and two shards, three clusters on this machine.
# Jobs of 100 tenants are scheduled through the router, drained by one worker serving both shards
# (--db twice), read back through the router (get, list with keyset pagination across shards,
# history, metrics); tenant isolation through the router; webhooks; moving a tenant with its
# unfinished jobs, rules and history; one shard stopped and started again.
# Starts its own clusters with test/pgcluster.sh (needs the worker binary, PL/Proxy and pg_cron).
set -uo pipefail
. "$(dirname "$0")/tap_lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORKER_BIN=${TASKFLOW_WORKER_BIN:-$ROOT/build/worker/taskflow-worker}
OSUSER=${TASKFLOW_PG_OSUSER:-postgres}
PGBIN=${PGBIN:-$(pg_config --bindir)}
DIR=$(mktemp -d /tmp/tfscale.XXXXXX)
chmod 755 "$DIR"
WORKER_PID=""
HTTP_PID=""
HTTP_BIN=${TASKFLOW_HTTP_BIN:-$ROOT/build/worker/http/taskflow-http}

cleanup() {
  [ -n "$WORKER_PID" ] && kill -KILL "$WORKER_PID" 2>/dev/null
  [ -n "$HTTP_PID" ] && kill -KILL "$HTTP_PID" 2>/dev/null
  for c in router s0 s1; do bash "$ROOT/test/pgcluster.sh" stop "$DIR/$c" >/dev/null 2>&1; done
  if [ "$T_FAILED" -eq 0 ]; then rm -rf "$DIR"; else echo "# logs kept in $DIR"; fi
}
trap cleanup EXIT
as_pg() { if [ "$(id -un)" = "$OSUSER" ]; then "$@"; else runuser -u "$OSUSER" -- "$@"; fi; }

if [ ! -x "$WORKER_BIN" ]; then echo "Bail out! no worker binary at $WORKER_BIN"; exit 1; fi
if [ ! -f "$(pg_config --pkglibdir)/plproxy.so" ]; then
  echo "Bail out! PL/Proxy is not installed (Debian: postgresql-15-plproxy; make deps)"; exit 1
fi
declare -A PORT
for c in router s0 s1; do
  mkdir -p "$DIR/$c"
  env=$(unset TASKFLOW_PG_CONF; bash "$ROOT/test/pgcluster.sh" start "$DIR/$c") \
    || { echo "Bail out! cluster $c did not start"; exit 1; }
  PORT[$c]=$(echo "$env" | sed -n 's/^export PGPORT=//p')
done
DB=${TASKFLOW_TEST_DB:-taskflow_test}
unset PGHOST PGPORT PGDATABASE PGUSER TASKFLOW_DATABASE_URL
on() { local c=$1 db=$2; shift 2; psql -X -q -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PORT[$c]}" -U postgres -d "$db" -c "$1" 2>&1; }
s0() { on s0 "$DB" "$1"; }
s1() { on s1 "$DB" "$1"; }
r() { on router tf_router "$1"; }
# as ROLE "SQL": through the router, logged in as a tenant role
as() { psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -h 127.0.0.1 -p "${PORT[router]}" -U "$1" -d tf_router -c "$2" 2>&1; }
# like OUTPUT PATTERN DESCRIPTION: OUTPUT matches the extended regular expression PATTERN
like() {
  local out=$1 pat=$2; shift 2
  if echo "$out" | grep -qE "$pat"; then ok 0 "$@"; else ok 1 "$@"; echo "#   got: $(echo "$out" | head -2 | tr '\n' ' ')"; fi
}
url() { echo "postgresql://postgres@127.0.0.1:${PORT[$1]}/$DB"; }


# --- setup: shard numbers, router, roles --------------------------------------------------------
s0 "SELECT taskflow.set_shard(0)" >/dev/null
s1 "SELECT taskflow.set_shard(1)" >/dev/null
is "$(s1 "SELECT taskflow.shard_id()"),$(s1 "SELECT taskflow.schedule('probe') >> 48")" "1,1" \
   "set_shard(1): the shard's job ids carry shard number 1 in their high bits"
s1 "SELECT taskflow.cancel(id) FROM taskflow.jobs WHERE job_type = 'probe'" >/dev/null
on router postgres "CREATE DATABASE tf_router" >/dev/null
r "CREATE EXTENSION plproxy; CREATE EXTENSION taskflow_router;
   SELECT taskflow_router.set_shard(0, 'host=127.0.0.1 port=${PORT[s0]} dbname=$DB connect_timeout=3');
   SELECT taskflow_router.set_shard(1, 'host=127.0.0.1 port=${PORT[s1]} dbname=$DB connect_timeout=3')" >/dev/null
for c in router s0 s1; do on "$c" postgres "CREATE ROLE app_a LOGIN; CREATE ROLE app_b LOGIN" >/dev/null; done
is "$(r "SELECT count(*) FILTER (WHERE NOT COALESCE('search_path=pg_catalog, pg_temp' = ANY (p.proconfig), false))
            || ',' || (count(*) > 30)::text
          FROM pg_depend d JOIN pg_proc p ON p.oid = d.objid JOIN pg_language l ON l.oid = p.prolang
          WHERE d.classid = 'pg_proc'::regclass AND d.deptype = 'e' AND p.prokind = 'f'
            AND l.lanname <> 'plproxy' AND d.refclassid = 'pg_extension'::regclass
            AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'taskflow_router')")" "0,true" \
   "every function of the router but the PL/Proxy ones pins search_path = pg_catalog, pg_temp"

# 100 tenants; TA lives on shard 0 and TB on shard 1 (by hash)
TA=$(r "SELECT t FROM (SELECT 'tenant' || i AS t FROM generate_series(1, 100) i) x WHERE taskflow_router.tenant_shard(t) = 0 LIMIT 1")
TB=$(r "SELECT t FROM (SELECT 'tenant' || i AS t FROM generate_series(1, 100) i) x WHERE taskflow_router.tenant_shard(t) = 1 LIMIT 1")
r "SELECT taskflow.grant_tenant('app_a', '$TA'); SELECT taskflow.grant_tenant('app_b', '$TB')" >/dev/null
is "$(s0 "SELECT string_agg(role_name::text || '=' || tenant_id, ',' ORDER BY 1) FROM taskflow.tenant_roles")|$(s1 "SELECT string_agg(role_name::text || '=' || tenant_id, ',' ORDER BY 1) FROM taskflow.tenant_roles")" \
   "app_a=$TA,app_b=$TB|app_a=$TA,app_b=$TB" "grant_tenant on the router maps the role on every shard"

r "SELECT taskflow.create_queue('so', priority => 3)" >/dev/null
is "$(s0 "SELECT priority FROM taskflow.queues WHERE name = 'so'"),$(s1 "SELECT priority FROM taskflow.queues WHERE name = 'so'"),$(r "SELECT count(*) FROM taskflow_router.check_queues()")" \
   "3,3,0" "create_queue through the router creates the queue on both shards; check_queues finds no difference"
out=$(r "SELECT taskflow.create_queue('bad', priority => 1, lease => '-1 s')")
is "$(s1 "SELECT count(*) FROM taskflow.queues WHERE name = 'bad'"),$(s0 "SELECT count(*) FROM taskflow.queues WHERE name = 'bad'")" "0,0" \
   "an invalid create_queue fails on shard 0 and is not applied to shard 1 either"
s1 "SELECT taskflow.alter_queue('so', priority => 4)" >/dev/null
is "$(r "SELECT queue || ':' || array_to_string(shards, '+') FROM taskflow_router.check_queues() ORDER BY shards LIMIT 1")" "so:0" \
   "check_queues reports a queue whose settings differ between shards"
r "SELECT taskflow.alter_queue('so', priority => 4)" >/dev/null
is "$(r "SELECT count(*) FROM taskflow_router.check_queues()")" "0" "alter_queue through the router makes them equal again"
rl() { echo "$(s0 "SELECT string_agg(scope || ':' || name || ':' || max_starts, ',' ORDER BY scope) FROM taskflow.rate_limits")|$(s1 "SELECT string_agg(scope || ':' || name || ':' || max_starts, ',' ORDER BY scope) FROM taskflow.rate_limits")"; }
r "SELECT taskflow.set_rate_limit('queue', 'so', 500)" >/dev/null
is "$(rl)" "queue:so:500|queue:so:500" "set_rate_limit('queue', ...) through the router sets the queue's limit on every shard"
r "SELECT taskflow.set_rate_limit('tenant', '$TB', 7, '1 minute')" >/dev/null
is "$(rl)" "queue:so:500|queue:so:500,tenant:$TB:7" "set_rate_limit('tenant', ...) through the router sets it on the tenant's shard only"
r "SELECT taskflow.set_rate_limit('queue', 'so', NULL); SELECT taskflow.set_rate_limit('tenant', '$TB', NULL)" >/dev/null
is "$(rl)" "|" "set_rate_limit(..., NULL) through the router removes them again"

# --- schedule for 100 tenants through the router --------------------------------------------------
r "SELECT taskflow.schedule('so.job', jsonb_build_object('i', i), queue => 'so', tenant_id => 'tenant' || i)
   FROM generate_series(1, 100) i" >/dev/null
ids=$(r "SELECT string_agg(x::text, ',') FROM taskflow.schedule_many((SELECT jsonb_agg(jsonb_build_object(
           'job_type', 'so.job', 'queue', 'so', 'tenant_id', 'tenant' || (i % 100 + 1), 'payload', jsonb_build_object('n', i)) ORDER BY i)
         FROM generate_series(1, 200) i)) x")
is "$(echo "$ids" | tr ',' '\n' | wc -l)" "200" "schedule_many through the router returns 200 ids"
is "$(r "SELECT bool_and((taskflow.get_job(x.id) -> 'payload' ->> 'n')::int = x.n) FROM unnest('{$ids}'::bigint[]) WITH ORDINALITY x(id, n)")" "t" \
   "schedule_many's ids come back in the order of its elements, across both shards"
c0=$(s0 "SELECT count(*) FROM taskflow.jobs WHERE queue = 'so'"); c1=$(s1 "SELECT count(*) FROM taskflow.jobs WHERE queue = 'so'")
ok $(( c0 > 0 && c1 > 0 && c0 + c1 == 300 ? 0 : 1 )) "300 jobs over both shards ($c0 on shard 0, $c1 on shard 1)"
is "$(s0 "SELECT bool_and(id >> 48 = 0) FROM taskflow.jobs")$(s1 "SELECT bool_and(id >> 48 = 1) FROM taskflow.jobs")" "tt" \
   "every job id says its shard"
placed=$(r "SELECT string_agg(tenant_id || ':' || taskflow_router.tenant_shard(tenant_id), ',' ORDER BY tenant_id)
            FROM (SELECT DISTINCT tenant_id FROM taskflow.list_jobs(queue => 'so', max_rows => 10000)) t")
got=$( (s0 "SELECT DISTINCT tenant_id || ':0' FROM taskflow.jobs WHERE queue = 'so'"; s1 "SELECT DISTINCT tenant_id || ':1' FROM taskflow.jobs WHERE queue = 'so'") | LC_ALL=C sort | paste -sd, )
is "$got" "$(echo "$placed" | tr ',' '\n' | LC_ALL=C sort | paste -sd,)" "each tenant's jobs are all on the tenant's shard"
is "$(echo "$placed" | tr ',' '\n' | wc -l)" "100" "the 100 tenants are listed through the router"

# --- the worker's multi-shard mode: refusals --------------------------------------------------------
"$WORKER_BIN" --db "$(url s0)" --db "$(url s1)" --http 127.0.0.1:0 --handler so.job=noop >"$DIR/w2.log" 2>&1
is "$?:$(grep -c 'serves one database' "$DIR/w2.log")" "2:1" "taskflow-worker: --http with two --db is a usage error (exit 2)"
timeout 60 "$WORKER_BIN" --db "$(url s0)" --db "postgresql://postgres@127.0.0.1:1/$DB?connect_timeout=2" \
  --queue so --handler so.job=noop >"$DIR/w3.log" 2>&1
is "$?" "3" "taskflow-worker: one unreachable --db stops the process at start (exit 3), the other loop too"

# --- drain with one worker serving both shards ------------------------------------------------------
"$WORKER_BIN" --db "$(url s0)" --db "$(url s1)" --queue so --handler so.job=noop --poll-interval 200ms \
  --concurrency 4 >"$DIR/worker.log" 2>&1 &
WORKER_PID=$!
drained() { [ "$(r "SELECT count(*) FROM taskflow.list_jobs(queue => 'so', state => 'SUCCEEDED', max_rows => 10000)")" = "$1" ]; }
for _ in $(seq 1 300); do drained 300 && break; sleep 0.2; done
drained 300; ok $? "one worker with --db twice drains all 300 jobs on both shards"
is "$(s0 "SELECT count(DISTINCT worker_id) > 0 FROM taskflow.job_attempts")$(s1 "SELECT count(DISTINCT worker_id) > 0 FROM taskflow.job_attempts")" "tt" \
   "both shards' jobs ran (attempts recorded on each shard)"

# --- read back through the router ---------------------------------------------------------------------
J1=$(s1 "SELECT min(id) FROM taskflow.jobs WHERE queue = 'so'")
is "$(r "SELECT taskflow.get_job($J1) ->> 'state'")" "SUCCEEDED" "get_job routes a shard-1 id to shard 1"
is "$(r "SELECT jsonb_array_length(taskflow.job_history($J1) -> 'attempts') || ':' || (taskflow.job_history($J1) -> 'attempts' -> 0 ->> 'outcome')")" "1:succeeded" \
   "job_history through the router"
# keyset pagination across shards: pages of 7 by after_id give every id once, in order
all=$( (s0 "SELECT id FROM taskflow.jobs WHERE queue = 'so'"; s1 "SELECT id FROM taskflow.jobs WHERE queue = 'so'") | sort -n | paste -sd, )
paged=""; after="NULL"
for _ in $(seq 1 60); do
  page=$(r "SELECT string_agg(id::text, ',' ORDER BY id) FROM taskflow.list_jobs(queue => 'so', after_id => $after, max_rows => 7)")
  [ -z "$page" ] && break
  paged="${paged:+$paged,}$page"; after=${page##*,}
done
is "$paged" "$all" "list_jobs pages of 7 (after_id) merge both shards by id: every job once, in id order"
m=$(r "SELECT taskflow.metrics()")
want0=$(s0 "SELECT count(*) FROM taskflow.jobs WHERE queue = 'so' AND state = 'SUCCEEDED'")
want1=$(s1 "SELECT count(*) FROM taskflow.jobs WHERE queue = 'so' AND state = 'SUCCEEDED'")
is "$(echo "$m" | grep -E '^taskflow_jobs\{shard="[01]",queue="so",state="succeeded"\}' | paste -sd' ')" \
   "taskflow_jobs{shard=\"0\",queue=\"so\",state=\"succeeded\"} $want0 taskflow_jobs{shard=\"1\",queue=\"so\",state=\"succeeded\"} $want1" \
   "metrics through the router: each shard's series with a shard label"
is "$(echo "$m" | grep -c '^# TYPE taskflow_jobs ')" "1" "metrics: one HELP/TYPE per family for both shards"
if command -v promtool >/dev/null 2>&1; then
  echo "$m" | promtool check metrics >/dev/null 2>"$DIR/promtool.err"; ok $? "promtool accepts the merged metrics"
else
  echo "$m" | grep -qE '^taskflow_' ; ok $? "metrics has samples (promtool not installed)"
fi

# --- isolation through the router ---------------------------------------------------------------------
JB=$(s1 "SELECT min(id) FROM taskflow.jobs WHERE tenant_id = '$TB'")
is "$(as app_a "SELECT count(*) || ':' || count(*) FILTER (WHERE tenant_id = '$TA') FROM taskflow.list_jobs(max_rows => 10000)")" "3:3" \
   "a tenant role lists only its own tenant's jobs through the router"
is "$(as app_a "SELECT taskflow.get_job($JB) IS NULL AND taskflow.job_history($JB) IS NULL")" "t" \
   "another tenant's job (on the other shard) reads as NULL"
like "$(as app_a "SELECT taskflow.cancel($JB)")" 'P0002' "cancel of another tenant's job: P0002, as for a missing job"
like "$(as app_a "SELECT taskflow.schedule('x', queue => 'so', tenant_id => '$TB')")" '42501' "scheduling for another tenant: 42501"
own=$(as app_a "SELECT taskflow.schedule('so.job', queue => 'so')")
is "$(s0 "SELECT tenant_id FROM taskflow.jobs WHERE id = ${own:-0}")" "$TA" "a tenant role's job (tenant_id omitted) goes to its own tenant's shard"
like "$(as app_a "SELECT * FROM taskflow_router.placement")" 'permission denied' "a tenant role cannot read the router's placement"

# --- workflows through the router ------------------------------------------------------------------
# Queue wf has no worker: the nodes stay where they are. A workflow of TA (shard 0, made by app_a)
# and one of TB (shard 1, made by the router's superuser naming the tenant).
r "SELECT taskflow.create_queue('wf')" >/dev/null
spec='"nodes": [{"key": "p", "job_type": "w.p", "queue": "wf"}, {"key": "c", "job_type": "w.c", "queue": "wf"}], "edges": [{"from": "p", "to": "c"}]'
WA=$(as app_a "SELECT taskflow.schedule_workflow('{\"name\": \"wa\", $spec}') ->> 'workflow_id'")
WB=$(r "SELECT taskflow.schedule_workflow('{\"name\": \"wb\", \"tenant_id\": \"$TB\", $spec}') ->> 'workflow_id'")
is "$(( ${WA:-0} >> 48 )):$(s0 "SELECT tenant_id || '/' || node_count FROM taskflow.workflows WHERE id = ${WA:-0}")|$(( ${WB:-0} >> 48 )):$(s1 "SELECT tenant_id || '/' || node_count FROM taskflow.workflows WHERE id = ${WB:-0}")" \
   "0:$TA/2|1:$TB/2" "schedule_workflow through the router: each tenant's workflow and its nodes on the tenant's shard, the id says it"
PB=$(s1 "SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = ${WB:-0} AND node_key = 'p'")
CB=$(s1 "SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = ${WB:-0} AND node_key = 'c'")
CA=$(s0 "SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = ${WA:-0} AND node_key = 'c'")
is "$(as app_b "SELECT w ->> 'state' || ':' || (w -> 'counts' ->> 'SCHEDULED') || ':' || (w -> 'edges' -> 0 ->> 'from') FROM taskflow.workflow_status($WB) w")" "running:1:p" \
   "workflow_status through the router, for the tenant's own role (shard 1)"
is "$(as app_b "SELECT string_agg(d ->> 'job_id' || '/' || (d ->> 'key') || '/' || (d ->> 'state'), ',') FROM jsonb_array_elements(taskflow.dependency_results($CB)) d")" "$PB/p/PENDING" \
   "dependency_results through the router: the child's parent with its state"
x=$(r "SELECT taskflow.schedule('w.x', queue => 'wf', tenant_id => '$TB', depends_on => ARRAY[$PB]::bigint[], on_dependency_failure => 'run')")
is "$(( ${x:-0} >> 48 )):$(s1 "SELECT j.dependencies_pending || '/' || d.depends_on || '/' || d.on_failure FROM taskflow.jobs j JOIN taskflow.job_dependencies d ON d.job_id = j.id WHERE j.id = ${x:-0}")" \
   "1:1/$PB/run" "schedule with depends_on and on_dependency_failure through the router: on the tenant's shard, waiting for its parent"
like "$(as app_b "SELECT taskflow.schedule('w.x', queue => 'wf', depends_on => ARRAY[$CA]::bigint[])")" '22023.*does not exist' \
   "depends_on naming another tenant's job (on the other shard): 22023, as a missing job"
is "$(r "SELECT string_agg(id::text || '/' || tenant, ',' ORDER BY id) FROM taskflow.list_workflows()")" "$WA/$TA,$WB/$TB" \
   "list_workflows without a tenant through the router: both shards' workflows, merged by id"
is "$(r "SELECT string_agg(id::text, ',') FROM taskflow.list_workflows(after_id => $WA, max_rows => 1)")|$(r "SELECT count(*) FROM taskflow.list_workflows(after_id => $WB)")" "$WB|0" \
   "list_workflows keyset pages across shards (after_id, max_rows)"
is "$(as app_b "SELECT string_agg(id::text, ',') FROM taskflow.list_workflows()")|$(as app_a "SELECT string_agg(id::text, ',') FROM taskflow.list_workflows()")" "$WB|$WA" \
   "a tenant role lists only its own tenant's workflows through the router"
is "$(as app_b "SELECT taskflow.workflow_status($WA) IS NULL AND taskflow.dependency_results($CA) IS NULL")" "t" \
   "a shard-1 tenant reads a shard-0 tenant's workflow and dependencies as NULL"
like "$(as app_b "SELECT taskflow.cancel_workflow($WA)")" 'P0002' "cancel_workflow of another tenant's workflow: P0002, as for a missing one"
like "$(as app_b "SELECT taskflow.schedule_workflow('{\"tenant_id\": \"$TA\", $spec}')")" '42501' \
  "schedule_workflow for another tenant: 42501"
is "$(as app_b "SELECT taskflow.cancel_workflow($WB, 'stop')")|$(r "SELECT w ->> 'state' || ':' || (w -> 'counts' ->> 'CANCELLED') FROM taskflow.workflow_status($WB) w")|$(s0 "SELECT count(*) FROM taskflow.jobs WHERE queue = 'wf' AND state = 'CANCELLED'")" \
   "1|cancelled:2|0" "cancel_workflow through the router cancels the workflow on its shard (its child by propagation), nothing on the other"

# --- webhooks through the router --------------------------------------------------------------------
rule=$(r "SELECT taskflow.create_rule('hook', '{\"type\": \"webhook\", \"secret\": null}', '[{\"job_type\": \"so.job\", \"queue\": \"so\"}]', tenant_id => '$TB')")
is "$((rule >> 48))" "1" "create_rule for a shard-1 tenant runs on shard 1 (the rule id says so)"
key=$(r "SELECT key FROM taskflow.webhook_credentials($rule)")
hooked=$(r "SELECT taskflow.handle_webhook('$key', '{}')")
is "$(s1 "SELECT tenant_id FROM taskflow.jobs WHERE id = ${hooked:-0}")" "$TB" "handle_webhook through the router finds the key's shard"
like "$(r "SELECT taskflow.handle_webhook('no-such-key-0000000000000', '{}')")" 'webhook key not accepted' \
  "an unknown webhook key: 'webhook key not accepted'"

# --- taskflow-http in front of the router ---------------------------------------------------------------
# The server logs in to the router (and, for key lookups, to shard 0) as a taskflow_http member;
# a request runs as its key's role, which the router uses on the shards.
for c in router s0; do on "$c" postgres "CREATE ROLE tf_http_login LOGIN NOINHERIT; GRANT taskflow_http TO tf_http_login" >/dev/null; done
key_a=$(r "SET client_min_messages = warning; SELECT taskflow.create_api_key('$TA')")
key_b=$(r "SET client_min_messages = warning; SELECT taskflow.create_api_key('$TB')")
"$HTTP_BIN" --db "postgresql://tf_http_login@127.0.0.1:${PORT[router]}/tf_router" --http 127.0.0.1:0 \
  >"$DIR/http.out" 2>"$DIR/http.log" &
HTTP_PID=$!
hport=""
for _ in $(seq 1 100); do
  hport=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$DIR/http.out" 2>/dev/null | head -1)
  [ -n "$hport" ] && break; sleep 0.1
done
hreq() {  # hreq KEY METHOD PATH [BODY]: prints "STATUS BODY"
  local out; out=$(curl -s -w ' %{http_code}' --max-time 20 -X "$2" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' ${4:+--data "$4"} "http://127.0.0.1:${hport:-1}$3")
  echo "${out##* } ${out% *}"
}
res=$(hreq "$key_b" POST /jobs '{"job_type": "so.job", "queue": "so"}')
hid=$(echo "$res" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
is "${res%% *}:$(( ${hid:-0} >> 48 ))" "201:1" "HTTP through the router: POST /jobs with a key of a shard-1 tenant creates the job on shard 1"
is "$(hreq "$key_b" GET "/jobs/${hid:-0}" | cut -d' ' -f1):$(hreq "$key_a" GET "/jobs/${hid:-0}" | cut -d' ' -f1)" "200:404" \
   "HTTP through the router: GET /jobs/{id} for its own key, 404 for another tenant's key"
is "$(hreq "$key_a" GET "/jobs?limit=100" | grep -oE '"tenant_id": ?"[^"]*"' | tr -d ' ' | sort -u)" "\"tenant_id\":\"$TA\"" \
   "HTTP through the router: GET /jobs lists only the key's tenant"
res=$(hreq "$key_b" POST /workflows "{$spec}")
hw=$(echo "$res" | sed -n 's/.*"workflow_id": *\([0-9]*\).*/\1/p')
is "${res%% *}:$(( ${hw:-0} >> 48 )):$(hreq "$key_b" GET "/workflows/${hw:-0}" | cut -d' ' -f1):$(hreq "$key_a" GET "/workflows/${hw:-0}" | cut -d' ' -f1)" "201:1:200:404" \
   "HTTP through the router: POST /workflows with a shard-1 key creates it on shard 1; GET /workflows/{id} 200 for its key, 404 for another tenant's"
kill -TERM "$HTTP_PID"; wait "$HTTP_PID" 2>/dev/null; HTTP_PID=""

# --- moving a tenant ------------------------------------------------------------------------------------
later=$(r "SELECT taskflow.schedule('so.job', queue => 'so', tenant_id => '$TB', run_at => now() + interval '1 hour')")
for _ in $(seq 1 100); do [ "$(s1 "SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TB' AND state = 'RUNNING'")" = 0 ] && break; sleep 0.1; done
before=$(s1 "SELECT count(*) || '/' || (SELECT count(*) FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id WHERE j.tenant_id = '$TB') FROM taskflow.jobs WHERE tenant_id = '$TB'")
like "$(s1 "SELECT taskflow.purge_tenant('$TB', 'not-the-fingerprint')")" 'changed on this shard during the move' \
  "purge_tenant refuses when the tenant's data is not what was exported"
r "CALL taskflow_router.move_tenant('$TB', 0)" >/dev/null
after=$(s0 "SELECT count(*) || '/' || (SELECT count(*) FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id WHERE j.tenant_id = '$TB') FROM taskflow.jobs WHERE tenant_id = '$TB'")
is "$after|$(s1 "SELECT count(*) FROM taskflow.jobs WHERE tenant_id = '$TB'")" "$before|0" \
   "move_tenant: the tenant's jobs and their events are on shard 0 and gone from shard 1"
is "$(r "SELECT taskflow.get_job($later) ->> 'state'")|$(r "SELECT taskflow.cancel($later)")|$(as app_b "SELECT count(*) FROM taskflow.list_rules()")" "SCHEDULED|CANCELLED|1" \
   "after the move its unfinished job is reached by its old id (and cancelled), its rule moved"
is "$(r "SELECT taskflow.workflow_status($WB) ->> 'state'")|$(as app_b "SELECT count(*) FROM taskflow.list_workflows() WHERE id = $WB")|$(s1 "SELECT count(*) FROM taskflow.workflows WHERE id = $WB")" "cancelled|1|0" \
   "after the move its workflow is reached by its old id (the router records it as relocated) and listed"
is "$(as app_b "SELECT taskflow.get_job($JB) ->> 'tenant_id'")|$(as app_a "SELECT taskflow.get_job($JB) IS NULL")" "$TB|t" \
   "after the move the tenant role still reads its history; the other tenant still does not"

# --- pinning a tenant ------------------------------------------------------------------------------
TP=$(r "SELECT t FROM (SELECT 'fresh' || i AS t FROM generate_series(1, 100) i) x WHERE taskflow_router.tenant_shard(t) = 0 LIMIT 1")
r "SELECT taskflow_router.pin_tenant('$TP', 1)" >/dev/null
pinned=$(r "SELECT taskflow.schedule('so.job', queue => 'so', tenant_id => '$TP', run_at => now() + interval '1 hour')")
is "$(( ${pinned:-0} >> 48 )):$(s1 "SELECT tenant_id FROM taskflow.jobs WHERE id = ${pinned:-0}")" "1:$TP" \
   "pin_tenant: a tenant that hashes to shard 0, pinned to shard 1, gets its jobs on shard 1"
like "$(r "SELECT taskflow_router.pin_tenant('$TP', 0)")" 'has jobs or rules on shard 1' \
  "pin_tenant refuses to re-pin a tenant that has jobs on its shard (move it instead)"

# --- a shard stops --------------------------------------------------------------------------------------
JS1=$(s1 "SELECT min(id) FROM taskflow.jobs WHERE queue = 'so'")   # a job that lives on shard 1
left1=$(s1 "SELECT count(*) || '/' || count(*) FILTER (WHERE state = 'SUCCEEDED') FROM taskflow.jobs")
as_pg "$PGBIN/pg_ctl" -D "$DIR/s1/data" -m fast -w stop >/dev/null
TC=$(r "SELECT t FROM (SELECT 'tenant' || i AS t FROM generate_series(1, 100) i) x WHERE taskflow_router.tenant_shard(t) = 1 LIMIT 1")
a_job=$(r "SELECT taskflow.schedule('so.job', queue => 'so', tenant_id => '$TA')")
is "$(r "SELECT (${a_job:-0} >> 48) || ':' || count(*) FROM taskflow.list_jobs('$TA', max_rows => 10000)")" "0:7" \
   "shard 1 down: calls for a shard-0 tenant keep working (schedule, list)"
like "$(r "SELECT taskflow.schedule('so.job', queue => 'so', tenant_id => '$TC')")" 'connection to server .* failed' \
  "shard 1 down: a shard-1 tenant's call fails with a connection error"
like "$(r "SELECT taskflow.get_job($JS1)")" 'connection to server .* failed' "shard 1 down: get_job of a shard-1 id fails the same way"
like "$(r "SELECT count(*) FROM taskflow.list_jobs()")" 'connection to server .* failed' \
  "shard 1 down: list_jobs across all shards fails too"
as_pg "$PGBIN/pg_ctl" -D "$DIR/s1/data" -l "$DIR/s1/postgres.log" -w start >/dev/null
is "$(r "SELECT taskflow.get_job($JS1) ->> 'state'")|$(s1 "SELECT count(*) || '/' || count(*) FILTER (WHERE state = 'SUCCEEDED') FROM taskflow.jobs")" "SUCCEEDED|$left1" \
   "shard 1 back: all its jobs are there, as before it stopped, and reachable through the router"
c_job=$(r "SELECT taskflow.schedule('so.job', queue => 'so', tenant_id => '$TC')")
for _ in $(seq 1 150); do [ "$(r "SELECT taskflow.get_job(${c_job:-0}) ->> 'state'")" = "SUCCEEDED" ] && break; sleep 0.2; done
is "$(r "SELECT taskflow.get_job(${c_job:-0}) ->> 'state'")" "SUCCEEDED" "shard 1 back: a new job of its tenant is scheduled and run by the same worker"

kill -TERM "$WORKER_PID"; wait "$WORKER_PID"; rc=$?; WORKER_PID=""
is "$rc" "0" "the multi-shard worker stops cleanly on SIGTERM"
done_testing
