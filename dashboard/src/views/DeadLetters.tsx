import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { jobsApi, type BulkResult, type DeadLetterGroup } from "../jobsApi";
import { errorText, when } from "../components/jobBits";
import { ConfirmDialog, DataTable } from "../components/ui";

type Pending = { action: "redrive" | "purge"; group: DeadLetterGroup };

// Dead letters (#/dead-letters): DEAD jobs grouped by job type and error type
// (GET /dashboard/api/dead-letters), with re-drive (retry) and purge (admin keys) per group after
// a confirmation showing the count.
export function DeadLetters() {
  const { key, session, signOut } = useAuth();
  const [groups, setGroups] = useState<DeadLetterGroup[] | null>(null);
  const [capped, setCapped] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [result, setResult] = useState<{ p: Pending; r: BulkResult } | null>(null);
  const [actError, setActError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const isAdmin = session?.role === "admin";

  const load = useCallback(async () => {
    try {
      const d = await jobsApi.deadLetters(key!);
      setGroups(d.groups);
      setCapped(d.capped);
      setError(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signOut();
      setError(errorText(e));
    }
  }, [key, signOut]);
  useEffect(() => { void load(); }, [load]);

  async function confirm() {
    if (!pending) return;
    setBusy(true);
    setActError(null);
    try {
      const r = pending.action === "redrive" ? await jobsApi.redrive(key!, pending.group) : await jobsApi.purgeGroup(key!, pending.group);
      setResult({ p: pending, r });
    } catch (e) {
      setActError(errorText(e));
    } finally {
      setPending(null);
      setBusy(false);
      void load();
    }
  }
  const name = (g: DeadLetterGroup) => `${g.job_type} / ${g.error_type ?? "no error type"}`;

  return (
    <section aria-labelledby="dl-title">
      <div className="view-head">
        <h1 id="dl-title">Dead letters</h1>
        <button type="button" className="secondary" onClick={() => void load()}>Refresh</button>
      </div>
      <p className="muted">DEAD jobs grouped by job type and error type, largest groups first.
        {capped ? " Only 100,000 DEAD jobs are counted." : ""}</p>
      {error && <p className="error" role="alert">Could not load the dead letters: {error}</p>}
      {pending && (
        <ConfirmDialog textId="dl-confirm-text" busy={busy} confirmLabel={`Confirm ${pending.action} of ${pending.group.count}`}
          onConfirm={confirm} onBack={() => setPending(null)}>
          {pending.action === "redrive" ? "Re-drive (retry)" : "Purge (delete)"} <strong>{pending.group.count}</strong> DEAD
          job{pending.group.count === 1 ? "" : "s"} of <code>{name(pending.group)}</code>?
        </ConfirmDialog>
      )}
      {actError && <p className="error" role="alert">{actError}</p>}
      {result && (
        <p className="notice" role="status" data-testid="dl-result">
          {result.p.action} of {name(result.p.group)}: {result.r.changed} changed, {result.r.skipped_count} skipped.
        </p>
      )}
      {groups && (groups.length === 0 ? <p>No dead letters.</p> : (
        <DataTable testid="dead-letters" caption="DEAD jobs by job type and error type"
          columns={["Job type", "Error type", "Count", "Last", "Sample", "Actions"]}>
          {groups.map((g) => (
            <tr key={`${g.job_type}\u0000${g.error_type}`} data-group={`${g.job_type}/${g.error_type ?? ""}`}>
              <th scope="row"><code>{g.job_type}</code></th>
              <td><code>{g.error_type ?? "–"}</code></td>
              <td>{g.count}</td>
              <td>{when(g.last_at)}</td>
              <td><Link to={`/jobs/${g.sample_job_id}`}>Job {g.sample_job_id}</Link>{g.sample_error ? <div className="muted clip">{g.sample_error}</div> : null}</td>
              <td className="actions">
                <button type="button" onClick={() => setPending({ action: "redrive", group: g })}
                  aria-label={`Re-drive ${name(g)}`}>Re-drive</button>
                {isAdmin && (
                  <button type="button" className="danger" onClick={() => setPending({ action: "purge", group: g })}
                    aria-label={`Purge ${name(g)}`}>Purge</button>
                )}
              </td>
            </tr>
          ))}
        </DataTable>
      ))}
    </section>
  );
}
