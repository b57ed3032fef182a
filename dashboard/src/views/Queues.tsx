import { useState, type FormEvent } from "react";
import { useAuth } from "../auth";
import { adminApi, type QueueRow, type QueueSettings, type RetryPolicy } from "../adminApi";
import { errorText, usePolling } from "../components/usePolling";
import { DataTable, ListStatus } from "../components/ui";
import "../components/admin.css";

const POLL_MS = 2000;

// Queues (admin key): every queue with its job counts, paused flag and settings; Pause/Resume;
// an edit form whose values the extension validates (taskflow.dashboard_alter_queue): a refused
// value comes back as 422 and its message is shown next to the form, with nothing changed.
export function Queues() {
  const { session } = useAuth();
  if (session?.role !== "admin") {
    // (the API would answer 403: queues are not a tenant's)
    return (
      <section aria-labelledby="queues-title">
        <h1 id="queues-title">Queues</h1>
        <p>Queues are shared by every tenant: they need an admin key.</p>
      </section>
    );
  }
  return <QueuesTable />;
}

function QueuesTable() {
  const { key } = useAuth();
  const { data, error, reload } = usePolling((k) => adminApi.queues(k), POLL_MS);
  const [editing, setEditing] = useState<string | null>(null);
  const [status, setStatus] = useState<string>("");
  const [actionError, setActionError] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);

  async function pause(q: QueueRow, pause: boolean) {
    setBusy(q.name);
    setActionError(null);
    try {
      const r = await adminApi.pauseQueue(key!, q.name, pause);
      setStatus(`Queue ${r.name} ${r.paused ? "paused" : "resumed"}.`);
      reload();
    } catch (e) {
      setActionError(`Could not ${pause ? "pause" : "resume"} ${q.name}: ${errorText(e)}`);
    } finally {
      setBusy(null);
    }
  }

  const queues = data?.queues ?? [];
  const editedQueue = queues.find((q) => q.name === editing) ?? null;
  return (
    <section aria-labelledby="queues-title">
      <div className="view-head">
        <h1 id="queues-title">Queues</h1>
        <p className="updated" role="status" aria-live="polite" data-testid="queues-status">{status}</p>
      </div>
      <ListStatus what="queues" error={error && errorText(error)} loaded={data !== null} empty={queues.length === 0}
        emptyText="No queues yet (taskflow.create_queue)." />
      {actionError && <p className="error" role="alert">{actionError}</p>}
      {queues.length > 0 && (
        <DataTable testid="queue-settings" caption="Queues: jobs, status and settings" columns={[
          "Queue", "Status", "Pending", "Scheduled", "Running", "Dead", "Priority", "Concurrency limit", "Rate limit",
          "Retry policy", "Lease", "Actions",
        ]}>
          {queues.map((q) => (
            <tr key={q.name} data-queue={q.name}>
              <th scope="row">{q.name}</th>
              <td data-field="status">
                {q.paused ? <span className="badge paused">Paused</span> : <span className="badge">Active</span>}
              </td>
              <td className="num" data-state="PENDING">{q.pending ?? 0}</td>
              <td className="num" data-state="SCHEDULED">{q.scheduled ?? 0}</td>
              <td className="num" data-state="RUNNING">{q.running ?? 0}</td>
              <td className="num" data-state="DEAD">{q.dead ?? 0}</td>
              <td className="num" data-field="priority">{q.priority}</td>
              <td data-field="concurrency_limit">{q.concurrency_limit ?? "none"}</td>
              <td data-field="rate_limit">
                {q.rate_limit ? `${q.rate_limit.max_starts} per ${ms(q.rate_limit.per_ms)}` : "none"}
              </td>
              <td data-field="retry_policy">
                {policyText(q.retry_policy)}
                {q.retry_policy_is_default && <span className="muted"> (default)</span>}
              </td>
              <td data-field="lease">
                {ms(q.effective_lease_ms)}
                {q.lease_ms === null && <span className="muted"> (default)</span>}
              </td>
              <td className="actions">
                <button type="button" disabled={busy === q.name} onClick={() => void pause(q, !q.paused)}
                  aria-label={`${q.paused ? "Resume" : "Pause"} queue ${q.name}`}>
                  {q.paused ? "Resume" : "Pause"}
                </button>
                <button type="button" className="secondary" aria-expanded={editing === q.name}
                  aria-controls="queue-edit" aria-label={`Edit settings of queue ${q.name}`}
                  onClick={() => setEditing(editing === q.name ? null : q.name)}>
                  Edit
                </button>
              </td>
            </tr>
          ))}
        </DataTable>
      )}
      {editedQueue && (
        <QueueForm key={editedQueue.name} queue={editedQueue}
          onDone={(msg) => { setStatus(msg); setEditing(null); reload(); }}
          onCancel={() => setEditing(null)} />
      )}
    </section>
  );
}

function ms(v: number): string {
  if (v % 3600000 === 0 && v > 0) return `${v / 3600000} h`;
  if (v % 60000 === 0 && v > 0) return `${v / 60000} min`;
  if (v % 1000 === 0 && v > 0) return `${v / 1000} s`;
  return `${v} ms`;
}
function policyText(p: RetryPolicy): string {
  return `${p.max_attempts} attempts, ${p.strategy} ${ms(p.base_delay_ms)}…${ms(p.max_delay_ms)}, jitter ${p.jitter}`;
}

// The form keeps strings as typed; an empty field means "the default" (null) where the setting
// has one. Only the settings that changed are sent, so an untouched default stays a default.
interface Form {
  priority: string; concurrency_limit: string; lease_ms: string;
  rate_max: string; rate_per_ms: string;
  default_policy: boolean;
  max_attempts: string; strategy: string; base_delay_ms: string; max_delay_ms: string; jitter: string;
}
function toForm(q: QueueRow): Form {
  const p = q.retry_policy;
  return {
    priority: String(q.priority),
    concurrency_limit: q.concurrency_limit === null ? "" : String(q.concurrency_limit),
    lease_ms: q.lease_ms === null ? "" : String(q.lease_ms),
    rate_max: q.rate_limit ? String(q.rate_limit.max_starts) : "",
    rate_per_ms: q.rate_limit ? String(q.rate_limit.per_ms) : "1000",
    default_policy: q.retry_policy_is_default,
    max_attempts: String(p.max_attempts), strategy: p.strategy, base_delay_ms: String(p.base_delay_ms),
    max_delay_ms: String(p.max_delay_ms), jitter: p.jitter,
  };
}
// "" -> null; anything else a number (the extension refuses what is out of range)
const num = (s: string): number | null => (s.trim() === "" ? null : Number(s));

function changes(before: Form, f: Form): QueueSettings {
  const out: QueueSettings = {};
  if (f.priority !== before.priority) out.priority = num(f.priority) ?? 0;
  if (f.concurrency_limit !== before.concurrency_limit) out.concurrency_limit = num(f.concurrency_limit);
  if (f.lease_ms !== before.lease_ms) out.lease_ms = num(f.lease_ms);
  if (f.rate_max !== before.rate_max || f.rate_per_ms !== before.rate_per_ms) {
    const max = num(f.rate_max);
    out.rate_limit = max === null ? null : { max_starts: max, per_ms: num(f.rate_per_ms) ?? 1000 };
  }
  const policyKeys = ["max_attempts", "strategy", "base_delay_ms", "max_delay_ms", "jitter"] as const;
  if (f.default_policy) {
    if (!before.default_policy) out.retry_policy = null;
  } else if (before.default_policy || policyKeys.some((k) => f[k] !== before[k])) {
    out.retry_policy = {
      max_attempts: num(f.max_attempts) ?? undefined,
      strategy: f.strategy as RetryPolicy["strategy"],
      base_delay_ms: num(f.base_delay_ms) ?? undefined,
      max_delay_ms: num(f.max_delay_ms) ?? undefined,
      jitter: f.jitter as RetryPolicy["jitter"],
    };
  }
  return out;
}

function QueueForm({ queue, onDone, onCancel }: { queue: QueueRow; onDone: (msg: string) => void; onCancel: () => void }) {
  const { key } = useAuth();
  const [initial] = useState(() => toForm(queue));
  const [f, setF] = useState<Form>(initial);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const set = (k: keyof Form) => (e: { target: { value: string; checked?: boolean; type?: string } }) =>
    setF({ ...f, [k]: e.target.type === "checkbox" ? Boolean(e.target.checked) : e.target.value });

  async function submit(e: FormEvent) {
    e.preventDefault();
    const body = changes(initial, f);
    if (Object.keys(body).length === 0) {
      onDone(`Queue ${queue.name}: nothing changed.`);
      return;
    }
    setSaving(true);
    setError(null);
    try {
      await adminApi.alterQueue(key!, queue.name, body);
      onDone(`Queue ${queue.name} saved.`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setSaving(false);
    }
  }

  const id = (s: string) => `q-${s}`;
  // a field bound to the form's setting k
  const bind = (k: Exclude<keyof Form, "default_policy">) => ({ value: f[k], onChange: set(k) });
  return (
    <form id="queue-edit" className="card form-grid" onSubmit={submit} aria-labelledby="queue-edit-title"
      aria-describedby={error ? "queue-edit-error" : undefined} noValidate>
      <h2 id="queue-edit-title">Settings of queue {queue.name}</h2>
      {error && (
        <p id="queue-edit-error" className="error" role="alert" data-testid="queue-edit-error">
          The extension refused the change: {error}
        </p>
      )}
      <Field id="priority" label="Priority" {...bind("priority")} />
      <Field id="concurrency" label="Concurrency limit" {...bind("concurrency_limit")} hint="concurrency-hint" />
      <span id={id("concurrency-hint")} className="hint">RUNNING jobs at most; empty: no limit</span>
      <Field id="lease" label="Lease (ms)" {...bind("lease_ms")} hint="lease-hint" />
      <span id={id("lease-hint")} className="hint">empty: the default lease ({ms(queue.effective_lease_ms)} now)</span>
      <Field id="rate-max" label="Rate limit: starts" {...bind("rate_max")} hint="rate-hint" />
      <Field id="rate-per" label="Rate limit: per (ms)" {...bind("rate_per_ms")} hint="rate-hint" />
      <span id={id("rate-hint")} className="hint">empty starts: no rate limit</span>
      <fieldset>
        <legend>Retry policy</legend>
        <label className="inline">
          <input type="checkbox" checked={f.default_policy} onChange={set("default_policy")} /> Use the default policy
        </label>
        <div className="form-grid">
          <Field id="max-attempts" label="Max attempts" {...bind("max_attempts")} disabled={f.default_policy} />
          <Field id="strategy" label="Strategy" {...bind("strategy")} options={["exponential", "linear", "fixed"]}
            disabled={f.default_policy} />
          <Field id="base-delay" label="Base delay (ms)" {...bind("base_delay_ms")} disabled={f.default_policy} />
          <Field id="max-delay" label="Max delay (ms)" {...bind("max_delay_ms")} disabled={f.default_policy} />
          <Field id="jitter" label="Jitter" {...bind("jitter")} options={["full", "equal", "none"]} disabled={f.default_policy} />
        </div>
      </fieldset>
      <div className="buttons">
        <button type="submit" disabled={saving}>Save settings</button>
        <button type="button" className="secondary" onClick={onCancel}>Cancel</button>
      </div>
    </form>
  );
}

// One setting of the form (id q-<id>): its label and a number input, or a select of `options`;
// hint: the id of the hint describing it.
function Field({ id, label, value, onChange, options, hint, disabled }: {
  id: string;
  label: string;
  value: string;
  onChange: (e: { target: { value: string } }) => void;
  options?: string[];
  hint?: string;
  disabled?: boolean;
}) {
  return (
    <>
      <label htmlFor={`q-${id}`}>{label}</label>
      {options ? (
        <select id={`q-${id}`} value={value} onChange={onChange} disabled={disabled}>
          {options.map((o) => <option key={o} value={o}>{o}</option>)}
        </select>
      ) : (
        <input id={`q-${id}`} type="number" step="1" value={value} onChange={onChange}
          aria-describedby={hint ? `q-${hint}` : undefined} disabled={disabled} />
      )}
    </>
  );
}
