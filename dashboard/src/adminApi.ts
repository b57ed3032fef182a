// The typed client of the dashboard's admin endpoints (docs/http.md, "Dashboard API: queues,
// rules, tenants"; the documents are those of taskflow.dashboard_queues, dashboard_rules,
// dashboard_rule_firings, dashboard_webhook_deliveries, dashboard_tenants in docs/functions.md).
// Uses the shared request() of api.ts, so errors arrive as ApiError with the extension's message.
import { request } from "./api";

export interface RetryPolicy {
  max_attempts: number;
  strategy: "fixed" | "linear" | "exponential";
  base_delay_ms: number;
  max_delay_ms: number;
  jitter: "none" | "full" | "equal";
}
export interface RateLimit { max_starts: number; per_ms: number; }

// GET /dashboard/api/queues (admin key)
export interface QueueRow {
  name: string;
  priority: number;
  paused: boolean;
  concurrency_limit: number | null;
  lease_ms: number | null;
  effective_lease_ms: number;
  retry_policy: RetryPolicy;
  retry_policy_is_default: boolean;
  rate_limit: RateLimit | null;
  created_at: string;
  updated_at: string;
  // the per-queue figures of taskflow.queue_stats (absent for a queue without jobs)
  pending?: number | null;
  scheduled?: number | null;
  running?: number | null;
  failed?: number | null;
  dead?: number | null;
  cancelled?: number | null;
  done_5m?: number | null;
  [more: string]: unknown;
}
// PATCH body: any of these; null returns a setting to its default.
export interface QueueSettings {
  priority?: number;
  concurrency_limit?: number | null;
  lease_ms?: number | null;
  retry_policy?: Partial<RetryPolicy> | null;
  rate_limit?: RateLimit | null;
  paused?: boolean;
}

export interface Firing {
  id: number;
  rule_id: number;
  fired_at: string;
  source: "fire_rule" | "webhook" | "event" | string;
  actor: string | null;
  tenant_id: string | null;
  outcome: "created" | "skipped" | "error";
  matched: boolean | null;
  job_ids: number[] | null;
  error: string | null;
  error_sqlstate: string | null;
  delivery_id: string | null;
  source_job_id: number | null;
  context: unknown;
  rule_name?: string;
}
export interface Rule {
  id: number;
  tenant_id: string | null;
  name: string;
  trigger_type: string;
  trigger: Record<string, unknown>;
  condition: unknown;
  actions: unknown;
  enabled: boolean;
  for_each_tenant: boolean;
  created_at: string;
  updated_at: string;
  last_firing: Firing | null;
  firings: { created: number; skipped: number; error: number } | null;
}
export interface RulePage { rules: Rule[]; next_after: number | null; }
export interface FiringPage { firings: Firing[]; next_after: number | null; }
export interface DeliveryPage { deliveries: Firing[]; next_after: number | null; }
export interface FireResult { rule_id: number; job_ids: number[]; firings: Firing[]; }

// GET /dashboard/api/tenants
export interface TenantRow {
  tenant_id: string;
  max_running: number | null;
  weight: number;
  rate_limit: RateLimit | null;
  running: number;
  started_1h: number;
  share_1h: number | null;
}
export interface TenantPage {
  tenants: TenantRow[];
  started_1h_total: number | null;
  window_start: string;
  next_after: string | null;
}

const enc = encodeURIComponent;
const json = (method: string, body?: unknown): RequestInit => ({
  method,
  headers: { "Content-Type": "application/json" },
  body: body === undefined ? "{}" : JSON.stringify(body),
});
const qs = (params: Record<string, string | number | null | undefined>) => {
  const p = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return p.length ? "?" + p.map(([k, v]) => `${k}=${enc(String(v))}`).join("&") : "";
};

export const adminApi = {
  queues: (key: string) => request<{ queues: QueueRow[] }>("/dashboard/api/queues", key),
  alterQueue: (key: string, name: string, settings: QueueSettings) =>
    request<QueueRow>(`/dashboard/api/queues/${enc(name)}`, key, json("PATCH", settings)),
  pauseQueue: (key: string, name: string, pause: boolean) =>
    request<{ name: string; paused: boolean }>(`/dashboard/api/queues/${enc(name)}/${pause ? "pause" : "resume"}`, key, json("POST")),

  rules: (key: string, after?: number | null) =>
    request<RulePage>(`/dashboard/api/rules${qs({ after, limit: 200 })}`, key),
  setRuleEnabled: (key: string, id: number, enabled: boolean) =>
    request<{ id: number; enabled: boolean }>(`/dashboard/api/rules/${id}/${enabled ? "enable" : "disable"}`, key, json("POST")),
  fireRule: (key: string, id: number) => request<FireResult>(`/dashboard/api/rules/${id}/fire`, key, json("POST")),
  firings: (key: string, id: number, after?: number | null, limit = 10) =>
    request<FiringPage>(`/dashboard/api/rules/${id}/firings${qs({ after, limit })}`, key),
  deliveries: (key: string, ruleId?: number | null, after?: number | null, limit = 20) =>
    request<DeliveryPage>(`/dashboard/api/webhook-deliveries${qs({ rule_id: ruleId, after, limit })}`, key),

  tenants: (key: string, after?: string | null) =>
    request<TenantPage>(`/dashboard/api/tenants${qs({ after, limit: 100 })}`, key),
};
