// A workflow drawn as a graph: nodes in layers (longest path from the roots, so every edge
// points to a later layer), left to right, edges as SVG curves with arrow heads, each node a
// link to its job coloured by its state with the Jobs view's badges. Computed in the browser
// from GET /workflows/{id}; about 100 lines, so no graph library (docs/dashboard.md, Workflows).
import { Link } from "react-router-dom";
import { StateBadge } from "./jobBits";
import type { WorkflowEdge, WorkflowNode } from "../workflowsApi";

const W = 180;   // node width
const H = 54;    // node height
const GX = 70;   // gap between layers
const GY = 16;   // gap between nodes of a layer
const PAD = 8;

export interface Placed { node: WorkflowNode; layer: number; x: number; y: number; }

// Longest-path layering (Kahn's order: a node's layer is one more than its deepest parent's),
// then within each layer the nodes ordered by the mean position of their parents (one
// barycentre pass, which untangles fan-out/fan-in shapes), ties in job id order. Edges naming
// an unknown key are ignored; a node left on a cycle (the engine refuses cycles) stays in layer 0.
export function layout(nodes: WorkflowNode[], edges: WorkflowEdge[]): { placed: Map<string, Placed>; width: number; height: number } {
  const index = new Map(nodes.map((n, i) => [n.key, i]));
  const children = new Map<string, string[]>();
  const parents = new Map<string, string[]>();
  const indegree = new Map(nodes.map((n) => [n.key, 0]));
  for (const e of edges) {
    if (!index.has(e.from) || !index.has(e.to)) continue;
    children.set(e.from, [...(children.get(e.from) ?? []), e.to]);
    parents.set(e.to, [...(parents.get(e.to) ?? []), e.from]);
    indegree.set(e.to, indegree.get(e.to)! + 1);
  }
  const layer = new Map(nodes.map((n) => [n.key, 0]));
  const ready = nodes.filter((n) => indegree.get(n.key) === 0).map((n) => n.key);
  for (let i = 0; i < ready.length; i++) {
    const u = ready[i];
    for (const v of children.get(u) ?? []) {
      layer.set(v, Math.max(layer.get(v)!, layer.get(u)! + 1));
      indegree.set(v, indegree.get(v)! - 1);
      if (indegree.get(v) === 0) ready.push(v);
    }
  }
  const columns: WorkflowNode[][] = [];
  for (const n of nodes) (columns[layer.get(n.key)!] ??= []).push(n);
  const row = new Map<string, number>();
  for (const column of columns) {
    if (!column) continue;
    const mean = (n: WorkflowNode) => {
      const ps = (parents.get(n.key) ?? []).filter((p) => row.has(p));
      return ps.length ? ps.reduce((s, p) => s + row.get(p)!, 0) / ps.length : index.get(n.key)!;
    };
    const keyed = column.map((n) => ({ n, m: mean(n) }));
    keyed.sort((a, b) => a.m - b.m || index.get(a.n.key)! - index.get(b.n.key)!);
    keyed.forEach(({ n }, i) => row.set(n.key, i));
    column.splice(0, column.length, ...keyed.map((k) => k.n));
  }
  const tallest = Math.max(1, ...columns.map((c) => c?.length ?? 0));
  const height = tallest * (H + GY) - GY + 2 * PAD;
  const placed = new Map<string, Placed>();
  columns.forEach((column, l) => {
    if (!column) return;
    const top = PAD + ((tallest - column.length) * (H + GY)) / 2;  // each column centred
    column.forEach((n, i) => placed.set(n.key, { node: n, layer: l, x: PAD + l * (W + GX), y: top + i * (H + GY) }));
  });
  const width = Math.max(1, columns.length) * (W + GX) - GX + 2 * PAD;
  return { placed, width, height };
}

export function WorkflowGraph({ nodes, edges }: { nodes: WorkflowNode[]; edges: WorkflowEdge[] }) {
  const { placed, width, height } = layout(nodes, edges);
  return (
    <div className="wf-graph-wrap">
      <div className="wf-graph" style={{ width, height }} data-testid="wf-graph" role="group"
        aria-label={`Workflow graph: ${nodes.length} nodes, ${edges.length} edges`}>
        <svg width={width} height={height} aria-hidden="true">
          <defs>
            <marker id="wf-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" fill="#7b8794" />
            </marker>
          </defs>
          {edges.map((e) => {
            const a = placed.get(e.from);
            const b = placed.get(e.to);
            if (!a || !b) return null;
            const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
            return (
              <path key={`${e.from}\u0000${e.to}`} className={`wf-edge${e.on_failure === "run" ? " run-anyway" : ""}`}
                data-edge-from={e.from} data-edge-to={e.to}
                d={`M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`} markerEnd="url(#wf-arrow)" />
            );
          })}
        </svg>
        {[...placed.values()].map(({ node: n, layer, x, y }) => {
          const state = n.state ?? "REMOVED";
          return (
            <Link key={n.key} to={`/jobs/${n.job_id}`} className={`wf-node state-${state.toLowerCase()}`}
              style={{ left: x, top: y, width: W, height: H }} data-node={n.key} data-state={state} data-layer={layer}
              aria-label={`${n.key}: ${n.job_type ?? "job"}, ${state}, job ${n.job_id}`}
              title={n.cancel_reason ?? n.last_error_message ?? undefined}>
              <span className="wf-key">{n.key}</span>
              <span className="wf-type"><code>{n.job_type ?? "–"}</code> <StateBadge state={state} /></span>
            </Link>
          );
        })}
      </div>
    </div>
  );
}
