import { useMemo, useState } from "react";
import {
  Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis,
} from "recharts";
import { JOB_STATES, api, type Overview as OverviewDoc, type OverviewRange, type SeriesPoint } from "../api";
import { TableSection } from "../components/ui";
import { usePolling } from "../components/usePolling";

const POLL_MS = 2000;

// The Overview: GET /dashboard/api/overview every 2 s (no reload), per queue jobs by state,
// throughput, failure rate, wait and run latency over the last hour or day, the workers and
// what they run now, the tenants against their limits.
export function Overview() {
  const [range, setRange] = useState<OverviewRange>("1h");
  const { data: doc, error } = usePolling((k) => api.overview(k, range), POLL_MS, [range]);
  const [queue, setQueue] = useState<string>("");

  // the queue whose charts are shown: the chosen one, else the busiest
  const shownQueue = useMemo(() => {
    if (!doc || doc.queues.length === 0) return null;
    const chosen = doc.queues.find((q) => q.name === queue);
    if (chosen) return chosen;
    const total = (s: SeriesPoint[]) => s.reduce((n, p) => n + p.completed + p.failed, 0);
    return [...doc.queues].sort((a, b) => total(b.series) - total(a.series) || a.name.localeCompare(b.name))[0];
  }, [doc, queue]);

  return (
    <section aria-labelledby="overview-title">
      <div className="view-head">
        <h1 id="overview-title">Overview</h1>
        <fieldset className="range">
          <legend>Time range</legend>
          {(["1h", "24h"] as OverviewRange[]).map((r) => (
            <label key={r}>
              <input type="radio" name="range" value={r} checked={range === r} onChange={() => setRange(r)} />
              {r === "1h" ? "Last hour" : "Last day"}
            </label>
          ))}
        </fieldset>
        <p className="updated" aria-live="polite">
          {doc ? `Updated ${new Date(doc.generated_at).toLocaleTimeString()}` : "Loading…"}
        </p>
      </div>
      {error && <p className="error" role="alert">Could not refresh: {error.title}: {error.detail}</p>}
      {doc && (
        <>
          <QueueTable doc={doc} />
          {shownQueue && (
            <section aria-labelledby="charts-title" className="charts-section">
              <div className="view-head">
                <h2 id="charts-title">Queue {shownQueue.name}: {range === "1h" ? "last hour" : "last day"}</h2>
                <label className="queue-pick">
                  Queue{" "}
                  <select value={shownQueue.name} onChange={(e) => setQueue(e.target.value)}>
                    {doc.queues.map((q) => <option key={q.name} value={q.name}>{q.name}</option>)}
                  </select>
                </label>
              </div>
              <Charts series={shownQueue.series} bucketSeconds={doc.bucket_seconds} />
            </section>
          )}
          <Workers doc={doc} />
          <Tenants doc={doc} />
        </>
      )}
    </section>
  );
}

function QueueTable({ doc }: { doc: OverviewDoc }) {
  return (
    <TableSection id="queues" title="Queues" empty={doc.queues.length === 0} emptyText="No queues with jobs yet."
      className="numbers" testid="queues" caption="Jobs per queue and state"
      columns={["Queue", "Status", "Limit", ...JOB_STATES]}>
      {doc.queues.map((q) => (
        <tr key={q.name} data-queue={q.name}>
          <th scope="row">{q.name}</th>
          <td>{q.paused ? <span className="badge paused">Paused</span> : <span className="badge">Active</span>}</td>
          <td>{q.concurrency_limit ?? "none"}</td>
          {JOB_STATES.map((s) => (
            <td key={s} data-state={s} className={q.counts[s] > 0 ? `state-${s.toLowerCase()}` : "zero"}>
              {q.counts[s]}
            </td>
          ))}
        </tr>
      ))}
    </TableSection>
  );
}

interface Row {
  label: string;
  completed: number;
  failed: number;
  failure_rate: number | null;
  wait_p50_ms: number | null;
  wait_p95_ms: number | null;
  run_p50_ms: number | null;
  run_p95_ms: number | null;
}

function timeLabel(t: string): string {
  return new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function Charts({ series, bucketSeconds }: { series: SeriesPoint[]; bucketSeconds: number }) {
  const rows: Row[] = series.map((p) => ({
    label: timeLabel(p.t),
    completed: p.completed,
    failed: p.failed,
    failure_rate: p.completed + p.failed > 0 ? Math.round((1000 * p.failed) / (p.completed + p.failed)) / 10 : null,
    wait_p50_ms: p.wait_p50_ms,
    wait_p95_ms: p.wait_p95_ms,
    run_p50_ms: p.run_p50_ms,
    run_p95_ms: p.run_p95_ms,
  }));
  const per = bucketSeconds === 60 ? "minute" : "15 minutes";
  const done = rows.reduce((n, r) => n + r.completed, 0);
  const failed = rows.reduce((n, r) => n + r.failed, 0);
  const max = (f: (r: Row) => number | null) => maxOf(rows, f);
  return (
    <div className="charts">
      <ChartFigure
        id="throughput"
        title={`Throughput (jobs per ${per})`}
        summary={`${done} jobs succeeded and ${failed} failed in the range; at most ${max((r) => r.completed) ?? 0} succeeded in one ${per}.`}
        rows={rows}
        columns={[["completed", "Succeeded"], ["failed", "Failed"]]}
      >
        <BarChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" minTickGap={24} />
          <YAxis allowDecimals={false} width={48} />
          <Tooltip />
          <Legend />
          <Bar dataKey="completed" name="Succeeded" stackId="a" fill="#2f6f3e" isAnimationActive={false} />
          <Bar dataKey="failed" name="Failed" stackId="a" fill="#b3261e" isAnimationActive={false} />
        </BarChart>
      </ChartFigure>
      <ChartFigure
        id="failure-rate"
        title="Failure rate (%)"
        summary={done + failed > 0 ? `${Math.round((1000 * failed) / (done + failed)) / 10}% of the jobs finished in the range failed; the highest in one ${per} was ${max((r) => r.failure_rate)}%.` : "No job finished in the range."}
        rows={rows}
        columns={[["failure_rate", "Failure rate (%)"]]}
      >
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" minTickGap={24} />
          <YAxis domain={[0, 100]} width={48} unit="%" />
          <Tooltip />
          <Line dataKey="failure_rate" name="Failure rate" stroke="#b3261e" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
        </LineChart>
      </ChartFigure>
      <LatencyChart id="wait-latency" title="Wait time (due to start), ms" field="wait" rows={rows} />
      <LatencyChart id="run-latency" title="Run time (start to finish), ms" field="run" rows={rows} />
    </div>
  );
}

// The highest value of f over the rows (null: no row has one).
function maxOf(rows: Row[], f: (r: Row) => number | null): number | null {
  return rows.reduce<number | null>((m, r) => (f(r) === null ? m : Math.max(m ?? 0, f(r)!)), null);
}
const msText = (v: number | null) => (v === null ? "no data" : `${v} ms`);

// Wait or run time: its p50 and p95 per interval.
function LatencyChart({ id, title, field, rows }: { id: string; title: string; field: "wait" | "run"; rows: Row[] }) {
  const p50 = `${field}_p50_ms` as const;
  const p95 = `${field}_p95_ms` as const;
  return (
    <ChartFigure
      id={id}
      title={title}
      summary={`Highest p50 ${msText(maxOf(rows, (r) => r[p50]))}, highest p95 ${msText(maxOf(rows, (r) => r[p95]))}.`}
      rows={rows}
      columns={[[p50, "p50 (ms)"], [p95, "p95 (ms)"]]}
    >
      <LineChart data={rows}>
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="label" minTickGap={24} />
        <YAxis width={56} />
        <Tooltip />
        <Legend />
        <Line dataKey={p50} name="p50" stroke="#1f5fa8" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
        <Line dataKey={p95} name="p95" stroke="#8a4fb3" dot={{ r: 2 }} connectNulls isAnimationActive={false} strokeDasharray="5 3" />
      </LineChart>
    </ChartFigure>
  );
}

// A chart with its text alternative: a summary the chart's aria-describedby points at, and the
// data as a table (collapsed) for screen readers and keyboard users.
function ChartFigure({ id, title, summary, rows, columns, children }: {
  id: string;
  title: string;
  summary: string;
  rows: Row[];
  columns: [keyof Row, string][];
  children: React.ReactElement;
}) {
  const withData = rows.filter((r) => columns.some(([c]) => r[c] !== null && r[c] !== 0));
  return (
    <figure className="chart" aria-labelledby={`${id}-title`} aria-describedby={`${id}-summary`} data-testid={`chart-${id}`}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      <div className="chart-area" role="img" aria-labelledby={`${id}-title`} aria-describedby={`${id}-summary`}>
        <ResponsiveContainer width="100%" height={200}>{children}</ResponsiveContainer>
      </div>
      <p id={`${id}-summary`} className="chart-summary">{summary}</p>
      <details>
        <summary>Data table ({withData.length} of {rows.length} intervals with data)</summary>
        <table className="numbers">
          <caption className="visually-hidden">{title}</caption>
          <thead>
            <tr>
              <th scope="col">Interval start</th>
              {columns.map(([c, label]) => <th scope="col" key={c}>{label}</th>)}
            </tr>
          </thead>
          <tbody>
            {withData.map((r, i) => (
              <tr key={i}>
                <th scope="row">{r.label}</th>
                {columns.map(([c]) => <td key={c}>{r[c] ?? "–"}</td>)}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}

function Workers({ doc }: { doc: OverviewDoc }) {
  return (
    <TableSection id="workers" title="Workers" empty={doc.workers.length === 0} emptyText="No worker holds a lease or finished a job in the last 15 minutes."
      testid="workers" caption="Workers and the jobs they run now" columns={["Worker", "Last seen", "Running now"]}>
      {doc.workers.map((w) => (
        <tr key={w.worker_id} data-worker={w.worker_id}>
          <th scope="row"><code>{w.worker_id}</code></th>
          <td>{new Date(w.last_seen_at).toLocaleTimeString()}</td>
          <td>
            {w.running.length === 0 ? "idle" : (
              <ul className="plain">
                {w.running.map((j) => (
                  <li key={j.job_id}>
                    Job {j.job_id} <code>{j.job_type}</code> on {j.queue} for {j.tenant_id}, since{" "}
                    {new Date(j.started_at).toLocaleTimeString()}
                  </li>
                ))}
              </ul>
            )}
          </td>
        </tr>
      ))}
    </TableSection>
  );
}

function Tenants({ doc }: { doc: OverviewDoc }) {
  return (
    <TableSection id="tenants" title="Tenants running jobs" empty={doc.tenants.length === 0} emptyText="No tenant runs a job now."
      testid="tenants" caption="Running jobs per tenant against its limit" columns={["Tenant", "Running / limit", "Weight"]}>
      {doc.tenants.map((t) => (
        <tr key={t.tenant_id} data-tenant={t.tenant_id}>
          <th scope="row">{t.tenant_id}</th>
          <td>
            {t.running} / {t.max_running ?? "no limit"}{" "}
            {t.max_running !== null && (
              <meter min={0} max={t.max_running} value={t.running}
                aria-label={`${t.tenant_id}: ${t.running} of ${t.max_running} running`} />
            )}
          </td>
          <td>{t.weight}</td>
        </tr>
      ))}
    </TableSection>
  );
}
