import { useCallback, useEffect, useState } from "react";
import { useAuth } from "../auth";
import { adminApi, type Firing, type Rule } from "../adminApi";
import { errorText, usePolling } from "../components/usePolling";
import { DataTable, ListStatus, Section } from "../components/ui";
import "../components/admin.css";

const POLL_MS = 3000;

// Rules: the caller's automation rules (a tenant's key: its own), enable/disable, "Fire now"
// (the jobs it created or the firing's error), each rule's recent firings with their outcome,
// and the webhook deliveries. Everything through the dashboard_* SQL functions.
export function Rules() {
  const { key } = useAuth();
  const { data, error, reload } = usePolling((k) => adminApi.rules(k), POLL_MS);
  const [open, setOpen] = useState<number | null>(null);
  const [results, setResults] = useState<Record<number, { text: string; bad: boolean }>>({});
  const [busy, setBusy] = useState<number | null>(null);
  const [firingsGen, setFiringsGen] = useState(0);

  const say = (id: number, text: string, bad: boolean) => setResults((r) => ({ ...r, [id]: { text, bad } }));

  async function toggle(rule: Rule) {
    setBusy(rule.id);
    try {
      const r = await adminApi.setRuleEnabled(key!, rule.id, !rule.enabled);
      say(rule.id, `Rule ${r.enabled ? "enabled" : "disabled"}.`, false);
      reload();
    } catch (e) {
      say(rule.id, `Could not ${rule.enabled ? "disable" : "enable"}: ${errorText(e)}`, true);
    } finally {
      setBusy(null);
    }
  }

  async function fire(rule: Rule) {
    setBusy(rule.id);
    try {
      const r = await adminApi.fireRule(key!, rule.id);
      const failed = r.firings.filter((f) => f.outcome === "error");
      if (failed.length > 0) {
        say(rule.id, `The firing failed: ${failed.map((f) => `${f.error} (SQLSTATE ${f.error_sqlstate})`).join("; ")}`, true);
      } else if (r.job_ids.length > 0) {
        say(rule.id, `Fired: created job${r.job_ids.length > 1 ? "s" : ""} ${r.job_ids.map((j) => `#${j}`).join(", ")}.`, false);
      } else {
        say(rule.id, "Fired: the condition did not hold, no job created.", false);
      }
      setOpen(rule.id);
      setFiringsGen((g) => g + 1);
      reload();
    } catch (e) {
      say(rule.id, `Could not fire: ${errorText(e)}`, true);
    } finally {
      setBusy(null);
    }
  }

  const rules = data?.rules ?? [];
  return (
    <section aria-labelledby="rules-title">
      <h1 id="rules-title">Rules</h1>
      <ListStatus what="rules" error={error && errorText(error)} loaded={data !== null} empty={rules.length === 0}
        emptyText="No automation rules yet." />
      {rules.length > 0 && (
        <DataTable testid="rules" caption="Automation rules" columns={[
          "Rule", "Tenant", "Trigger", "Condition", "Enabled", "Last firing", "Firings (created / skipped / error)", "Actions",
        ]}>
          {rules.map((r) => (
            <RuleRow key={r.id} rule={r} busy={busy === r.id} open={open === r.id} result={results[r.id]}
              onToggle={() => void toggle(r)} onFire={() => void fire(r)}
              onShow={() => setOpen(open === r.id ? null : r.id)} firingsGen={firingsGen} />
          ))}
        </DataTable>
      )}
      <Deliveries />
    </section>
  );
}

function triggerText(r: Rule): string {
  const t = r.trigger || {};
  const detail = Object.entries(t).filter(([k]) => k !== "type").map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`);
  return detail.length ? `${r.trigger_type} (${detail.join(", ")})` : r.trigger_type;
}
function firingText(f: Firing | null): string {
  if (!f) return "never";
  const jobs = f.job_ids && f.job_ids.length ? `, jobs ${f.job_ids.map((j) => `#${j}`).join(", ")}` : "";
  return `${new Date(f.fired_at).toLocaleString()}: ${f.outcome}${jobs}`;
}

function RuleRow({ rule, busy, open, result, onToggle, onFire, onShow, firingsGen }: {
  rule: Rule; busy: boolean; open: boolean; result?: { text: string; bad: boolean };
  onToggle: () => void; onFire: () => void; onShow: () => void; firingsGen: number;
}) {
  const panel = `firings-${rule.id}`;
  return (
    <>
      <tr data-rule={rule.name} data-rule-id={rule.id}>
        <th scope="row">{rule.name} <span className="muted">#{rule.id}</span></th>
        <td>{rule.tenant_id ?? (rule.for_each_tenant ? "each tenant" : "all tenants")}</td>
        <td>{triggerText(rule)}</td>
        <td>{rule.condition == null ? <span className="muted">always</span> : <pre className="json">{JSON.stringify(rule.condition)}</pre>}</td>
        <td data-field="enabled">{rule.enabled ? <span className="badge">Enabled</span> : <span className="badge paused">Disabled</span>}</td>
        <td data-field="last-firing" className={rule.last_firing ? `outcome-${rule.last_firing.outcome}` : undefined}>
          {firingText(rule.last_firing)}
          {rule.last_firing?.outcome === "error" && (
            <div className="muted">{rule.last_firing.error} (SQLSTATE {rule.last_firing.error_sqlstate})</div>
          )}
        </td>
        <td className="num">{rule.firings ? `${rule.firings.created} / ${rule.firings.skipped} / ${rule.firings.error}` : "—"}</td>
        <td>
          <div className="actions buttons">
            <button type="button" disabled={busy} onClick={onToggle} aria-label={`${rule.enabled ? "Disable" : "Enable"} rule ${rule.name}`}>
              {rule.enabled ? "Disable" : "Enable"}
            </button>
            <button type="button" disabled={busy || !rule.enabled} onClick={onFire} aria-label={`Fire rule ${rule.name} now`}>
              Fire now
            </button>
            <button type="button" className="secondary" aria-expanded={open} aria-controls={panel} onClick={onShow}
              aria-label={`Recent firings of rule ${rule.name}`}>
              Firings
            </button>
          </div>
          <p className="fire-result" role="status" aria-live="polite" data-testid={`rule-result-${rule.id}`}>
            {result && <span className={result.bad ? "error" : undefined}>{result.text}</span>}
          </p>
        </td>
      </tr>
      {open && (
        <tr id={panel}>
          <td colSpan={8}>
            <FiringList rule={rule} generation={firingsGen} />
          </td>
        </tr>
      )}
    </>
  );
}

function FiringTable({ firings, caption, withRule, testid }: { firings: Firing[]; caption: string; withRule?: boolean; testid: string }) {
  return (
    <table data-testid={testid}>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Fired at</th>
          {withRule && <th scope="col">Rule</th>}
          <th scope="col">Source</th>
          {withRule && <th scope="col">Delivery id</th>}
          <th scope="col">Actor</th>
          <th scope="col">Outcome</th>
          <th scope="col">Jobs</th>
          <th scope="col">Error</th>
          <th scope="col">SQLSTATE</th>
        </tr>
      </thead>
      <tbody>
        {firings.map((f) => (
          <tr key={f.id} data-firing={f.id} data-outcome={f.outcome}>
            <td>{new Date(f.fired_at).toLocaleString()}</td>
            {withRule && <td>{f.rule_name ?? `#${f.rule_id}`}</td>}
            <td>{f.source}</td>
            {withRule && <td>{f.delivery_id ?? <span className="muted">none</span>}</td>}
            <td>{f.actor ?? ""}</td>
            <td className={`outcome-${f.outcome}`}>{f.outcome}</td>
            <td>{f.job_ids && f.job_ids.length ? f.job_ids.map((j) => `#${j}`).join(", ") : "none"}</td>
            <td>{f.error ?? ""}</td>
            <td>{f.error_sqlstate ?? ""}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// One rule's firings, newest first, 10 at a time ("Older firings" follows next_after).
function FiringList({ rule, generation }: { rule: Rule; generation: number }) {
  const { key } = useAuth();
  const [firings, setFirings] = useState<Firing[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);

  const load = useCallback(async (after: number | null) => {
    try {
      const p = await adminApi.firings(key!, rule.id, after);
      setFirings((old) => (after === null ? p.firings : [...old, ...p.firings]));
      setNext(p.next_after);
      setError(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoaded(true);
    }
  }, [key, rule.id]);
  useEffect(() => { void load(null); }, [load, generation, rule.last_firing?.id]);

  return (
    <div aria-live="polite">
      {error && <p className="error" role="alert">Could not load the firings: {error}</p>}
      {loaded && firings.length === 0 && !error && <p>Rule {rule.name} has not fired yet.</p>}
      {firings.length > 0 && (
        <FiringTable firings={firings} caption={`Recent firings of rule ${rule.name}`} testid={`firings-${rule.id}`} />
      )}
      {next !== null && (
        <button type="button" className="secondary" onClick={() => void load(next)}>Older firings</button>
      )}
    </div>
  );
}

function Deliveries() {
  const { key } = useAuth();
  const { data, error } = usePolling((k) => adminApi.deliveries(k, null, null, 20), POLL_MS);
  const [older, setOlder] = useState<Firing[]>([]);
  const [next, setNext] = useState<number | null | undefined>(undefined);
  const shownNext = next === undefined ? data?.next_after ?? null : next;
  async function more() {
    if (shownNext === null) return;
    const p = await adminApi.deliveries(key!, null, shownNext, 20);
    setOlder((o) => [...o, ...p.deliveries]);
    setNext(p.next_after);
  }
  const rows = [...(data?.deliveries ?? []), ...older.filter((o) => !(data?.deliveries ?? []).some((d) => d.id === o.id))];
  return (
    <Section id="deliveries" title="Webhook deliveries">
      {error && <p className="error" role="alert">Could not load the deliveries: {errorText(error)}</p>}
      {data && rows.length === 0 && <p>No webhook call has reached a rule yet.</p>}
      {rows.length > 0 && (
        <div className="table-wrap">
          <FiringTable firings={rows} caption="Webhook calls that reached a rule, newest first" withRule testid="deliveries" />
        </div>
      )}
      {shownNext !== null && data && (
        <button type="button" className="secondary" onClick={() => void more()}>Older deliveries</button>
      )}
    </Section>
  );
}
