import { useEffect, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { useAuth } from "../auth";
import { workflowsApi } from "../workflowsApi";
import { StateBadge, errorText, when } from "../components/jobBits";
import { StateCounts } from "../components/StateCounts";
import { DataTable, FilterButtons, KeysetPager } from "../components/ui";
import { usePolling } from "../components/usePolling";

const POLL_MS = 2000;
const PAGE = 50;

// The Workflows list (#/workflows?tenant=...&after=...): GET /workflows (taskflow.list_workflows),
// oldest first as the API lists them, keyset pages of 50 on the workflow id, refreshed every 2 s.
// The tenant filter is what list_workflows allows (an admin key sees every tenant; a tenant's key
// only its own, so the filter is offered to admin keys only).
export function Workflows() {
  const { session } = useAuth();
  const [params, setParams] = useSearchParams();
  const tenant = params.get("tenant") || "";
  const after = params.get("after");
  const [draft, setDraft] = useState(tenant);
  const { data: page, error } = usePolling((k) => workflowsApi.list(k, tenant, after, PAGE), POLL_MS, [tenant, after]);
  const isAdmin = session?.role === "admin";

  useEffect(() => setDraft(tenant), [tenant]);

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
          <FilterButtons onClear={() => go("", null)} />
        </form>
      )}
      {error && <p className="error" role="alert" data-testid="list-error">Could not list the workflows: {errorText(error)}</p>}
      {page && (
        <>
          <DataTable testid="workflows" caption="Workflows, oldest first"
            columns={["Workflow", "Name", "State", "Nodes by state", "Nodes", "Tenant", "Created", "Started", "Finished"]}>
            {page.workflows.length === 0 && <tr><td colSpan={9}>No workflow{tenant ? " of this tenant" : ""}.</td></tr>}
            {page.workflows.map((w) => (
              <tr key={w.id} data-workflow={w.id}>
                <th scope="row"><Link to={`/workflows/${w.id}`}>{w.id}</Link></th>
                <td>{w.name ?? <span className="muted">unnamed</span>}</td>
                <td data-field="state"><StateBadge state={w.state} /></td>
                <td><StateCounts counts={w.counts} label={`Nodes of workflow ${w.id} by state`} /></td>
                <td>{w.node_count}</td>
                <td>{w.tenant}</td>
                <td>{when(w.created_at)}</td>
                <td data-field="started">{when(w.started_at)}</td>
                <td data-field="finished">{when(w.finished_at)}</td>
              </tr>
            ))}
          </DataTable>
          <KeysetPager after={after} next={page.next_after} go={(a) => go(tenant, a)} />
        </>
      )}
    </section>
  );
}
