// Small pieces shared by the Jobs, Job detail and Dead letters views.
import { Link } from "react-router-dom";
import { ApiError } from "../api";
import type { JobSummaryRow } from "../jobsApi";

export function when(t: string | null | undefined): string {
  return t ? new Date(t).toLocaleString() : "–";
}
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(v < 10000 ? 2 : 1)} s`;
}
export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail ? `${e.title}: ${e.detail}` : e.title;
  return String(e);
}
export function StateBadge({ state }: { state: string }) {
  return <span className={`state state-${state.toLowerCase()}`} data-state={state}>{state}</span>;
}
export function JobLink({ id, children }: { id: number; children?: React.ReactNode }) {
  return <Link to={`/jobs/${id}`}>{children ?? `Job ${id}`}</Link>;
}
// A list of job summaries (children, correlation chain) as links.
export function JobList({ jobs, current, label }: { jobs: JobSummaryRow[]; current?: number; label: string }) {
  if (jobs.length === 0) return <p>None.</p>;
  return (
    <ul className="plain" aria-label={label}>
      {jobs.map((j) => (
        <li key={j.id}>
          {j.id === current ? <strong>Job {j.id} (this job)</strong> : <JobLink id={j.id} />}{" "}
          <code>{j.job_type}</code> <StateBadge state={j.state} /> created {when(j.created_at)}
        </li>
      ))}
    </ul>
  );
}
