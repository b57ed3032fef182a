-- TaskFlow router (docs/scale-out.md): the TaskFlow client API as PL/Proxy functions that run
-- each call on the shard that holds its data. The install script is built by make from this
-- hand-written part (router/src/taskflow_router.sql) with, at its `-- @proxied` lines, the
-- functions of router/src/proxied.txt, and their grants at `-- @grants`
-- (scripts/router_script.py, docs/scale-out.md#the-routers-files).
--   tenant calls    RUN ON the tenant's shard (placement table, else hash of the tenant id)
--   id calls        RUN ON the shard the id says (id >> 48), unless the job, rule or workflow
--                   was moved
--   lists, metrics  RUN ON ALL and merged here (keyset pagination by id across shards)
--   queue admin     validated on shard 0, then applied to every other shard
-- The router keeps no job data. It connects to each shard AS THE CALLING ROLE (no user= in the
-- shard connect strings: PL/Proxy appends user=CURRENT_USER), so the shard's own tenant
-- confinement (taskflow._caller_tenant, row level security) decides what a call may see and
-- touch; the router only decides where a call goes.
\echo Use "CREATE EXTENSION taskflow_router" to load this file. \quit

-- Roles: the same names as on the shards (roles are per server, created when missing).
DO $roles$
DECLARE
  r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['taskflow_client', 'taskflow_worker', 'taskflow_admin',
                           'taskflow_webhook', 'taskflow_http_admin'] LOOP
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = r) THEN
      EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
    END IF;
  END LOOP;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'taskflow_http') THEN
    CREATE ROLE taskflow_http NOLOGIN NOINHERIT;
  END IF;
END
$roles$;

CREATE SCHEMA taskflow_router;
CREATE SCHEMA taskflow;
CREATE SCHEMA plproxy;

-- ---------------------------------------------------------------------------------------------
-- Configuration
-- ---------------------------------------------------------------------------------------------

-- The shards, numbered 0..N-1 without gaps; shard k is the database whose taskflow.set_shard(k)
-- was called. No user= in the connect string: PL/Proxy connects as the calling role.
CREATE TABLE taskflow_router.shards (
  shard   integer PRIMARY KEY CHECK (shard >= 0 AND shard <= 32766),
  connstr text NOT NULL CHECK (connstr !~* '(^|\s)user\s*=')
);
COMMENT ON TABLE taskflow_router.shards IS
  'Shard connect strings (libpq, without user=: the router connects as the calling role).';

CREATE TABLE taskflow_router.cluster_version (version integer NOT NULL);
INSERT INTO taskflow_router.cluster_version VALUES (1);

-- Explicit placement: a tenant listed here lives on this shard (pinned, or moved by
-- move_tenant); any other tenant lives on hash(tenant_id) mod N. While `moving`, the tenant's
-- calls are refused with 55006.
CREATE TABLE taskflow_router.placement (
  tenant_id  text PRIMARY KEY,
  shard      integer NOT NULL CHECK (shard >= 0),
  moving     boolean NOT NULL DEFAULT false,
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE taskflow_router.placement IS 'Tenants pinned to a shard (pin_tenant, move_tenant).';

-- Which tenant a role acts for, for routing only (taskflow.grant_tenant on the router keeps it
-- in step with the shards, where the confinement itself is enforced).
CREATE TABLE taskflow_router.tenant_roles (
  role_name regrole PRIMARY KEY,
  tenant_id text NOT NULL
);

-- Jobs, rules and workflows moved off the shard their id says (move_tenant keeps ids).
CREATE TABLE taskflow_router.relocated (
  kind  text NOT NULL CHECK (kind IN ('job', 'rule', 'workflow')),
  id    bigint NOT NULL,
  shard integer NOT NULL,
  PRIMARY KEY (kind, id)
);
COMMENT ON TABLE taskflow_router.relocated IS
  'Jobs, rules and workflows that live on another shard than their id says (moved with their tenant).';

SELECT pg_catalog.pg_extension_config_dump('taskflow_router.shards', '');
SELECT pg_catalog.pg_extension_config_dump('taskflow_router.cluster_version', '');
SELECT pg_catalog.pg_extension_config_dump('taskflow_router.placement', '');
SELECT pg_catalog.pg_extension_config_dump('taskflow_router.tenant_roles', '');
SELECT pg_catalog.pg_extension_config_dump('taskflow_router.relocated', '');

CREATE FUNCTION taskflow_router._shards_changed() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  UPDATE taskflow_router.cluster_version SET version = version + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER shards_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON taskflow_router.shards
  FOR EACH STATEMENT EXECUTE FUNCTION taskflow_router._shards_changed();

-- Adds or changes shard `shard`.
CREATE FUNCTION taskflow_router.set_shard(shard integer, connstr text) RETURNS void
LANGUAGE sql
AS $$
  INSERT INTO taskflow_router.shards AS s (shard, connstr) VALUES ($1, $2)
  ON CONFLICT (shard) DO UPDATE SET connstr = EXCLUDED.connstr
$$;

-- PL/Proxy's cluster configuration API: one cluster, 'taskflow'. SECURITY DEFINER: the connect
-- strings are not readable by the calling roles.
CREATE FUNCTION plproxy.get_cluster_version(cluster_name text) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
BEGIN
  IF cluster_name <> 'taskflow' THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('unknown cluster "%s"', cluster_name);
  END IF;
  RETURN (SELECT v.version FROM taskflow_router.cluster_version v);
END
$$;

CREATE FUNCTION plproxy.get_cluster_partitions(cluster_name text) RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  n integer;
  top integer;
BEGIN
  IF cluster_name <> 'taskflow' THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('unknown cluster "%s"', cluster_name);
  END IF;
  SELECT count(*), max(s.shard) INTO n, top FROM taskflow_router.shards s;
  IF n = 0 OR top <> n - 1 THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = 'the TaskFlow router needs shards numbered 0 to N-1 without gaps',
      HINT = 'SELECT taskflow_router.set_shard(0, ''host=... dbname=...''), then 1, 2, ...';
  END IF;
  RETURN QUERY SELECT s.connstr FROM taskflow_router.shards s ORDER BY s.shard;
END
$$;

-- modular_mapping: any number of shards (partition = hash mod N), and a shard number maps to
-- itself. Connections to a shard are kept per calling role for 10 minutes.
CREATE FUNCTION plproxy.get_cluster_config(cluster_name text, OUT key text, OUT val text)
RETURNS SETOF record
LANGUAGE sql STABLE
AS $$
  VALUES ('modular_mapping', '1'), ('connection_lifetime', '600')
$$;

-- ---------------------------------------------------------------------------------------------
-- Routing
-- ---------------------------------------------------------------------------------------------

CREATE FUNCTION taskflow_router.shard_count() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
AS $$ SELECT count(*)::integer FROM taskflow_router.shards $$;

-- The tenant a role acts for on the router, for routing only: its own mapping, else its login
-- role's, else the one mapped role it inherits from. NULL for superusers and unmapped roles.
-- Answers only for roles the session may act as (the session user is a member).
CREATE FUNCTION taskflow_router._role_tenant(role name) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  t text;
  r name;
BEGIN
  IF role IS NULL OR NOT pg_has_role(session_user, role, 'MEMBER') THEN
    RETURN NULL;
  END IF;
  FOREACH r IN ARRAY ARRAY[role, session_user] LOOP
    CONTINUE WHEN (SELECT a.rolsuper FROM pg_authid a WHERE a.rolname = r);
    SELECT m.tenant_id INTO t FROM taskflow_router.tenant_roles m
    WHERE m.role_name = (SELECT a.oid FROM pg_authid a WHERE a.rolname = r);
    IF FOUND THEN RETURN t; END IF;
  END LOOP;
  IF (SELECT a.rolsuper FROM pg_authid a WHERE a.rolname = role) THEN
    RETURN NULL;
  END IF;
  SELECT CASE WHEN count(DISTINCT m.tenant_id) = 1 THEN min(m.tenant_id) END INTO t
  FROM taskflow_router.tenant_roles m WHERE pg_has_role(role, m.role_name, 'USAGE');
  RETURN t;
END
$$;

CREATE FUNCTION taskflow_router.caller_tenant() RETURNS text
LANGUAGE sql STABLE
AS $$ SELECT taskflow_router._role_tenant(current_user) $$;

-- The shard of a tenant: its placement, else hash mod N. 55006 while it is being moved.
CREATE FUNCTION taskflow_router.tenant_shard(tenant_id text) RETURNS integer
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  p taskflow_router.placement;
  n integer;
BEGIN
  SELECT * INTO p FROM taskflow_router.placement x WHERE x.tenant_id = tenant_shard.tenant_id;
  IF FOUND THEN
    IF p.moving THEN
      RAISE EXCEPTION USING ERRCODE = '55006',
        MESSAGE = format('tenant "%s" is being moved to another shard', tenant_id),
        HINT = 'Try again in a few seconds.';
    END IF;
    RETURN p.shard;
  END IF;
  n := (SELECT count(*) FROM taskflow_router.shards);
  IF n = 0 THEN
    RAISE EXCEPTION USING ERRCODE = '55000', MESSAGE = 'the TaskFlow router has no shards',
      HINT = 'Add them with taskflow_router.set_shard(shard, connstr).';
  END IF;
  RETURN ((hashtext(COALESCE(tenant_id, 'default'))::bigint % n + n) % n)::integer;
END
$$;

-- The shard of a call's tenant argument: 'default' (or NULL) is the caller's own tenant when
-- the caller is confined, as on the shard.
CREATE FUNCTION taskflow_router.tenant_partition(tenant_id text) RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT taskflow_router.tenant_shard(CASE WHEN $1 IS NULL OR $1 = 'default'
    THEN COALESCE(taskflow_router.caller_tenant(), 'default') ELSE $1 END)
$$;

-- One schedule_many element: its tenant_id when it is a string, else the caller's.
CREATE FUNCTION taskflow_router.spec_partition(spec jsonb) RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT taskflow_router.tenant_partition(CASE WHEN jsonb_typeof($1 -> 'tenant_id') = 'string'
                                               THEN $1 ->> 'tenant_id' END)
$$;

-- The shard of a job, rule or workflow id: where it was moved, else the shard its id says
-- (taskflow.set_shard numbers all three ranges by shard).
CREATE FUNCTION taskflow_router._id_shard(kind text, id bigint) RETURNS integer
LANGUAGE sql STABLE
AS $$
  SELECT COALESCE((SELECT r.shard FROM taskflow_router.relocated r WHERE r.kind = $1 AND r.id = $2),
                  GREATEST($2, 0) >> 48, 0)::integer
$$;
CREATE FUNCTION taskflow_router.job_shard(job_id bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
AS $$ SELECT taskflow_router._id_shard('job', $1) $$;
CREATE FUNCTION taskflow_router.rule_shard(rule_id bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
AS $$ SELECT taskflow_router._id_shard('rule', $1) $$;
CREATE FUNCTION taskflow_router.workflow_shard(workflow_id bigint) RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER
AS $$ SELECT taskflow_router._id_shard('workflow', $1) $$;

CREATE FUNCTION taskflow_router.other_shards() RETURNS SETOF integer
LANGUAGE sql STABLE
AS $$ SELECT generate_series(1, taskflow_router.shard_count() - 1) $$;

-- ---------------------------------------------------------------------------------------------
-- Types of the client API
-- ---------------------------------------------------------------------------------------------
CREATE TYPE taskflow.job_state AS ENUM
  ('PENDING', 'SCHEDULED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'DEAD', 'CANCELLED');
CREATE TYPE taskflow.job_summaries AS (
  id bigint, job_type text, queue text, tenant_id text, state taskflow.job_state, payload jsonb,
  priority integer, attempts integer, max_attempts integer, next_run_at timestamptz,
  created_at timestamptz, started_at timestamptz, finished_at timestamptz,
  last_error_type text, last_error_message text, result jsonb, correlation_id text,
  parent_job_id bigint, unique_key text, cancel_requested boolean, cancel_reason text,
  timeout interval, worker_id text, lease_expires_at timestamptz, traceparent text);

-- ---------------------------------------------------------------------------------------------
-- Jobs: tenant calls on the tenant's shard, id calls on the id's shard
-- ---------------------------------------------------------------------------------------------
-- The elements are split by their tenant's shard and sent to the shards in parallel; each
-- shard inserts its part in one transaction. `ords` carries each element's position back.
CREATE FUNCTION taskflow_router._schedule_many(specs jsonb[], ords bigint[],
    OUT ord bigint, OUT job_id bigint) RETURNS SETOF record
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  SPLIT specs, ords;
  RUN ON taskflow_router.spec_partition(specs);
  SELECT o.ord, s.id AS job_id
  FROM unnest(ords) WITH ORDINALITY AS o(ord, i)
  JOIN taskflow.schedule_many(array_to_json(specs)::jsonb) WITH ORDINALITY AS s(id, i) ON s.i = o.i;
$$;

CREATE FUNCTION taskflow.schedule_many(jobs jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  specs jsonb[];
  ords bigint[];
BEGIN
  IF jobs IS NULL OR jsonb_typeof(jobs) <> 'array' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'jobs must be a JSON array';
  END IF;
  IF jsonb_array_length(jobs) = 0 THEN
    RETURN;
  END IF;
  SELECT array_agg(e.j ORDER BY e.n), array_agg(e.n ORDER BY e.n) INTO specs, ords
  FROM jsonb_array_elements(jobs) WITH ORDINALITY AS e(j, n);
  RETURN QUERY SELECT s.job_id FROM taskflow_router._schedule_many(specs, ords) s ORDER BY s.ord;
END
$$;

-- schedule, get_job, ... on their shard; list_jobs: one tenant (given, or the caller's) on its
-- shard; otherwise every shard returns its first max_rows after after_id and the router merges
-- them by id and cuts at max_rows, which is exactly the first max_rows of the union (ids are
-- unique across shards).
-- @proxied jobs

-- ---------------------------------------------------------------------------------------------
-- Workflows (docs/workflows.md): a workflow and all its nodes are one tenant's, so they live on
-- the tenant's shard; its id says that shard (or it was moved with its tenant).
-- ---------------------------------------------------------------------------------------------
-- list_workflows' row (on a shard it is declared RETURNS TABLE with these columns).
CREATE TYPE taskflow.workflow_summaries AS (id bigint, tenant text, name text,
  created_at timestamptz, node_count integer, state text, counts jsonb, started_at timestamptz,
  finished_at timestamptz);

-- As list_jobs: one tenant (given, or the caller's) on its shard; otherwise every shard's first
-- max_rows after after_id, merged by id and cut at max_rows (workflow ids are unique across shards).
-- @proxied workflows

-- ---------------------------------------------------------------------------------------------
-- Automation rules
-- ---------------------------------------------------------------------------------------------
-- list_rules' row (on a shard it is declared RETURNS TABLE with these columns).
CREATE TYPE taskflow.rule_summaries AS (rule_id bigint, tenant_id text, name text, trigger jsonb,
  condition text, actions jsonb, enabled boolean, created_at timestamptz, updated_at timestamptz,
  last_fired_at timestamptz);

-- list_rules: as list_jobs, but every shard returns all its rows, ordered by tenant and name.
-- @proxied rules

-- A webhook key does not say its shard: the shards are asked in order until one knows the key
-- (the others answer 28000 "webhook key not accepted", which is what the caller gets when none
-- does). Webhooks are not the hot path; see docs/scale-out.md.
CREATE FUNCTION taskflow_router._handle_webhook_on(shard integer, key text, body text,
    signature text, delivery_id text) RETURNS SETOF bigint
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON shard;
  SELECT taskflow.handle_webhook(key, body, signature, delivery_id);
$$;

CREATE FUNCTION taskflow.handle_webhook(key text, body text, signature text DEFAULT NULL,
    delivery_id text DEFAULT NULL) RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  s integer;
  ids bigint[];
BEGIN
  FOR s IN SELECT generate_series(0, taskflow_router.shard_count() - 1) LOOP
    BEGIN
      ids := ARRAY(SELECT taskflow_router._handle_webhook_on(s, key, body, signature, delivery_id));
      RETURN QUERY SELECT unnest(ids);
      RETURN;
    EXCEPTION WHEN invalid_authorization_specification THEN
      IF SQLERRM NOT LIKE '%REMOTE ERROR: webhook key not accepted' THEN
        RAISE;
      END IF;
    END;
  END LOOP;
  RAISE EXCEPTION USING ERRCODE = '28000', MESSAGE = 'webhook key not accepted',
    HINT = 'The key is unknown, or its rule is disabled.';
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Tenants: settings on the tenant's shard; role mappings on every shard (_grant_tenant_all,
-- _revoke_tenant_all) and here
-- ---------------------------------------------------------------------------------------------
-- @proxied tenants

-- The router's own membership of taskflow_client (as the shard's grant_tenant does there).
CREATE FUNCTION taskflow_router._set_client(role name, member boolean) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  IF (SELECT a.rolsuper FROM pg_authid a WHERE a.rolname = role) THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('role "%s" is a superuser and cannot be confined to a tenant', role);
  END IF;
  IF member <> pg_has_role(role, 'taskflow_client', 'MEMBER') THEN
    EXECUTE format(CASE WHEN member THEN 'GRANT taskflow_client TO %I' ELSE 'REVOKE taskflow_client FROM %I' END,
                   role);
  END IF;
END
$$;

-- The role must exist on the router and on every shard (roles are per server). The mapping is
-- made on every shard (where it confines the role) and recorded here (for routing).
CREATE FUNCTION taskflow.grant_tenant(role name, tenant_id text) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF role IS NULL OR tenant_id IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'role and tenant_id must not be NULL';
  END IF;
  PERFORM count(*) FROM taskflow_router._grant_tenant_all(role, tenant_id);
  INSERT INTO taskflow_router.tenant_roles AS m (role_name, tenant_id)
  VALUES (quote_ident(role)::regrole, grant_tenant.tenant_id)
  ON CONFLICT (role_name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id;
  PERFORM taskflow_router._set_client(role, true);
END
$$;

CREATE FUNCTION taskflow.revoke_tenant(role name) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM count(*) FROM taskflow_router._revoke_tenant_all(role);
  DELETE FROM taskflow_router.tenant_roles m WHERE m.role_name = quote_ident(role)::regrole;
  PERFORM taskflow_router._set_client(role, false);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Queue administration: on every shard. First on shard 0, which validates the call (a bad
-- argument fails there and nowhere else), then on the other shards in parallel. A shard that
-- is down fails the call after shard 0 applied it: taskflow_router.check_queues() shows the
-- difference, and the call can be repeated once the shard is back (docs/scale-out.md).
-- ---------------------------------------------------------------------------------------------
-- The call on the given shards, in parallel.
CREATE FUNCTION taskflow_router._queue_call(shards integer[], call text, name text,
    priority integer, concurrency_limit integer, retry_policy jsonb, lease interval)
RETURNS SETOF integer
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON taskflow_router._each_shard(shards);
  SELECT 1 FROM (SELECT CASE call
    WHEN 'create' THEN taskflow.create_queue(name, priority, concurrency_limit, retry_policy, lease)::text
    WHEN 'alter' THEN taskflow.alter_queue(name, priority, concurrency_limit, retry_policy, lease)::text
    WHEN 'drop' THEN taskflow.drop_queue(name)::text
    WHEN 'pause' THEN taskflow.pause_queue(name)::text
    WHEN 'resume' THEN taskflow.resume_queue(name)::text END) x;
$$;
CREATE FUNCTION taskflow_router._each_shard(shards integer[]) RETURNS SETOF integer
LANGUAGE sql IMMUTABLE
AS $$ SELECT unnest($1) $$;

CREATE FUNCTION taskflow_router.queue_everywhere(call text, name text, priority integer DEFAULT NULL,
    concurrency_limit integer DEFAULT NULL, retry_policy jsonb DEFAULT NULL, lease interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM count(*) FROM taskflow_router._queue_call(ARRAY[0], call, name, priority,
                                                    concurrency_limit, retry_policy, lease);
  IF taskflow_router.shard_count() > 1 THEN
    PERFORM count(*) FROM taskflow_router._queue_call(ARRAY(SELECT taskflow_router.other_shards()),
                                                      call, name, priority, concurrency_limit,
                                                      retry_policy, lease);
  END IF;
END
$$;

CREATE FUNCTION taskflow.create_queue(name text, priority integer DEFAULT 0,
    concurrency_limit integer DEFAULT NULL, retry_policy jsonb DEFAULT NULL,
    lease interval DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT taskflow_router.queue_everywhere('create', $1, $2, $3, $4, $5) $$;

CREATE FUNCTION taskflow.alter_queue(name text, priority integer DEFAULT NULL,
    concurrency_limit integer DEFAULT NULL, retry_policy jsonb DEFAULT NULL,
    lease interval DEFAULT NULL) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT taskflow_router.queue_everywhere('alter', $1, $2, $3, $4, $5) $$;

CREATE FUNCTION taskflow.drop_queue(name text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT taskflow_router.queue_everywhere('drop', $1) $$;

CREATE FUNCTION taskflow.pause_queue(name text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT taskflow_router.queue_everywhere('pause', $1) $$;

CREATE FUNCTION taskflow.resume_queue(name text) RETURNS void
LANGUAGE sql VOLATILE
AS $$ SELECT taskflow_router.queue_everywhere('resume', $1) $$;

-- Queue rate limits on every shard (each shard's workers get max_starts per period: the
-- limit is per shard); tenant rate limits on the tenant's shard.
CREATE FUNCTION taskflow_router._rate_limit_shards(scope text, name text) RETURNS SETOF integer
LANGUAGE sql STABLE
AS $$
  SELECT taskflow_router.tenant_partition($2) WHERE $1 = 'tenant'
  UNION ALL
  SELECT generate_series(0, taskflow_router.shard_count() - 1) WHERE $1 IS DISTINCT FROM 'tenant'
$$;
CREATE FUNCTION taskflow_router._rate_limit(scope text, name text, max_starts integer, per interval)
RETURNS SETOF integer
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON taskflow_router._rate_limit_shards(scope, name);
  SELECT 1 FROM taskflow.set_rate_limit(scope, name, max_starts, per);
$$;
CREATE FUNCTION taskflow.set_rate_limit(scope text, name text, max_starts integer,
    per interval DEFAULT '1 second') RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  PERFORM count(*) FROM taskflow_router._rate_limit(scope, name, max_starts, per);
END
$$;

-- Every shard's queues, and the queues whose settings differ between shards (or that some
-- shard lacks): empty when queue administration is consistent.
CREATE FUNCTION taskflow_router._queues_all(OUT shard integer, OUT name text, OUT settings jsonb)
RETURNS SETOF record
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON ALL;
  SELECT taskflow.shard_id() AS shard, q.name, to_jsonb(q) - 'created_at' - 'updated_at' AS settings
  FROM taskflow.queues q;
$$;

CREATE FUNCTION taskflow_router.check_queues()
RETURNS TABLE(queue text, shards integer[], settings jsonb)
LANGUAGE sql VOLATILE
AS $$
  WITH q AS (SELECT * FROM taskflow_router._queues_all()),
  bad AS (SELECT q.name FROM q GROUP BY q.name
          HAVING count(DISTINCT q.settings) > 1 OR count(*) <> taskflow_router.shard_count())
  SELECT q.name, array_agg(q.shard ORDER BY q.shard), q.settings
  FROM q JOIN bad USING (name) GROUP BY q.name, q.settings ORDER BY q.name, 2
$$;

-- ---------------------------------------------------------------------------------------------
-- Metrics: every shard's exposition, each sample labelled shard="k", families kept together
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION taskflow_router._metrics_all(max_tenants integer, OUT shard integer, OUT body text)
RETURNS SETOF record
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON ALL;
  SELECT taskflow.shard_id() AS shard, taskflow.metrics(max_tenants) AS body;
$$;

CREATE FUNCTION taskflow.metrics(max_tenants integer DEFAULT 10) RETURNS text
LANGUAGE sql VOLATILE
AS $$
  WITH m AS (SELECT * FROM taskflow_router._metrics_all($1)),
  l AS (SELECT m.shard, x.line, x.n FROM m,
          regexp_split_to_table(rtrim(m.body, E'\n'), E'\n') WITH ORDINALITY AS x(line, n)
        WHERE x.line <> ''),
  f AS (SELECT l.*, CASE WHEN l.line ~ '^# (HELP|TYPE) '
                         THEN split_part(l.line, ' ', 3) END AS fam_here
        FROM l),
  g AS (SELECT f.*, (array_agg(f.fam_here) FILTER (WHERE f.fam_here IS NOT NULL)
                       OVER (PARTITION BY f.shard ORDER BY f.n))[
                       count(f.fam_here) OVER (PARTITION BY f.shard ORDER BY f.n)] AS family
        FROM f),
  fam AS (SELECT g.family, min(g.shard * 1000000 + g.n) AS first_seen FROM g GROUP BY g.family),
  out AS (
    -- HELP and TYPE once per family (from the first shard that has it)
    SELECT g.family, 0 AS part, g.shard, g.n, g.line FROM g
    WHERE g.fam_here IS NOT NULL
      AND g.shard = (SELECT min(h.shard) FROM g h WHERE h.family = g.family AND h.fam_here IS NOT NULL)
    UNION ALL
    SELECT g.family, 1, g.shard, g.n,
      CASE WHEN g.line ~ '^[a-zA-Z_:][a-zA-Z0-9_:]*\{'
           THEN regexp_replace(g.line, '^([a-zA-Z_:][a-zA-Z0-9_:]*)\{', '\1{shard="' || g.shard || '",')
           ELSE regexp_replace(g.line, '^([a-zA-Z_:][a-zA-Z0-9_:]*) ', '\1{shard="' || g.shard || '"} ')
      END
    FROM g WHERE g.line !~ '^#')
  SELECT COALESCE(string_agg(o.line, E'\n' ORDER BY fam.first_seen, o.part, o.shard, o.n) || E'\n', '')
  FROM out o JOIN fam ON fam.family IS NOT DISTINCT FROM o.family
$$;

-- ---------------------------------------------------------------------------------------------
-- Placement and moving tenants
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION taskflow_router._tenant_has_data(tenant_id text, OUT jobs bigint, OUT rules bigint)
RETURNS SETOF record
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON taskflow_router.tenant_shard(tenant_id);
  SELECT (SELECT count(*) FROM taskflow.list_jobs(tenant_id, max_rows => 1)) AS jobs,
         (SELECT count(*) FROM taskflow.list_rules(tenant_id)) AS rules;
$$;

-- Pins a tenant to a shard. A tenant that already has jobs or rules on another shard must be
-- moved instead (move_tenant): refused with 55000.
CREATE FUNCTION taskflow_router.pin_tenant(tenant_id text, shard integer) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  cur integer := taskflow_router.tenant_shard(tenant_id);
  d record;
BEGIN
  IF shard IS NULL OR shard < 0 OR shard >= taskflow_router.shard_count() THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('there is no shard %s', shard);
  END IF;
  IF cur <> shard THEN
    SELECT * INTO d FROM taskflow_router._tenant_has_data(tenant_id);
    IF d.jobs > 0 OR d.rules > 0 THEN
      RAISE EXCEPTION USING ERRCODE = '55000',
        MESSAGE = format('tenant "%s" has jobs or rules on shard %s', tenant_id, cur),
        HINT = 'Move it with CALL taskflow_router.move_tenant(tenant_id, shard).';
    END IF;
  END IF;
  INSERT INTO taskflow_router.placement AS p (tenant_id, shard) VALUES ($1, $2)
  ON CONFLICT ON CONSTRAINT placement_pkey DO UPDATE SET shard = EXCLUDED.shard, updated_at = now();
END
$$;

CREATE FUNCTION taskflow_router._export_tenant(shard integer, tenant_id text) RETURNS jsonb
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON shard;
  SELECT taskflow.export_tenant(tenant_id);
$$;
CREATE FUNCTION taskflow_router._import_tenant(shard integer, doc jsonb) RETURNS bigint
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON shard;
  SELECT taskflow.import_tenant(doc);
$$;
CREATE FUNCTION taskflow_router._purge_tenant(shard integer, tenant_id text, fingerprint text)
RETURNS bigint
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON shard;
  SELECT taskflow.purge_tenant(tenant_id, COALESCE(fingerprint, md5(taskflow.export_tenant(tenant_id)::text)));
$$;

-- Moves a tenant (its unfinished and finished jobs with their history and dependency edges, its
-- workflows, its rules and firings, its settings) to shard `to_shard`, keeping every id. Run as a superuser (of the router and of
-- the shards), outside a transaction block: CALL taskflow_router.move_tenant('acme', 1);
--   1. the tenant is marked moving here (committed): its calls through the router get 55006
--   2. export on the old shard (refused with 55006 while it has RUNNING jobs)
--   3. import on the new shard
--   4. purge on the old shard, only if its data is unchanged since the export (else 40001:
--      the import is undone and the tenant stays where it was)
--   5. placement and relocated ids recorded here; the tenant's calls go to the new shard
-- (No SET search_path: a procedure with SET clauses cannot COMMIT; every name is qualified.)
CREATE PROCEDURE taskflow_router.move_tenant(tenant_id text, to_shard integer)
LANGUAGE plpgsql
AS $$
DECLARE
  t text := tenant_id;
  from_shard integer := taskflow_router.tenant_shard(tenant_id);
  had_row boolean;
  doc jsonb;
  step text;
  failed boolean := false;
  e_state text;
  e_msg text;
  e_detail text;
  e_hint text;
BEGIN
  IF to_shard IS NULL OR to_shard < 0 OR to_shard >= taskflow_router.shard_count() THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('there is no shard %s', to_shard);
  END IF;
  IF from_shard = to_shard THEN
    RAISE NOTICE 'tenant "%" is already on shard %', t, to_shard;
    RETURN;
  END IF;
  had_row := EXISTS (SELECT FROM taskflow_router.placement p WHERE p.tenant_id = t);
  INSERT INTO taskflow_router.placement AS p (tenant_id, shard, moving) VALUES (t, from_shard, true)
  ON CONFLICT ON CONSTRAINT placement_pkey DO UPDATE SET moving = true, updated_at = now();
  COMMIT;

  BEGIN
    step := 'export';
    doc := taskflow_router._export_tenant(from_shard, t);
    step := 'import';
    PERFORM taskflow_router._import_tenant(to_shard, doc);
    step := 'purge';
    PERFORM taskflow_router._purge_tenant(from_shard, t, md5(doc::text));
  EXCEPTION WHEN OTHERS THEN
    failed := true;
    GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_msg = MESSAGE_TEXT,
                            e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
  END;
  IF failed THEN
    IF step = 'purge' THEN  -- undo the import: the tenant stays on its old shard
      PERFORM taskflow_router._purge_tenant(to_shard, t, NULL);
    END IF;
    IF had_row THEN
      UPDATE taskflow_router.placement p SET moving = false WHERE p.tenant_id = t;
    ELSE
      DELETE FROM taskflow_router.placement p WHERE p.tenant_id = t;
    END IF;
    COMMIT;
    RAISE EXCEPTION USING ERRCODE = e_state,
      MESSAGE = format('moving tenant "%s" from shard %s to shard %s failed at the %s step: %s',
                       t, from_shard, to_shard, step, e_msg),
      DETAIL = COALESCE(e_detail, ''), HINT = COALESCE(e_hint, '');
  END IF;

  -- ids that now live elsewhere than they say; those back on their own shard need no entry
  INSERT INTO taskflow_router.relocated AS r (kind, id, shard)
    SELECT k.kind, (x ->> 'id')::bigint, to_shard
    FROM (VALUES ('job', 'jobs'), ('rule', 'rules'), ('workflow', 'workflows')) k(kind, key),
         jsonb_array_elements(COALESCE(doc -> k.key, '[]')) x
    WHERE ((x ->> 'id')::bigint >> 48) <> to_shard
  ON CONFLICT ON CONSTRAINT relocated_pkey DO UPDATE SET shard = EXCLUDED.shard;
  DELETE FROM taskflow_router.relocated r
  USING (SELECT k.kind, (x ->> 'id')::bigint AS id
         FROM (VALUES ('job', 'jobs'), ('rule', 'rules'), ('workflow', 'workflows')) k(kind, key),
              jsonb_array_elements(COALESCE(doc -> k.key, '[]')) x) m
  WHERE r.kind = m.kind AND r.id = m.id AND (m.id >> 48) = to_shard;
  UPDATE taskflow_router.placement p SET shard = to_shard, moving = false, updated_at = now()
  WHERE p.tenant_id = t;
  COMMIT;
  RAISE NOTICE 'moved tenant "%" from shard % to shard %: % jobs, % rules', t, from_shard, to_shard,
    jsonb_array_length(doc -> 'jobs'), jsonb_array_length(doc -> 'rules');
END
$$;

-- ---------------------------------------------------------------------------------------------
-- HTTP API keys (docs/scale-out.md#http): the keys live on shard 0; a key's database role exists
-- on the router (taskflow_http may SET ROLE to it) and on every shard (mapped to the tenant, and
-- allowed to log in there: the router connects as it).
-- ---------------------------------------------------------------------------------------------
DO $http$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                 WHERE m.roleid = 'taskflow_http_admin'::regrole AND m.member = 'taskflow_http'::regrole) THEN
    GRANT taskflow_http_admin TO taskflow_http;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                 WHERE m.roleid = 'taskflow_admin'::regrole AND m.member = 'taskflow_http_admin'::regrole) THEN
    GRANT taskflow_admin TO taskflow_http_admin;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_auth_members m
                 WHERE m.roleid = 'taskflow_webhook'::regrole AND m.member = 'taskflow_http'::regrole) THEN
    GRANT taskflow_webhook TO taskflow_http;
  END IF;
END
$http$;

-- the keys: on shard 0; allow_router_login on every shard
-- @proxied api_keys

CREATE FUNCTION taskflow_router._create_api_key_on0(tenant_id text, role text) RETURNS text
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON 0;
  SELECT taskflow.create_api_key(tenant_id, role);
$$;
-- the key role and its tenant mapping on the other shards (a key made and revoked at once)
CREATE FUNCTION taskflow_router._key_role_others(tenant_id text) RETURNS SETOF integer
LANGUAGE plproxy AS $$
  CLUSTER 'taskflow';
  RUN ON taskflow_router.other_shards();
  SELECT 1 FROM taskflow.revoke_api_key(taskflow.create_api_key(tenant_id));
$$;
CREATE FUNCTION taskflow_router._local_key_role(role name, tenant_id text) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  IF role !~ '^taskflow_t_[0-9a-f]{20}$' THEN
    RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = format('role "%s" is not an HTTP API key role', role);
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
    EXECUTE format('CREATE ROLE %I NOLOGIN', role);
  END IF;
  IF NOT pg_has_role('taskflow_http', role, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO taskflow_http', role);
  END IF;
  PERFORM taskflow_router._set_client(role, true);
  INSERT INTO taskflow_router.tenant_roles AS m (role_name, tenant_id)
  VALUES (quote_ident(role)::regrole, _local_key_role.tenant_id)
  ON CONFLICT (role_name) DO UPDATE SET tenant_id = EXCLUDED.tenant_id;
END
$$;

-- create_api_key through the router: the key on shard 0, its role everywhere. Superuser only
-- (it lets the role log in to the shards).
CREATE FUNCTION taskflow.create_api_key(tenant_id text, role text DEFAULT 'client') RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  k text := taskflow_router._create_api_key_on0(tenant_id, role);
  dbr name := 'taskflow_http_admin';
BEGIN
  IF role = 'client' THEN
    dbr := format('taskflow_t_%s', left(md5(tenant_id), 20));
    IF taskflow_router.shard_count() > 1 THEN
      PERFORM count(*) FROM taskflow_router._key_role_others(tenant_id);
    END IF;
    PERFORM taskflow_router._local_key_role(dbr, tenant_id);
  END IF;
  PERFORM count(*) FROM taskflow_router._allow_router_login_all(dbr);
  PERFORM count(*) FROM taskflow_router._allow_router_login_all('taskflow_http');  -- looks the keys up
  RETURN k;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges. The shards check every call again as the calling role; these only keep roles
-- without a TaskFlow grant out of the router, as on a shard.
-- ---------------------------------------------------------------------------------------------
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA taskflow FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA taskflow_router FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA taskflow_router FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA plproxy FROM PUBLIC;
GRANT USAGE ON SCHEMA taskflow, taskflow_router, plproxy
  TO taskflow_client, taskflow_worker, taskflow_admin, taskflow_webhook, taskflow_http;
GRANT EXECUTE ON FUNCTION plproxy.get_cluster_version(text), plproxy.get_cluster_partitions(text),
  plproxy.get_cluster_config(text)
  TO taskflow_client, taskflow_worker, taskflow_admin, taskflow_webhook, taskflow_http;
-- routing (the definer functions answer only about the caller or about ids and tenants the
-- call names)
GRANT EXECUTE ON FUNCTION taskflow_router.shard_count(), taskflow_router._role_tenant(name),
  taskflow_router.caller_tenant(), taskflow_router.tenant_shard(text),
  taskflow_router.tenant_partition(text), taskflow_router.spec_partition(jsonb),
  taskflow_router.job_shard(bigint), taskflow_router.rule_shard(bigint),
  taskflow_router.workflow_shard(bigint)
  TO taskflow_client, taskflow_worker, taskflow_admin, taskflow_webhook;
GRANT EXECUTE ON FUNCTION taskflow.schedule_many(jsonb), taskflow_router._schedule_many(jsonb[], bigint[])
  TO taskflow_client, taskflow_worker, taskflow_admin;
-- the functions of router/src/proxied.txt, each to the roles listed there
-- @grants
GRANT EXECUTE ON FUNCTION taskflow.handle_webhook(text, text, text, text),
  taskflow_router._handle_webhook_on(integer, text, text, text, text)
  TO taskflow_webhook, taskflow_client, taskflow_admin;
GRANT EXECUTE ON FUNCTION taskflow.metrics(integer), taskflow_router._metrics_all(integer)
  TO taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.grant_tenant(name, text), taskflow.revoke_tenant(name),
  taskflow_router._set_client(name, boolean),
  taskflow.create_queue(text, integer, integer, jsonb, interval),
  taskflow.alter_queue(text, integer, integer, jsonb, interval),
  taskflow.drop_queue(text), taskflow.pause_queue(text), taskflow.resume_queue(text),
  taskflow_router.queue_everywhere(text, text, integer, integer, jsonb, interval),
  taskflow_router._queue_call(integer[], text, text, integer, integer, jsonb, interval),
  taskflow_router._each_shard(integer[]), taskflow_router.other_shards(),
  taskflow.set_rate_limit(text, text, integer, interval),
  taskflow_router._rate_limit(text, text, integer, interval),
  taskflow_router._rate_limit_shards(text, text),
  taskflow_router._queues_all(), taskflow_router.check_queues(),
  taskflow_router._tenant_has_data(text)
  TO taskflow_admin;
GRANT SELECT, INSERT, UPDATE, DELETE ON taskflow_router.tenant_roles TO taskflow_admin;
GRANT SELECT ON taskflow_router.placement, taskflow_router.shards, taskflow_router.relocated
  TO taskflow_admin;
GRANT USAGE ON TYPE taskflow.job_state, taskflow.job_summaries, taskflow.rule_summaries,
  taskflow.workflow_summaries
  TO taskflow_client, taskflow_worker, taskflow_admin;

-- Every function of the router but the PL/Proxy ones (which only forward) runs with
-- search_path = pg_catalog, pg_temp, so a caller's search_path cannot redirect a name inside one;
-- set here for all of them (the shard's install script does the same in
-- 095_function_settings.sql), so a function added later cannot forget it.
DO $search_path$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN
    SELECT p.oid::regprocedure
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_proc p ON p.oid = d.objid
    JOIN pg_catalog.pg_language l ON l.oid = p.prolang
    WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e'
      AND d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass
      AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e
                        WHERE e.extname = 'taskflow_router')
      AND p.prokind = 'f' AND l.lanname <> 'plproxy'
  LOOP
    EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
  END LOOP;
END
$search_path$;
