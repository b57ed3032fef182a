import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { workflowsApi, type WorkflowPage } from "../workflowsApi";
import { StateBadge, errorText, when } from "../components/jobBits";
import { StateCounts } from "../components/StateCounts";

const POLL_MS = 2000;
const PAGE = 50;

// The Workflows list (#/workflows?tenant=...&after=...): GET /workflows (taskflow.list_workflows),
// oldest first as the API lists them, keyset pages of 50 on the workflow id, refreshed every 2 s.
// The tenant filter is what list_workflows allows (an admin key sees every tenant; a tenant's key
// only its own, so the filter is offered to admin keys only).
export function Workflows() {
  const { key, session, signOut } = useAuth();
  const [params, setParams] = useSearchParams();
  const tenant = params.get("tenant") || "";
  const after = params.get("after");
  const [draft, setDraft] = useState(tenant);
  const [page, setPage] = useState<WorkflowPage | null>(null);
  const [error, setError] = useState<string | null>(null);
  const isAdmin = session?.role === "admin";

  useEffect(() => setDraft(tenant), [tenant]);
  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function load() {
      try {
        const p = await workflowsApi.list(key!, tenant, after, PAGE);
        if (stopped) return;
        setPage(p);
        setError(null);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 401) { signOut(); return; }
        setError(errorText(e));
      }
      if (!stopped) timer = window.setTimeout(() => void load(), POLL_MS);
    }
    void load();
    return () => { stopped = true; window.clearTimeout(timer); };
  }, [key, tenant, after, signOut]);

  const go = (t: string, a: string | null) => {
    const o: Record<string, string> = {};
    if (t.trim()) o.tenant = t.trim();
    if (a) o.after = a;
    setParams(o);
  };

  return (
    <section aria-labelledby="workflows-title">
      <div className="view-head"><h1 id="workflows-title">Workflows</h1></div>
      {isAdmin && (
        <form className="filters" role="search" aria-label="Filter workflows" onSubmit={(e) => { e.preventDefault(); go(draft, null); }}>
          <div className="filter-grid">
            <label>Tenant<input type="text" name="tenant" value={draft} onChange={(e) => setDraft(e.target.value)} /></label>
          </div>
          <div className="actions">
            <button type="submit">Apply filters</button>
            <button type="button" className="secondary" onClick={() => go("", null)}>Clear</button>
          </div>
        </form>
      )}
      {error && <p className="error" role="alert" data-testid="list-error">Could not list the workflows: {error}</p>}
      {page && (
        <>
          <div className="table-wrap">
            <table data-testid="workflows">
              <caption className="visually-hidden">Workflows, oldest first</caption>
              <thead>
                <tr>
                  <th scope="col">Workflow</th><th scope="col">Name</th><th scope="col">State</th>
                  <th scope="col">Nodes by state</th><th scope="col">Nodes</th><th scope="col">Tenant</th><th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {page.workflows.length === 0 && <tr><td colSpan={7}>No workflow{tenant ? " of this tenant" : ""}.</td></tr>}
                {page.workflows.map((w) => (
                  <tr key={w.id} data-workflow={w.id}>
                    <th scope="row"><Link to={`/workflows/${w.id}`}>{w.id}</Link></th>
                    <td>{w.name ?? <span className="muted">unnamed</span>}</td>
                    <td data-field="state"><StateBadge state={w.state} /></td>
                    <td><StateCounts counts={w.counts} label={`Nodes of workflow ${w.id} by state`} /></td>
                    <td>{w.node_count}</td>
                    <td>{w.tenant}</td>
                    <td>{when(w.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="muted">Started and finished times are on each workflow's page.</p>
          <nav className="pager" aria-label="Pages">
            {after && <button type="button" className="secondary" onClick={() => go(tenant, null)}>First page</button>}
            {page.next_after !== null && <button type="button" onClick={() => go(tenant, String(page.next_after))}>Next page</button>}
          </nav>
        </>
      )}
    </section>
  );
}
