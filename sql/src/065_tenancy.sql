-- ---------------------------------------------------------------------------------------------
-- Multi-tenancy: role -> tenant mapping, limits, fairness weights, rate limits, pausing, and
-- row level security. acquire() (extension/api/acquire.cpp) enforces limits and fairness.
-- ---------------------------------------------------------------------------------------------

-- The tenants' limits and weights are columns of taskflow.tenants (015_tenancy.sql).

-- Token buckets: at most max_starts job starts per period, per queue or per tenant.
CREATE TABLE taskflow.rate_limits (
  scope        text NOT NULL CHECK (scope IN ('queue', 'tenant')),
  name         text NOT NULL,
  max_starts   integer NOT NULL CHECK (max_starts >= 1),
  period       interval NOT NULL CHECK (period > interval '0'),
  tokens       double precision NOT NULL,
  refreshed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, name)
);
COMMENT ON TABLE taskflow.rate_limits IS 'Rate limits (taskflow.set_rate_limit) and their token buckets.';
SELECT pg_catalog.pg_extension_config_dump('taskflow.rate_limits', '');

-- Maps a database role to a tenant and makes it a taskflow_client. The role then sees and
-- touches only that tenant's jobs and rules, through the functions and the tables alike, and
-- so does every role that inherits from it (docs/tenancy.md, "Membership and SET ROLE").
CREATE FUNCTION taskflow.grant_tenant(role name, tenant_id text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  r oid := to_regrole(quote_ident(role));
  other record;
BEGIN
  IF role IS NULL OR tenant_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'role and tenant_id must not be NULL';
  END IF;
  IF r IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('role "%s" does not exist', role);
  END IF;
  IF EXISTS (SELECT FROM pg_catalog.pg_roles x WHERE x.oid = r
             AND (x.rolsuper OR pg_has_role(r, 'taskflow_admin', 'USAGE')
                  OR pg_has_role(r, 'taskflow_worker', 'USAGE'))) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" is a superuser, taskflow_admin or taskflow_worker and cannot be confined to a tenant', role);
  END IF;
  -- TaskFlow's own group roles: confining one would confine every role in the group.
  IF role IN ('taskflow_client', 'taskflow_worker', 'taskflow_admin', 'taskflow_http',
              'taskflow_http_admin', 'taskflow_webhook') THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" is a TaskFlow group role and cannot be confined to a tenant', role);
  END IF;
  PERFORM taskflow._check_tenant_id(tenant_id);
  -- Mappings of dropped roles (their OID could come back with another role).
  DELETE FROM taskflow.tenant_roles m
   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles x WHERE x.oid = m.role_name);
  -- A role acts for one tenant only: refuse a mapping that would put this role, or a role that
  -- inherits from it, under two tenants.
  SELECT m.role_name::text AS name, m.tenant_id INTO other FROM taskflow.tenant_roles m
   WHERE m.role_name <> r::regrole AND m.tenant_id <> grant_tenant.tenant_id
     AND (pg_has_role(r, m.role_name, 'USAGE') OR pg_has_role(m.role_name, r, 'USAGE'))
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" cannot be confined to tenant "%s": it is related by membership to role "%s" of tenant "%s"',
                       role, tenant_id, other.name, other.tenant_id),
      HINT = 'A role, and every role that inherits from it, acts for one tenant only; revoke the membership first.';
  END IF;
  INSERT INTO taskflow.tenants (id) VALUES (tenant_id) ON CONFLICT (id) DO NOTHING;
  INSERT INTO taskflow.tenant_roles AS m (role_name, tenant_id) VALUES (r::regrole, tenant_id)
    ON CONFLICT (role_name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id, granted_at = now();
  EXECUTE format('GRANT taskflow_client TO %I', role);
  PERFORM taskflow._tenant_mapping_changed();
END
$$;

CREATE FUNCTION taskflow.revoke_tenant(role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  DELETE FROM taskflow.tenant_roles m WHERE m.role_name = to_regrole(quote_ident(revoke_tenant.role));
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704',
      MESSAGE = format('role "%s" is not mapped to a tenant', role);
  END IF;
  EXECUTE format('REVOKE taskflow_client FROM %I', role);
  DELETE FROM taskflow.tenant_roles m
   WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles x WHERE x.oid = m.role_name);
  PERFORM taskflow._tenant_mapping_changed();
END
$$;

CREATE FUNCTION taskflow._check_tenant_id(tenant_id text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF tenant_id IS NULL OR tenant_id = '' OR length(tenant_id) > 200 OR tenant_id ~ '[[:cntrl:]]' THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'tenant_id must be 1 to 200 characters without control characters';
  END IF;
END
$$;

-- Most RUNNING jobs of the tenant at once (NULL: no limit).
CREATE FUNCTION taskflow.set_tenant_limit(tenant_id text, max_running integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  PERFORM taskflow._check_tenant_id(tenant_id);
  IF max_running IS NOT NULL AND max_running < 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('max_running must be at least 1 (NULL means no limit), got %s', max_running);
  END IF;
  INSERT INTO taskflow.tenants AS t (id, max_running) VALUES (tenant_id, max_running)
    ON CONFLICT (id) DO UPDATE SET max_running = EXCLUDED.max_running, updated_at = now();
END
$$;

CREATE FUNCTION taskflow.set_tenant_weight(tenant_id text, weight integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  PERFORM taskflow._check_tenant_id(tenant_id);
  PERFORM taskflow._check_range(weight, 'weight', 1, 1000);
  INSERT INTO taskflow.tenants AS t (id, weight) VALUES (tenant_id, weight)
    ON CONFLICT (id) DO UPDATE SET weight = EXCLUDED.weight, updated_at = now();
END
$$;

-- At most max_starts job starts per `per`, for a queue (scope 'queue') or a tenant ('tenant'),
-- across all workers. max_starts NULL removes the limit.
CREATE FUNCTION taskflow.set_rate_limit(scope text, name text, max_starts integer,
    per interval DEFAULT '1 second') RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  IF scope IS NULL OR scope NOT IN ('queue', 'tenant') THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'scope must be ''queue'' or ''tenant''';
  END IF;
  IF scope = 'queue' AND NOT EXISTS (SELECT FROM taskflow.queues q WHERE q.name = set_rate_limit.name) THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name);
  END IF;
  IF scope = 'tenant' THEN
    PERFORM taskflow._check_tenant_id(name);
  END IF;
  IF max_starts IS NULL THEN
    DELETE FROM taskflow.rate_limits r WHERE r.scope = set_rate_limit.scope AND r.name = set_rate_limit.name;
    RETURN;
  END IF;
  IF max_starts < 1 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'max_starts must be at least 1 (NULL removes the limit)';
  END IF;
  IF per IS NULL OR per <= interval '0' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'per must be greater than zero';
  END IF;
  INSERT INTO taskflow.rate_limits AS r (scope, name, max_starts, period, tokens)
  VALUES (scope, name, max_starts, per, max_starts)
  ON CONFLICT ON CONSTRAINT rate_limits_pkey DO UPDATE
    SET max_starts = EXCLUDED.max_starts, period = EXCLUDED.period,
        tokens = LEAST(r.tokens, EXCLUDED.max_starts);
END
$$;

CREATE FUNCTION taskflow._set_queue_paused(name text, paused boolean) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
BEGIN
  UPDATE taskflow.queues q SET paused = _set_queue_paused.paused, updated_at = now()
   WHERE q.name = _set_queue_paused.name;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name),
      HINT = 'List the queues with SELECT name FROM taskflow.queues (or: taskflow queues list); '
             'create one with SELECT taskflow.create_queue(''name'').';
  END IF;
  IF NOT paused THEN
    PERFORM pg_notify('taskflow_' || name, '');  -- wake the workers now
  END IF;
END
$$;

-- A paused queue's jobs are not acquired; scheduling into it still works.
CREATE FUNCTION taskflow.pause_queue(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
AS $$ SELECT taskflow._set_queue_paused(name, true) $$;

CREATE FUNCTION taskflow.resume_queue(name text) RETURNS void
LANGUAGE sql SECURITY DEFINER
AS $$ SELECT taskflow._set_queue_paused(name, false) $$;

-- Row level security, forced so that the table owner is no loophole. The SECURITY DEFINER
-- functions (owned by the installing superuser) apply the same confinement themselves.
ALTER TABLE taskflow.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE taskflow.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON taskflow.jobs
  USING (tenant_id = COALESCE((SELECT taskflow._caller_tenant()), tenant_id));

ALTER TABLE taskflow.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE taskflow.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON taskflow.tenants
  USING (id = COALESCE((SELECT taskflow._caller_tenant()), id));

DO $rls$
DECLARE
  t text;
BEGIN
  -- the automation tables carry tenant_id too
  FOREACH t IN ARRAY ARRAY['automation_rules', 'rule_firings', 'job_dependencies', 'workflows',
                            'workflow_nodes'] LOOP
    IF to_regclass('taskflow.' || t) IS NOT NULL AND EXISTS (
        SELECT FROM pg_catalog.pg_attribute WHERE attrelid = ('taskflow.' || t)::regclass
        AND attname = 'tenant_id' AND NOT attisdropped) THEN
      EXECUTE format('ALTER TABLE taskflow.%I ENABLE ROW LEVEL SECURITY', t);
      EXECUTE format('ALTER TABLE taskflow.%I FORCE ROW LEVEL SECURITY', t);
      -- idempotent, as every DO block of sql/src: the upgrade script runs it again
      IF NOT EXISTS (SELECT FROM pg_catalog.pg_policy WHERE polrelid = ('taskflow.' || t)::regclass
                     AND polname = 'tenant_isolation') THEN
        EXECUTE format('CREATE POLICY tenant_isolation ON taskflow.%I USING '
                       '(tenant_id = COALESCE((SELECT taskflow._caller_tenant()), tenant_id))', t);
      END IF;
    END IF;
  END LOOP;
END
$rls$;

REVOKE ALL ON taskflow.tenant_roles, taskflow.rate_limits FROM PUBLIC;
GRANT SELECT ON taskflow.tenant_roles, taskflow.rate_limits TO taskflow_admin;
-- Clients read their own tenant's rows (row level security above).
GRANT SELECT ON taskflow.jobs, taskflow.job_summaries TO taskflow_client;
GRANT SELECT ON taskflow.tenants TO taskflow_client;

-- acquire() keeps counts of limited tenants' RUNNING jobs between calls; any change to the
-- tenants (a limit set, changed or removed) makes every backend drop them at commit.
CREATE FUNCTION taskflow._tenants_changed() RETURNS trigger
AS 'MODULE_PATHNAME', 'taskflow_tenants_changed' LANGUAGE c;
CREATE TRIGGER tenants_limits_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON taskflow.tenants
  FOR EACH STATEMENT EXECUTE FUNCTION taskflow._tenants_changed();
