import { useEffect } from "react";
import { Link, useParams } from "react-router-dom";
import { useAuth } from "../auth";
import { jobsApi, type JobDetail as Detail } from "../jobsApi";
import { JobLink, JobList, StateBadge, ms, when } from "../components/jobBits";
import { ActionResult, DataTable, DetailPlaceholder, Section } from "../components/ui";
import { useAction, useDetail } from "../components/useDetail";

const POLL_MS = 2000;
const FINISHED = ["SUCCEEDED", "FAILED", "DEAD", "CANCELLED"];

// Job detail (#/jobs/:id): GET /dashboard/api/jobs/{id}, refreshed every 2 s while the job is
// not finished. Retry and Cancel call POST /jobs/{id}/retry and /cancel; the state machine's
// refusal (409 problem detail) is shown as it comes.
export function JobDetail() {
  const { id = "" } = useParams();
  const { key } = useAuth();
  const { doc, notFound, error, reload } = useDetail(jobsApi.detail, id, (d) => (FINISHED.includes(d.job.state) ? null : POLL_MS));
  const { busy, msg, setMsg, run } = useAction(reload);

  useEffect(() => setMsg(null), [id, setMsg]);

  function act(what: "retry" | "cancel") {
    if (!doc) return;
    if (what === "retry") {
      void run("Retry", async () => `Retried: the job is ${(await jobsApi.retry(key!, doc.job.id)).state}.`);
    } else {
      void run("Cancel", async () => {
        const r = await jobsApi.cancel(key!, doc.job.id, "cancelled from the dashboard");
        return r.state === "RUNNING" ? "Cancel requested: the worker is asked to stop." : `Cancelled: the job is ${r.state}.`;
      });
    }
  }

  if (notFound || !doc) return <DetailPlaceholder noun="job" id={id} titleId="job-title" notFound={notFound} error={error} />;
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
      <ActionResult msg={msg} />
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

      <Section id="origin" title="Why this job exists">
        <Origin doc={doc} />
      </Section>

      <Section id="error" title="Last error">
        {j.last_error_type || j.last_error_message ? (
          <p data-testid="last-error"><code>{j.last_error_type}</code>: {j.last_error_message}</p>
        ) : <p>None.</p>}
      </Section>

      <Section id="data" title="Payload and result">
        <details open className="json">
          <summary>Payload</summary>
          <pre data-testid="payload">{JSON.stringify(j.payload, null, 2)}</pre>
        </details>
        <details open={j.result !== null && j.result !== undefined} className="json">
          <summary>Result</summary>
          <pre data-testid="result">{j.result === null || j.result === undefined ? "none" : JSON.stringify(j.result, null, 2)}</pre>
        </details>
      </Section>

      <Section id="attempts" title="Attempts">
        {doc.attempts.length === 0 ? <p>No attempt yet.</p> : (
          <DataTable testid="attempts" caption={`Every attempt of job ${j.id}`}
            columns={["#", "Worker", "Started", "Duration", "Outcome", "Error", "Decision", "Backoff"]}>
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
          </DataTable>
        )}
        {doc.attempts_truncated && <p className="muted">Only the latest 500 attempts are shown.</p>}
      </Section>

      <Section id="timeline" title="Timeline">
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
      </Section>

      <Section id="lease" title="Lease">
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
      </Section>

      <Section id="family" title="Related jobs">
        <h3>Parent</h3>
        {doc.parent ? <JobList jobs={[doc.parent]} label="Parent job" /> : <p>None.</p>}
        <h3>Children</h3>
        <JobList jobs={doc.children} label="Child jobs" />
        <h3>Correlation chain{j.correlation_id ? <> (<code>{j.correlation_id}</code>)</> : null}</h3>
        {j.correlation_id ? <JobList jobs={doc.correlation} current={j.id} label="Jobs with the same correlation id" /> : <p>The job has no correlation id.</p>}
      </Section>
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
