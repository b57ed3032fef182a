import { useCallback, useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { jobsApi, type JobDetail as Detail } from "../jobsApi";
import { JobLink, JobList, StateBadge, errorText, ms, when } from "../components/jobBits";

const POLL_MS = 2000;
const FINISHED = ["SUCCEEDED", "FAILED", "DEAD", "CANCELLED"];

// Job detail (#/jobs/:id): GET /dashboard/api/jobs/{id}, refreshed every 2 s while the job is
// not finished. Retry and Cancel call POST /jobs/{id}/retry and /cancel; the state machine's
// refusal (409 problem detail) is shown as it comes.
export function JobDetail() {
  const { id = "" } = useParams();
  const { key, signOut } = useAuth();
  const [doc, setDoc] = useState<Detail | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [actionMsg, setActionMsg] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);

  const load = useCallback(async () => {
    try {
      const d = await jobsApi.detail(key!, id);
      setDoc(d);
      setNotFound(false);
      setError(null);
      return d;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signOut();
      else if (e instanceof ApiError && (e.status === 404 || e.status === 400)) { setNotFound(true); setDoc(null); }
      else setError(errorText(e));
      return null;
    }
  }, [key, id, signOut]);

  useEffect(() => {
    setDoc(null);
    setNotFound(false);
    setActionMsg(null);
  }, [id]);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function poll() {
      const d = await load();
      if (stopped) return;
      if (d && !FINISHED.includes(d.job.state)) timer = window.setTimeout(poll, POLL_MS);
    }
    void poll();
    return () => { stopped = true; window.clearTimeout(timer); };
  }, [load, tick]);

  async function act(what: "retry" | "cancel") {
    if (!doc) return;
    setBusy(true);
    setActionMsg(null);
    try {
      const r = what === "retry" ? await jobsApi.retry(key!, doc.job.id) : await jobsApi.cancel(key!, doc.job.id, "cancelled from the dashboard");
      setActionMsg({ ok: true, text: what === "retry" ? `Retried: the job is ${r.state}.` : r.state === "RUNNING" ? "Cancel requested: the worker is asked to stop." : `Cancelled: the job is ${r.state}.` });
    } catch (e) {
      setActionMsg({ ok: false, text: `${what === "retry" ? "Retry" : "Cancel"} refused: ${errorText(e)}` });
    } finally {
      setBusy(false);
      setTick((t) => t + 1);
    }
  }

  if (notFound) {
    return (
      <section aria-labelledby="job-title">
        <h1 id="job-title">Job not found</h1>
        <p role="alert">There is no job {id} that this key may see. <Link to="/jobs">Back to the jobs</Link>.</p>
      </section>
    );
  }
  if (!doc) {
    return (
      <section aria-busy="true">
        <h1>Job {id}</h1>
        {error ? <p className="error" role="alert">Could not load the job: {error}</p> : <p>Loading…</p>}
      </section>
    );
  }
  const j = doc.job;
  const canRetry = ["FAILED", "DEAD", "CANCELLED"].includes(j.state);
  const canCancel = ["PENDING", "SCHEDULED", "RUNNING"].includes(j.state);
  return (
    <section aria-labelledby="job-title" data-testid="job-detail">
      <div className="view-head">
        <h1 id="job-title">Job {j.id} <code>{j.job_type}</code> <StateBadge state={j.state} /></h1>
        <div className="actions">
          <button type="button" onClick={() => act("retry")} disabled={busy}
            title={canRetry ? "Run the job again" : `The state machine refuses a retry of a ${j.state} job`}>Retry</button>
          <button type="button" className="danger" onClick={() => act("cancel")} disabled={busy}
            title={canCancel ? "Cancel the job" : `The state machine refuses to cancel a ${j.state} job`}>Cancel job</button>
        </div>
      </div>
      <p><Link to="/jobs">← All jobs</Link></p>
      <div aria-live="polite">
        {actionMsg && <p className={actionMsg.ok ? "notice" : "error"} role={actionMsg.ok ? "status" : "alert"} data-testid="action-result">{actionMsg.text}</p>}
      </div>
      {error && <p className="error" role="alert">Could not refresh: {error}</p>}

      <dl className="facts">
        <dt>Queue</dt><dd>{j.queue}</dd>
        <dt>Tenant</dt><dd>{j.tenant_id}</dd>
        <dt>Priority</dt><dd>{j.priority}</dd>
        <dt>Attempts</dt><dd data-testid="attempts-count">{j.attempts} of {j.max_attempts}</dd>
        <dt>Created</dt><dd>{when(j.created_at)}</dd>
        <dt>Next run</dt><dd>{when(j.next_run_at)}</dd>
        <dt>Finished</dt><dd>{when(j.finished_at)}</dd>
        {j.workflow_id ? (<><dt>Workflow</dt><dd data-testid="job-workflow"><Link to={`/workflows/${j.workflow_id}`}>Workflow {j.workflow_id}</Link></dd></>) : null}
        <dt>Correlation id</dt><dd>{j.correlation_id ? <code>{j.correlation_id}</code> : "–"}</dd>
        {j.unique_key && (<><dt>Unique key</dt><dd><code>{j.unique_key}</code></dd></>)}
        {j.timeout && (<><dt>Timeout</dt><dd>{j.timeout}</dd></>)}
        {j.cancel_reason && (<><dt>Cancel reason</dt><dd>{j.cancel_reason}</dd></>)}
      </dl>

      <section aria-labelledby="origin-title">
        <h2 id="origin-title">Why this job exists</h2>
        <Origin doc={doc} />
      </section>

      <section aria-labelledby="error-title">
        <h2 id="error-title">Last error</h2>
        {j.last_error_type || j.last_error_message ? (
          <p data-testid="last-error"><code>{j.last_error_type}</code>: {j.last_error_message}</p>
        ) : <p>None.</p>}
      </section>

      <section aria-labelledby="data-title">
        <h2 id="data-title">Payload and result</h2>
        <details open className="json">
          <summary>Payload</summary>
          <pre data-testid="payload">{JSON.stringify(j.payload, null, 2)}</pre>
        </details>
        <details open={j.result !== null && j.result !== undefined} className="json">
          <summary>Result</summary>
          <pre data-testid="result">{j.result === null || j.result === undefined ? "none" : JSON.stringify(j.result, null, 2)}</pre>
        </details>
      </section>

      <section aria-labelledby="attempts-title">
        <h2 id="attempts-title">Attempts</h2>
        {doc.attempts.length === 0 ? <p>No attempt yet.</p> : (
          <div className="table-wrap">
            <table data-testid="attempts">
              <caption className="visually-hidden">Every attempt of job {j.id}</caption>
              <thead>
                <tr>
                  <th scope="col">#</th><th scope="col">Worker</th><th scope="col">Started</th>
                  <th scope="col">Duration</th><th scope="col">Outcome</th><th scope="col">Error</th>
                  <th scope="col">Decision</th><th scope="col">Backoff</th>
                </tr>
              </thead>
              <tbody>
                {doc.attempts.map((a) => (
                  <tr key={a.attempt} data-attempt={a.attempt}>
                    <th scope="row">{a.attempt}</th>
                    <td><code>{a.worker_id ?? "–"}</code></td>
                    <td>{when(a.started_at)}</td>
                    <td>{ms(a.duration_ms)}</td>
                    <td data-outcome={a.outcome}>{a.outcome}</td>
                    <td>{a.error ? <><code>{a.error.type}</code>{a.error.message ? `: ${a.error.message}` : ""}</> : "–"}</td>
                    <td>{a.decision ?? "–"}{a.to_state ? <> → <StateBadge state={a.to_state} /></> : null}</td>
                    <td>{a.backoff ? (
                      <>
                        {ms(a.backoff.delay_ms)}{a.backoff.next_run_at ? `, next run ${when(a.backoff.next_run_at)}` : ""}
                        {a.backoff.policy && <div className="muted">policy: {a.backoff.policy}</div>}
                        {a.backoff.reason && <div className="muted">why: {a.backoff.reason}</div>}
                      </>
                    ) : "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {doc.attempts_truncated && <p className="muted">Only the latest 500 attempts are shown.</p>}
      </section>

      <section aria-labelledby="timeline-title">
        <h2 id="timeline-title">Timeline</h2>
        <ol className="timeline" data-testid="timeline">
          {doc.events.map((e, i) => (
            <li key={i} data-to-state={e.to_state}>
              <time dateTime={e.at}>{when(e.at)}</time>{" "}
              {e.from_state ? <><StateBadge state={e.from_state} /> → </> : "created as "}<StateBadge state={e.to_state} />
              {" "}by <code>{e.actor ?? "unknown"}</code>{e.reason ? <>: <span className="reason">{e.reason}</span></> : null}
            </li>
          ))}
        </ol>
        {doc.events_truncated && <p className="muted">Only the latest 500 transitions are shown.</p>}
      </section>

      <section aria-labelledby="lease-title">
        <h2 id="lease-title">Lease</h2>
        {doc.lease ? (
          <dl className="facts" data-testid="lease">
            <dt>Holder</dt><dd><code>{doc.lease.worker_id}</code></dd>
            <dt>Started</dt><dd>{when(doc.lease.started_at)}</dd>
            <dt>Expires</dt><dd>{when(doc.lease.expires_at)}</dd>
            <dt>Running for</dt><dd>{ms(doc.lease.duration_ms)}</dd>
            <dt>Heartbeats</dt><dd>{doc.lease.heartbeats ?? 0}{doc.lease.last_heartbeat_at ? `, last ${when(doc.lease.last_heartbeat_at)}` : ""}</dd>
            <dt>Cancel requested</dt><dd>{doc.lease.cancel_requested ? "yes" : "no"}</dd>
          </dl>
        ) : <p>No lease: the job is not running.</p>}
      </section>

      <section aria-labelledby="family-title">
        <h2 id="family-title">Related jobs</h2>
        <h3>Parent</h3>
        {doc.parent ? <JobList jobs={[doc.parent]} label="Parent job" /> : <p>None.</p>}
        <h3>Children</h3>
        <JobList jobs={doc.children} label="Child jobs" />
        <h3>Correlation chain{j.correlation_id ? <> (<code>{j.correlation_id}</code>)</> : null}</h3>
        {j.correlation_id ? <JobList jobs={doc.correlation} current={j.id} label="Jobs with the same correlation id" /> : <p>The job has no correlation id.</p>}
      </section>
    </section>
  );
}

function Origin({ doc }: { doc: Detail }) {
  const o = doc.origin;
  if (!o) return <p>Unknown.</p>;
  const by = o.actor ? <> by <code>{o.actor}</code></> : null;
  switch (o.kind) {
    case "rule":
    case "webhook":
      return (
        <p data-testid="origin">
          {o.kind === "webhook" ? "A webhook delivery" : "A rule firing"}
          {o.delivery_id ? <> (delivery <code>{o.delivery_id}</code>)</> : null} of rule {o.rule_id}
          {o.rule_name ? <> “{o.rule_name}”</> : null}
          {o.firing_source ? <>, source {o.firing_source}</> : null}
          {o.source_job_id ? <>, triggered by <JobLink id={o.source_job_id} /></> : null}
          , at {when(o.fired_at ?? o.created_at)}{by}.
        </p>
      );
    case "parent":
      return <p data-testid="origin">Scheduled as a sub-job of {o.parent_job_id ? <JobLink id={o.parent_job_id} /> : "its parent"} at {when(o.created_at)}{by}.</p>;
    default:
      return <p data-testid="origin">Scheduled by a caller at {when(o.created_at)}{by}.</p>;
  }
}
