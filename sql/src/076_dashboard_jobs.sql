-- ---------------------------------------------------------------------------------------------
-- The dashboard's jobs (docs/functions.md, "Dashboard: jobs"): search with keyset pages, capped
-- counts, bulk retry/cancel/purge through the per-job verbs, a job's whole story (job_detail),
-- dead letters grouped by job type and error type. Every function confines a tenant's role to
-- its tenant (taskflow._caller_tenant()); another tenant's job answers like a missing one.
-- ---------------------------------------------------------------------------------------------

-- The most jobs one bulk call acts on, and the cap of count_jobs' default.
CREATE FUNCTION taskflow._bulk_max() RETURNS integer
LANGUAGE sql IMMUTABLE AS $$ SELECT 10000 $$;

-- A checked filter: the vocabulary shared by search_jobs, count_jobs, bulk_jobs, purge_jobs and
-- the dead-letter functions.
CREATE TYPE taskflow._job_filter AS (
  states         taskflow.job_state[],
  queue          text,
  tenant_id      text,
  job_type       text,
  correlation_id text,
  created_from   timestamptz,
  created_to     timestamptz,
  payload        jsonpath,
  error_type     text
);

-- Checks a jsonpath predicate given for the payload: at most 1000 characters, valid, without
-- variables ($name: nothing passes any), and a predicate (its result is a boolean), so that
-- `@@` can answer it. Every problem is a 22023 naming the parameter.
CREATE FUNCTION taskflow._check_payload_path(path text) RETURNS jsonpath
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  compiled jsonpath;
  probe jsonb;
BEGIN
  IF path IS NULL THEN
    RETURN NULL;
  END IF;
  IF length(path) > 1000 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('payload: the jsonpath is %s characters long, more than 1000', length(path));
  END IF;
  compiled := taskflow._compile_jsonpath(path, 'payload',
    'A payload filter is a jsonpath predicate, e.g. $.customer == "acme" or $.amount > 100',
    'the filter passes', 'Compare with a literal, e.g. $.customer == "acme"');
  -- A predicate answers one boolean (or null: unknown) for any document; a plain path such as
  -- $.customer answers items or nothing, which @@ would treat as "no match" for every job.
  BEGIN
    probe := jsonb_path_query_first('{}'::jsonb, compiled, '{}'::jsonb, true);
  EXCEPTION WHEN others THEN
    probe := NULL;
  END;
  IF probe IS NULL OR jsonb_typeof(probe) NOT IN ('boolean', 'null') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('payload must be a jsonpath predicate (a comparison or exists(...)), got %s', path),
      HINT = 'e.g. $.customer == "acme", $.amount > 100, exists($.coupon), $.flag == true';
  END IF;
  RETURN compiled;
END
$$;

CREATE FUNCTION taskflow._job_filter(state taskflow.job_state[], queue text, tenant_id text,
    job_type text, correlation_id text, created_from timestamptz, created_to timestamptz,
    payload text, error_type text)
RETURNS taskflow._job_filter
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  f taskflow._job_filter;
BEGIN
  IF cardinality(state) = 0 THEN
    state := NULL;  -- no state named: every state
  END IF;
  IF array_position(state, NULL) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'state must not contain NULL';
  END IF;
  IF created_from IS NOT NULL AND created_to IS NOT NULL AND created_from > created_to THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('from (%s) is after to (%s)', created_from, created_to);
  END IF;
  f := ROW(state, queue, tenant_id, job_type, correlation_id, created_from, created_to,
           taskflow._check_payload_path(payload), error_type);
  RETURN f;
END
$$;

-- The same filter from a JSON object with the HTTP API's names: state (an array of states or
-- "A,B"), queue, tenant, job_type, correlation_id, from, to (RFC 3339), payload (a jsonpath
-- predicate), error_type. Unknown keys and wrong types are refused (22023).
CREATE FUNCTION taskflow._job_filter_from_json(filter jsonb) RETURNS taskflow._job_filter
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  k text;
  states taskflow.job_state[];
  ts timestamptz[] := ARRAY[NULL, NULL]::timestamptz[];
BEGIN
  IF jsonb_typeof(filter) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'filter must be a JSON object';
  END IF;
  FOR k IN SELECT jsonb_object_keys(filter) LOOP
    IF k NOT IN ('state', 'queue', 'tenant', 'job_type', 'correlation_id', 'from', 'to',
                 'payload', 'error_type') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('filter: unknown key "%s"', k),
        HINT = 'Keys are state, queue, tenant, job_type, correlation_id, from, to, payload, error_type.';
    END IF;
    IF k <> 'state' AND jsonb_typeof(filter -> k) NOT IN ('string', 'null') THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('filter: %s must be a string', k);
    END IF;
  END LOOP;
  BEGIN
    IF jsonb_typeof(filter -> 'state') = 'array' THEN
      states := ARRAY(SELECT x::taskflow.job_state FROM jsonb_array_elements_text(filter -> 'state') x);
    ELSIF jsonb_typeof(filter -> 'state') = 'string' THEN
      states := string_to_array(filter ->> 'state', ',')::taskflow.job_state[];
    ELSIF jsonb_typeof(filter -> 'state') IS DISTINCT FROM 'null' AND filter ? 'state' THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'filter: state must be an array of states or a string';
    END IF;
    ts := ARRAY[(filter ->> 'from')::timestamptz, (filter ->> 'to')::timestamptz];
  EXCEPTION WHEN data_exception THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('filter: %s', SQLERRM);
  END;
  RETURN taskflow._job_filter(states, filter ->> 'queue', filter ->> 'tenant', filter ->> 'job_type',
                              filter ->> 'correlation_id', ts[1], ts[2], filter ->> 'payload',
                              filter ->> 'error_type');
END
$$;

-- The ids of the jobs matching `f` that the caller may see, newest first (id DESC), after the
-- keyset cursor `after_id`, at most `max_rows`. The statement holds only the conditions given
-- and is planned with their values (EXECUTE ... USING: values are never spliced into the text),
-- so each filter can use its index: the tenant's (tenant_id, id), the correlation id's, the
-- state indexes, or the primary key walked backwards from the cursor.
CREATE FUNCTION taskflow._job_ids(f taskflow._job_filter, after_id bigint, max_rows integer)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
-- never a sequential scan of the whole history (a time range or job type alone would choose one
-- and sort: 115 ms on 1,000,000 jobs); the ordered primary key walk stops at the page's end
SET enable_seqscan = off
SET max_parallel_workers_per_gather = 0  -- starting workers costs ~50 ms; a page needs none
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  q text := 'SELECT j.id FROM taskflow.jobs j WHERE true';
BEGIN
  IF own IS NOT NULL THEN q := q || ' AND j.tenant_id = $1'; END IF;
  IF f.states IS NOT NULL THEN q := q || ' AND j.state = ANY($2)'; END IF;
  IF f.queue IS NOT NULL THEN q := q || ' AND j.queue = $3'; END IF;
  IF f.tenant_id IS NOT NULL THEN q := q || ' AND j.tenant_id = $4'; END IF;
  IF f.job_type IS NOT NULL THEN q := q || ' AND j.job_type = $5'; END IF;
  IF f.correlation_id IS NOT NULL THEN q := q || ' AND j.correlation_id = $6'; END IF;
  IF f.created_from IS NOT NULL THEN q := q || ' AND j.created_at >= $7'; END IF;
  IF f.created_to IS NOT NULL THEN q := q || ' AND j.created_at < $8'; END IF;
  -- silent: a runtime error of the path on one payload (a type mismatch in strict mode, ...)
  -- makes that job not match instead of failing the listing
  IF f.payload IS NOT NULL THEN q := q || ' AND jsonb_path_match(j.payload, $9, ''{}'', true)'; END IF;
  IF f.error_type IS NOT NULL THEN q := q || ' AND j.last_error_type = $10'; END IF;
  IF after_id IS NOT NULL THEN q := q || ' AND j.id < $11'; END IF;
  q := q || ' ORDER BY j.id DESC LIMIT $12';
  RETURN QUERY EXECUTE q USING own, f.states, f.queue, f.tenant_id, f.job_type, f.correlation_id,
    f.created_from, f.created_to, f.payload, f.error_type, after_id, max_rows;
END
$$;

-- A job as the dashboard's lists show it.
CREATE FUNCTION taskflow._job_summary(j taskflow.jobs) RETURNS jsonb
LANGUAGE sql STABLE
AS $$
  SELECT jsonb_build_object(
    'id', j.id, 'queue', j.queue, 'job_type', j.job_type, 'tenant_id', j.tenant_id,
    'state', j.state, 'priority', j.priority, 'attempt', j.attempts,
    'max_attempts', j.max_attempts, 'created_at', j.created_at, 'next_run_at', j.next_run_at,
    'finished_at', j.finished_at, 'correlation_id', j.correlation_id,
    'parent_job_id', j.parent_job_id,
    'last_error', CASE WHEN j.last_error_type IS NOT NULL THEN
      left(j.last_error_type || COALESCE(': ' || split_part(j.last_error_message, E'\n', 1), ''), 200) END)
$$;

CREATE FUNCTION taskflow.search_jobs(state taskflow.job_state[] DEFAULT NULL,
    queue text DEFAULT NULL, tenant_id text DEFAULT NULL, job_type text DEFAULT NULL,
    correlation_id text DEFAULT NULL, created_from timestamptz DEFAULT NULL,
    created_to timestamptz DEFAULT NULL, payload text DEFAULT NULL, error_type text DEFAULT NULL,
    after_id bigint DEFAULT NULL, max_rows integer DEFAULT 50)
RETURNS SETOF jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  f taskflow._job_filter;
BEGIN
  PERFORM taskflow._check_range(max_rows, 'max_rows', 1, 1000);
  f := taskflow._job_filter(search_jobs.state, search_jobs.queue, search_jobs.tenant_id,
         search_jobs.job_type, search_jobs.correlation_id, search_jobs.created_from,
         search_jobs.created_to, search_jobs.payload, search_jobs.error_type);
  RETURN QUERY
    SELECT taskflow._job_summary(j) FROM taskflow.jobs j
    WHERE j.id = ANY(ARRAY(SELECT taskflow._job_ids(f, search_jobs.after_id, search_jobs.max_rows)))
    ORDER BY j.id DESC;
END
$$;

CREATE FUNCTION taskflow.count_jobs(state taskflow.job_state[] DEFAULT NULL,
    queue text DEFAULT NULL, tenant_id text DEFAULT NULL, job_type text DEFAULT NULL,
    correlation_id text DEFAULT NULL, created_from timestamptz DEFAULT NULL,
    created_to timestamptz DEFAULT NULL, payload text DEFAULT NULL, error_type text DEFAULT NULL,
    max_count integer DEFAULT 10000, OUT count bigint, OUT capped boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  f taskflow._job_filter;
  n bigint;
BEGIN
  PERFORM taskflow._check_range(max_count, 'max_count', 1, 100000);
  f := taskflow._job_filter(count_jobs.state, count_jobs.queue, count_jobs.tenant_id,
         count_jobs.job_type, count_jobs.correlation_id, count_jobs.created_from,
         count_jobs.created_to, count_jobs.payload, count_jobs.error_type);
  SELECT pg_catalog.count(*) INTO n FROM taskflow._job_ids(f, NULL, max_count + 1);
  count := least(n, max_count);
  capped := n > max_count;
END
$$;

-- Applies `action` (retry or cancel: the per-job verbs, with their state machine checks and
-- audit trail; purge: deletes finished jobs with their attempts and events) to the jobs `ids`
-- the caller may see. Rows are locked in id order (no deadlock between two bulk calls). A job
-- the verb refuses is reported, not fatal: {"matched", "changed", "skipped": [{"id", "state",
-- "reason"}] (the first 100), "skipped_count", "cancel_requested"}.
CREATE FUNCTION taskflow._bulk_apply(action text, ids bigint[], reason text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  want bigint[];
  seen bigint[] := '{}';
  doomed bigint[] := '{}';
  r record;
  s taskflow.job_state;
  changed bigint := 0;
  requested bigint := 0;
  skipped jsonb := '[]';
  nskipped bigint := 0;
  x bigint;
BEGIN
  want := ARRAY(SELECT DISTINCT u FROM unnest(ids) u WHERE u IS NOT NULL ORDER BY u);
  FOR r IN SELECT j.id, j.state FROM taskflow.jobs j
           WHERE j.id = ANY(want) AND j.tenant_id = COALESCE(own, j.tenant_id)
           ORDER BY j.id FOR UPDATE LOOP
    seen := seen || r.id;
    IF action = 'purge' THEN
      -- the final states (core::IsTerminal); never a job that may still run
      IF r.state = ANY (taskflow._final_states()) THEN
        doomed := doomed || r.id;
      ELSE
        nskipped := nskipped + 1;
        IF nskipped <= 100 THEN
          skipped := skipped || jsonb_build_object('id', r.id, 'state', r.state, 'reason',
            format('cannot purge job %s: it is %s', r.id, r.state));
        END IF;
      END IF;
      CONTINUE;
    END IF;
    BEGIN
      IF action = 'retry' THEN
        s := taskflow.retry(r.id);
      ELSE
        s := taskflow.cancel(r.id, reason);
      END IF;
      changed := changed + 1;
      IF action = 'cancel' AND s = 'RUNNING' THEN
        requested := requested + 1;  -- its worker is asked to stop (docs/functions.md, cancel)
      END IF;
    EXCEPTION WHEN object_not_in_prerequisite_state OR undefined_object THEN
      -- the state machine's refusal (or a retry whose queue is gone, or whose unique key
      -- another job holds): reported with the verb's own message
      nskipped := nskipped + 1;
      IF nskipped <= 100 THEN
        skipped := skipped || jsonb_build_object('id', r.id, 'state', r.state, 'reason', SQLERRM);
      END IF;
    END;
  END LOOP;
  IF cardinality(doomed) > 0 THEN
    DELETE FROM taskflow.job_attempts a WHERE a.job_id = ANY(doomed);
    DELETE FROM taskflow.job_events e WHERE e.job_id = ANY(doomed);
    DELETE FROM taskflow.jobs j WHERE j.id = ANY(doomed);
    changed := cardinality(doomed);
  END IF;
  -- another tenant's job is reported exactly like a missing one
  FOREACH x IN ARRAY want LOOP
    IF NOT x = ANY(seen) THEN
      nskipped := nskipped + 1;
      IF nskipped <= 100 THEN
        skipped := skipped || jsonb_build_object('id', x, 'state', NULL, 'reason',
          format('job %s does not exist', x));
      END IF;
    END IF;
  END LOOP;
  RETURN jsonb_build_object('matched', cardinality(want), 'changed', changed,
    'skipped', skipped, 'skipped_count', nskipped, 'cancel_requested', requested);
END
$$;

-- The jobs a bulk call acts on: `ids`, or the jobs matching `filter` when the caller confirmed
-- their number (expected_count). A filter matching more jobs than confirmed is refused (55000):
-- the person agreed to act on that many, never on more; fewer (some left the filter since the
-- count) is fine.
CREATE FUNCTION taskflow._bulk_targets(ids bigint[], filter jsonb, expected_count bigint)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
  found bigint[];
  bound integer := taskflow._bulk_max();
BEGIN
  IF (ids IS NULL) = (filter IS NULL) THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give either ids or filter (with expected_count)';
  END IF;
  IF ids IS NOT NULL THEN
    IF cardinality(ids) > bound THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('ids has %s elements, more than %s (the most one bulk call acts on)',
                         cardinality(ids), bound);
    END IF;
    RETURN ids;
  END IF;
  IF expected_count IS NULL OR expected_count < 0 THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'a filter needs expected_count: the number of matching jobs the person confirmed',
      HINT = 'Count them first with taskflow.count_jobs (GET /dashboard/api/jobs/count).';
  END IF;
  found := ARRAY(SELECT taskflow._job_ids(taskflow._job_filter_from_json(filter), NULL, bound + 1));
  IF cardinality(found) > bound THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('the filter matches more than %s jobs, the most one bulk call acts on', bound),
      HINT = 'Narrow it, e.g. with a time range (from, to), and act on each part.';
  END IF;
  IF cardinality(found) > expected_count THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('the filter now matches %s jobs, more than the %s confirmed',
                       cardinality(found), expected_count),
      HINT = 'Count again and confirm the new number; a "to" bound keeps new jobs out of the filter.';
  END IF;
  RETURN found;
END
$$;

CREATE FUNCTION taskflow.bulk_jobs(action text, ids bigint[] DEFAULT NULL, filter jsonb DEFAULT NULL,
    expected_count bigint DEFAULT NULL, reason text DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  IF action IS NULL OR action NOT IN ('retry', 'cancel') THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = format('action must be retry or cancel, got %s', COALESCE(action, 'NULL')),
      HINT = CASE WHEN action = 'purge' THEN 'Purging is taskflow.purge_jobs (admins only).' END;
  END IF;
  RETURN taskflow._bulk_apply(action, taskflow._bulk_targets(ids, filter, expected_count), reason);
END
$$;

CREATE FUNCTION taskflow.purge_jobs(ids bigint[] DEFAULT NULL, filter jsonb DEFAULT NULL,
    expected_count bigint DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
BEGIN
  RETURN taskflow._bulk_apply('purge', taskflow._bulk_targets(ids, filter, expected_count), NULL);
END
$$;

-- job_detail's origin: why the job exists (a rule firing, a webhook, a parent job, or its
-- caller). A rule firing records the jobs it created, in the transaction that created them, so
-- its fired_at is the job's created_at (both now()): found through rule_firings_fired_idx, not by
-- scanning every firing.
CREATE FUNCTION taskflow._job_detail_origin(j taskflow.jobs) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
DECLARE
  f taskflow.rule_firings;
  created record;
BEGIN
  SELECT * INTO f FROM taskflow.rule_firings rf
  WHERE rf.fired_at = j.created_at AND j.id = ANY(rf.job_ids) ORDER BY rf.id LIMIT 1;
  SELECT e.actor, e.at, e.reason INTO created FROM taskflow.job_events e
  WHERE e.job_id = j.id AND e.from_state IS NULL ORDER BY e.id LIMIT 1;
  RETURN jsonb_build_object(
    'kind', CASE WHEN f.id IS NOT NULL AND f.source = 'webhook' THEN 'webhook'
                 WHEN f.id IS NOT NULL THEN 'rule'
                 WHEN j.parent_job_id IS NOT NULL THEN 'parent'
                 ELSE 'caller' END,
    'actor', COALESCE(created.actor, f.actor), 'created_at', j.created_at,
    'rule_id', f.rule_id,
    'rule_name', (SELECT r.name FROM taskflow.automation_rules r WHERE r.id = f.rule_id),
    'firing_id', f.id, 'firing_source', f.source, 'fired_at', f.fired_at,
    'delivery_id', f.context -> 'event' ->> 'delivery_id',
    'source_job_id', f.source_job_id, 'parent_job_id', j.parent_job_id);
END
$$;

-- job_detail's attempts: the latest 500, oldest first, each with the transition that ended it;
-- the running one from the job row.
CREATE FUNCTION taskflow._job_detail_attempts(j taskflow.jobs) RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $$
BEGIN
  RETURN COALESCE((SELECT jsonb_agg(x.a ORDER BY x.n) FROM (
        SELECT a.attempt AS n, jsonb_build_object(
          'attempt', a.attempt, 'worker_id', a.worker_id, 'started_at', a.started_at,
          'finished_at', a.finished_at,
          'duration_ms', round(extract(epoch FROM a.finished_at - a.started_at) * 1000, 3),
          'outcome', a.outcome,
          'error', CASE WHEN a.error_type IS NOT NULL THEN
            jsonb_build_object('type', a.error_type, 'message', a.error_message) END,
          -- the transition that ended the attempt says what was decided and why
          'decision', ev.reason, 'to_state', ev.to_state,
          'backoff', CASE WHEN a.backoff_delay IS NOT NULL THEN jsonb_build_object(
            'delay_ms', round(extract(epoch FROM a.backoff_delay) * 1000, 3),
            'policy', a.backoff_policy, 'reason', ev.reason,
            'next_run_at', a.finished_at + a.backoff_delay) END) AS a
        -- the k-th transition out of RUNNING ended the k-th attempt (every ended attempt has
        -- one row here and one such event, written together)
        FROM (SELECT a0.*, row_number() OVER (ORDER BY a0.attempt) AS k
              FROM taskflow.job_attempts a0 WHERE a0.job_id = j.id
              ORDER BY a0.attempt DESC LIMIT 500) a
        LEFT JOIN (SELECT e.reason, e.to_state, row_number() OVER (ORDER BY e.id) AS k
                   FROM taskflow.job_events e
                   WHERE e.job_id = j.id AND e.from_state = 'RUNNING') ev ON ev.k = a.k
        UNION ALL
        SELECT j.attempts, jsonb_build_object(
          'attempt', j.attempts, 'worker_id', j.worker_id, 'started_at', j.started_at,
          'finished_at', NULL,
          'duration_ms', round(extract(epoch FROM now() - j.started_at) * 1000, 3),
          'outcome', 'running', 'error', NULL, 'decision', NULL, 'to_state', NULL, 'backoff', NULL)
        WHERE j.state = 'RUNNING') x), '[]'::jsonb);
END
$$;

-- Everything the dashboard shows about one job; NULL when it does not exist or belongs to
-- another tenant.
CREATE FUNCTION taskflow.job_detail(job_id bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  j taskflow.jobs;
  n_events bigint;
  n_attempts bigint;
BEGIN
  SELECT * INTO j FROM taskflow.jobs x
  WHERE x.id = job_detail.job_id AND x.tenant_id = COALESCE(own, x.tenant_id);
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT count(*) INTO n_events FROM (SELECT 1 FROM taskflow.job_events e
    WHERE e.job_id = j.id LIMIT 501) c;
  SELECT count(*) INTO n_attempts FROM (SELECT 1 FROM taskflow.job_attempts a
    WHERE a.job_id = j.id LIMIT 501) c;
  RETURN jsonb_build_object(
    'job', taskflow.get_job(j.id),
    'attempts', taskflow._job_detail_attempts(j),
    'attempts_truncated', n_attempts > 500,
    'events', COALESCE((SELECT jsonb_agg(jsonb_build_object(
        'at', e.at, 'from_state', e.from_state, 'to_state', e.to_state, 'actor', e.actor,
        'reason', e.reason) ORDER BY e.id)
      FROM (SELECT * FROM taskflow.job_events e0 WHERE e0.job_id = j.id
            ORDER BY e0.id DESC LIMIT 500) e), '[]'::jsonb),
    'events_truncated', n_events > 500,
    'lease', CASE WHEN j.state = 'RUNNING' THEN jsonb_build_object(
      'worker_id', j.worker_id, 'started_at', j.started_at, 'expires_at', j.lease_expires_at,
      'duration_ms', round(extract(epoch FROM j.lease_duration) * 1000, 3),
      'last_heartbeat_at', j.last_heartbeat_at, 'heartbeats', j.heartbeats,
      'cancel_requested', j.cancel_requested) END,
    'parent', (SELECT taskflow._job_summary(p) FROM taskflow.jobs p
               WHERE p.id = j.parent_job_id AND p.tenant_id = COALESCE(own, p.tenant_id)),
    'children', COALESCE((SELECT jsonb_agg(taskflow._job_summary(c) ORDER BY c.id) FROM (
        SELECT * FROM taskflow.jobs c0 WHERE c0.parent_job_id = j.id
          AND c0.tenant_id = COALESCE(own, c0.tenant_id) ORDER BY c0.id LIMIT 100) c), '[]'::jsonb),
    'correlation', CASE WHEN j.correlation_id IS NULL THEN '[]'::jsonb ELSE
      COALESCE((SELECT jsonb_agg(taskflow._job_summary(c) ORDER BY c.id) FROM (
        SELECT * FROM taskflow.jobs c0 WHERE c0.correlation_id = j.correlation_id
          AND c0.tenant_id = COALESCE(own, c0.tenant_id) ORDER BY c0.id LIMIT 100) c), '[]'::jsonb) END,
    'origin', taskflow._job_detail_origin(j));
END
$$;

-- Dead letters (DEAD jobs) grouped by job type and error type (the error_type the fail path
-- recorded last: the worker's error class, or lease_expired from the Rescuer). Counted from
-- jobs_dead_idx alone (index-only: a million-job history with 50,000 dead letters costs a scan of
-- that small index, not 50,000 heap reads), over at most `max_jobs` DEAD jobs; "capped" says
-- there are more (the groups then count the first max_jobs in the index's order: tenant, job
-- type, error type).
CREATE INDEX jobs_dead_idx ON taskflow.jobs (tenant_id, job_type, last_error_type) INCLUDE (finished_at, id)
  WHERE state = 'DEAD';

CREATE FUNCTION taskflow.dead_letter_groups(max_jobs integer DEFAULT 100000) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET plan_cache_mode = force_custom_plan   -- planned with `own` known: no tenant filter for admins
AS $$
DECLARE
  own text := taskflow._caller_tenant();
  result jsonb;
BEGIN
  PERFORM taskflow._check_range(max_jobs, 'max_jobs', 1, 1000000);
  WITH d AS (
    SELECT j.id, j.job_type, j.last_error_type, j.finished_at FROM taskflow.jobs j
    WHERE j.state = 'DEAD' AND (own IS NULL OR j.tenant_id = own)
    LIMIT max_jobs + 1),
  g AS (
    SELECT d.job_type, d.last_error_type AS error_type, count(*) AS n, max(d.finished_at) AS last_at,
           max(d.id) AS sample
    FROM (SELECT * FROM d LIMIT max_jobs) d GROUP BY 1, 2)
  SELECT jsonb_build_object('groups', COALESCE(jsonb_agg(jsonb_build_object('job_type', g.job_type,
           'error_type', g.error_type, 'count', g.n, 'last_at', g.last_at, 'sample_job_id', g.sample,
           'sample_error', (SELECT left(x.last_error_message, 200) FROM taskflow.jobs x WHERE x.id = g.sample))
           ORDER BY g.n DESC, g.job_type, g.error_type), '[]'),
         'capped', (SELECT count(*) FROM d) > max_jobs)
  INTO result FROM g;
  RETURN result;
END
$$;

-- Re-drive (retry) or purge one group of dead letters, at most max_jobs (newest first) per call:
-- dead_letter_redrive and dead_letter_purge, `action` 'retry' or 'purge' (_bulk_apply).
CREATE FUNCTION taskflow._dead_letter_apply(action text, job_type text, error_type text,
    max_jobs integer) RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
  IF job_type IS NULL OR error_type IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'job_type and error_type are required';
  END IF;
  PERFORM taskflow._check_range(max_jobs, 'max_jobs', 1, taskflow._bulk_max());
  RETURN taskflow._bulk_apply(action, ARRAY(SELECT taskflow._job_ids(
    taskflow._job_filter('{DEAD}', NULL, NULL, job_type, NULL, NULL, NULL, NULL, error_type),
    NULL, max_jobs)), NULL);
END
$$;

CREATE FUNCTION taskflow.dead_letter_redrive(job_type text, error_type text,
    max_jobs integer DEFAULT 10000) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$ SELECT taskflow._dead_letter_apply('retry', job_type, error_type, max_jobs) $$;

CREATE FUNCTION taskflow.dead_letter_purge(job_type text, error_type text,
    max_jobs integer DEFAULT 10000) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$ SELECT taskflow._dead_letter_apply('purge', job_type, error_type, max_jobs) $$;

REVOKE ALL ON FUNCTION
  taskflow.search_jobs(taskflow.job_state[], text, text, text, text, timestamptz, timestamptz, text, text, bigint, integer),
  taskflow.count_jobs(taskflow.job_state[], text, text, text, text, timestamptz, timestamptz, text, text, integer),
  taskflow.bulk_jobs(text, bigint[], jsonb, bigint, text),
  taskflow.purge_jobs(bigint[], jsonb, bigint),
  taskflow.job_detail(bigint),
  taskflow.dead_letter_groups(integer),
  taskflow.dead_letter_redrive(text, text, integer),
  taskflow.dead_letter_purge(text, text, integer)
FROM PUBLIC;
-- Clients (confined to their tenant) read, retry and cancel; purging is for admins, as
-- purge_failed is.
GRANT EXECUTE ON FUNCTION
  taskflow.search_jobs(taskflow.job_state[], text, text, text, text, timestamptz, timestamptz, text, text, bigint, integer),
  taskflow.count_jobs(taskflow.job_state[], text, text, text, text, timestamptz, timestamptz, text, text, integer),
  taskflow.bulk_jobs(text, bigint[], jsonb, bigint, text),
  taskflow.job_detail(bigint),
  taskflow.dead_letter_groups(integer),
  taskflow.dead_letter_redrive(text, text, integer)
TO taskflow_client, taskflow_admin;
GRANT EXECUTE ON FUNCTION
  taskflow.purge_jobs(bigint[], jsonb, bigint),
  taskflow.dead_letter_purge(text, text, integer)
TO taskflow_admin;
