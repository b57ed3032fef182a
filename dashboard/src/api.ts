// The typed client of the dashboard API (docs/http.md, "Dashboard"). Every call sends the API
// key the user signed in with as a Bearer token; the server runs it under the key's database
// role, so a tenant's key gets only its tenant's data.

export type JobState = "PENDING" | "SCHEDULED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "DEAD" | "CANCELLED";
export const JOB_STATES: JobState[] = ["PENDING", "SCHEDULED", "RUNNING", "SUCCEEDED", "FAILED", "DEAD", "CANCELLED"];

// GET /dashboard/api/session
export interface Session {
  role: "admin" | "client";
  tenant_id: string | null;
  version: string;
}

// GET /dashboard/api/overview?range=1h|24h
export type OverviewRange = "1h" | "24h";
export interface SeriesPoint {
  t: string;               // the bucket's start (RFC 3339)
  completed: number;       // SUCCEEDED in the bucket
  failed: number;          // FAILED or DEAD in the bucket
  wait_p50_ms: number | null;
  wait_p95_ms: number | null;
  run_p50_ms: number | null;
  run_p95_ms: number | null;
}
export interface QueueOverview {
  name: string;
  paused: boolean;
  concurrency_limit: number | null;
  counts: Record<JobState, number>;
  series: SeriesPoint[];
}
export interface RunningJob {
  job_id: number;
  job_type: string;
  queue: string;
  tenant_id: string;
  started_at: string;
  lease_expires_at: string;
}
export interface WorkerOverview {
  worker_id: string;
  running: RunningJob[];
  last_seen_at: string;
}
export interface TenantOverview {
  tenant_id: string;
  running: number;
  max_running: number | null;
  weight: number;
}
export interface Overview {
  generated_at: string;
  range: OverviewRange;
  bucket_seconds: number;
  rolled_up_to: string;
  queues: QueueOverview[];
  workers: WorkerOverview[];
  tenants: TenantOverview[];
}

// The contract's other views (built later): their types, so views share one client.
export interface JobSummary {
  id: number; queue: string; job_type: string; tenant_id: string; state: JobState; priority: number;
  attempt: number; max_attempts: number; created_at: string; next_run_at: string;
  finished_at: string | null; correlation_id: string | null; last_error: string | null;
}
export interface JobPage { jobs: JobSummary[]; next_after: string | null; }

// A refusal of the API (application/problem+json), or a network failure (status 0).
export class ApiError extends Error {
  constructor(public status: number, public title: string, public detail: string) {
    super(detail || title);
  }
}

const KEY_STORAGE = "taskflow.apiKey";

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}
export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

export async function request<T>(path: string, key: string, init: RequestInit = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      ...init,
      headers: { ...(init.headers || {}), Authorization: `Bearer ${key}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "Network error", "The server does not answer.");
  }
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!res.ok) {
    const p = (body || {}) as { title?: string; detail?: string };
    throw new ApiError(res.status, p.title || res.statusText, p.detail || "");
  }
  return body as T;
}

export const api = {
  session: (key: string) => request<Session>("/dashboard/api/session", key),
  overview: (key: string, range: OverviewRange) =>
    request<Overview>(`/dashboard/api/overview?range=${encodeURIComponent(range)}`, key),
};
