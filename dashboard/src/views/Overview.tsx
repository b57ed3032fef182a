import { useEffect, useMemo, useState } from "react";
import {
  Bar, BarChart, CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis,
} from "recharts";
import { ApiError, JOB_STATES, api, type Overview as OverviewDoc, type OverviewRange, type SeriesPoint } from "../api";
import { useAuth } from "../auth";

const POLL_MS = 2000;

// The Overview: GET /dashboard/api/overview every 2 s (no reload), per queue jobs by state,
// throughput, failure rate, wait and run latency over the last hour or day, the workers and
// what they run now, the tenants against their limits.
export function Overview() {
  const { key, signOut } = useAuth();
  const [range, setRange] = useState<OverviewRange>("1h");
  const [doc, setDoc] = useState<OverviewDoc | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [queue, setQueue] = useState<string>("");

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function poll() {
      try {
        const d = await api.overview(key!, range);
        if (stopped) return;
        setDoc(d);
        setError(null);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 401) {
          signOut();
          return;
        }
        setError(e instanceof ApiError ? `${e.title}: ${e.detail}` : String(e));
      }
      if (!stopped) timer = window.setTimeout(poll, POLL_MS);
    }
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
  }, [key, range, signOut]);

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
      {error && <p className="error" role="alert">Could not refresh: {error}</p>}
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
    <section aria-labelledby="queues-title">
      <h2 id="queues-title">Queues</h2>
      {doc.queues.length === 0 ? (
        <p>No queues with jobs yet.</p>
      ) : (
        <div className="table-wrap">
          <table className="numbers" data-testid="queues">
            <caption className="visually-hidden">Jobs per queue and state</caption>
            <thead>
              <tr>
                <th scope="col">Queue</th>
                <th scope="col">Status</th>
                <th scope="col">Limit</th>
                {JOB_STATES.map((s) => <th scope="col" key={s}>{s}</th>)}
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </section>
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
  const max = (f: (r: Row) => number | null) =>
    rows.reduce<number | null>((m, r) => (f(r) === null ? m : Math.max(m ?? 0, f(r)!)), null);
  const ms = (v: number | null) => (v === null ? "no data" : `${v} ms`);
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
      <ChartFigure
        id="wait-latency"
        title="Wait time (due to start), ms"
        summary={`Highest p50 ${ms(max((r) => r.wait_p50_ms))}, highest p95 ${ms(max((r) => r.wait_p95_ms))}.`}
        rows={rows}
        columns={[["wait_p50_ms", "p50 (ms)"], ["wait_p95_ms", "p95 (ms)"]]}
      >
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" minTickGap={24} />
          <YAxis width={56} />
          <Tooltip />
          <Legend />
          <Line dataKey="wait_p50_ms" name="p50" stroke="#1f5fa8" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
          <Line dataKey="wait_p95_ms" name="p95" stroke="#8a4fb3" dot={{ r: 2 }} connectNulls isAnimationActive={false} strokeDasharray="5 3" />
        </LineChart>
      </ChartFigure>
      <ChartFigure
        id="run-latency"
        title="Run time (start to finish), ms"
        summary={`Highest p50 ${ms(max((r) => r.run_p50_ms))}, highest p95 ${ms(max((r) => r.run_p95_ms))}.`}
        rows={rows}
        columns={[["run_p50_ms", "p50 (ms)"], ["run_p95_ms", "p95 (ms)"]]}
      >
        <LineChart data={rows}>
          <CartesianGrid strokeDasharray="3 3" />
          <XAxis dataKey="label" minTickGap={24} />
          <YAxis width={56} />
          <Tooltip />
          <Legend />
          <Line dataKey="run_p50_ms" name="p50" stroke="#1f5fa8" dot={{ r: 2 }} connectNulls isAnimationActive={false} />
          <Line dataKey="run_p95_ms" name="p95" stroke="#8a4fb3" dot={{ r: 2 }} connectNulls isAnimationActive={false} strokeDasharray="5 3" />
        </LineChart>
      </ChartFigure>
    </div>
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
    <section aria-labelledby="workers-title">
      <h2 id="workers-title">Workers</h2>
      {doc.workers.length === 0 ? (
        <p>No worker holds a lease or finished a job in the last 15 minutes.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="workers">
            <caption className="visually-hidden">Workers and the jobs they run now</caption>
            <thead>
              <tr>
                <th scope="col">Worker</th>
                <th scope="col">Last seen</th>
                <th scope="col">Running now</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Tenants({ doc }: { doc: OverviewDoc }) {
  return (
    <section aria-labelledby="tenants-title">
      <h2 id="tenants-title">Tenants running jobs</h2>
      {doc.tenants.length === 0 ? (
        <p>No tenant runs a job now.</p>
      ) : (
        <div className="table-wrap">
          <table data-testid="tenants">
            <caption className="visually-hidden">Running jobs per tenant against its limit</caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Running / limit</th>
                <th scope="col">Weight</th>
              </tr>
            </thead>
            <tbody>
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
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
