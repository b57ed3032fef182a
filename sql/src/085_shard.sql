-- ---------------------------------------------------------------------------------------------
-- Scale-out (docs/scale-out.md): this database as one shard behind a PL/Proxy router
-- (router/taskflow_router). Nothing here runs unless an admin calls it; a database that is not a
-- shard (shard 0, the default) numbers its jobs and rules exactly as before.
--
-- Ids say their shard: shard k numbers jobs and rules from k * 2^48 + 1 to (k + 1) * 2^48 - 1,
-- so the router routes an id to shard (id >> 48) without asking anyone. The range lives in the
-- identity sequences' MINVALUE/MAXVALUE: it is durable, cannot be changed by a session, and a
-- shard that used up its range fails (nextval: reached maximum value) instead of handing out
-- another shard's ids.
-- ---------------------------------------------------------------------------------------------

-- The shard this database numbers its ids for (0 unless set_shard said otherwise).
CREATE FUNCTION taskflow.shard_id() RETURNS integer
LANGUAGE sql VOLATILE
AS $$
  SELECT ((s.seqmin - 1) >> 48)::integer FROM pg_catalog.pg_sequence s
  WHERE s.seqrelid = 'taskflow.jobs_id_seq'::pg_catalog.regclass
$$;

-- Makes this database shard `shard_id` (0 to 32766): job, rule and workflow ids from then on
-- are drawn from that shard's range. Idempotent; refused once the database has jobs or rules numbered for
-- another shard (their ids would route elsewhere).
CREATE FUNCTION taskflow.set_shard(shard_id integer) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  cur integer := taskflow.shard_id();
  lo bigint;
  hi bigint;
  seq text;
  col text;
  last bigint;
BEGIN
  PERFORM taskflow._check_range(shard_id, 'shard_id', 0, 32766);
  lo := (shard_id::bigint << 48) + 1;
  hi := ((shard_id::bigint + 1) << 48) - 1;
  IF cur <> shard_id AND (
       EXISTS (SELECT FROM taskflow.jobs j WHERE (j.id >> 48) = cur)
    OR EXISTS (SELECT FROM taskflow.automation_rules r WHERE (r.id >> 48) = cur)
    OR EXISTS (SELECT FROM taskflow.workflows w WHERE (w.id >> 48) = cur)) THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('cannot make this database shard %s: it has jobs or rules numbered for shard %s',
                       shard_id, cur),
      HINT = 'Set the shard of a new database, before it takes jobs.';
  END IF;
  FOR seq, col IN VALUES ('taskflow.jobs_id_seq', 'taskflow.jobs'),
                         ('taskflow.automation_rules_id_seq', 'taskflow.automation_rules'),
                         ('taskflow.workflows_id_seq', 'taskflow.workflows') LOOP
    SELECT COALESCE(s.last_value, 0) INTO last FROM pg_catalog.pg_sequences s
    WHERE format('%I.%I', s.schemaname, s.sequencename)::regclass = seq::regclass;
    IF last > hi THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('cannot make this database shard %s: %s is at %s, past the range', shard_id, seq, last);
    END IF;
    IF last < lo THEN
      EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET START WITH %s SET MINVALUE %s SET MAXVALUE %s RESTART WITH %s',
                     col, lo, lo, hi, lo);
    ELSE
      EXECUTE format('ALTER TABLE %s ALTER COLUMN id SET START WITH %s SET MINVALUE %s SET MAXVALUE %s',
                     col, lo, lo, hi);
    END IF;
  END LOOP;
END
$$;

-- Moving a tenant between shards (taskflow_router.move_tenant drives these three):
--   export_tenant(t)        its jobs (unfinished and finished), attempts, events, dependency
--                           edges, workflows and their nodes, rules, firings, webhook
--                           deliveries, tenant row and tenant rate limit, as one document
--   import_tenant(doc)      inserts that document here (ids kept: they are globally unique)
--   purge_tenant(t, fp)     deletes the tenant here, only if its export still has fingerprint fp
-- A tenant with RUNNING jobs is not exported (55006): their leases belong to this shard's workers.
CREATE FUNCTION taskflow.export_tenant(tenant_id text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  t text := export_tenant.tenant_id;
BEGIN
  PERFORM taskflow._check_tenant_id(t);
  IF EXISTS (SELECT FROM taskflow.jobs j WHERE j.tenant_id = t AND j.state = 'RUNNING') THEN
    RAISE EXCEPTION USING ERRCODE = '55006',
      MESSAGE = format('tenant "%s" has running jobs and cannot be moved now', t),
      HINT = 'Wait until its running jobs end (or pause its queues), then move it again.';
  END IF;
  RETURN jsonb_build_object(
    'tenant_id', t,
    'tenant', (SELECT to_jsonb(x) FROM taskflow.tenants x WHERE x.id = t),
    'rate_limit', (SELECT to_jsonb(x) FROM taskflow.rate_limits x WHERE x.scope = 'tenant' AND x.name = t),
    'jobs', COALESCE((SELECT jsonb_agg(to_jsonb(j) ORDER BY j.id) FROM taskflow.jobs j
                      WHERE j.tenant_id = t), '[]'),
    'attempts', COALESCE((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.job_id, a.attempt)
                          FROM taskflow.job_attempts a JOIN taskflow.jobs j ON j.id = a.job_id
                          WHERE j.tenant_id = t), '[]'),
    'events', COALESCE((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.id)
                        FROM taskflow.job_events e JOIN taskflow.jobs j ON j.id = e.job_id
                        WHERE j.tenant_id = t), '[]'),
    'dependencies', COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.job_id, d.depends_on)
                              FROM taskflow.job_dependencies d WHERE d.tenant_id = t), '[]'),
    'workflows', COALESCE((SELECT jsonb_agg(to_jsonb(w) ORDER BY w.id) FROM taskflow.workflows w
                           WHERE w.tenant_id = t), '[]'),
    'workflow_nodes', COALESCE((SELECT jsonb_agg(to_jsonb(n) ORDER BY n.workflow_id, n.node_key)
                                FROM taskflow.workflow_nodes n WHERE n.tenant_id = t), '[]'),
    'rules', COALESCE((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.id) FROM taskflow.automation_rules r
                       WHERE r.tenant_id = t), '[]'),
    'firings', COALESCE((SELECT jsonb_agg(to_jsonb(f) ORDER BY f.id) FROM taskflow.rule_firings f
                         WHERE f.tenant_id = t), '[]'),
    'deliveries', COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.rule_id, d.delivery_id)
                            FROM taskflow.webhook_deliveries d JOIN taskflow.automation_rules r
                              ON r.id = d.rule_id WHERE r.tenant_id = t), '[]'));
END
$$;

-- Inserts an export_tenant document. Job and rule ids are kept; event and firing ids are drawn
-- here (in their original order), so the tenant's later events sort after the moved ones.
-- Returns the number of jobs imported. Refused (23505) if the tenant already has jobs or rules here.
CREATE FUNCTION taskflow.import_tenant(doc jsonb) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  t text := doc ->> 'tenant_id';
  n bigint;
  rid bigint;
BEGIN
  PERFORM taskflow._check_tenant_id(t);
  IF EXISTS (SELECT FROM taskflow.jobs j WHERE j.tenant_id = t)
     OR EXISTS (SELECT FROM taskflow.automation_rules r WHERE r.tenant_id = t) THEN
    RAISE EXCEPTION USING ERRCODE = '23505',
      MESSAGE = format('tenant "%s" already has jobs or rules on this shard', t);
  END IF;
  IF jsonb_typeof(doc -> 'tenant') = 'object' THEN
    INSERT INTO taskflow.tenants SELECT * FROM jsonb_populate_record(NULL::taskflow.tenants, doc -> 'tenant')
      ON CONFLICT (id) DO UPDATE SET attributes = EXCLUDED.attributes, max_running = EXCLUDED.max_running,
        weight = EXCLUDED.weight, updated_at = now();
  END IF;
  IF jsonb_typeof(doc -> 'rate_limit') = 'object' THEN
    INSERT INTO taskflow.rate_limits
      SELECT * FROM jsonb_populate_record(NULL::taskflow.rate_limits, doc -> 'rate_limit')
      ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
        SET max_starts = EXCLUDED.max_starts, period = EXCLUDED.period, tokens = EXCLUDED.tokens;
  END IF;
  INSERT INTO taskflow.jobs
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.jobs, doc -> 'jobs');
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO taskflow.job_attempts
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.job_attempts, doc -> 'attempts');
  INSERT INTO taskflow.job_events (job_id, from_state, to_state, at, actor, reason)
    SELECT e.job_id, e.from_state, e.to_state, e.at, e.actor, e.reason
    FROM jsonb_populate_recordset(NULL::taskflow.job_events, doc -> 'events') e ORDER BY e.id;
  -- workflow ids are kept (shard-numbered like job ids since set_shard)
  INSERT INTO taskflow.job_dependencies
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.job_dependencies, doc -> 'dependencies');
  INSERT INTO taskflow.workflows
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.workflows, doc -> 'workflows');
  INSERT INTO taskflow.workflow_nodes
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.workflow_nodes, doc -> 'workflow_nodes');
  INSERT INTO taskflow.automation_rules
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.automation_rules, doc -> 'rules');
  INSERT INTO taskflow.rule_firings (rule_id, fired_at, source, actor, tenant_id, context, matched,
                                     job_ids, error, error_sqlstate, source_job_id, chain_depth)
    SELECT f.rule_id, f.fired_at, f.source, f.actor, f.tenant_id, f.context, f.matched, f.job_ids,
           f.error, f.error_sqlstate, f.source_job_id, f.chain_depth
    FROM jsonb_populate_recordset(NULL::taskflow.rule_firings, doc -> 'firings') f ORDER BY f.id;
  INSERT INTO taskflow.webhook_deliveries
    SELECT * FROM jsonb_populate_recordset(NULL::taskflow.webhook_deliveries, doc -> 'deliveries');
  FOR rid IN SELECT (r ->> 'id')::bigint FROM jsonb_array_elements(doc -> 'rules') r LOOP
    PERFORM taskflow._sync_cron(rid);  -- cron rules get their pg_cron job here
  END LOOP;
  RETURN n;
END
$$;

-- Deletes the tenant's jobs, history, rules and settings from this shard, in one transaction,
-- only if they are still exactly what export_tenant returned (fingerprint = md5 of its text):
-- a job scheduled, acquired, promoted or cancelled here since the export fails the purge with
-- 40001 and nothing is deleted. Returns the number of jobs deleted.
CREATE FUNCTION taskflow.purge_tenant(tenant_id text, fingerprint text) RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  t text := purge_tenant.tenant_id;
  n bigint;
  rids bigint[];
  doc jsonb;
BEGIN
  PERFORM FROM taskflow.jobs j WHERE j.tenant_id = t FOR UPDATE;
  doc := taskflow.export_tenant(t);
  IF fingerprint IS DISTINCT FROM md5(doc::text) THEN
    RAISE EXCEPTION USING ERRCODE = '40001',
      MESSAGE = format('tenant "%s" changed on this shard during the move', t),
      HINT = 'Nothing was deleted; move it again.';
  END IF;
  SELECT COALESCE(array_agg(r.id), '{}') INTO rids FROM taskflow.automation_rules r WHERE r.tenant_id = t;
  DELETE FROM taskflow.webhook_deliveries d WHERE d.rule_id = ANY(rids);
  DELETE FROM taskflow.rule_firings f WHERE f.tenant_id = t;
  DELETE FROM taskflow.automation_rules r WHERE r.id = ANY(rids);
  PERFORM taskflow._sync_cron(x) FROM unnest(rids) x;  -- drops their pg_cron jobs
  DELETE FROM taskflow.job_attempts a USING taskflow.jobs j WHERE j.id = a.job_id AND j.tenant_id = t;
  DELETE FROM taskflow.job_events e USING taskflow.jobs j WHERE j.id = e.job_id AND j.tenant_id = t;
  DELETE FROM taskflow.job_dependencies d WHERE d.tenant_id = t;
  DELETE FROM taskflow.workflow_nodes n WHERE n.tenant_id = t;
  DELETE FROM taskflow.workflows w WHERE w.tenant_id = t;
  DELETE FROM taskflow.jobs j WHERE j.tenant_id = t;
  GET DIAGNOSTICS n = ROW_COUNT;
  DELETE FROM taskflow.rate_limits r WHERE r.scope = 'tenant' AND r.name = t;
  DELETE FROM taskflow.tenants x WHERE x.id = t;
  -- a job of the tenant committed after the fingerprint was taken: undo everything
  IF n <> jsonb_array_length(doc -> 'jobs') THEN
    RAISE EXCEPTION USING ERRCODE = '40001',
      MESSAGE = format('tenant "%s" changed on this shard during the move', t),
      HINT = 'Nothing was deleted; move it again.';
  END IF;
  RETURN n;
END
$$;

-- HTTP through the router (docs/scale-out.md#http): the router connects to a shard as the role
-- a request runs as, so the HTTP key roles (created NOLOGIN by create_api_key) must be able to
-- log in to the shards (admitted by pg_hba only from the router). Only key roles qualify, and
-- taskflow_http itself (the server looks keys up as taskflow_http).
CREATE FUNCTION taskflow.allow_router_login(role name) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  IF role IS NULL OR NOT (role IN ('taskflow_http', 'taskflow_http_admin')
                         OR role ~ '^taskflow_t_[0-9a-f]{20}$') THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" is not an HTTP API key role', role);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('role "%s" does not exist', role);
  END IF;
  EXECUTE format('ALTER ROLE %I LOGIN', role);
END
$$;

-- Privileges (090_grants.sql ran before this file): admins only, like every administration
-- function (they are SECURITY DEFINER: set_shard alters the sequences, the move writes every
-- table, allow_router_login alters roles).
REVOKE ALL ON FUNCTION taskflow.shard_id(), taskflow.set_shard(integer), taskflow.export_tenant(text),
  taskflow.import_tenant(jsonb), taskflow.purge_tenant(text, text),
  taskflow.allow_router_login(name) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION taskflow.shard_id(), taskflow.set_shard(integer), taskflow.export_tenant(text),
  taskflow.import_tenant(jsonb), taskflow.purge_tenant(text, text), taskflow.allow_router_login(name)
  TO taskflow_admin;
