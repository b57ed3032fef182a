// The client of the workflow routes of the HTTP API (docs/http.md, "Workflows"): GET /workflows,
// GET /workflows/{id}, POST /workflows/{id}/cancel, the same endpoints programs call. Built on
// api.ts's request() (Bearer key, problem details as ApiError); the key's role decides what is seen.
import { request, type JobState } from "./api";

export type WorkflowState = "running" | "succeeded" | "failed" | "cancelled";
// Nodes by state; "REMOVED" counts nodes whose job the Cleaner has deleted.
export type StateCounts = Partial<Record<JobState | "REMOVED", number>>;

// A row of GET /workflows (taskflow.list_workflows).
export interface WorkflowSummary {
  id: number; tenant: string; name: string | null; created_at: string; node_count: number;
  state: WorkflowState; counts: StateCounts; started_at: string | null; finished_at: string | null;
}
export interface WorkflowPage { workflows: WorkflowSummary[]; next_after: number | null; }

// GET /workflows/{id} (taskflow.workflow_status): every node and edge.
export interface WorkflowNode {
  key: string; job_id: number; job_type: string | null; queue: string | null; state: JobState | null;
  attempts: number | null; started_at: string | null; finished_at: string | null;
  dependencies_pending: number | null; cancel_reason: string | null;
  last_error_type: string | null; last_error_message: string | null;
}
export interface WorkflowEdge { from: string; to: string; on_failure: string; parent_state: string | null; }
export interface WorkflowStatus {
  id: number; name: string | null; tenant_id: string; created_at: string; created_by: string | null;
  node_count: number; edge_count: number; state: WorkflowState; counts: StateCounts;
  started_at: string | null; finished_at: string | null;
  nodes: WorkflowNode[]; edges: WorkflowEdge[];
}

export const workflowsApi = {
  list: (key: string, tenant: string, after: string | null, limit = 50) => {
    const p = new URLSearchParams({ limit: String(limit) });
    if (tenant.trim()) p.set("tenant", tenant.trim());
    if (after) p.set("after", after);
    return request<WorkflowPage>(`/workflows?${p.toString()}`, key);
  },
  status: (key: string, id: string) => request<WorkflowStatus>(`/workflows/${encodeURIComponent(id)}`, key),
  cancel: (key: string, id: number, reason: string) =>
    request<{ id: number; cancelled: number }>(`/workflows/${id}/cancel`, key, {
      method: "POST", body: JSON.stringify({ reason }), headers: { "Content-Type": "application/json" },
    }),
};
