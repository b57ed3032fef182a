-- Automation rules that start a workflow (issue 13, docs/automation.md "Starting a workflow"):
-- the action {"workflow": {...}} checked at create_rule/alter_rule (22023, nothing written);
-- a firing creates the whole graph in the firing's tenant with the right dependencies, filled
-- payloads, the rule as actor, the source job as parent; a spec that fails at fire time is a
-- recorded failed firing, never a failed transition.
BEGIN;
SELECT plan(33);

SELECT taskflow.create_queue('rw_q');
SELECT taskflow.create_queue('rw_out');

CREATE FUNCTION pg_temp.error_of(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RETURN NULL;
EXCEPTION WHEN others THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION pg_temp.last_firing(rule bigint) RETURNS taskflow.rule_firings LANGUAGE sql AS $$
  SELECT * FROM taskflow.rule_firings WHERE rule_id = rule ORDER BY id DESC LIMIT 1
$$;
-- Schedules a job of `jt` in tenant `t` (queue rw_q), runs it and completes it with `result`.
CREATE FUNCTION pg_temp.run(jt text, t text, result jsonb) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  id bigint := taskflow.schedule(jt, queue => 'rw_q', tenant_id => t, correlation_id => 'rw-corr');
  a record;
BEGIN
  SELECT * INTO a FROM taskflow.acquire('rw-worker', ARRAY['rw_q'], 1, job_types => ARRAY[jt]);
  IF a.job_id IS DISTINCT FROM id THEN RAISE EXCEPTION 'acquired % instead of %', a.job_id, id; END IF;
  IF taskflow.complete(a.job_id, a.lease_token, result) <> 'SUCCEEDED' THEN RAISE EXCEPTION 'not completed'; END IF;
  RETURN id;
END $$;
CREATE FUNCTION pg_temp.node(wf bigint, k text) RETURNS bigint LANGUAGE sql AS $$
  SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = wf AND node_key = k
$$;

-- === a rule whose action is a report workflow: two pages, then a merge =========================
SELECT taskflow.create_rule('report after export',
  '{"type": "event", "on": "job_succeeded", "job_type": "rw.export"}',
  '[{"workflow": {"name": "report-{{ $.event.job.result.month }}",
     "nodes": [{"key": "p1", "job_type": "rw.page", "queue": "rw_out", "payload": {"page": 1, "month": "{{ $.event.job.result.month }}"}},
               {"key": "p2", "job_type": "rw.page", "queue": "rw_out", "payload": {"page": 2, "month": "{{ $.event.job.result.month }}"}, "priority": 5},
               {"key": "merge", "job_type": "rw.merge", "queue": "rw_out", "max_attempts": 3}],
     "edges": [{"from": "p1", "to": "merge"}, {"from": "p2", "to": "merge", "on_failure": "run"}]}}]',
  tenant_id => 'rw_acme') AS r_wf \gset
SELECT isnt(:r_wf::bigint, NULL, 'a rule whose action is a workflow is created');

SELECT pg_temp.run('rw.export', 'rw_acme', '{"month": "2026-11"}') AS src \gset
SELECT is((SELECT ROW(matched, error, cardinality(job_ids))::text FROM pg_temp.last_firing(:r_wf)),
  ROW(true, NULL::text, 3)::text, 'the rule fires without error and records the workflow''s three jobs');
SELECT n.workflow_id AS wf FROM taskflow.workflow_nodes n
  WHERE n.job_id = (SELECT job_ids[1] FROM pg_temp.last_firing(:r_wf)) \gset
SELECT is((SELECT ROW(tenant_id, name, node_count, edge_count, created_by)::text FROM taskflow.workflows WHERE id = :wf),
  ROW('rw_acme', 'report-2026-11', 3, 2, 'rule:' || :r_wf)::text,
  'the workflow is in the rule''s tenant, its name filled from the context, created by the rule');
SELECT is((SELECT array_agg(j ORDER BY j) FROM unnest((SELECT job_ids FROM pg_temp.last_firing(:r_wf))) j),
  (SELECT array_agg(job_id ORDER BY job_id) FROM taskflow.workflow_nodes WHERE workflow_id = :wf),
  'the firing''s job_ids are exactly the workflow''s nodes');
SELECT is((SELECT array_agg(DISTINCT tenant_id) FROM taskflow.jobs WHERE id IN
            (SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = :wf)),
  ARRAY['rw_acme'], 'every node is a job of the rule''s tenant');
SELECT is((SELECT array_agg(np.node_key || '->' || nc.node_key || ':' || d.on_failure ORDER BY np.node_key)
           FROM taskflow.job_dependencies d
           JOIN taskflow.workflow_nodes nc ON nc.job_id = d.job_id
           JOIN taskflow.workflow_nodes np ON np.job_id = d.depends_on
           WHERE nc.workflow_id = :wf),
  ARRAY['p1->merge:cancel', 'p2->merge:run'], 'the edges are the spec''s, with their failure policies');
SELECT is((SELECT array_agg(tenant_id) FROM taskflow.job_dependencies WHERE job_id = pg_temp.node(:wf, 'merge')),
  ARRAY['rw_acme', 'rw_acme'], 'the edges are in the rule''s tenant too');
SELECT is((SELECT ROW(state::text, dependency_count, dependencies_pending, max_attempts)::text FROM taskflow.jobs
           WHERE id = pg_temp.node(:wf, 'merge')),
  ROW('SCHEDULED', 2, 2, 3)::text, 'the fan-in node waits for its two dependencies (with its own max_attempts)');
SELECT is((SELECT array_agg(state::text ORDER BY id) FROM taskflow.jobs WHERE id IN (pg_temp.node(:wf, 'p1'), pg_temp.node(:wf, 'p2'))),
  ARRAY['PENDING', 'PENDING'], 'the nodes without dependencies are ready');
SELECT is((SELECT ROW(job_type, queue, payload, priority)::text FROM taskflow.jobs WHERE id = pg_temp.node(:wf, 'p2')),
  ROW('rw.page', 'rw_out', '{"page": 2, "month": "2026-11"}'::jsonb, 5)::text,
  'a node''s payload is filled from the firing''s context');
SELECT is((SELECT array_agg(DISTINCT ROW(parent_job_id, correlation_id, chain_depth)::text) FROM taskflow.jobs
           WHERE id IN (SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = :wf)),
  ARRAY[ROW(:src::bigint, 'rw-corr', 1)::text],
  'the nodes inherit the source job as parent (chain depth 1) and its correlation id');
SELECT is((SELECT array_agg(DISTINCT actor) FROM taskflow.job_events WHERE from_state IS NULL AND job_id IN
            (SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = :wf)),
  ARRAY['rule:' || :r_wf], 'their creation events name the rule');
SELECT is(taskflow.workflow_status(:wf) ->> 'state', 'running', 'workflow_status sees the new workflow running');
SELECT is((taskflow.get_job(pg_temp.node(:wf, 'merge')) ->> 'workflow_id')::bigint, :wf::bigint,
  'get_job of a node names its workflow');

-- the workflow runs: both pages finish, the merge is released
SELECT taskflow.complete(a.job_id, a.lease_token, jsonb_build_object('page', a.payload -> 'page'))
  FROM taskflow.acquire('rw-worker', ARRAY['rw_out'], 2, job_types => ARRAY['rw.page']) a;
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = pg_temp.node(:wf, 'merge')), 'PENDING',
  'when both pages succeed the merge is released');

-- === refused at creation: 22023, nothing written ================================================
SELECT count(*) AS rules_before FROM taskflow.automation_rules \gset
CREATE FUNCTION pg_temp.bad(workflow text) RETURNS text LANGUAGE sql AS $$
  SELECT pg_temp.error_of(format($q$SELECT taskflow.create_rule('rw bad', '{"type": "webhook"}', %L, tenant_id => 'rw_acme')$q$,
                                 '[{"workflow": ' || workflow || '}]'))
$$;
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "y"}],
                           "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}'),
  '22023: actions[0].workflow: workflow has a cycle%', 'a cycle is refused with 22023');
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x"}], "edges": [{"from": "a", "to": "zz"}]}'),
  '22023: actions[0].workflow: %unknown%', 'an edge to an unknown key is refused with 22023');
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "a", "job_type": "y"}]}'),
  '22023: actions[0].workflow: %a%', 'a repeated key is refused with 22023');
SELECT alike(pg_temp.bad('{"nodes": []}'), '22023: actions[0].workflow: workflow has no nodes%',
  'a workflow without nodes is refused with 22023');
SELECT alike(pg_temp.bad('{"tenant_id": "rw_other", "nodes": [{"key": "a", "job_type": "x"}]}'),
  '22023: actions[0].workflow: unknown key "tenant_id"%', 'a workflow naming a tenant is refused (it runs in the firing''s)');
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x", "unique_key": "k"}]}'),
  '22023: actions[0].workflow.nodes[0]: unknown key "unique_key"%', 'a node with a unique key is refused');
SELECT alike(pg_temp.error_of($q$SELECT taskflow.create_rule('rw bad', '{"type": "webhook"}',
    '[{"workflow": {"nodes": [{"key": "a", "job_type": "x"}]}, "job_type": "y"}]', tenant_id => 'rw_acme')$q$),
  '22023: actions[0]: unknown key "job_type"%', 'a workflow action with job fields beside it is refused');
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x", "queue": "rw_nope"}]}'),
  '%queue "rw_nope" does not exist%', 'a node naming a queue that does not exist is refused');
SET LOCAL taskflow.max_workflow_nodes = 2;
SELECT alike(pg_temp.bad('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"}, {"key": "c", "job_type": "x"}]}'),
  '22023: actions[0].workflow has 3 nodes, the limit is 2%', 'a workflow over taskflow.max_workflow_nodes is refused with 22023');
RESET taskflow.max_workflow_nodes;
SELECT alike(pg_temp.error_of(format('SELECT taskflow.alter_rule(%s, actions => %L)', :r_wf,
    '[{"workflow": {"nodes": [{"key": "a", "job_type": "x"}], "edges": [{"from": "a", "to": "a"}]}}]')),
  '22023: actions[0].workflow: %', 'alter_rule refuses a bad workflow too (a self-edge)');
SELECT is((SELECT count(*) FROM taskflow.automation_rules), :rules_before::bigint, 'no refused rule was written');

-- === failing at fire time: a recorded failed firing, the transition succeeds ======================
SELECT count(*) AS wf_before FROM taskflow.workflows \gset
SELECT count(*) AS jobs_before FROM taskflow.jobs \gset
SELECT taskflow.create_rule('report without month',
  '{"type": "event", "on": "job_succeeded", "job_type": "rw.nomonth"}',
  '[{"workflow": {"nodes": [{"key": "a", "job_type": "rw.page", "queue": "rw_out", "payload": {"m": "{{ $.event.job.result.month }}"}},
                            {"key": "b", "job_type": "rw.merge", "queue": "rw_out"}],
                  "edges": [{"from": "a", "to": "b"}]}}]', tenant_id => 'rw_acme') AS r_nomonth \gset
SELECT pg_temp.run('rw.nomonth', 'rw_acme', '{"rows": 1}') AS j_nomonth \gset
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :j_nomonth), 'SUCCEEDED',
  'a workflow action that cannot be filled does not fail the completion');
SELECT is((SELECT ROW(matched, job_ids, error_sqlstate)::text FROM pg_temp.last_firing(:r_nomonth)),
  ROW(true, '{}'::bigint[], '22023')::text, 'the firing is recorded as failed (22023), with no jobs');
SELECT alike((SELECT error FROM pg_temp.last_firing(:r_nomonth)),
  'actions[0].workflow.nodes[0].payload.m: {{ $.event.job.result.month }} has no value in the context',
  'the firing''s error names the node and the placeholder');

-- the spec was within the limits when the rule was written, not when it fires
SELECT taskflow.create_rule('report too big',
  '{"type": "event", "on": "job_succeeded", "job_type": "rw.big"}',
  '[{"workflow": {"nodes": [{"key": "a", "job_type": "rw.page", "queue": "rw_out"},
                            {"key": "b", "job_type": "rw.page", "queue": "rw_out"},
                            {"key": "c", "job_type": "rw.merge", "queue": "rw_out"}],
                  "edges": [{"from": "a", "to": "c"}, {"from": "b", "to": "c"}]}}]', tenant_id => 'rw_acme') AS r_big \gset
SET LOCAL taskflow.max_workflow_nodes = 2;
SELECT pg_temp.run('rw.big', 'rw_acme', '{}') AS j_big \gset
RESET taskflow.max_workflow_nodes;
SELECT is((SELECT state::text FROM taskflow.jobs WHERE id = :j_big), 'SUCCEEDED',
  'a workflow over a limit lowered since does not fail the completion');
SELECT is((SELECT ROW(job_ids, error_sqlstate, error)::text FROM pg_temp.last_firing(:r_big)),
  ROW('{}'::bigint[], '22023', 'workflow has 3 nodes, the limit is 2')::text,
  'the firing records schedule_workflow''s refusal');
SELECT is((SELECT count(*) FROM taskflow.workflows), :wf_before::bigint, 'the failed firings created no workflow');
SELECT is((SELECT count(*) FROM taskflow.jobs), :jobs_before::bigint + 2,
  'and no job besides the two that fired them');

SELECT * FROM finish();
ROLLBACK;
