-- ---------------------------------------------------------------------------------------------
-- Queues
-- ---------------------------------------------------------------------------------------------

-- Parses a retry policy object into typed fields, with a clear error per bad key or value.
-- Refuses (22023) a jsonb value nesting deeper than 64 levels of arrays and objects.
CREATE FUNCTION taskflow._check_json_depth(value jsonb, what text) RETURNS void
AS 'MODULE_PATHNAME', 'taskflow_check_json_depth'
LANGUAGE C IMMUTABLE;

-- Refuses (22023) a bound argument (max_rows, weight, ...) that is NULL or outside lo..hi,
-- naming it: "max_rows must be between 1 and 1000".
CREATE FUNCTION taskflow._check_range(value bigint, name text, lo bigint, hi bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF value IS NULL OR value < lo OR value > hi THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('%s must be between %s and %s', name, lo, hi);
  END IF;
END
$$;

CREATE FUNCTION taskflow._policy_fields(policy jsonb,
    OUT max_attempts integer, OUT strategy text, OUT base_delay interval,
    OUT max_delay interval, OUT jitter text)
LANGUAGE plpgsql IMMUTABLE
AS $$
DECLARE
  k text;
BEGIN
  IF policy IS NULL THEN
    RETURN;
  END IF;
  PERFORM taskflow._check_json_depth(policy, 'retry_policy');
  IF jsonb_typeof(policy) <> 'object' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'retry_policy must be a JSON object',
      HINT = 'Example: {"max_attempts": 5, "strategy": "exponential", "base_delay": "2 seconds", "max_delay": "1 hour", "jitter": "full"}';
  END IF;
  FOR k IN SELECT jsonb_object_keys(policy) LOOP
    IF k NOT IN ('max_attempts', 'strategy', 'base_delay', 'max_delay', 'jitter') THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('unknown retry_policy key "%s"', k),
        HINT = 'Allowed keys: max_attempts, strategy, base_delay, max_delay, jitter.';
    END IF;
  END LOOP;
  IF policy ? 'max_attempts' THEN
    IF jsonb_typeof(policy -> 'max_attempts') <> 'number' OR (policy ->> 'max_attempts') !~ '^[0-9]+$'
       OR (policy ->> 'max_attempts')::numeric > 2147483647 THEN
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('retry_policy.max_attempts must be a positive integer, got %s', policy -> 'max_attempts');
    END IF;
    max_attempts := (policy ->> 'max_attempts')::integer;
  END IF;
  strategy := taskflow._policy_string(policy, 'strategy');
  jitter := taskflow._policy_string(policy, 'jitter');
  base_delay := taskflow._policy_delay(policy, 'base_delay');
  max_delay := taskflow._policy_delay(policy, 'max_delay');
END
$$;

-- A string of a retry policy (strategy, jitter): NULL when absent.
CREATE FUNCTION taskflow._policy_string(policy jsonb, key text) RETURNS text
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  IF policy ? key AND jsonb_typeof(policy -> key) <> 'string' THEN
    RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('retry_policy.%s must be a string', key);
  END IF;
  RETURN policy ->> key;
END
$$;

-- A delay is an interval string ("2 seconds") or a number of seconds.
CREATE FUNCTION taskflow._policy_delay(policy jsonb, key text) RETURNS interval
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
  CASE COALESCE(jsonb_typeof(policy -> key), 'null')   -- absent or JSON null: no delay given
    WHEN 'null' THEN
      RETURN NULL;
    WHEN 'number' THEN
      RETURN make_interval(secs => (policy ->> key)::double precision);
    WHEN 'string' THEN
      BEGIN
        RETURN (policy ->> key)::interval;
      EXCEPTION WHEN others THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
          MESSAGE = format('retry_policy.%s is not a valid interval: %s', key, policy -> key),
          HINT = 'Use an interval such as "2 seconds" or "1 hour", or a number of seconds.';
      END;
    ELSE
      RAISE EXCEPTION USING ERRCODE = '22023',
        MESSAGE = format('retry_policy.%s must be an interval string or a number of seconds', key);
  END CASE;
END
$$;

CREATE FUNCTION taskflow._check_queue(name text, max_attempts integer, strategy text,
    base_delay interval, max_delay interval, jitter text, lease interval,
    concurrency_limit integer, priority integer DEFAULT NULL) RETURNS void
AS 'MODULE_PATHNAME', 'taskflow_check_queue'
LANGUAGE C STABLE;

CREATE FUNCTION taskflow.create_queue(name text, priority integer DEFAULT 0,
    concurrency_limit integer DEFAULT NULL, retry_policy jsonb DEFAULT NULL,
    lease interval DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  p record;
BEGIN
  p := taskflow._policy_fields(retry_policy);
  PERFORM taskflow._check_queue(name, p.max_attempts, p.strategy, p.base_delay, p.max_delay,
                                p.jitter, lease, concurrency_limit, priority);
  IF EXISTS (SELECT FROM taskflow.queues q WHERE q.name = create_queue.name) THEN
    RAISE EXCEPTION USING ERRCODE = '42710', MESSAGE = format('queue "%s" already exists', name),
      HINT = 'Use taskflow.alter_queue to change it.';
  END IF;
  INSERT INTO taskflow.queues (name, priority, concurrency_limit, max_attempts, strategy,
                               base_delay, max_delay, jitter, lease)
  VALUES (name, COALESCE(priority, 0), concurrency_limit, p.max_attempts, p.strategy,
          p.base_delay, p.max_delay, p.jitter, lease);
END
$$;

-- NULL means "leave unchanged". A retry_policy given here replaces the whole policy.
CREATE FUNCTION taskflow.alter_queue(name text, priority integer DEFAULT NULL,
    concurrency_limit integer DEFAULT NULL, retry_policy jsonb DEFAULT NULL,
    lease interval DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  q taskflow.queues;
  p record;
BEGIN
  SELECT * INTO q FROM taskflow.queues x WHERE x.name = alter_queue.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name),
      HINT = format('Create it first: SELECT taskflow.create_queue(%L);', name);
  END IF;
  IF retry_policy IS NOT NULL THEN
    p := taskflow._policy_fields(retry_policy);
    q.max_attempts := p.max_attempts; q.strategy := p.strategy; q.base_delay := p.base_delay;
    q.max_delay := p.max_delay; q.jitter := p.jitter;
  END IF;
  q.priority := COALESCE(priority, q.priority);
  q.concurrency_limit := COALESCE(concurrency_limit, q.concurrency_limit);
  q.lease := COALESCE(lease, q.lease);
  PERFORM taskflow._check_queue(q.name, q.max_attempts, q.strategy, q.base_delay, q.max_delay,
                                q.jitter, q.lease, q.concurrency_limit, q.priority);
  UPDATE taskflow.queues x SET priority = q.priority, concurrency_limit = q.concurrency_limit,
    max_attempts = q.max_attempts, strategy = q.strategy, base_delay = q.base_delay,
    max_delay = q.max_delay, jitter = q.jitter, lease = q.lease, updated_at = now()
  WHERE x.name = q.name;
END
$$;

-- Refused while the queue holds unfinished jobs; finished jobs stay (history).
CREATE FUNCTION taskflow.drop_queue(name text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
AS $$
DECLARE
  n bigint;
BEGIN
  PERFORM FROM taskflow.queues q WHERE q.name = drop_queue.name FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '42704', MESSAGE = format('queue "%s" does not exist', name);
  END IF;
  SELECT count(*) INTO n FROM taskflow.jobs j
   WHERE j.queue = drop_queue.name AND j.state = ANY (taskflow._unfinished_states());
  IF n > 0 THEN
    RAISE EXCEPTION USING ERRCODE = '55000',
      MESSAGE = format('queue "%s" still holds %s unfinished jobs', name, n),
      HINT = 'Cancel them or wait until they finish, then drop the queue.';
  END IF;
  DELETE FROM taskflow.queues q WHERE q.name = drop_queue.name;
END
$$;

-- The effective retry policy of a queue, as JSON (NULL fields filled with the defaults).
CREATE FUNCTION taskflow.queue_retry_policy(name text) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER
AS $$
  SELECT jsonb_build_object(
    'max_attempts', COALESCE(q.max_attempts, 5),
    'strategy', COALESCE(q.strategy, 'exponential'),
    'base_delay', COALESCE(q.base_delay, interval '2 seconds')::text,
    'max_delay', COALESCE(q.max_delay, interval '1 hour')::text,
    'jitter', COALESCE(q.jitter, 'full'))
  FROM taskflow.queues q WHERE q.name = queue_retry_policy.name
$$;
