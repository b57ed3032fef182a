#!/usr/bin/env bash
# The dashboard's Workflows views in a browser: Debian's Chromium driven by playwright-core
# (dashboard/tests/e2e-workflows.mjs) against a real taskflow-http. A diamond workflow
# a -> (b, c) -> d of tenant acme is made through SQL and its root completed (acquire + complete,
# as a worker would); the browser finds it in the list with its counts, sees its graph (4 nodes in
# 3 layers with their states, 4 edges), sees b succeed without a reload, follows a node to its
# job and back, cancels the workflow after a confirmation and sees every node final. A workflow of
# 600 nodes shows its counts and a paged node table instead of a graph; another tenant's key
# sees neither. TASKFLOW_SCREENSHOTS=1 saves docs/img/workflow-graph.png.
. "$(dirname "$0")/http_lib.sh"
. "$(dirname "$0")/dashboard_lib.sh"

browser_fixture e2e_wf
GLOBEX=$(new_key globex)
sql "SELECT taskflow.create_queue('${Q}_big')" >/dev/null

OUT=$(sql "SELECT taskflow.schedule_workflow('{\"name\": \"diamond-e2e\", \"tenant_id\": \"acme\",
  \"nodes\": [{\"key\": \"a\", \"job_type\": \"e2e.start\", \"queue\": \"$Q\"},
              {\"key\": \"b\", \"job_type\": \"e2e.left\", \"queue\": \"$Q\"},
              {\"key\": \"c\", \"job_type\": \"e2e.right\", \"queue\": \"$Q\"},
              {\"key\": \"d\", \"job_type\": \"e2e.join\", \"queue\": \"$Q\"}],
  \"edges\": [{\"from\": \"a\", \"to\": \"b\"}, {\"from\": \"a\", \"to\": \"c\"},
              {\"from\": \"b\", \"to\": \"d\"}, {\"from\": \"c\", \"to\": \"d\"}]}')")
WF=$(json_get "$OUT" '{workflow_id}')
JOBS=$(json_get "$OUT" '{jobs}')
A=$(json_get "$OUT" '{jobs,a}')
is "$(sql "WITH a AS (SELECT * FROM taskflow.acquire('e2e-sql-worker', ARRAY['$Q'], 1, job_types => ARRAY['e2e.start']))
           SELECT a.job_id || ' ' || taskflow.complete(a.job_id, a.lease_token, '{\"ok\": true}') FROM a")" "$A SUCCEEDED" \
  "the diamond's root is acquired and completed through SQL"
is "$(sql "SELECT string_agg(n.node_key || '=' || j.state, ',' ORDER BY n.node_key) FROM taskflow.workflow_nodes n
           JOIN taskflow.jobs j ON j.id = n.job_id WHERE n.workflow_id = $WF")" "a=SUCCEEDED,b=PENDING,c=PENDING,d=SCHEDULED" \
  "b and c are released, d waits"

# 600 nodes: a root and 599 children waiting for it (over the dashboard's graph bound of 500)
BIG=$(sql "SELECT taskflow.schedule_workflow(jsonb_build_object('name', 'fan-out-600', 'tenant_id', 'acme',
  'nodes', jsonb_build_array(jsonb_build_object('key', 'root', 'job_type', 'e2e.root', 'queue', '${Q}_big'))
           || (SELECT jsonb_agg(jsonb_build_object('key', 'leaf-' || i, 'job_type', 'e2e.leaf', 'queue', '${Q}_big'))
               FROM generate_series(1, 599) i),
  'edges', (SELECT jsonb_agg(jsonb_build_object('from', 'root', 'to', 'leaf-' || i)) FROM generate_series(1, 599) i)))
  ->> 'workflow_id'")
ok $([ -n "$BIG" ]; echo $?) "a workflow of 600 nodes is made"

start_main "taskflow-http starts and serves the dashboard" --http-auth-cache-ttl 0
port=${T_PORTS[main]}
run_browser_tests 240 dashboard/tests/e2e-workflows.mjs TF_OTHER_KEY="$GLOBEX" TF_WORKFLOW="$WF" \
  TF_BIG_WORKFLOW="$BIG" TF_JOBS="$JOBS"
done_testing
