// A workflow's nodes by state, as the Jobs view's badges with a count, in the states' order.
import { JOB_STATES } from "../api";
import type { StateCounts as Counts } from "../workflowsApi";
import { StateBadge } from "./jobBits";

export function StateCounts({ counts, label }: { counts: Counts; label: string }) {
  const states = [...JOB_STATES, "REMOVED" as const].filter((s) => (counts[s] ?? 0) > 0);
  if (states.length === 0) return <span className="muted">no nodes</span>;
  return (
    <ul className="wf-counts" aria-label={label}>
      {states.map((s) => (
        <li key={s} data-count-state={s}><StateBadge state={s} /> <span className="wf-count">{counts[s]}</span></li>
      ))}
    </ul>
  );
}
