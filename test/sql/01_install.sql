-- Installation: schema objects, security (search_path, privileges, roles), pg_dump
-- registration, settings, the default queue and the default retry policy.
BEGIN;
SELECT plan(65);
\ir helpers.psql

-- --- objects ---------------------------------------------------------------------------------
SELECT has_schema('taskflow');
SELECT has_type('taskflow', 'job_state', 'type taskflow.job_state exists');
SELECT enum_has_labels('taskflow', 'job_state',
  ARRAY['PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED'],
  'job_state has the seven states in lifecycle order');
SELECT has_table('taskflow', 'jobs', 'table taskflow.jobs exists');
SELECT has_table('taskflow', 'queues', 'table taskflow.queues exists');
SELECT has_table('taskflow', 'job_attempts', 'table taskflow.job_attempts exists');
SELECT has_table('taskflow', 'job_events', 'table taskflow.job_events exists');
SELECT has_view('taskflow', 'dead_letter', 'view taskflow.dead_letter exists');

-- The jobs table's columns are named like get_job's keys.
SELECT columns_are('taskflow', 'jobs', ARRAY[
  'id', 'job_type', 'queue', 'tenant_id', 'state', 'payload', 'priority', 'attempts',
  'budget_offset', 'max_attempts', 'next_run_at', 'created_at', 'started_at', 'finished_at',
  'last_error_type', 'last_error_message', 'result', 'correlation_id', 'parent_job_id', 'chain_depth',
  'unique_key', 'cancel_requested', 'cancel_reason', 'timeout', 'worker_id', 'lease_token',
  'lease_expires_at', 'lease_duration', 'last_heartbeat_at', 'heartbeats', 'traceparent',
  'dependency_count', 'dependencies_pending', 'wait_run_at'],
  'taskflow.jobs has the documented columns');

SELECT has_function('taskflow', 'schedule',
  ARRAY['text', 'jsonb', 'text', 'text', 'timestamp with time zone', 'integer', 'integer',
        'text', 'text', 'bigint', 'interval', 'text', 'bigint[]', 'text'], 'schedule() has the documented signature');
SELECT has_function('taskflow', 'schedule_many', ARRAY['jsonb'], 'schedule_many(jsonb) exists');
SELECT has_function('taskflow', 'get_job', ARRAY['bigint'], 'get_job(bigint) exists');
SELECT has_function('taskflow', 'list_jobs',
  ARRAY['text', 'text', 'taskflow.job_state', 'text', 'bigint', 'integer'], 'list_jobs() exists');
SELECT has_function('taskflow', 'job_history', ARRAY['bigint'], 'job_history(bigint) exists');
SELECT has_function('taskflow', 'cancel', ARRAY['bigint', 'text'], 'cancel(bigint, text) exists');
SELECT has_function('taskflow', 'retry', ARRAY['bigint'], 'retry(bigint) exists');
SELECT has_function('taskflow', 'acquire', ARRAY['text', 'text[]', 'integer', 'interval', 'text[]'],
  'acquire() has the documented signature');
SELECT has_function('taskflow', 'heartbeat', ARRAY['bigint', 'uuid', 'interval'], 'heartbeat() exists');
SELECT has_function('taskflow', 'complete', ARRAY['bigint', 'uuid', 'jsonb'], 'complete() exists');
SELECT has_function('taskflow', 'complete_many', ARRAY['bigint[]', 'uuid[]', 'jsonb[]'],
  'complete_many() exists');
SELECT has_function('taskflow', 'fail', ARRAY['bigint', 'uuid', 'text', 'text', 'boolean'], 'fail() exists');
SELECT has_function('taskflow', 'release', ARRAY['bigint', 'uuid'], 'release() exists');
SELECT has_function('taskflow', 'snooze', ARRAY['bigint', 'uuid', 'interval'], 'snooze() exists');
SELECT has_function('taskflow', 'create_queue', ARRAY['text', 'integer', 'integer', 'jsonb', 'interval'],
  'create_queue() exists');
SELECT has_function('taskflow', 'alter_queue', ARRAY['text', 'integer', 'integer', 'jsonb', 'interval'],
  'alter_queue() exists');
SELECT has_function('taskflow', 'drop_queue', ARRAY['text'], 'drop_queue(text) exists');

-- acquire's result columns are the contract.
SELECT is(
  (SELECT array_agg(a ORDER BY n) FROM pg_proc p,
          unnest(p.proargnames, p.proargmodes::text[]) WITH ORDINALITY AS x(a, m, n)
    WHERE p.oid = 'taskflow.acquire(text, text[], integer, interval, text[])'::regprocedure
      AND m = 't'),
  ARRAY['job_id', 'attempt', 'lease_token', 'job_type', 'payload', 'queue', 'tenant_id',
        'correlation_id', 'lease_expires_at', 'timeout', 'traceparent', 'dependencies'],
  'acquire returns the documented columns in order');

-- --- security --------------------------------------------------------------------------------
CREATE TEMP VIEW tf_functions AS
  SELECT p.oid, p.oid::regprocedure AS signature, p.proconfig, p.proacl
  FROM pg_catalog.pg_proc p
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
   AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e'
  JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid AND e.extname = 'taskflow';

SELECT cmp_ok((SELECT count(*) FROM tf_functions), '>=', 25::bigint,
  'the extension owns its functions (sanity check of the view below)');

-- (aggregates take no SET clause: their transition functions, checked here, pin it; nor do
-- the row sources taskflow._rows_*, inlined into their callers' statements, checked below)
SELECT is_empty(
  $$SELECT signature::text FROM tf_functions
     WHERE (proconfig IS NULL OR NOT ('search_path=pg_catalog, pg_temp' = ANY (proconfig)))
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_aggregate a WHERE a.aggfnoid = tf_functions.oid)
       AND signature::text NOT LIKE 'taskflow.\_rows\_%'$$,
  'every function pins search_path = pg_catalog, pg_temp');

-- The row sources are what the planner can inline (LANGUAGE sql, not SECURITY DEFINER, no SET
-- option, not VOLATILE, not STRICT), and nobody but their owner may call them.
SELECT is_empty(
  $$SELECT p.oid::regprocedure::text FROM pg_catalog.pg_proc p
     WHERE p.pronamespace = 'taskflow'::regnamespace AND p.proname LIKE '\_rows\_%'
       AND (p.prolang <> (SELECT l.oid FROM pg_catalog.pg_language l WHERE l.lanname = 'sql')
            OR p.prosecdef OR p.proconfig IS NOT NULL OR p.provolatile = 'v' OR p.proisstrict
            OR p.proacl IS NULL
            OR EXISTS (SELECT FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner))$$,
  'the row sources (taskflow._rows_*) can be inlined, and only their owner may call them');
SELECT cmp_ok((SELECT count(*) FROM pg_catalog.pg_proc p
               WHERE p.pronamespace = 'taskflow'::regnamespace AND p.proname LIKE '\_rows\_%'),
  '>=', 10::bigint, 'the check sees the row sources (at least 10)');
CREATE FUNCTION pg_temp.plan_of(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE 'EXPLAIN ' || query;
END
$$;
SELECT is_empty(
  $$SELECT l FROM pg_temp.plan_of('SELECT * FROM taskflow._rows_queue_live()') l WHERE l LIKE '%Function Scan%'
    UNION ALL
    SELECT l FROM pg_temp.plan_of('SELECT * FROM taskflow._rows_overview_counts(NULL, now())') l
    WHERE l LIKE '%Function Scan%'$$,
  'the planner inlines the row sources (their plans scan the tables, not a function)');

SELECT is_empty(
  $$SELECT signature::text FROM tf_functions
     WHERE proacl IS NULL
        OR EXISTS (SELECT FROM aclexplode(proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')$$,
  'no function is executable by PUBLIC');

SELECT is_empty(
  $$SELECT c.oid::regclass::text FROM pg_class c
     WHERE c.relnamespace = 'taskflow'::regnamespace AND c.relkind IN ('r', 'v', 'S')
       AND EXISTS (SELECT FROM aclexplode(COALESCE(c.relacl, acldefault('r', c.relowner))) a
                    WHERE a.grantee = 0)$$,
  'no table, view or sequence grants anything to PUBLIC');

SELECT has_role('taskflow_client');
SELECT has_role('taskflow_worker');
SELECT has_role('taskflow_admin');

-- client: schedule, read, cancel, retry; not the worker protocol, not queue administration.
SELECT ok(pg_temp.may_execute('taskflow_client',
    'taskflow.schedule(text, jsonb, text, text, timestamptz, integer, integer, text, text, bigint, interval, text, bigint[], text)',
    'taskflow.schedule_many(jsonb)',
    'taskflow.get_job(bigint)',
    'taskflow.list_jobs(text, text, taskflow.job_state, text, bigint, integer)',
    'taskflow.job_history(bigint)',
    'taskflow.cancel(bigint, text)',
    'taskflow.retry(bigint)'),
  'taskflow_client may schedule, read, cancel and retry');
SELECT ok(pg_temp.may_execute_none('taskflow_client',
    'taskflow.acquire(text, text[], integer, interval, text[])',
    'taskflow.complete(bigint, uuid, jsonb)',
    'taskflow.fail(bigint, uuid, text, text, boolean)',
    'taskflow.snooze(bigint, uuid, interval)',
    'taskflow.create_queue(text, integer, integer, jsonb, interval)',
    'taskflow._rescue_expired(integer)'),
  'taskflow_client may not run the worker protocol or administer queues');

-- worker: the worker protocol; not cancel/retry, not queue administration.
SELECT ok(pg_temp.may_execute('taskflow_worker',
    'taskflow.acquire(text, text[], integer, interval, text[])',
    'taskflow.heartbeat(bigint, uuid, interval)',
    'taskflow.complete(bigint, uuid, jsonb)',
    'taskflow.complete_many(bigint[], uuid[], jsonb[])',
    'taskflow.fail(bigint, uuid, text, text, boolean)',
    'taskflow.release(bigint, uuid)',
    'taskflow.snooze(bigint, uuid, interval)'),
  'taskflow_worker may run the worker protocol');
SELECT ok(pg_temp.may_execute_none('taskflow_worker',
    'taskflow.create_queue(text, integer, integer, jsonb, interval)',
    'taskflow.drop_queue(text)',
    'taskflow.purge_failed(interval, text)'),
  'taskflow_worker may not administer queues or purge');

-- admin: everything: every API function (internal helpers start with _) and the maintenance
-- entry points.
SELECT is_empty(
  $$SELECT signature::text FROM tf_functions f JOIN pg_proc p USING (oid)
     WHERE (p.proname !~ '^_' OR p.proname IN ('_rescue_expired', '_promote_due', '_clean'))
       AND NOT has_function_privilege('taskflow_admin', f.oid, 'EXECUTE')$$,
  'taskflow_admin may execute every API function');
SELECT ok(
  has_table_privilege('taskflow_admin', 'taskflow.jobs', 'SELECT')
  AND has_table_privilege('taskflow_admin', 'taskflow.job_attempts', 'SELECT')
  AND has_table_privilege('taskflow_admin', 'taskflow.job_events', 'SELECT')
  AND has_table_privilege('taskflow_admin', 'taskflow.dead_letter', 'SELECT'),
  'taskflow_admin may read jobs, attempts, events and dead letters');
SELECT ok(
  NOT has_table_privilege('taskflow_worker', 'taskflow.jobs', 'UPDATE')
  AND NOT has_table_privilege('taskflow_client', 'taskflow.jobs', 'INSERT')
  AND NOT has_table_privilege('taskflow_admin', 'taskflow.jobs', 'UPDATE'),
  'nobody writes taskflow.jobs directly: writes go through the functions');
SELECT ok(pg_temp.may_execute_none('taskflow_admin',
    'taskflow._selftest_boundary(text)'),
  'the boundary self-test is for superusers only');

-- The grants work in practice (helpers.psql's val and attempt run a statement as a role): a
-- client schedules, a client cannot acquire.
SELECT pg_temp.val('taskflow_client', $$SELECT taskflow.schedule('install.check')$$) AS client_job \gset
SELECT is((taskflow.get_job(:'client_job'::bigint)) ->> 'state', 'PENDING',
  'as taskflow_client, schedule() works');
SELECT is(split_part(pg_temp.attempt('taskflow_client', $$SELECT taskflow.acquire('w')$$), ':', 1), '42501',
  'as taskflow_client, acquire() is denied (42501)');

-- A worker role runs the protocol; it may not cancel. An admin creates queues.
SELECT taskflow.create_queue('t_roles') \gset
SELECT taskflow.schedule('roles.job', queue => 't_roles') AS role_job \gset
SELECT is(pg_temp.val('taskflow_worker', $$SELECT taskflow.complete(a.job_id, a.lease_token)
                                            FROM taskflow.acquire('role-worker', ARRAY['t_roles']) a$$),
  'SUCCEEDED', 'as taskflow_worker, acquire and complete work');
SELECT is(split_part(pg_temp.attempt('taskflow_worker', format('SELECT taskflow.cancel(%s)', :role_job)), ':', 1), '42501',
  'as taskflow_worker, cancel is denied (42501)');
SELECT is(pg_temp.val('taskflow_client', $$SELECT count(*) FROM taskflow.schedule_many(
    '[{"job_type": "a", "queue": "t_roles"}, {"job_type": "b", "queue": "t_roles"}]')$$), '2',
  'as taskflow_client, schedule_many works');
SELECT is(split_part(pg_temp.attempt('taskflow_client', $$SELECT taskflow.create_queue('t_roles_client')$$), ':', 1), '42501',
  'as taskflow_client, create_queue is denied (42501)');
SELECT pg_temp.attempt('taskflow_admin', $$SELECT taskflow.create_queue('t_roles_admin', priority => 3)$$) AS admin_create \gset
SELECT is((SELECT priority FROM taskflow.queues WHERE name = 't_roles_admin'), 3, 'as taskflow_admin, create_queue works');
SELECT is(pg_temp.val('taskflow_admin', $$SELECT count(*) FROM taskflow.jobs WHERE queue = 't_roles'$$), '3',
  'as taskflow_admin, taskflow.jobs is readable');

-- --- pg_dump ---------------------------------------------------------------------------------
SELECT ok(
  (SELECT ARRAY['taskflow.queues', 'taskflow.jobs', 'taskflow.job_attempts', 'taskflow.job_events']::regclass[]::oid[]
          <@ extconfig FROM pg_extension WHERE extname = 'taskflow'),
  'queues, jobs, job_attempts and job_events are registered with pg_extension_config_dump');
SELECT ok(
  (SELECT 'taskflow.jobs_id_seq'::regclass::oid = ANY (extconfig) FROM pg_extension WHERE extname = 'taskflow'),
  'the job id sequence is dumped too, so restored ids do not collide');

-- --- settings --------------------------------------------------------------------------------
SELECT is(current_setting('taskflow.maintenance_interval'), '1s', 'taskflow.maintenance_interval defaults to 1s');
SELECT is(current_setting('taskflow.default_lease'), '30s', 'taskflow.default_lease defaults to 30s');
SELECT is(current_setting('taskflow.retention'), '7d', 'taskflow.retention defaults to 7 days');
SELECT is(current_setting('taskflow.max_payload_bytes'), '1MB', 'taskflow.max_payload_bytes defaults to 1 MB');
SELECT ok(current_setting('taskflow.database_name', true) IS NOT NULL,
  'taskflow.database_name is still accepted (deprecated and ignored: every database with the extension is served)');
SELECT throws_ok($$SET taskflow.nope = 1$$, '42602', NULL, 'the taskflow. prefix is reserved');
SELECT throws_ok($$SET taskflow.maintenance_interval = '5s'$$, '55P02', NULL,
  'maintenance_interval cannot be changed per session');

-- --- the default queue and policy ------------------------------------------------------------
SELECT is((SELECT count(*) FROM taskflow.queues WHERE name = 'default'), 1::bigint,
  'a queue named default exists after install');
SELECT is(taskflow.queue_retry_policy('default'),
  '{"max_attempts": 5, "strategy": "exponential", "base_delay": "00:00:02", "max_delay": "01:00:00", "jitter": "full"}'::jsonb,
  'the default queue uses the default retry policy');
SELECT taskflow.schedule('install.default') AS default_job \gset
SELECT is((taskflow.get_job(:default_job)) -> 'max_attempts', '5'::jsonb,
  'a job in the default queue gets max_attempts 5 from the default policy');

SELECT * FROM finish();
ROLLBACK;
