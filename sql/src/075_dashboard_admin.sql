-- ---------------------------------------------------------------------------------------------
-- Dashboard, admin views (docs/functions.md "Dashboard: queues, rules, tenants"): the queues with
-- their settings, the rules with their firings and webhook deliveries, the tenants with their
-- limits and share of the last hour's work. Each function answers one dashboard API call with one
-- JSON document; each is bounded (a page of at most 1,000 rows, index range scans, the stats_*
-- roll-ups instead of history) and confines a tenant's role to its tenant, as every other
-- function does.
-- ---------------------------------------------------------------------------------------------

-- A duration in milliseconds (NULL stays NULL).
CREATE FUNCTION taskflow._ms(d interval) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT (extract(epoch FROM d) * 1000)::double precision $$;

-- Keyset pages: max_rows must be 1..1000.
CREATE FUNCTION taskflow._dashboard_check_page(max_rows integer) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF max_rows IS NULL OR max_rows < 1 OR max_rows > 1000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('limit must be between 1 and 1000, got %s', COALESCE(max_rows::text, 'NULL'));
  END IF;
END
$$;

-- An integer member of a settings object; 22023 naming it when it is something else.
CREATE FUNCTION taskflow._dashboard_int(doc jsonb, key text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  v jsonb := doc -> key;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' OR (v #>> '{}') !~ '^-?[0-9]{1,10}$'
     OR (v #>> '{}')::numeric NOT BETWEEN -2147483648 AND 2147483647 THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s must be an integer, got %s', key, v);
  END IF;
  RETURN (v #>> '{}')::integer;
END
$$;

-- A duration in milliseconds (a non-negative number) of a settings object, as an interval.
CREATE FUNCTION taskflow._dashboard_ms(doc jsonb, key text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  v jsonb := doc -> key;
BEGIN
  IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric < 0 OR (v #>> '{}')::numeric > 1e12 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('%s must be a number of milliseconds (0 to 10^12), got %s', key, v);
  END IF;
  RETURN make_interval(secs => (v #>> '{}')::double precision / 1000);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Queues (admins only)
-- ---------------------------------------------------------------------------------------------

-- A queue's settings: its own values (NULL: the default applies) and the effective ones.
CREATE FUNCTION taskflow._dashboard_queue_settings(q taskflow.queues) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT jsonb_build_object(
    'name', q.name, 'priority', q.priority, 'paused', q.paused,
    'concurrency_limit', q.concurrency_limit,
    'lease_ms', taskflow._ms(q.lease),
    'effective_lease_ms', taskflow._ms(COALESCE(q.lease, current_setting('taskflow.default_lease')::interval)),
    'retry_policy', jsonb_build_object(
      'max_attempts', COALESCE(q.max_attempts, 5),
      'strategy', COALESCE(q.strategy, 'exponential'),
      'base_delay_ms', taskflow._ms(COALESCE(q.base_delay, interval '2 seconds')),
      'max_delay_ms', taskflow._ms(COALESCE(q.max_delay, interval '1 hour')),
      'jitter', COALESCE(q.jitter, 'full')),
    'retry_policy_is_default', num_nulls(q.max_attempts, q.strategy, q.base_delay, q.max_delay, q.jitter) = 5,
    'rate_limit', (SELECT jsonb_build_object('max_starts', r.max_starts, 'per_ms', taskflow._ms(r.period))
                   FROM taskflow.rate_limits r WHERE r.scope = 'queue' AND r.name = q.name),
    'created_at', q.created_at, 'updated_at', q.updated_at)
$$;

-- Every queue: settings, and the figures of taskflow.queue_stats (its per-queue rows).
CREATE FUNCTION taskflow.dashboard_queues() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
AS $$
  SELECT jsonb_build_object('queues', COALESCE(jsonb_agg(
           taskflow._dashboard_queue_settings(q) || COALESCE(to_jsonb(s) - 'queue' - 'tenant_id', '{}')
           ORDER BY q.priority DESC, q.name), '[]'))
  FROM taskflow.queues q
  -- per queue only, windowed figures from the roll-up's series (070_observability.sql)
  LEFT JOIN taskflow._queue_stats_per_queue(from_series => true) s ON s.queue = q.name
$$;

-- Changes a queue's settings from a JSON object (the PATCH body of the dashboard): any of
-- priority, concurrency_limit, lease_ms, retry_policy, rate_limit, paused. An absent member
-- leaves the setting unchanged; null returns it to the default (no concurrency limit, the default
-- lease, the default retry policy, no rate limit). Validated by alter_queue and set_rate_limit,
-- whose errors (22023, 42704) reach the caller unchanged. All or nothing. Returns the settings.
CREATE FUNCTION taskflow.dashboard_alter_queue(name text, settings jsonb) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  k text;
  q taskflow.queues;
  policy jsonb;
  rl jsonb;
BEGIN
  IF settings IS NULL OR jsonb_typeof(settings) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'settings must be a JSON object';
  END IF;
  FOR k IN SELECT jsonb_object_keys(settings) LOOP
    IF k NOT IN ('priority', 'concurrency_limit', 'lease_ms', 'retry_policy', 'rate_limit', 'paused') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('unknown queue setting "%s"', k),
        HINT = 'Settings are: priority, concurrency_limit, lease_ms, retry_policy, rate_limit, paused.';
    END IF;
  END LOOP;
  PERFORM FROM taskflow.queues x WHERE x.name = dashboard_alter_queue.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name);
  END IF;
  -- null: back to the default (alter_queue reads NULL as "unchanged")
  IF settings -> 'concurrency_limit' = 'null' THEN
    UPDATE taskflow.queues x SET concurrency_limit = NULL WHERE x.name = dashboard_alter_queue.name;
  END IF;
  IF settings -> 'lease_ms' = 'null' THEN
    UPDATE taskflow.queues x SET lease = NULL WHERE x.name = dashboard_alter_queue.name;
  END IF;
  policy := settings -> 'retry_policy';
  IF policy = 'null' THEN
    UPDATE taskflow.queues x SET max_attempts = NULL, strategy = NULL, base_delay = NULL,
      max_delay = NULL, jitter = NULL WHERE x.name = dashboard_alter_queue.name;
    policy := NULL;
  ELSIF policy IS NOT NULL AND jsonb_typeof(policy) = 'object' THEN
    -- the dashboard's form (milliseconds) into alter_queue's (seconds or interval strings)
    IF policy ? 'base_delay_ms' THEN
      policy := policy - 'base_delay_ms' || jsonb_build_object('base_delay',
        extract(epoch FROM taskflow._dashboard_ms(policy, 'base_delay_ms')));
    END IF;
    IF policy ? 'max_delay_ms' THEN
      policy := policy - 'max_delay_ms' || jsonb_build_object('max_delay',
        extract(epoch FROM taskflow._dashboard_ms(policy, 'max_delay_ms')));
    END IF;
    policy := jsonb_strip_nulls(policy);
  END IF;
  PERFORM taskflow.alter_queue(name, taskflow._dashboard_int(settings, 'priority'),
                               taskflow._dashboard_int(settings, 'concurrency_limit'), policy,
                               taskflow._dashboard_ms(settings, 'lease_ms'));
  IF settings ? 'rate_limit' THEN
    rl := settings -> 'rate_limit';
    IF rl = 'null' THEN
      PERFORM taskflow.set_rate_limit('queue', name, NULL);
    ELSIF jsonb_typeof(rl) <> 'object' OR EXISTS (
        SELECT FROM jsonb_object_keys(rl) x WHERE x NOT IN ('max_starts', 'per_ms')) THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = 'rate_limit must be null or an object {"max_starts": n, "per_ms": ms}';
    ELSE
      IF taskflow._dashboard_int(rl, 'max_starts') IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'rate_limit.max_starts is required',
          HINT = 'Use "rate_limit": null to remove the limit.';
      END IF;
      PERFORM taskflow.set_rate_limit('queue', name, taskflow._dashboard_int(rl, 'max_starts'),
                                      COALESCE(taskflow._dashboard_ms(rl, 'per_ms'), interval '1 second'));
    END IF;
  END IF;
  IF settings ? 'paused' THEN
    IF jsonb_typeof(settings -> 'paused') <> 'boolean' THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('paused must be true or false, got %s', settings -> 'paused');
    END IF;
    PERFORM taskflow._set_queue_paused(name, (settings ->> 'paused')::boolean);
  END IF;
  SELECT * INTO q FROM taskflow.queues x WHERE x.name = dashboard_alter_queue.name;
  RETURN taskflow._dashboard_queue_settings(q);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Rules, firings, webhook deliveries (a tenant's role: its own tenant's only)
-- ---------------------------------------------------------------------------------------------

-- Firings of one rule, newest first, and webhook firings: keyset pages by id.
CREATE INDEX rule_firings_rule_id_idx ON taskflow.rule_firings (rule_id, id);
CREATE INDEX rule_firings_webhook_idx ON taskflow.rule_firings (id) WHERE source = 'webhook';
CREATE INDEX rule_firings_webhook_tenant_idx ON taskflow.rule_firings (tenant_id, id)
  WHERE source = 'webhook';

-- One firing as the dashboard shows it. outcome: created (jobs were created), skipped (the
-- condition did not hold), error (the firing failed; error and error_sqlstate say why).
CREATE FUNCTION taskflow._dashboard_firing(f taskflow.rule_firings) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT jsonb_build_object(
    'id', f.id, 'rule_id', f.rule_id, 'fired_at', f.fired_at, 'source', f.source, 'actor', f.actor,
    'tenant_id', f.tenant_id,
    'outcome', CASE WHEN f.error IS NOT NULL THEN 'error' WHEN NOT f.matched THEN 'skipped' ELSE 'created' END,
    'matched', f.matched, 'job_ids', to_jsonb(f.job_ids), 'error', f.error,
    'error_sqlstate', f.error_sqlstate,
    'delivery_id', CASE WHEN f.source = 'webhook' THEN f.context #>> '{event,delivery_id}' END,
    'source_job_id', f.source_job_id, 'context', f.context)
$$;

-- The caller's rules (every rule for an admin), by id, at most max_rows after `after`: trigger,
-- condition, actions, enabled, the last firing and the firing counters (rolled up + the tail).
CREATE FUNCTION taskflow.dashboard_rules(after bigint DEFAULT NULL, max_rows integer DEFAULT 200)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  caller text := taskflow._caller_tenant();
  w timestamptz := COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity');
  doc jsonb;
BEGIN
  PERFORM taskflow._dashboard_check_page(max_rows);
  WITH page AS MATERIALIZED (
    SELECT r.id, r.tenant_id, r.name, r.trigger_type, r.trigger, r.condition, r.actions, r.enabled,
           r.for_each_tenant, r.created_at, r.updated_at
    FROM taskflow.automation_rules r
    WHERE r.tenant_id = COALESCE(caller, r.tenant_id) AND r.id > COALESCE(after, 0)
    ORDER BY r.id LIMIT max_rows)
  SELECT jsonb_build_object(
    'rules', COALESCE(jsonb_agg(jsonb_build_object(
        'id', p.id, 'tenant_id', p.tenant_id, 'name', p.name, 'trigger_type', p.trigger_type,
        'trigger', p.trigger, 'condition', p.condition, 'actions', p.actions, 'enabled', p.enabled,
        'for_each_tenant', p.for_each_tenant, 'created_at', p.created_at, 'updated_at', p.updated_at,
        'last_firing', (SELECT taskflow._dashboard_firing(f) FROM taskflow.rule_firings f
                        WHERE f.rule_id = p.id AND f.tenant_id = COALESCE(caller, f.tenant_id)
                        ORDER BY f.id DESC LIMIT 1),
        -- a tenant does not see the counts of an all-tenants rule (other tenants' firings)
        'firings', CASE WHEN caller IS NULL OR NOT p.for_each_tenant THEN (
          SELECT jsonb_build_object(
                   'created', COALESCE(sum(c.n) FILTER (WHERE c.outcome = 'created'), 0),
                   'skipped', COALESCE(sum(c.n) FILTER (WHERE c.outcome = 'skipped'), 0),
                   'error', COALESCE(sum(c.n) FILTER (WHERE c.outcome = 'error'), 0))
          FROM (SELECT s.outcome, s.firings AS n FROM taskflow.stats_rule_firings s WHERE s.rule_id = p.id
                UNION ALL
                SELECT CASE WHEN x.error IS NOT NULL THEN 'error' WHEN NOT x.matched THEN 'skipped'
                            ELSE 'created' END, 1
                FROM taskflow.rule_firings x WHERE x.rule_id = p.id AND x.fired_at >= w) c) END)
      ORDER BY p.id), '[]'),
    'next_after', CASE WHEN count(*) = max_rows THEN max(p.id) END)
  INTO doc FROM page p;
  RETURN doc;
END
$$;

-- The caller's rule (P0002, like a missing one, for another tenant's).
CREATE FUNCTION taskflow._dashboard_rule(rule_id bigint) RETURNS taskflow.automation_rules
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  r taskflow.automation_rules;
BEGIN
  SELECT * INTO r FROM taskflow.automation_rules x WHERE x.id = _dashboard_rule.rule_id
    AND x.tenant_id = COALESCE(taskflow._caller_tenant(), x.tenant_id);
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = 'P0002', MESSAGE = format('rule %s does not exist', rule_id);
  END IF;
  RETURN r;
END
$$;

-- A rule's firings, newest first, at most max_rows with an id below `before`.
CREATE FUNCTION taskflow.dashboard_rule_firings(rule_id bigint, before bigint DEFAULT NULL,
    max_rows integer DEFAULT 50) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  caller text := taskflow._caller_tenant();
  doc jsonb;
BEGIN
  PERFORM taskflow._dashboard_check_page(max_rows);
  PERFORM taskflow._dashboard_rule(rule_id);
  WITH page AS MATERIALIZED (
    SELECT f.* FROM taskflow.rule_firings f
    WHERE f.rule_id = dashboard_rule_firings.rule_id AND f.id < COALESCE(before, 9223372036854775807)
      AND f.tenant_id = COALESCE(caller, f.tenant_id)
    ORDER BY f.id DESC LIMIT max_rows)
  SELECT jsonb_build_object(
    'firings', COALESCE(jsonb_agg(taskflow._dashboard_firing(p) ORDER BY p.id DESC), '[]'),
    'next_after', CASE WHEN count(*) = max_rows THEN min(p.id) END)
  INTO doc FROM page p;
  RETURN doc;
END
$$;

-- Webhook deliveries that reached a rule (the firings with source webhook; a repeated delivery id
-- fires nothing and a refused call, bad key or signature, leaves no row), newest first.
CREATE FUNCTION taskflow.dashboard_webhook_deliveries(rule_id bigint DEFAULT NULL,
    before bigint DEFAULT NULL, max_rows integer DEFAULT 50) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  caller text := taskflow._caller_tenant();
  doc jsonb;
BEGIN
  PERFORM taskflow._dashboard_check_page(max_rows);
  IF rule_id IS NOT NULL THEN
    PERFORM taskflow._dashboard_rule(rule_id);
  END IF;
  WITH page AS MATERIALIZED (
    SELECT f.* FROM taskflow.rule_firings f
    WHERE f.source = 'webhook' AND f.id < COALESCE(before, 9223372036854775807)
      AND (dashboard_webhook_deliveries.rule_id IS NULL OR f.rule_id = dashboard_webhook_deliveries.rule_id)
      AND f.tenant_id = COALESCE(caller, f.tenant_id)
    ORDER BY f.id DESC LIMIT max_rows)
  SELECT jsonb_build_object(
    'deliveries', COALESCE(jsonb_agg(taskflow._dashboard_firing(p)
        || jsonb_build_object('rule_name', (SELECT r.name FROM taskflow.automation_rules r WHERE r.id = p.rule_id))
        ORDER BY p.id DESC), '[]'),
    'next_after', CASE WHEN count(*) = max_rows THEN min(p.id) END)
  INTO doc FROM page p;
  RETURN doc;
END
$$;

-- "Fire now" from the dashboard: fire_rule for a rule the caller may see (P0002 otherwise; an
-- all-tenants rule only for an admin). Returns the jobs created and the firings recorded.
CREATE FUNCTION taskflow.dashboard_fire_rule(rule_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  r taskflow.automation_rules := taskflow._dashboard_rule(rule_id);
  before bigint := COALESCE((SELECT max(f.id) FROM taskflow.rule_firings f), 0);
  ids bigint[];
BEGIN
  IF r.for_each_tenant AND taskflow._caller_tenant() IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '42501',
      MESSAGE = format('rule %s fires for every tenant; only an admin may fire it', rule_id);
  END IF;
  ids := ARRAY(SELECT x FROM taskflow.fire_rule(rule_id) AS x);
  RETURN jsonb_build_object('rule_id', rule_id, 'job_ids', to_jsonb(ids),
    'firings', COALESCE((SELECT jsonb_agg(taskflow._dashboard_firing(f) ORDER BY f.id)
                         FROM taskflow.rule_firings f
                         WHERE f.rule_id = dashboard_fire_rule.rule_id AND f.id > before
                           AND f.fired_at = now()), '[]'));
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Tenants: limits, RUNNING now, jobs started in the last hour and their share
-- ---------------------------------------------------------------------------------------------

-- Jobs started per minute (of the start of their last attempt) and tenant, for the last two
-- hours: rolled up by taskflow._rollup from the jobs that finished (the RUNNING ones are counted
-- live), so the dashboard never scans an hour of history.
CREATE TABLE taskflow.stats_tenant_starts (
  tenant_id text NOT NULL,
  minute    timestamptz NOT NULL,
  jobs      bigint NOT NULL,
  PRIMARY KEY (tenant_id, minute)
);
CREATE INDEX stats_tenant_starts_minute_idx ON taskflow.stats_tenant_starts (minute);
COMMENT ON TABLE taskflow.stats_tenant_starts IS
  'Rolled-up job starts (last attempt) per tenant and minute, last two hours (dashboard_tenants).';
CREATE TABLE taskflow.stats_starts (
  minute timestamptz PRIMARY KEY,
  jobs   bigint NOT NULL
);
COMMENT ON TABLE taskflow.stats_starts IS
  'Rolled-up job starts (last attempt) per minute, all tenants, last two hours (dashboard_tenants).';

-- Called by _rollup with the watermark's old and new value: adds the starts of the jobs that
-- finished in [since, until) and started in the last two hours, and forgets older minutes.
CREATE FUNCTION taskflow._rollup_starts(since timestamptz, until timestamptz) RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  horizon timestamptz := date_trunc('minute', now() - interval '2 hours');
BEGIN
  WITH src AS MATERIALIZED (
    SELECT j.tenant_id, date_trunc('minute', j.started_at) AS minute FROM taskflow.jobs j
    WHERE j.state = 'SUCCEEDED' AND j.finished_at >= since AND j.finished_at < until
      AND j.started_at >= horizon
    UNION ALL
    SELECT j.tenant_id, date_trunc('minute', j.started_at) FROM taskflow.jobs j
    WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= since AND j.finished_at < until
      AND j.started_at >= horizon),
  t AS (
    INSERT INTO taskflow.stats_tenant_starts AS s (tenant_id, minute, jobs)
    SELECT src.tenant_id, src.minute, count(*) FROM src GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (tenant_id, minute) DO UPDATE SET jobs = s.jobs + excluded.jobs)
  INSERT INTO taskflow.stats_starts AS s (minute, jobs)
  SELECT src.minute, count(*) FROM src GROUP BY 1 ORDER BY 1
  ON CONFLICT (minute) DO UPDATE SET jobs = s.jobs + excluded.jobs;
  DELETE FROM taskflow.stats_tenant_starts s WHERE s.minute < horizon;
  DELETE FROM taskflow.stats_starts s WHERE s.minute < horizon;
END
$$;

-- Tenants by id, at most max_rows after `after` (a tenant's role: itself only): the registered
-- tenants and those with finished jobs. For each: max_running, weight, rate limit, RUNNING jobs
-- now, jobs started in the last hour (whose last attempt started since the start of the minute an
-- hour ago: finished ones from the roll-up and the tail since its watermark, RUNNING ones live) and
-- their share of all tenants' (admins only: a tenant does not learn the others' volume).
CREATE FUNCTION taskflow.dashboard_tenants(after text DEFAULT NULL, max_rows integer DEFAULT 100)
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
AS $$
DECLARE
  caller text := taskflow._caller_tenant();
  w timestamptz := COALESCE((SELECT m.rolled_up_to FROM taskflow.stats_watermark m), '-infinity');
  since timestamptz := date_trunc('minute', now() - interval '1 hour');
  doc jsonb;
BEGIN
  PERFORM taskflow._dashboard_check_page(max_rows);
  WITH recent AS MATERIALIZED (
    -- jobs started in the window that finished after the watermark, or are RUNNING: per tenant
    -- (jobs.tenant_id is COLLATE "C"; the roll-up's keys are not: one collation, or the
    -- per-tenant lookups below cannot use the roll-up's primary key)
    SELECT x.tenant_id COLLATE "default" AS tenant_id, count(*) FILTER (WHERE x.started_at >= since) AS jobs,
           count(*) FILTER (WHERE x.running) AS running
    FROM (SELECT j.tenant_id, j.started_at, false AS running FROM taskflow.jobs j
          WHERE j.state = 'SUCCEEDED' AND j.finished_at >= w AND j.started_at >= since
          UNION ALL
          SELECT j.tenant_id, j.started_at, false FROM taskflow.jobs j
          WHERE j.state IN ('FAILED', 'DEAD', 'CANCELLED') AND j.finished_at >= w AND j.started_at >= since
          UNION ALL
          SELECT j.tenant_id, j.started_at, true FROM taskflow.jobs j WHERE j.state = 'RUNNING') x
    WHERE x.tenant_id = COALESCE(caller, x.tenant_id)
    GROUP BY x.tenant_id),
  total AS MATERIALIZED (
    SELECT CASE WHEN caller IS NULL THEN
             COALESCE((SELECT sum(s.jobs) FROM taskflow.stats_starts s WHERE s.minute >= since), 0)
             + COALESCE((SELECT sum(r.jobs) FROM recent r), 0) END AS n),
  ids AS MATERIALIZED (
    SELECT DISTINCT i.id FROM (
      (SELECT t.id FROM taskflow.tenants t WHERE t.id > COALESCE(after, '') AND caller IS NULL
       ORDER BY t.id LIMIT max_rows)
      UNION ALL
      (SELECT v.tenant_id FROM taskflow.stats_tenant_volume v WHERE v.tenant_id > COALESCE(after, '')
         AND caller IS NULL ORDER BY v.tenant_id LIMIT max_rows)
      UNION ALL
      (SELECT r.tenant_id FROM recent r WHERE r.tenant_id > COALESCE(after, '')
         AND caller IS NULL ORDER BY r.tenant_id LIMIT max_rows)
      UNION ALL
      SELECT caller WHERE caller IS NOT NULL) i
    ORDER BY i.id LIMIT max_rows),
  rows AS MATERIALIZED (
    SELECT i.id, t.max_running, COALESCE(t.weight, 1) AS weight,
           (SELECT jsonb_build_object('max_starts', rl.max_starts, 'per_ms', taskflow._ms(rl.period))
            FROM taskflow.rate_limits rl WHERE rl.scope = 'tenant' AND rl.name = i.id) AS rate_limit,
           COALESCE(r.running, 0) AS running,
           COALESCE((SELECT sum(s.jobs) FROM taskflow.stats_tenant_starts s
                     WHERE s.tenant_id = i.id AND s.minute >= since), 0) + COALESCE(r.jobs, 0) AS started
    FROM ids i
    LEFT JOIN taskflow.tenants t ON t.id = i.id
    LEFT JOIN recent r ON r.tenant_id = i.id)
  SELECT jsonb_build_object(
    'tenants', COALESCE(jsonb_agg(jsonb_build_object(
        'tenant_id', x.id, 'max_running', x.max_running, 'weight', x.weight,
        'rate_limit', x.rate_limit, 'running', x.running, 'started_1h', x.started,
        'share_1h', CASE WHEN caller IS NULL THEN round(x.started::numeric / NULLIF((SELECT n FROM total), 0), 4) END)
      ORDER BY x.id), '[]'),
    'started_1h_total', (SELECT n FROM total),
    'window_start', since,
    'next_after', CASE WHEN count(*) = max_rows THEN max(x.id) END)
  INTO doc FROM rows x;
  RETURN doc;
END
$$;

-- Short statements on small index ranges: no parallel workers (starting them costs more).
ALTER FUNCTION taskflow.dashboard_tenants(text, integer) SET max_parallel_workers_per_gather = 0;
ALTER FUNCTION taskflow.dashboard_rules(bigint, integer) SET max_parallel_workers_per_gather = 0;
ALTER FUNCTION taskflow.dashboard_queues() SET max_parallel_workers_per_gather = 0;

COMMENT ON FUNCTION taskflow.dashboard_queues() IS
  'Dashboard: every queue with its settings and the queue_stats figures (admins).';
COMMENT ON FUNCTION taskflow.dashboard_alter_queue(text, jsonb) IS
  'Dashboard: changes a queue''s settings from a JSON object (null: back to the default); returns them.';
COMMENT ON FUNCTION taskflow.dashboard_rules(bigint, integer) IS
  'Dashboard: the caller''s rules with their last firing and firing counters, a page by id.';
COMMENT ON FUNCTION taskflow.dashboard_rule_firings(bigint, bigint, integer) IS
  'Dashboard: a rule''s firings, newest first, a page by id.';
COMMENT ON FUNCTION taskflow.dashboard_webhook_deliveries(bigint, bigint, integer) IS
  'Dashboard: webhook deliveries (firings with source webhook), newest first, a page by id.';
COMMENT ON FUNCTION taskflow.dashboard_fire_rule(bigint) IS
  'Dashboard: fires one of the caller''s rules now; returns the jobs and firings.';
COMMENT ON FUNCTION taskflow.dashboard_tenants(text, integer) IS
  'Dashboard: tenants with limits, RUNNING now and jobs started in the last hour (share for admins).';

REVOKE ALL ON FUNCTION
  taskflow._ms(interval), taskflow._dashboard_check_page(integer),
  taskflow._dashboard_int(jsonb, text), taskflow._dashboard_ms(jsonb, text),
  taskflow._dashboard_queue_settings(taskflow.queues), taskflow.dashboard_queues(),
  taskflow.dashboard_alter_queue(text, jsonb), taskflow._dashboard_firing(taskflow.rule_firings),
  taskflow.dashboard_rules(bigint, integer), taskflow._dashboard_rule(bigint),
  taskflow.dashboard_rule_firings(bigint, bigint, integer),
  taskflow.dashboard_webhook_deliveries(bigint, bigint, integer),
  taskflow.dashboard_fire_rule(bigint), taskflow._rollup_starts(timestamptz, timestamptz),
  taskflow.dashboard_tenants(text, integer)
FROM PUBLIC;
REVOKE ALL ON taskflow.stats_tenant_starts, taskflow.stats_starts FROM PUBLIC;
GRANT SELECT ON taskflow.stats_tenant_starts, taskflow.stats_starts TO taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.dashboard_queues(), taskflow.dashboard_alter_queue(text, jsonb),
  taskflow._rollup_starts(timestamptz, timestamptz)
TO taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.dashboard_rules(bigint, integer),
  taskflow.dashboard_rule_firings(bigint, bigint, integer),
  taskflow.dashboard_webhook_deliveries(bigint, bigint, integer),
  taskflow.dashboard_fire_rule(bigint),
  taskflow.dashboard_tenants(text, integer)
TO taskflow_client, taskflow_admin;
