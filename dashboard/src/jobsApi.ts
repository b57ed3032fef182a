// The client of the dashboard's jobs API (docs/http.md, "/dashboard/api/jobs ..."): the Jobs,
// Job detail and Dead letters views. Built on api.ts's request() (Bearer key, problem details
// as ApiError).
import { request, type JobState } from "./api";

export interface JobSummaryRow {
  id: number; queue: string; job_type: string; tenant_id: string; state: JobState; priority: number;
  attempt: number; max_attempts: number; created_at: string; next_run_at: string;
  finished_at: string | null; correlation_id: string | null; parent_job_id: number | null;
  last_error: string | null;
}
export interface JobsPage { jobs: JobSummaryRow[]; next_after: string | number | null; }

// The filter of the Jobs list, as the URL query and the API's parameters name it.
export interface JobFilter {
  state: JobState[];
  queue: string; tenant: string; job_type: string; correlation_id: string;
  from: string; to: string; payload: string;
}
export const EMPTY_FILTER: JobFilter = {
  state: [], queue: "", tenant: "", job_type: "", correlation_id: "", from: "", to: "", payload: "",
};

export interface Job {
  id: number; job_type: string; queue: string; tenant_id: string; state: JobState;
  payload: unknown; priority: number; attempts: number; max_attempts: number;
  next_run_at: string | null; created_at: string; started_at: string | null; finished_at: string | null;
  last_error_type: string | null; last_error_message: string | null; result: unknown;
  correlation_id: string | null; parent_job_id: number | null; unique_key: string | null;
  cancel_requested: boolean; cancel_reason: string | null; timeout: string | null;
  worker_id: string | null; lease_expires_at: string | null;
  workflow_id?: number | null;  // the workflow the job is a node of (get_job)
}
export interface Attempt {
  attempt: number; worker_id: string | null; started_at: string | null; finished_at: string | null;
  duration_ms: number | null; outcome: string; error: { type: string | null; message: string | null } | null;
  decision: string | null; to_state: string | null;
  backoff: { delay_ms: number | null; policy: string | null; reason: string | null; next_run_at: string | null } | null;
}
export interface JobEvent { at: string; from_state: string | null; to_state: string; actor: string | null; reason: string | null; }
export interface Lease {
  worker_id: string; started_at: string; expires_at: string; duration_ms: number | null;
  last_heartbeat_at: string | null; heartbeats: number | null; cancel_requested: boolean;
}
export interface Origin {
  kind: "rule" | "webhook" | "parent" | "caller"; actor: string | null; created_at: string;
  rule_id: number | null; rule_name: string | null; firing_id: number | null; firing_source: string | null;
  fired_at: string | null; delivery_id: string | null; source_job_id: number | null; parent_job_id: number | null;
}
export interface JobDetail {
  job: Job;
  attempts: Attempt[]; attempts_truncated: boolean;
  events: JobEvent[]; events_truncated: boolean;
  lease: Lease | null;
  parent: JobSummaryRow | null;
  children: JobSummaryRow[];
  correlation: JobSummaryRow[];
  origin: Origin | null;
}
export interface BulkResult {
  matched: number; changed: number; skipped_count: number; cancel_requested: number;
  skipped: { id: number; state: string | null; reason: string }[];
}
export interface DeadLetterGroup {
  job_type: string; error_type: string | null; count: number; last_at: string;
  sample_job_id: number; sample_error: string | null;
}

// The filter as query parameters (empty ones left out); `extra` adds after/limit.
export function filterQuery(f: JobFilter, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  if (f.state.length) p.set("state", f.state.join(","));
  for (const k of ["queue", "tenant", "job_type", "correlation_id", "from", "to", "payload"] as const) {
    if (f[k].trim()) p.set(k, k === "from" || k === "to" ? toRfc3339(f[k]) : f[k].trim());
  }
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  return p.toString();
}
// The filter as bulk_jobs' JSON filter.
export function filterJson(f: JobFilter): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (f.state.length) o.state = f.state;
  for (const k of ["queue", "tenant", "job_type", "correlation_id", "from", "to", "payload"] as const) {
    if (f[k].trim()) o[k] = k === "from" || k === "to" ? toRfc3339(f[k]) : f[k].trim();
  }
  return o;
}
// A datetime-local value (local time, no zone) as RFC 3339; anything else as typed.
function toRfc3339(v: string): string {
  const t = v.trim();
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(t)) {
    const d = new Date(t);
    if (!Number.isNaN(d.getTime())) return d.toISOString();
  }
  return t;
}

const json = (body: unknown): RequestInit => ({
  method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
});

export const jobsApi = {
  list: (key: string, f: JobFilter, after: string | null, limit = 50) =>
    request<JobsPage>(`/dashboard/api/jobs?${filterQuery(f, { limit: String(limit), ...(after ? { after } : {}) })}`, key),
  count: (key: string, f: JobFilter) =>
    request<{ count: number; capped: boolean }>(`/dashboard/api/jobs/count?${filterQuery(f)}`, key),
  bulk: (key: string, body: { action: "retry" | "cancel" | "purge"; ids?: number[]; filter?: Record<string, unknown>; expected_count?: number; reason?: string }) =>
    request<BulkResult>("/dashboard/api/jobs/bulk", key, json(body)),
  detail: (key: string, id: string) => request<JobDetail>(`/dashboard/api/jobs/${encodeURIComponent(id)}`, key),
  retry: (key: string, id: number) => request<{ id: number; state: string }>(`/jobs/${id}/retry`, key, { method: "POST" }),
  cancel: (key: string, id: number, reason?: string) =>
    request<{ id: number; state: string }>(`/jobs/${id}/cancel`, key, json(reason ? { reason } : {})),
  deadLetters: (key: string) => request<{ groups: DeadLetterGroup[]; capped: boolean }>("/dashboard/api/dead-letters", key),
  redrive: (key: string, g: { job_type: string; error_type: string | null }) =>
    request<BulkResult>("/dashboard/api/dead-letters/redrive", key, json({ job_type: g.job_type, error_type: g.error_type })),
  purgeGroup: (key: string, g: { job_type: string; error_type: string | null }) =>
    request<BulkResult>("/dashboard/api/dead-letters/purge", key, json({ job_type: g.job_type, error_type: g.error_type })),
};
