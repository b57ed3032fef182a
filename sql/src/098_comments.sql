-- ---------------------------------------------------------------------------------------------
-- COMMENT ON every public function (schema taskflow, name not starting with "_") whose file does
-- not comment it: what it does in one line, so \df+ and catalog readers see it. The reference
-- is docs/functions.md. Functions are named without their argument list (every public name is
-- unique), so a comment survives a signature change; test/sql/comments.sql fails when a public
-- function has none. The upgrade script runs these again (scripts/upgrade_script.py).
-- ---------------------------------------------------------------------------------------------

-- Jobs: schedule, read, cancel, retry
COMMENT ON FUNCTION taskflow.schedule IS
  'Enqueues one job (PENDING, or SCHEDULED when run_at is in the future); returns its id.';
COMMENT ON FUNCTION taskflow.schedule_many IS
  'Enqueues a JSON array of jobs in one call, all or none; returns their ids in order.';
COMMENT ON FUNCTION taskflow.get_job IS
  'A job as JSON (state, payload, result, last error, ...); NULL when missing or another tenant''s.';
COMMENT ON FUNCTION taskflow.job_history IS
  'A job with its attempts and state transitions as JSON; NULL when missing or another tenant''s.';
COMMENT ON FUNCTION taskflow.job_detail IS
  'Everything about one job: attempts, events, lease, parent, children, correlated jobs, origin.';
COMMENT ON FUNCTION taskflow.list_jobs IS
  'Job summaries, newest first, filtered by tenant, queue, state, job type; keyset pages by id.';
COMMENT ON FUNCTION taskflow.search_jobs IS
  'Job summaries matching a filter (states, dates, jsonpath on the payload, ...), keyset pages.';
COMMENT ON FUNCTION taskflow.count_jobs IS
  'How many jobs match a search_jobs filter, counting at most max_count (capped says more).';
COMMENT ON FUNCTION taskflow.cancel IS
  'Cancels a PENDING or SCHEDULED job; asks the worker of a RUNNING one to stop.';
COMMENT ON FUNCTION taskflow.retry IS
  'Brings a FAILED, DEAD or CANCELLED job back to PENDING, due now, with a fresh attempt budget.';
COMMENT ON FUNCTION taskflow.bulk_jobs IS
  'Retries or cancels jobs given by ids or by a confirmed filter, each through the per-job verb.';
COMMENT ON FUNCTION taskflow.purge_jobs IS
  'Deletes finished jobs given by ids or by a confirmed filter, with their attempts and events.';
COMMENT ON FUNCTION taskflow.purge_failed IS
  'Deletes FAILED and DEAD jobs finished longer ago than older_than (of one queue, or all).';

-- Dead letters
COMMENT ON FUNCTION taskflow.dead_letter_groups IS
  'DEAD jobs grouped by job type and error type, largest groups first.';
COMMENT ON FUNCTION taskflow.dead_letter_redrive IS
  'Retries the DEAD jobs of one job type and error type group.';
COMMENT ON FUNCTION taskflow.dead_letter_purge IS
  'Deletes the DEAD jobs of one job type and error type group.';

-- The worker protocol
COMMENT ON FUNCTION taskflow.acquire IS
  'Leases up to max_jobs ready jobs of the given queues to a worker (RUNNING, with a lease token).';
COMMENT ON FUNCTION taskflow.heartbeat IS
  'Extends a RUNNING job''s lease; answers ok, cancel_requested (stop) or lost (stop, do not report).';
COMMENT ON FUNCTION taskflow.heartbeat_many IS
  'heartbeat for several jobs in one call; one status per job.';
COMMENT ON FUNCTION taskflow.complete IS
  'Records a RUNNING job''s success with its result (SUCCEEDED).';
COMMENT ON FUNCTION taskflow.complete_many IS
  'complete for several jobs in one call; returns how many were completed.';
COMMENT ON FUNCTION taskflow.fail IS
  'Records a RUNNING job''s failure: retried after the backoff, DEAD when out of attempts, FAILED if not retryable.';
COMMENT ON FUNCTION taskflow.release IS
  'Hands a RUNNING job back without using up an attempt (PENDING, due now; CANCELLED if cancel was requested).';
COMMENT ON FUNCTION taskflow.snooze IS
  'Ends the attempt and runs the job again after delay (SCHEDULED) without using up an attempt.';

-- Queues
COMMENT ON FUNCTION taskflow.create_queue IS
  'Creates a queue with its priority, concurrency limit, retry policy and lease.';
COMMENT ON FUNCTION taskflow.alter_queue IS
  'Changes a queue''s settings; NULL leaves a setting unchanged.';
COMMENT ON FUNCTION taskflow.drop_queue IS
  'Deletes a queue; refused while it holds unfinished jobs (its finished jobs stay).';
COMMENT ON FUNCTION taskflow.pause_queue IS
  'Pauses a queue: acquire takes none of its jobs until resume_queue; scheduling goes on.';
COMMENT ON FUNCTION taskflow.resume_queue IS
  'Resumes a paused queue.';
COMMENT ON FUNCTION taskflow.queue_retry_policy IS
  'A queue''s effective retry policy as JSON, the default policy''s values filled in; NULL for no such queue.';
COMMENT ON FUNCTION taskflow.set_rate_limit IS
  'At most max_starts job starts per interval for a queue or a tenant, across all workers (a token bucket); NULL removes it.';

-- Tenants
COMMENT ON FUNCTION taskflow.grant_tenant IS
  'Confines a role to a tenant (its sessions see and touch only that tenant''s rows) and grants it taskflow_client.';
COMMENT ON FUNCTION taskflow.revoke_tenant IS
  'Removes a role''s tenant mapping and revokes taskflow_client from it.';
COMMENT ON FUNCTION taskflow.set_tenant_limit IS
  'At most max_running RUNNING jobs for a tenant across all workers; NULL removes the limit.';
COMMENT ON FUNCTION taskflow.set_tenant_weight IS
  'A tenant''s weight in the weighted round robin of acquire (its share of the slots).';

-- Scale-out (docs/scale-out.md)
COMMENT ON FUNCTION taskflow.shard_id IS
  'The shard this database numbers its job and rule ids for (0 unless set_shard said otherwise).';
COMMENT ON FUNCTION taskflow.set_shard IS
  'Makes this database shard shard_id: job and rule ids are drawn from its range of ids.';
COMMENT ON FUNCTION taskflow.export_tenant IS
  'A tenant''s jobs, attempts, events, rules, firings and settings as one JSON document.';
COMMENT ON FUNCTION taskflow.import_tenant IS
  'Inserts an export_tenant document (ids kept); returns the number of jobs imported.';
COMMENT ON FUNCTION taskflow.purge_tenant IS
  'Deletes a tenant here if its export still has the given fingerprint (after a move).';
COMMENT ON FUNCTION taskflow.allow_router_login IS
  'Lets an HTTP API key role log in, so the scale-out router can connect as it.';

-- Workflows (032_workflows.sql; schedule_workflow is commented there)
COMMENT ON FUNCTION taskflow.dependency_results IS
  'The dependencies of a job with their state and result: what a fan-in job aggregates.';
COMMENT ON FUNCTION taskflow.workflow_status IS
  'One workflow: each node''s key, job id and state, counts by state, started and finished.';
COMMENT ON FUNCTION taskflow.cancel_workflow IS
  'Cancels every unfinished job of a workflow; returns how many were cancelled.';
COMMENT ON FUNCTION taskflow.list_workflows IS
  'The caller''s workflows, oldest first, with keyset pagination: state, node counts, started and finished.';
