-- Scale-out, the shard side (docs/scale-out.md): set_shard/shard_id (ids say their shard) and
-- the tenant move's export_tenant/import_tenant/purge_tenant. The router itself is tested with
-- three clusters in test/t/scale_out.t. Everything here is rolled back.
BEGIN;
SELECT plan(29);

SELECT 'tfs_' || substr(md5(random()::text), 1, 8) AS sfx \gset
SELECT taskflow.create_queue(:'sfx' || '_q') AS x \gset
SELECT :'sfx' || '_q' AS q, :'sfx' || '_t' AS t \gset

SELECT is(taskflow.shard_id(), 0, 'a database is shard 0 unless set_shard says otherwise');
SELECT throws_ok($$SELECT taskflow.set_shard(-1)$$, '22023', 'shard_id must be between 0 and 32766',
                 'set_shard: a negative shard is refused');
SELECT throws_ok($$SELECT taskflow.set_shard(32767)$$, '22023', NULL,
                 'set_shard: a shard past the bigint range is refused');

-- a job numbered for shard 0 blocks renumbering the database
SELECT taskflow.schedule('tfs.job', queue => :'q') AS j0 \gset
SELECT throws_ok($$SELECT taskflow.set_shard(5)$$, '55000', NULL,
                 'set_shard refuses a database that has jobs of another shard');
DELETE FROM taskflow.job_events WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE (id >> 48) = 0);
DELETE FROM taskflow.job_attempts WHERE job_id IN (SELECT id FROM taskflow.jobs WHERE (id >> 48) = 0);
DELETE FROM taskflow.jobs WHERE (id >> 48) = 0;
DELETE FROM taskflow.automation_rules WHERE (id >> 48) = 0;
DELETE FROM taskflow.job_dependencies WHERE (job_id >> 48) = 0;
DELETE FROM taskflow.workflow_nodes WHERE (workflow_id >> 48) = 0;
DELETE FROM taskflow.workflows WHERE (id >> 48) = 0;

SELECT lives_ok($$SELECT taskflow.set_shard(5)$$, 'set_shard(5) on a database without jobs');
SELECT is(taskflow.shard_id(), 5, 'shard_id() reads the shard back');
SELECT taskflow.schedule('tfs.job', queue => :'q', tenant_id => :'t') AS j1 \gset
SELECT is((:j1::bigint >> 48)::int, 5, 'a job id says its shard (id >> 48)');
SELECT is(:j1::bigint, (5::bigint << 48) + 1, 'shard 5 numbers from 5 * 2^48 + 1');
SELECT taskflow.create_rule(:'sfx' || '_r', '{"type": "webhook", "secret": null}',
  format('[{"job_type": "tfs.job", "queue": "%s"}]', :'q')::jsonb, tenant_id => :'t') AS r1 \gset
SELECT is((:r1::bigint >> 48)::int, 5, 'a rule id says its shard too');
SELECT lives_ok($$SELECT taskflow.set_shard(5)$$, 'set_shard is idempotent');
SELECT taskflow.schedule('tfs.job', queue => :'q', tenant_id => :'t') AS j2 \gset
SELECT is(:j2::bigint, :j1::bigint + 1, 'repeating set_shard does not restart the numbering');
SELECT throws_ok($$SELECT taskflow.set_shard(6)$$, '55000', NULL,
                 'set_shard refuses to move a shard that has jobs to another number');

-- the tenant move, on one database: export, purge (fingerprint checked), import
SELECT taskflow.cancel(:j2) AS x \gset
SELECT taskflow.export_tenant(:'t') AS doc \gset
SELECT is(jsonb_array_length(:'doc'::jsonb -> 'jobs') || '/' || jsonb_array_length(:'doc'::jsonb -> 'events')
          || '/' || jsonb_array_length(:'doc'::jsonb -> 'rules'), '2/3/1',
          'export_tenant: its jobs, their events, its rules');
SELECT throws_ok(format($$SELECT taskflow.purge_tenant(%L, 'stale')$$, :'t'), '40001', NULL,
                 'purge_tenant refuses a fingerprint that is not the current export');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE tenant_id = :'t'), 2::bigint, '... and deletes nothing');
SELECT is(taskflow.purge_tenant(:'t', md5(:'doc'::jsonb::text)), 2::bigint,
          'purge_tenant with the export''s fingerprint deletes the tenant''s jobs');
SELECT is((SELECT count(*) FROM taskflow.jobs WHERE tenant_id = :'t')
          + (SELECT count(*) FROM taskflow.automation_rules WHERE tenant_id = :'t'), 0::bigint,
          '... and its rules');
SELECT is(taskflow.import_tenant(:'doc'), 2::bigint, 'import_tenant inserts the document');
SELECT is((SELECT string_agg(id || ':' || state, ',' ORDER BY id) FROM taskflow.jobs WHERE tenant_id = :'t'),
          format('%s:PENDING,%s:CANCELLED', :j1, :j2), '... with the same ids and states');
SELECT throws_ok(format($$SELECT taskflow.import_tenant(%L)$$, :'doc'), '23505', NULL,
                 'import_tenant refuses a tenant that already has jobs here');
-- a tenant with a workflow moves with its edges, workflow and nodes; workflow ids say their shard
SELECT :'sfx' || '_w' AS tw \gset
SELECT taskflow.schedule_workflow(jsonb_build_object('tenant_id', :'tw', 'name', 'moving',
  'nodes', jsonb_build_array(jsonb_build_object('key', 'a', 'job_type', 'tfs.a', 'queue', :'q'),
                             jsonb_build_object('key', 'b', 'job_type', 'tfs.b', 'queue', :'q')),
  'edges', jsonb_build_array(jsonb_build_object('from', 'a', 'to', 'b')))) AS wf \gset
SELECT (:'wf'::jsonb ->> 'workflow_id')::bigint AS wid \gset
SELECT is((:wid::bigint >> 48)::int, 5, 'a workflow id says its shard too');
SELECT taskflow.export_tenant(:'tw') AS wdoc \gset
SELECT is(jsonb_array_length(:'wdoc'::jsonb -> 'dependencies') || '/' || jsonb_array_length(:'wdoc'::jsonb -> 'workflows')
          || '/' || jsonb_array_length(:'wdoc'::jsonb -> 'workflow_nodes'), '1/1/2',
          'export_tenant: its dependency edges, workflows and workflow nodes');
SELECT is(taskflow.purge_tenant(:'tw', md5(:'wdoc'::jsonb::text)), 2::bigint, 'purge_tenant deletes the workflow''s jobs');
SELECT is((SELECT count(*) FROM taskflow.job_dependencies WHERE tenant_id = :'tw')
          + (SELECT count(*) FROM taskflow.workflows WHERE tenant_id = :'tw')
          + (SELECT count(*) FROM taskflow.workflow_nodes WHERE tenant_id = :'tw'), 0::bigint,
          '... and its edges, workflow and nodes');
SELECT is(taskflow.import_tenant(:'wdoc'), 2::bigint, 'import_tenant inserts them back');
SELECT is(taskflow.workflow_status(:wid) -> 'edges', '[{"to": "b", "from": "a", "on_failure": "cancel", "parent_state": null}]'::jsonb,
          '... with the same workflow id, nodes and edges');
SELECT is((SELECT state::text || ' ' || dependencies_pending FROM taskflow.jobs
           WHERE id = (:'wf'::jsonb -> 'jobs' ->> 'b')::bigint), 'SCHEDULED 1', '... and the dependent still waiting');

SELECT count(*) FROM taskflow.acquire('tfs-worker', ARRAY[:'q'], 1) \gset
SELECT throws_ok(format($$SELECT taskflow.export_tenant(%L)$$, :'t'), '55006', NULL,
                 'export_tenant refuses a tenant with RUNNING jobs');
SELECT ok(NOT has_function_privilege('taskflow_client', 'taskflow.export_tenant(text)', 'EXECUTE')
          AND NOT has_function_privilege('taskflow_worker', 'taskflow.set_shard(integer)', 'EXECUTE')
          AND has_function_privilege('taskflow_admin', 'taskflow.purge_tenant(text, text)', 'EXECUTE'),
          'the shard functions are for admins only');

SELECT * FROM finish();
ROLLBACK;
