// The natural calls of a TypeScript program against taskflow-http, written against the client
// that openapi-typescript generates from the served /openapi.json (generated/api.d.ts, made by
// test/t/http_openapi_client.t). `tsc --noEmit` must accept it: payloads are open objects,
// fields with a default may be left out, and everything the API returns is typed. The two
// expected errors at the end check that the types still refuse what the API refuses.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api";

type Job = components["schemas"]["Job"];
type Attempt = components["schemas"]["Attempt"];
type QueueStats = components["schemas"]["QueueStats"];

const client = createClient<paths>({ baseUrl: "http://localhost:8080", headers: { Authorization: "Bearer tf_..." } });

export async function scheduleAndInspect(): Promise<string> {
  // Schedule with an object payload; queue, priority, tenant_id, ... left to their defaults.
  const created = await client.POST("/jobs", {
    body: { job_type: "send_email", payload: { to: "a@example.com", attempts: 3, tags: ["x"], nested: { ok: true } } },
    params: { header: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } },
  });
  if (created.error) return `${created.error.status} ${created.error.title}: ${created.error.detail}`;
  const id: number = created.data.id;

  // Read a job's fields, including the ones that are null until set.
  const got = await client.GET("/jobs/{id}", { params: { path: { id } } });
  if (!got.data) return "not found";
  const job: Job = got.data;
  const to: unknown = job.payload["to"];
  const state: "PENDING" | "SCHEDULED" | "RUNNING" | "SUCCEEDED" | "FAILED" | "DEAD" | "CANCELLED" = job.state;
  const timeout: string | null = job.timeout;
  const worker: string | null = job.worker_id;
  const leaseEnds: string | null = job.lease_expires_at;
  const reason: string | null = job.cancel_reason;
  const trace: string | null = job.traceparent;
  const parent: number | null = job.parent_job_id;

  // History: typed attempts and events.
  const history = await client.GET("/jobs/{id}/history", { params: { path: { id } } });
  const attempts: Attempt[] = history.data?.attempts ?? [];
  const outcomes = attempts.map((a) => `${a.attempt}:${a.outcome}:${a.error_type ?? ""}:${a.backoff_delay ?? ""}`);
  const transitions = (history.data?.events ?? []).map((e) => `${e.from_state ?? "-"}->${e.to_state}`);

  // A page of jobs.
  const page = await client.GET("/jobs", { params: { query: { queue: "mail", limit: 10 } } });
  const ids: number[] = (page.data?.jobs ?? []).map((j) => j.id);
  const next: number | null = page.data?.next_after ?? null;

  // Queue statistics.
  const stats = await client.GET("/admin/queues");
  const queues: QueueStats[] = stats.data?.queues ?? [];
  const depth = queues.filter((q) => q.tenant_id === null).map((q) => `${q.queue}: ${q.pending + q.scheduled} waiting, p95 ${q.wait_p95_seconds ?? "-"} s`);

  // @ts-expect-error: priority is a number
  await client.POST("/jobs", { body: { job_type: "x", priority: "high" } });
  // @ts-expect-error: job_type is required
  await client.POST("/jobs", { body: { payload: {} } });

  return [to, state, timeout, worker, leaseEnds, reason, trace, parent, ...outcomes, ...transitions, ...ids, next, ...depth].join(" ");
}
