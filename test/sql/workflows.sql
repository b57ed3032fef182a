-- Workflows (issue 13): depends_on, waiting SCHEDULED, release exactly when the last dependency
-- finishes, results passed on (acquire and dependency_results), failure propagation per edge
-- (cancel transitively / run anyway), re-arming by retry, the Rescuer finishing a dependency,
-- schedule_workflow (validation, atomicity, limits), workflow_status / cancel_workflow /
-- list_workflows, tenant isolation. The concurrent race is in test/t/workflow_race.t.
BEGIN;
SELECT plan(105);
\ir helpers.psql

SELECT taskflow.create_queue('wf_q', retry_policy => '{"max_attempts": 1}') \gset
CREATE FUNCTION pg_temp.last_event(id bigint) RETURNS text LANGUAGE sql AS
  $$ SELECT from_state || '>' || to_state || ' ' || actor || ': ' || reason FROM taskflow.job_events e
     WHERE e.job_id = last_event.id ORDER BY e.id DESC LIMIT 1 $$;
-- Acquires job `id` alone (by its job type) and completes it with `result` (run_ok) or fails it
-- for good (run_fail): the new state, or 'acquired <what>' when another job (or none) came.
CREATE FUNCTION pg_temp.run(id bigint, succeed boolean, result jsonb) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  a record;
BEGIN
  SELECT * INTO a FROM taskflow.acquire('wf-worker', ARRAY['wf_q'], 1,
    job_types => ARRAY[(SELECT job_type FROM taskflow.jobs WHERE jobs.id = run.id)]);
  IF a.job_id IS DISTINCT FROM id THEN RETURN 'acquired ' || COALESCE(a.job_id::text, 'nothing'); END IF;
  IF succeed THEN RETURN taskflow.complete(a.job_id, a.lease_token, result)::text; END IF;
  RETURN taskflow.fail(a.job_id, a.lease_token, 'Boom', 'it broke', retryable => false)::text;
END $$;
CREATE FUNCTION pg_temp.run_ok(id bigint, result jsonb DEFAULT '{}') RETURNS text LANGUAGE sql AS
  $$ SELECT pg_temp.run(id, true, result) $$;
CREATE FUNCTION pg_temp.run_fail(id bigint) RETURNS text LANGUAGE sql AS
  $$ SELECT pg_temp.run(id, false, NULL) $$;

-- === a chain: B waits for A =====================================================================
SELECT taskflow.schedule('wf.a', queue => 'wf_q') AS a \gset
SELECT taskflow.schedule('wf.b', '{"n": 2}', queue => 'wf_q', depends_on => ARRAY[:a]) AS b \gset
SELECT is(pg_temp.st(:b), 'SCHEDULED', 'a job with an unfinished dependency waits SCHEDULED');
SELECT is((SELECT ROW(next_run_at, dependency_count, dependencies_pending) FROM taskflow.jobs WHERE id = :b),
  ROW('infinity'::timestamptz, 1, 1), 'it waits with next_run_at infinity and one dependency pending');
SELECT is(pg_temp.last_event(:b), NULL, 'the creation event has no from state (NULL text)');
SELECT is((SELECT reason FROM taskflow.job_events WHERE job_id = :b ORDER BY id LIMIT 1),
  'waiting for 1 dependency: job ' || :a, 'the audit trail says why it waits, naming the dependency');
SELECT is(taskflow._promote_due(1000) >= 0 AND pg_temp.st(:b) = 'SCHEDULED', true,
  'the scheduler does not promote a waiting job');
SELECT is((SELECT count(*) FROM taskflow.acquire('w', ARRAY['wf_q'], 10, job_types => ARRAY['wf.b'])),
  0::bigint, 'a waiting job is not acquirable');
SELECT is(pg_temp.run_ok(:a, '{"pages": 3}'), 'SUCCEEDED', 'the dependency runs and succeeds');
SELECT is(pg_temp.st(:b), 'PENDING', 'its last dependency finished: the job is released');
SELECT is(pg_temp.last_event(:b), 'SCHEDULED>PENDING workflow: dependencies met, released by job ' || :a || ' (SUCCEEDED)',
  'the audit trail says when it was released and by which dependency');
SELECT is((SELECT ROW(dependencies_pending, next_run_at <= now()) FROM taskflow.jobs WHERE id = :b),
  ROW(0, true), 'released: nothing pending, due now');
SELECT * FROM taskflow.acquire('w', ARRAY['wf_q'], 1, job_types => ARRAY['wf.b']) \gset ab_
SELECT is(:ab_job_id::bigint, :b::bigint, 'the released job is acquired');
SELECT is(:'ab_dependencies'::jsonb -> 0 -> 'result', '{"pages": 3}'::jsonb,
  'acquire returns the results of its dependencies');
SELECT is((:'ab_dependencies'::jsonb -> 0) - 'finished_at', jsonb_build_object('job_id', :a, 'key', NULL,
  'job_type', 'wf.a', 'state', 'SUCCEEDED', 'on_failure', 'cancel', 'result', '{"pages": 3}'::jsonb,
  'error_type', NULL, 'error_message', NULL), 'each dependency: id, key, type, state, policy, result, error');
SELECT is(taskflow.dependency_results(:b), :'ab_dependencies'::jsonb, 'dependency_results(job) returns the same');
SELECT taskflow.schedule('wf.plain', queue => 'wf_q') AS plain \gset
SELECT is((SELECT ROW(job_id, dependencies) FROM taskflow.acquire('w', ARRAY['wf_q'], 1, job_types => ARRAY['wf.plain'])),
  ROW(:plain::bigint, NULL::jsonb), 'a job without dependencies gets NULL dependencies (the plain drain pays nothing)');
SELECT is(taskflow.dependency_results(:plain), '[]'::jsonb, 'dependency_results of a job without any: []');

-- === fan-in: C waits for two ====================================================================
SELECT taskflow.schedule('wf.p1', queue => 'wf_q') AS p1 \gset
SELECT taskflow.schedule('wf.p2', queue => 'wf_q') AS p2 \gset
SELECT taskflow.schedule('wf.c', queue => 'wf_q', depends_on => ARRAY[:p2, :p1, :p1]) AS c \gset
SELECT is((SELECT ROW(dependency_count, dependencies_pending) FROM taskflow.jobs WHERE id = :c), ROW(2, 2),
  'duplicate ids in depends_on count once');
SELECT is(pg_temp.run_ok(:p1, '{"v": 1}'), 'SUCCEEDED', 'first dependency done');
SELECT is((SELECT ROW(state::text, dependencies_pending) FROM taskflow.jobs WHERE id = :c), ROW('SCHEDULED'::text, 1),
  'one of two finished: still waiting, one pending');
SELECT is(pg_temp.run_ok(:p2, '{"v": 2}'), 'SUCCEEDED', 'second dependency done');
SELECT is(pg_temp.st(:c), 'PENDING', 'both finished: released');
SELECT is((SELECT jsonb_agg(x -> 'result') FROM jsonb_array_elements(taskflow.dependency_results(:c)) x),
  '[{"v": 1}, {"v": 2}]'::jsonb, 'a fan-in job sees every dependency''s result, in id order');
-- The results handed to one job are bounded in all (taskflow.max_dependency_results_bytes):
-- {"v": 1} is 8 bytes of JSON text, so a budget of 12 passes the first and omits the second.
SET taskflow.max_dependency_results_bytes = 12;
SELECT is(taskflow.dependency_results(:c) -> 0 -> 'result', '{"v": 1}'::jsonb,
  'within taskflow.max_dependency_results_bytes a result is passed');
SELECT is((taskflow.dependency_results(:c) -> 1) - 'finished_at', jsonb_build_object('job_id', :p2, 'key', NULL,
  'job_type', 'wf.p2', 'state', 'SUCCEEDED', 'on_failure', 'cancel', 'result', NULL, 'error_type', NULL,
  'error_message', NULL, 'omitted', true), 'past it the result is omitted ("omitted": true), the rest kept');
SELECT is((SELECT dependencies FROM taskflow.acquire('w', ARRAY['wf_q'], 1, job_types => ARRAY['wf.c'])),
  taskflow.dependency_results(:c), 'acquire hands out the same bounded dependencies');
RESET taskflow.max_dependency_results_bytes;

-- === depends_on at schedule time: finished dependencies, refusals =============================
SELECT is(pg_temp.st(taskflow.schedule('wf.late', queue => 'wf_q', depends_on => ARRAY[:a])), 'PENDING',
  'depending only on SUCCEEDED jobs: ready at once');
SELECT taskflow.schedule('wf.f', queue => 'wf_q') AS f \gset
SELECT is(pg_temp.run_fail(:f), 'FAILED', 'a dependency fails');
SELECT throws_ok(format('SELECT taskflow.schedule(%L, queue => %L, depends_on => ARRAY[%s::bigint])', 'wf.x', 'wf_q', :f),
  '55000', 'cannot depend on job ' || :f || ': it is FAILED', 'depending on a FAILED job with the cancel policy is refused');
SELECT is(pg_temp.st(taskflow.schedule('wf.runany', queue => 'wf_q', depends_on => ARRAY[:f],
  on_dependency_failure => 'run')), 'PENDING', 'with on_dependency_failure run it is released at once');
SELECT throws_ok($$SELECT taskflow.schedule('wf.x', queue => 'wf_q', depends_on => ARRAY[-5::bigint])$$,
  '22023', 'dependency -5 does not exist in tenant "default"', 'a missing dependency: 22023');
SELECT throws_ok($$SELECT taskflow.schedule('wf.x', queue => 'wf_q', depends_on => ARRAY[NULL::bigint])$$,
  '22023', 'depends_on must not contain NULL', 'a NULL dependency: 22023');
SELECT throws_ok(format('SELECT taskflow.schedule(%L, queue => %L, depends_on => ARRAY[%s::bigint], on_dependency_failure => %L)', 'wf.x', 'wf_q', :a, 'maybe'),
  '22023', NULL, 'an unknown failure policy: 22023');
SELECT throws_ok(format('SELECT taskflow.schedule(%L, queue => %L, tenant_id => %L, depends_on => ARRAY[%s::bigint])', 'wf.x', 'wf_q', 'other', :a),
  '22023', 'dependency ' || :a || ' does not exist in tenant "other"', 'a dependency in another tenant: 22023');
SET LOCAL taskflow.max_workflow_nodes = 2;
SELECT throws_ok(format('SELECT taskflow.schedule(%L, queue => %L, depends_on => ARRAY[%s, %s, %s]::bigint[])', 'wf.x', 'wf_q', :a, :p1, :p2),
  '22023', 'depends_on has 3 jobs, the limit is 2', 'depends_on is bounded by taskflow.max_workflow_nodes');
RESET taskflow.max_workflow_nodes;

-- run_at in the future: released into SCHEDULED at that time
SELECT taskflow.schedule('wf.r0', queue => 'wf_q') AS r0 \gset
SELECT taskflow.schedule('wf.r1', queue => 'wf_q', run_at => now() + interval '1 hour', depends_on => ARRAY[:r0]) AS r1 \gset
SELECT is(pg_temp.run_ok(:r0), 'SUCCEEDED', 'dependency of a delayed job done');
SELECT is((SELECT ROW(state::text, next_run_at) FROM taskflow.jobs WHERE id = :r1),
  ROW('SCHEDULED'::text, now() + interval '1 hour'), 'released into its run_at: SCHEDULED until then');

-- === failure propagation ========================================================================
-- P -> X -> Y (cancel edges), P -> Z (run anyway)
SELECT taskflow.schedule('wf.P', queue => 'wf_q') AS pp \gset
SELECT taskflow.schedule('wf.X', queue => 'wf_q', depends_on => ARRAY[:pp]) AS x \gset
SELECT taskflow.schedule('wf.Y', queue => 'wf_q', depends_on => ARRAY[:x]) AS y \gset
SELECT taskflow.schedule('wf.Z', queue => 'wf_q', depends_on => ARRAY[:pp], on_dependency_failure => 'run') AS z \gset
SELECT is(pg_temp.run_fail(:pp), 'FAILED', 'the root fails');
SELECT is((SELECT ROW(state::text, cancel_reason) FROM taskflow.jobs WHERE id = :x),
  ROW('CANCELLED'::text, 'dependency ' || :pp || ' ended FAILED'), 'its dependent is CANCELLED with a reason naming it');
SELECT is((SELECT ROW(state::text, cancel_reason) FROM taskflow.jobs WHERE id = :y),
  ROW('CANCELLED'::text, 'dependency ' || :x || ' ended CANCELLED'), 'and transitively the dependent''s dependent');
SELECT is(pg_temp.last_event(:y), 'SCHEDULED>CANCELLED workflow: cancelled: dependency ' || :x || ' ended CANCELLED',
  'the audit trail says why it was cancelled');
SELECT is(pg_temp.st(:z), 'PENDING', 'a run-anyway edge releases the dependent');
SELECT is(taskflow.dependency_results(:z) -> 0 -> 'state', '"FAILED"'::jsonb, 'which sees the failure');
SELECT is(taskflow.dependency_results(:z) -> 0 ->> 'error_type', 'Boom', 'with its error');
-- re-arm: retrying the root re-arms X and Y, not Z (it was released)
SELECT is(taskflow.retry(:pp)::text, 'PENDING', 'the failed root is retried');
SELECT is((SELECT ROW(state::text, dependencies_pending, next_run_at, cancel_reason) FROM taskflow.jobs WHERE id = :x),
  ROW('SCHEDULED'::text, 1, 'infinity'::timestamptz, NULL::text), 'its cancelled dependent waits again');
SELECT is(pg_temp.st(:y), 'SCHEDULED', 'transitively');
SELECT is(pg_temp.last_event(:y), 'CANCELLED>SCHEDULED workflow: re-armed: dependency ' || :x || ' was retried',
  'the audit trail says why it was re-armed');
SELECT is(pg_temp.st(:z), 'PENDING', 'a dependent that was released is left alone');
SELECT is(pg_temp.run_ok(:pp), 'SUCCEEDED', 'the retried root succeeds');
SELECT is(pg_temp.st(:x), 'PENDING', 'its dependent is released');
SELECT is(pg_temp.run_ok(:x), 'SUCCEEDED', 'and succeeds');
SELECT is(pg_temp.st(:y), 'PENDING', 'the whole chain recovered with one retry');

-- two failed dependencies: re-armed only when neither cancels it any more
SELECT taskflow.schedule('wf.F1', queue => 'wf_q') AS f1 \gset
SELECT taskflow.schedule('wf.F2', queue => 'wf_q') AS f2 \gset
SELECT taskflow.schedule('wf.G', queue => 'wf_q', depends_on => ARRAY[:f1, :f2]) AS g \gset
SELECT is(pg_temp.run_fail(:f1) || pg_temp.run_fail(:f2), 'FAILEDFAILED', 'both dependencies fail');
SELECT is((SELECT cancel_reason FROM taskflow.jobs WHERE id = :g), 'dependency ' || :f1 || ' ended FAILED',
  'the first one cancels it');
SELECT is(taskflow.retry(:f1)::text, 'PENDING', 'retry the first');
SELECT is((SELECT ROW(state::text, cancel_reason) FROM taskflow.jobs WHERE id = :g),
  ROW('CANCELLED'::text, 'dependency ' || :f2 || ' ended FAILED'), 'still cancelled, now because of the second');
SELECT is(taskflow.retry(:f2)::text, 'PENDING', 'retry the second');
SELECT is((SELECT ROW(state::text, dependencies_pending) FROM taskflow.jobs WHERE id = :g), ROW('SCHEDULED'::text, 2),
  're-armed, waiting for both');

-- cancel a waiting job: its dependents are cancelled; retry it while its dependency runs: waits
SELECT taskflow.schedule('wf.H0', queue => 'wf_q') AS h0 \gset
SELECT taskflow.schedule('wf.H1', queue => 'wf_q', depends_on => ARRAY[:h0]) AS h1 \gset
SELECT taskflow.schedule('wf.H2', queue => 'wf_q', depends_on => ARRAY[:h1]) AS h2 \gset
SELECT is(taskflow.cancel(:h1, 'not needed')::text, 'CANCELLED', 'a waiting job can be cancelled');
SELECT is(pg_temp.st(:h2), 'CANCELLED', 'its dependents are cancelled too');
SELECT is(taskflow.retry(:h1)::text, 'SCHEDULED', 'retrying it while its dependency is unfinished: it waits again');
SELECT is(pg_temp.st(:h2), 'SCHEDULED', 'and re-arms its own dependents');
SELECT is(pg_temp.run_ok(:h0) || pg_temp.st(:h1), 'SUCCEEDEDPENDING', 'then runs when the dependency finishes');

-- the Rescuer finishes a dependency (lease expired, no attempts left): the dependent is cancelled
SELECT taskflow.schedule('wf.R', queue => 'wf_q') AS rr \gset
SELECT taskflow.schedule('wf.S', queue => 'wf_q', depends_on => ARRAY[:rr]) AS ss \gset
SELECT job_id FROM taskflow.acquire('w', ARRAY['wf_q'], 1, job_types => ARRAY['wf.R']) \gset
UPDATE taskflow.jobs SET lease_expires_at = now() - interval '1 second' WHERE id = :rr;
SELECT ok(taskflow._rescue_expired(100) >= 1, 'the Rescuer ends the expired attempt');
SELECT is(pg_temp.st(:rr), 'DEAD', 'no attempts left: DEAD');
SELECT is((SELECT ROW(state::text, cancel_reason) FROM taskflow.jobs WHERE id = :ss),
  ROW('CANCELLED'::text, 'dependency ' || :rr || ' ended DEAD'), 'the Rescuer''s transaction cancels the dependent');

-- === schedule_workflow: the report example ======================================================
SELECT taskflow.schedule_workflow($${
  "name": "report-42",
  "nodes": [
    {"key": "render-1", "job_type": "wf.render", "queue": "wf_q", "payload": {"page": 1}},
    {"key": "render-2", "job_type": "wf.render", "queue": "wf_q", "payload": {"page": 2}},
    {"key": "render-3", "job_type": "wf.render", "queue": "wf_q", "payload": {"page": 3}},
    {"key": "merge", "job_type": "wf.merge", "queue": "wf_q"},
    {"key": "notify", "job_type": "wf.notify", "queue": "wf_q"}],
  "edges": [
    {"from": "render-1", "to": "merge"}, {"from": "render-2", "to": "merge"},
    {"from": "render-3", "to": "merge"}, {"from": "merge", "to": "notify", "on_failure": "run"}]
}$$) AS wf \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'wf'::jsonb -> 'jobs') k),
  ARRAY['merge', 'notify', 'render-1', 'render-2', 'render-3'], 'schedule_workflow returns the ids by key');
SELECT (:'wf'::jsonb ->> 'workflow_id')::bigint AS wid, (:'wf'::jsonb -> 'jobs' ->> 'merge')::bigint AS merge,
       (:'wf'::jsonb -> 'jobs' ->> 'render-1')::bigint AS r1, (:'wf'::jsonb -> 'jobs' ->> 'notify')::bigint AS notify \gset
SELECT is((SELECT array_agg(state::text ORDER BY id) FROM taskflow.jobs WHERE id IN
  (SELECT (value #>> '{}')::bigint FROM jsonb_each(:'wf'::jsonb -> 'jobs'))),
  ARRAY['PENDING', 'PENDING', 'PENDING', 'SCHEDULED', 'SCHEDULED'], 'roots ready, the rest waiting');
SELECT is((SELECT reason FROM taskflow.job_events WHERE job_id = :merge ORDER BY id LIMIT 1),
  'waiting for 3 dependencies: render-1, render-2, render-3', 'a node''s creation event names its dependencies by key');
SELECT is(taskflow.workflow_status(:wid) -> 'counts', '{"PENDING": 3, "SCHEDULED": 2}'::jsonb, 'workflow_status counts');
SELECT is(taskflow.workflow_status(:wid) ->> 'state', 'running', 'the workflow is running');
SELECT is((SELECT ROW(started_at, finished_at)::text FROM taskflow.list_workflows() WHERE id = :wid),
  ROW(NULL::timestamptz, NULL::timestamptz)::text, 'list_workflows: not started, not finished before a node runs');
SELECT is(jsonb_array_length(taskflow.workflow_status(:wid) -> 'edges'), 4, 'workflow_status lists the edges');
SELECT is((taskflow.get_job(:merge) ->> 'workflow_id')::bigint, :wid::bigint, 'get_job names the workflow');
SELECT is(pg_temp.run_ok(:r1, '{"pdf": "p1"}') || pg_temp.run_ok(:r1 + 1, '{"pdf": "p2"}') || pg_temp.run_ok(:r1 + 2, '{"pdf": "p3"}'),
  'SUCCEEDEDSUCCEEDEDSUCCEEDED', 'the pages render');
SELECT is((SELECT jsonb_agg(x ->> 'key') FROM jsonb_array_elements(taskflow.dependency_results(:merge)) x),
  '["render-1", "render-2", "render-3"]'::jsonb, 'the merge sees the pages by key');
SELECT is(pg_temp.run_fail(:merge), 'FAILED', 'the merge fails');
SELECT is(pg_temp.st(:notify), 'PENDING', 'notify runs anyway (on_failure run)');
SELECT is(pg_temp.run_ok(:notify), 'SUCCEEDED', 'notify done');
SELECT is(taskflow.workflow_status(:wid) ->> 'state', 'failed', 'a finished workflow with a FAILED node is failed');
SELECT ok((SELECT count(*) FROM taskflow.list_workflows() WHERE id = :wid AND state = 'failed' AND name = 'report-42') = 1,
  'list_workflows lists it with its state');
SELECT is((SELECT ROW(l.started_at, l.finished_at)::text FROM taskflow.list_workflows() l WHERE l.id = :wid),
  (SELECT ROW((s ->> 'started_at')::timestamptz, (s ->> 'finished_at')::timestamptz)::text
   FROM (SELECT taskflow.workflow_status(:wid) AS s) x),
  'list_workflows: started and finished as workflow_status says (the first start, the last finish)');
SELECT ok((SELECT started_at IS NOT NULL AND finished_at >= started_at FROM taskflow.list_workflows() WHERE id = :wid),
  'list_workflows: a finished workflow has both times');

-- cancel_workflow
SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "wf.ca", "queue": "wf_q"},
  {"key": "b", "job_type": "wf.cb", "queue": "wf_q"}], "edges": [{"from": "a", "to": "b"}]}') AS wf2 \gset
SELECT is(taskflow.cancel_workflow((:'wf2'::jsonb ->> 'workflow_id')::bigint), 1,
  'cancel_workflow cancels the root; the waiting node follows by propagation');
SELECT is(taskflow.workflow_status((:'wf2'::jsonb ->> 'workflow_id')::bigint) -> 'counts', '{"CANCELLED": 2}'::jsonb,
  'every node is CANCELLED');

-- === schedule_workflow refusals: 22023 and nothing written =====================================
SELECT count(*) AS jobs_before FROM taskflow.jobs \gset
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}')$$,
  '22023', 'workflow has a cycle: "a" -> "b" -> "a"', 'a cycle is refused');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}], "edges": [{"from": "a", "to": "nope"}]}')$$,
  '22023', 'edges[0]: unknown node key "nope" in "to"', 'an unknown key is refused');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"tenant_id": "t1", "nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x", "tenant_id": "t2"}]}')$$,
  '22023', 'nodes[1]: tenant_id differs from the workflow''s tenant "t1"', 'a node in another tenant is refused');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x", "unique_key": "k"}]}')$$,
  '22023', 'nodes[0]: unique_key is not supported in a workflow node', 'unique keys are refused in nodes');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x", "queue": "no_such_queue"}], "edges": [{"from": "a", "to": "b"}]}')$$,
  '42704', NULL, 'a bad node (unknown queue) fails the whole workflow');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}], "extra": 1}')$$,
  '22023', 'spec: unknown key(s) extra', 'unknown spec keys are refused');
SET LOCAL taskflow.max_workflow_nodes = 3;
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"}, {"key": "c", "job_type": "x"}, {"key": "d", "job_type": "x"}]}')$$,
  '22023', 'workflow has 4 nodes, the limit is 3', 'an oversized graph is refused');
RESET taskflow.max_workflow_nodes;
SET LOCAL taskflow.max_workflow_edges = 1;
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "x"}, {"key": "b", "job_type": "x"}, {"key": "c", "job_type": "x"}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}')$$,
  '22023', 'workflow has 2 edges, the limit is 1', 'too many edges are refused');
RESET taskflow.max_workflow_edges;
SELECT is((SELECT count(*) FROM taskflow.jobs), :jobs_before::bigint, 'nothing was written by the refused workflows');

-- === tenant isolation ===========================================================================
CREATE ROLE wf_ta;
CREATE ROLE wf_tb;
SELECT taskflow.grant_tenant('wf_ta', 'wf_tenant_a');
SELECT taskflow.grant_tenant('wf_tb', 'wf_tenant_b');
SET LOCAL ROLE wf_tb;
SELECT taskflow.schedule('wf.tb', queue => 'wf_q') AS tbjob \gset
SELECT taskflow.schedule_workflow('{"nodes": [{"key": "only", "job_type": "wf.tb", "queue": "wf_q"}]}') AS tbwf \gset
RESET ROLE;
SET LOCAL ROLE wf_ta;
SELECT throws_ok(format('SELECT taskflow.schedule(%L, queue => %L, depends_on => ARRAY[%s::bigint])', 'wf.x', 'wf_q', :tbjob),
  '22023', 'dependency ' || :tbjob || ' does not exist in tenant "wf_tenant_a"',
  'a confined tenant cannot depend on another tenant''s job (same answer as a missing one)');
SELECT is(taskflow.workflow_status((:'tbwf'::jsonb ->> 'workflow_id')::bigint), NULL, 'nor read its workflow');
SELECT throws_ok(format('SELECT taskflow.cancel_workflow(%s)', :'tbwf'::jsonb ->> 'workflow_id'), 'P0002', NULL,
  'nor cancel it');
SELECT is((SELECT count(*) FROM taskflow.list_workflows()), 0::bigint, 'nor list it');
SELECT is(taskflow.dependency_results(:tbjob), NULL, 'nor read a job''s dependency results');
SELECT throws_ok($$SELECT taskflow.schedule_workflow('{"tenant_id": "wf_tenant_b", "nodes": [{"key": "a", "job_type": "x", "queue": "wf_q"}]}')$$,
  '42501', NULL, 'nor start a workflow in another tenant');
RESET ROLE;

-- === resolving an edge stays on its page (HOT): job_dependencies keeps half of each page free ===
-- 300 pairs p -> c, enough edges to fill pages at the default fillfactor; completing the 300
-- parents in one batch updates the 300 edges, each without new index entries.
SELECT (taskflow.schedule_workflow(jsonb_build_object(
  'nodes', (SELECT jsonb_agg(n) FROM (SELECT jsonb_build_object('key', 'p' || i, 'job_type', 'wf.hotp', 'queue', 'wf_q') n
            FROM generate_series(1, 300) i UNION ALL SELECT jsonb_build_object('key', 'c' || i, 'job_type', 'wf.hotc', 'queue', 'wf_q')
            FROM generate_series(1, 300) i) x),
  'edges', (SELECT jsonb_agg(jsonb_build_object('from', 'p' || i, 'to', 'c' || i)) FROM generate_series(1, 300) i)))
  ->> 'workflow_id')::bigint AS hotwf \gset
SELECT pg_stat_get_xact_tuples_updated('taskflow.job_dependencies'::regclass) AS upd0,
       pg_stat_get_xact_tuples_hot_updated('taskflow.job_dependencies'::regclass) AS hot0 \gset
SELECT is((SELECT taskflow.complete_many(array_agg(job_id), array_agg(lease_token))
           FROM taskflow.acquire('wf-worker', ARRAY['wf_q'], 300, job_types => ARRAY['wf.hotp'])), 300,
  'the 300 parents complete in one batch');
SELECT is(ARRAY[pg_stat_get_xact_tuples_updated('taskflow.job_dependencies'::regclass) - :upd0,
                pg_stat_get_xact_tuples_hot_updated('taskflow.job_dependencies'::regclass) - :hot0],
  ARRAY[300, 300]::bigint[], 'their 300 edges were resolved, every update HOT (no index entry added)');

-- === the Cleaner removes finished workflows' edges, nodes and then the workflow =================
SELECT (taskflow.schedule_workflow('{"nodes": [{"key": "a", "job_type": "wf.cl", "queue": "wf_q"},
  {"key": "b", "job_type": "wf.cl", "queue": "wf_q"}], "edges": [{"from": "a", "to": "b"}]}') ->> 'workflow_id')::bigint AS clwf \gset
UPDATE taskflow.jobs SET state = 'SUCCEEDED', finished_at = now() - interval '10 days', dependencies_pending = 0
  WHERE id IN (SELECT job_id FROM taskflow.workflow_nodes WHERE workflow_id = :clwf);
UPDATE taskflow.workflows SET created_at = now() - interval '10 days' WHERE id = :clwf;
SELECT array_agg(job_id) AS cljobs FROM taskflow.workflow_nodes WHERE workflow_id = :clwf \gset
SELECT ok(taskflow._clean(86400, 1000) >= 2, 'the Cleaner deletes the finished nodes');
SELECT is((SELECT count(*) FROM taskflow.job_dependencies WHERE job_id = ANY(:'cljobs'::bigint[]))
          + (SELECT count(*) FROM taskflow.workflow_nodes WHERE workflow_id = :clwf), 0::bigint,
  'with their edges and their workflow_nodes rows');
SELECT taskflow._clean(86400, 1000);
SELECT is((SELECT count(*) FROM taskflow.workflows WHERE id = :clwf), 0::bigint,
  'and then the workflow that has no node left');

SELECT * FROM finish();
ROLLBACK;
