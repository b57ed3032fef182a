import { useState } from "react";
import { useAuth } from "../auth";
import { adminApi } from "../adminApi";
import { errorText, usePolling } from "../components/usePolling";
import { DataTable, ListStatus } from "../components/ui";
import "../components/admin.css";

const POLL_MS = 3000;

// Tenants: limits, weight, RUNNING now against max_running, jobs started in the last hour and
// (admin key only) each tenant's share of them, to see fairness. A tenant's key: itself only.
export function Tenants() {
  const { session } = useAuth();
  const [after, setAfter] = useState<string | null>(null);
  const [history, setHistory] = useState<(string | null)[]>([]);
  const { data, error } = usePolling((k) => adminApi.tenants(k, after), POLL_MS, [after]);
  const admin = session?.role === "admin";
  const tenants = data?.tenants ?? [];

  return (
    <section aria-labelledby="tenants-title">
      <div className="view-head">
        <h1 id="tenants-title">Tenants</h1>
        {data && (
          <p className="updated">
            Started since {new Date(data.window_start).toLocaleTimeString()}
            {admin && data.started_1h_total !== null && <>: {data.started_1h_total} jobs in all</>}
          </p>
        )}
      </div>
      <ListStatus what="tenants" error={error && errorText(error)} loaded={data !== null} empty={tenants.length === 0}
        emptyText="No tenants yet." />
      {tenants.length > 0 && (
        <DataTable testid="tenants" caption="Tenants: limits, running jobs and share of the last hour" columns={[
          "Tenant", "Running / max", "Max running", "Weight", "Rate limit", "Started (last hour)", admin && "Share (last hour)",
        ]}>
          {tenants.map((t) => (
            <tr key={t.tenant_id} data-tenant={t.tenant_id}>
              <th scope="row">{t.tenant_id}</th>
              <td>
                {t.max_running !== null && t.max_running > 0 ? (
                  <meter min={0} max={t.max_running} value={t.running}
                    aria-label={`${t.tenant_id}: ${t.running} running of at most ${t.max_running}`} />
                ) : null}{" "}
                <span data-field="running">{t.running}</span> / {t.max_running ?? "no limit"}
              </td>
              <td className="num" data-field="max_running">{t.max_running ?? "none"}</td>
              <td className="num" data-field="weight">{t.weight}</td>
              <td>{t.rate_limit ? `${t.rate_limit.max_starts} per ${t.rate_limit.per_ms} ms` : "none"}</td>
              <td className="num" data-field="started_1h">{t.started_1h}</td>
              {admin && (
                <td className="num" data-field="share_1h">
                  {t.share_1h === null ? "—" : `${(t.share_1h * 100).toFixed(1)} %`}
                </td>
              )}
            </tr>
          ))}
        </DataTable>
      )}
      <div className="buttons pager">
        {history.length > 0 && (
          <button type="button" className="secondary"
            onClick={() => { setAfter(history[history.length - 1]); setHistory(history.slice(0, -1)); }}>
            Previous tenants
          </button>
        )}
        {data?.next_after && (
          <button type="button" className="secondary"
            onClick={() => { setHistory([...history, after]); setAfter(data.next_after); }}>
            Next tenants
          </button>
        )}
      </div>
    </section>
  );
}
