import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { JOB_STATES } from "../api";
import { useAuth } from "../auth";
import { workflowsApi } from "../workflowsApi";
import { JobLink, StateBadge, when } from "../components/jobBits";
import { ActionResult, ConfirmDialog, DataTable, DetailPlaceholder, Section } from "../components/ui";
import { useAction, useDetail } from "../components/useDetail";
import { StateCounts } from "../components/StateCounts";
import { WorkflowGraph } from "../components/WorkflowGraph";

// At most this many nodes are drawn as a graph; a bigger workflow shows its counts and the
// paged node table only (a 10,000-node graph is neither readable nor cheap to lay out and paint).
export const GRAPH_LIMIT = 500;
const NODE_PAGE = 50;
const POLL_MS = 2000;
const POLL_BIG_MS = 10000;  // workflow_status returns every node: a big one is asked less often

// Workflow detail (#/workflows/:id): GET /workflows/{id} (taskflow.workflow_status), refreshed
// while the workflow runs. The graph (up to GRAPH_LIMIT nodes), the counts per state, started /
// finished, every node in a paged table, and Cancel workflow (POST /workflows/{id}/cancel) after
// a confirmation; the extension decides who may cancel, its refusal is shown as it comes.
export function WorkflowDetail() {
  const { id = "" } = useParams();
  const { key } = useAuth();
  const { doc, notFound, error, reload } = useDetail(workflowsApi.status, id,
    (d) => (d.state === "running" ? (d.nodes.length > GRAPH_LIMIT ? POLL_BIG_MS : POLL_MS) : null));
  const [confirming, setConfirming] = useState(false);
  const { busy, msg, setMsg, run } = useAction(() => { setConfirming(false); reload(); });
  const [stateFilter, setStateFilter] = useState("");
  const [nodePage, setNodePage] = useState(0);

  useEffect(() => { setMsg(null); setConfirming(false); setNodePage(0); }, [id, setMsg]);

  const rows = useMemo(() => (doc ? doc.nodes.filter((n) => !stateFilter || (n.state ?? "REMOVED") === stateFilter) : []), [doc, stateFilter]);

  function cancel() {
    if (!doc) return;
    void run("Cancel", async () => {
      const r = await workflowsApi.cancel(key!, doc.id, "cancelled from the dashboard");
      return `Workflow cancelled: ${r.cancelled} node${r.cancelled === 1 ? "" : "s"} cancelled or asked to stop; the nodes waiting on them follow.`;
    });
  }

  if (notFound || !doc) return <DetailPlaceholder noun="workflow" id={id} titleId="wf-title" notFound={notFound} error={error} />;
  const unfinished = (doc.counts.PENDING ?? 0) + (doc.counts.SCHEDULED ?? 0) + (doc.counts.RUNNING ?? 0);
  const pages = Math.max(1, Math.ceil(rows.length / NODE_PAGE));
  const shown = rows.slice(nodePage * NODE_PAGE, (nodePage + 1) * NODE_PAGE);
  return (
    <section aria-labelledby="wf-title" data-testid="workflow-detail">
      <div className="view-head">
        <h1 id="wf-title">Workflow {doc.id}{doc.name ? <> <code>{doc.name}</code></> : null} <StateBadge state={doc.state} /></h1>
        {doc.state === "running" && (
          <div className="actions">
            <button type="button" className="danger" onClick={() => { setMsg(null); setConfirming(true); }} disabled={busy}>Cancel workflow</button>
          </div>
        )}
      </div>
      <p><Link to="/workflows">← All workflows</Link></p>
      {confirming && (
        <ConfirmDialog textId="wf-confirm-text" busy={busy} confirmLabel={`Confirm cancel of workflow ${doc.id}`}
          onConfirm={cancel} onBack={() => setConfirming(false)}>
          Cancel workflow {doc.id}: its <strong>{unfinished}</strong> unfinished node{unfinished === 1 ? "" : "s"} (running ones are asked to stop)?
        </ConfirmDialog>
      )}
      <ActionResult msg={msg} />
      {error && <p className="error" role="alert">Could not refresh: {error}</p>}

      <dl className="facts">
        <dt>Tenant</dt><dd>{doc.tenant_id}</dd>
        <dt>Nodes</dt><dd>{doc.node_count} nodes, {doc.edge_count} edges</dd>
        <dt>By state</dt><dd data-testid="wf-counts"><StateCounts counts={doc.counts} label="Nodes by state" /></dd>
        <dt>Created</dt><dd>{when(doc.created_at)}{doc.created_by ? <> by <code>{doc.created_by}</code></> : null}</dd>
        <dt>Started</dt><dd data-testid="wf-started">{when(doc.started_at)}</dd>
        <dt>Finished</dt><dd data-testid="wf-finished">{when(doc.finished_at)}</dd>
      </dl>

      <Section id="graph" title="Graph">
        {doc.nodes.length <= GRAPH_LIMIT ? (
          <>
            <WorkflowGraph nodes={doc.nodes} edges={doc.edges} />
            <p className="muted">Left to right: each node runs after the nodes with an arrow into it. A dashed arrow runs anyway when its parent fails. Click a node for its job.</p>
          </>
        ) : (
          <p data-testid="graph-too-big">This workflow has {doc.nodes.length} nodes: the graph is drawn for at most {GRAPH_LIMIT}. The counts above and the table below show every node.</p>
        )}
      </Section>

      <Section id="nodes" title="Nodes">
        <label>Show nodes in state{" "}
          <select value={stateFilter} onChange={(e) => { setStateFilter(e.target.value); setNodePage(0); }}>
            <option value="">all</option>
            {[...JOB_STATES, "REMOVED"].map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <DataTable testid="wf-nodes" caption={`The nodes of workflow ${doc.id}`}
          columns={["Key", "Job", "Type", "State", "Waits for", "Started", "Finished", "Why / error"]}>
          {shown.length === 0 && <tr><td colSpan={8}>No node{stateFilter ? ` is ${stateFilter}` : ""}.</td></tr>}
          {shown.map((n) => (
            <tr key={n.key} data-node-row={n.key}>
              <th scope="row">{n.key}</th>
              <td><JobLink id={n.job_id}>{n.job_id}</JobLink></td>
              <td><code>{n.job_type ?? "–"}</code></td>
              <td><StateBadge state={n.state ?? "REMOVED"} /></td>
              <td>{n.dependencies_pending ? `${n.dependencies_pending} unfinished` : "–"}</td>
              <td>{when(n.started_at)}</td>
              <td>{when(n.finished_at)}</td>
              <td className="clip">{n.cancel_reason ?? (n.last_error_message ? `${n.last_error_type ?? "error"}: ${n.last_error_message}` : "")}</td>
            </tr>
          ))}
        </DataTable>
        {pages > 1 && (
          <nav className="pager" aria-label="Node pages">
            <button type="button" className="secondary" disabled={nodePage === 0} onClick={() => setNodePage((p) => p - 1)}>Previous nodes</button>
            <span>Page {nodePage + 1} of {pages} ({rows.length} nodes)</span>
            <button type="button" disabled={nodePage + 1 >= pages} onClick={() => setNodePage((p) => p + 1)}>Next nodes</button>
          </nav>
        )}
      </Section>
    </section>
  );
}
