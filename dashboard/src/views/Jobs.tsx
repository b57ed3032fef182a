import { useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { JOB_STATES, type JobState } from "../api";
import { useAuth } from "../auth";
import { filterJson, jobsApi, type BulkResult, type JobFilter } from "../jobsApi";
import { StateBadge, errorText, when } from "../components/jobBits";
import { ConfirmDialog, DataTable, FilterButtons, KeysetPager } from "../components/ui";
import { usePolling } from "../components/usePolling";

type Action = "retry" | "cancel" | "purge";
const POLL_MS = 2000;
const TEXT_FIELDS: [keyof Omit<JobFilter, "state">, string, string][] = [
  ["queue", "Queue", "text"],
  ["tenant", "Tenant", "text"],
  ["job_type", "Job type", "text"],
  ["correlation_id", "Correlation id", "text"],
  ["from", "Created from", "datetime-local"],
  ["to", "Created before", "datetime-local"],
];

function filterFromParams(p: URLSearchParams): JobFilter {
  const states = (p.get("state") || "").split(",").filter((s): s is JobState => (JOB_STATES as string[]).includes(s));
  return {
    state: states, queue: p.get("queue") || "", tenant: p.get("tenant") || "", job_type: p.get("job_type") || "",
    correlation_id: p.get("correlation_id") || "", from: p.get("from") || "", to: p.get("to") || "",
    payload: p.get("payload") || "",
  };
}
function paramsFromFilter(f: JobFilter, after: string | null): Record<string, string> {
  const o: Record<string, string> = {};
  if (f.state.length) o.state = f.state.join(",");
  for (const k of ["queue", "tenant", "job_type", "correlation_id", "from", "to", "payload"] as const) if (f[k]) o[k] = f[k];
  if (after) o.after = after;
  return o;
}

// The Jobs list (#/jobs?state=...&queue=...&after=...): the filter lives in the URL query (a
// link to a filtered list can be shared), pages are keyset pages (next_after), rows link to the
// job. Bulk retry / cancel / purge on the selected rows, or on every job matching the filter
// after counting them (GET /dashboard/api/jobs/count) and a confirmation with that count.
export function Jobs() {
  const { key, session } = useAuth();
  const [params, setParams] = useSearchParams();
  const filter = useMemo(() => filterFromParams(params), [params]);
  const after = params.get("after");
  const [draft, setDraft] = useState<JobFilter>(filter);
  // The page shown is fetched again every POLL_MS (no reload needed to see new jobs or state
  // changes); the selection is kept by id across refreshes. A new filter or page starts afresh.
  const polled = usePolling((k) => jobsApi.list(k, filter, after), POLL_MS, [filter, after], { dropOnFirstError: true });
  const page = polled.data;
  const error = polled.error ? errorText(polled.error) : null;
  const [selected, setSelected] = useState<Set<number>>(new Set());
  // "all matching": the filter frozen at count time (a `to` bound keeps new jobs out) and its count
  const [allMatching, setAllMatching] = useState<{ filter: JobFilter; count: number; capped: boolean } | null>(null);
  const [pending, setPending] = useState<{ action: Action; count: number } | null>(null);
  const [result, setResult] = useState<{ action: Action; r: BulkResult } | null>(null);
  const [bulkError, setBulkError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => { setDraft(filter); setSelected(new Set()); setAllMatching(null); setPending(null); }, [filter]);

  function apply(e: React.FormEvent) {
    e.preventDefault();
    setResult(null);
    setParams(paramsFromFilter(draft, null));
  }
  function clear() {
    setResult(null);
    setParams({});
  }
  function toggle(id: number) {
    setAllMatching(null);
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id); else n.add(id);
      return n;
    });
  }
  function togglePage() {
    setAllMatching(null);
    const ids = page?.jobs.map((j) => j.id) ?? [];
    const all = ids.length > 0 && ids.every((id) => selected.has(id));
    setSelected(all ? new Set() : new Set(ids));
  }
  async function selectAllMatching() {
    setBulkError(null);
    setResult(null);
    const frozen = { ...filter, to: filter.to || new Date().toISOString() };
    try {
      const c = await jobsApi.count(key!, frozen);
      setSelected(new Set());
      setAllMatching({ filter: frozen, count: c.count, capped: c.capped });
    } catch (e) {
      setBulkError(errorText(e));
    }
  }
  function ask(action: Action) {
    setResult(null);
    setBulkError(null);
    setPending({ action, count: allMatching ? allMatching.count : selected.size });
  }
  async function confirm() {
    if (!pending) return;
    setBusy(true);
    try {
      const body = allMatching
        ? { action: pending.action, filter: filterJson(allMatching.filter), expected_count: allMatching.count }
        : { action: pending.action, ids: [...selected] };
      const r = await jobsApi.bulk(key!, pending.action === "cancel" ? { ...body, reason: "cancelled from the dashboard" } : body);
      setResult({ action: pending.action, r });
      setSelected(new Set());
      setAllMatching(null);
    } catch (e) {
      setBulkError(errorText(e));
    } finally {
      setPending(null);
      setBusy(false);
      polled.reload();
    }
  }

  const count = allMatching ? allMatching.count : selected.size;
  const pageIds = page?.jobs.map((j) => j.id) ?? [];
  const pageAll = pageIds.length > 0 && pageIds.every((id) => selected.has(id));
  const isAdmin = session?.role === "admin";
  const verbs: Action[] = isAdmin ? ["retry", "cancel", "purge"] : ["retry", "cancel"];

  return (
    <section aria-labelledby="jobs-title">
      <div className="view-head"><h1 id="jobs-title">Jobs</h1></div>
      <form className="filters" onSubmit={apply} aria-label="Filter jobs" role="search">
        <fieldset className="states">
          <legend>State</legend>
          {JOB_STATES.map((s) => (
            <label key={s}>
              <input type="checkbox" name="state" value={s} checked={draft.state.includes(s)}
                onChange={(e) => setDraft((d) => ({ ...d, state: e.target.checked ? [...d.state, s] : d.state.filter((x) => x !== s) }))} />
              {s}
            </label>
          ))}
        </fieldset>
        <div className="filter-grid">
          {TEXT_FIELDS.map(([k, label, type]) => (
            <label key={k}>
              {label}
              <input type={type} name={k} value={draft[k]} step={type === "datetime-local" ? 1 : undefined}
                onChange={(e) => setDraft((d) => ({ ...d, [k]: e.target.value }))} />
            </label>
          ))}
          <div className="wide">
            <label>
              Payload (jsonpath predicate)
              <input type="text" name="payload" value={draft.payload} placeholder='$.customer == "acme"'
                aria-describedby="payload-help" onChange={(e) => setDraft((d) => ({ ...d, payload: e.target.value }))} />
            </label>
            <span id="payload-help" className="muted">e.g. <code>$.customer == "acme"</code> or <code>exists($.coupon)</code></span>
          </div>
        </div>
        <FilterButtons onClear={clear} />
      </form>

      {error && <p className="error" role="alert" data-testid="list-error">Could not list the jobs: {error}</p>}

      <div className="bulk" role="group" aria-label="Bulk actions">
        <span aria-live="polite" data-testid="selection">
          {allMatching ? `All ${allMatching.count}${allMatching.capped ? "+" : ""} jobs matching this filter selected`
            : `${selected.size} selected`}
        </span>
        <button type="button" className="secondary" onClick={selectAllMatching}>Select all matching this filter</button>
        {verbs.map((v) => (
          <button key={v} type="button" className={v === "retry" ? "" : "danger"} disabled={count === 0 || busy} onClick={() => ask(v)}>
            {v === "retry" ? "Retry" : v === "cancel" ? "Cancel" : "Purge"} selected
          </button>
        ))}
      </div>
      {pending && (
        <ConfirmDialog textId="confirm-text" busy={busy} confirmLabel={`Confirm ${pending.action} of ${pending.count}`}
          onConfirm={confirm} onBack={() => setPending(null)}>
          {pending.action === "retry" ? "Retry" : pending.action === "cancel" ? "Cancel" : "Purge (delete)"}{" "}
          <strong>{pending.count}</strong> job{pending.count === 1 ? "" : "s"}
          {allMatching ? " matching this filter" : ""}?
          {allMatching?.capped ? " The filter matches more than one call may act on; narrow it." : ""}
        </ConfirmDialog>
      )}
      {bulkError && <p className="error" role="alert" data-testid="bulk-error">{bulkError}</p>}
      {result && (
        <div className="notice" role="status" data-testid="bulk-result">
          <p>{result.action}: {result.r.matched} matched, <strong>{result.r.changed} changed</strong>, {result.r.skipped_count} skipped
            {result.r.cancel_requested ? `, ${result.r.cancel_requested} running jobs asked to stop` : ""}.</p>
          {result.r.skipped.length > 0 && (
            <ul className="plain">
              {result.r.skipped.map((s) => <li key={s.id}><Link to={`/jobs/${s.id}`}>Job {s.id}</Link>: {s.reason}</li>)}
            </ul>
          )}
        </div>
      )}

      {page && (
        <>
          <DataTable testid="jobs" busy={polled.loading} caption="Jobs matching the filter, newest first" columns={[
            <th scope="col"><input type="checkbox" aria-label="Select every job on this page" checked={pageAll} onChange={togglePage} /></th>,
            "Job", "Type", "State", "Queue", "Tenant", "Attempts", "Created", "Last error",
          ]}>
            {page.jobs.length === 0 && <tr><td colSpan={9}>No job matches this filter.</td></tr>}
            {page.jobs.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <td><input type="checkbox" aria-label={`Select job ${j.id}`} checked={allMatching !== null || selected.has(j.id)}
                  disabled={allMatching !== null} onChange={() => toggle(j.id)} /></td>
                <th scope="row"><Link to={`/jobs/${j.id}`}>{j.id}</Link></th>
                <td><code>{j.job_type}</code></td>
                <td><StateBadge state={j.state} /></td>
                <td>{j.queue}</td>
                <td>{j.tenant_id}</td>
                <td>{j.attempt} / {j.max_attempts}</td>
                <td>{when(j.created_at)}</td>
                <td className="clip">{j.last_error ?? ""}</td>
              </tr>
            ))}
          </DataTable>
          <KeysetPager after={after} next={page.next_after} go={(a) => setParams(paramsFromFilter(filter, a))} />
        </>
      )}
    </section>
  );
}

