// The markup the views share: a titled section, a data table, a list's load states, a detail
// view's placeholder, a confirmation, an action's result, the filter form's buttons and keyset
// paging. Each renders exactly what the views wrote inline before (the e2e tests and the
// screenshots in docs/img depend on these roles, labels and test ids).
import { Fragment, type ReactNode } from "react";
import { Link } from "react-router-dom";
import type { ActionMsg } from "./useDetail";

// A section titled by its h2 (`${id}-title`).
export function Section({ id, title, children }: { id: string; title: ReactNode; children: ReactNode }) {
  return (
    <section aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>{title}</h2>
      {children}
    </section>
  );
}

// A scrollable data table with a caption for screen readers; a string column is a scoped header,
// anything else (a header with a checkbox, false for a hidden column) is rendered as given.
export function DataTable({ testid, caption, columns, className, busy, children }: {
  testid: string;
  caption: ReactNode;
  columns: ReactNode[];
  className?: string;
  busy?: boolean;
  children: ReactNode;
}) {
  return (
    <div className="table-wrap">
      <table className={className} data-testid={testid} aria-busy={busy}>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((c, i) => (typeof c === "string" ? <th scope="col" key={i}>{c}</th> : <Fragment key={i}>{c}</Fragment>))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

// A titled section holding one data table, or the empty text when the table would have no row.
export function TableSection({ id, title, empty, emptyText, ...table }: {
  id: string;
  title: ReactNode;
  empty: boolean;
  emptyText: ReactNode;
} & Parameters<typeof DataTable>[0]) {
  return <Section id={id} title={title}>{empty ? <p>{emptyText}</p> : <DataTable {...table} />}</Section>;
}

// What a polled list shows before its table: the load error, "Loading…" until the first answer,
// and the empty text once it answered with nothing.
export function ListStatus({ what, error, loaded, empty, emptyText }: {
  what: string;
  error: string | null;
  loaded: boolean;
  empty: boolean;
  emptyText: ReactNode;
}) {
  return (
    <>
      {error && <p className="error" role="alert">Could not load the {what}: {error}</p>}
      {!loaded && !error && <p aria-busy="true">Loading…</p>}
      {loaded && empty && <p>{emptyText}</p>}
    </>
  );
}

// A detail view (noun "job" or "workflow") before its document: not found (with a link back to
// the list), the load error, or Loading.
export function DetailPlaceholder({ noun, id, titleId, notFound, error }: {
  noun: "job" | "workflow";
  id: string;
  titleId: string;
  notFound: boolean;
  error: string | null;
}) {
  const Noun = noun === "job" ? "Job" : "Workflow";
  if (notFound) {
    return (
      <section aria-labelledby={titleId}>
        <h1 id={titleId}>{Noun} not found</h1>
        <p role="alert">There is no {noun} {id} that this key may see. <Link to={`/${noun}s`}>Back to the {noun}s</Link>.</p>
      </section>
    );
  }
  return (
    <section aria-busy="true">
      <h1>{Noun} {id}</h1>
      {error ? <p className="error" role="alert">Could not load the {noun}: {error}</p> : <p>Loading…</p>}
    </section>
  );
}

// A confirmation before a destructive or bulk action: the question (children), the confirm
// button (focused) and Back.
export function ConfirmDialog({ textId, busy, confirmLabel, onConfirm, onBack, children }: {
  textId: string;
  busy: boolean;
  confirmLabel: ReactNode;
  onConfirm: () => void;
  onBack: () => void;
  children: ReactNode;
}) {
  return (
    <div className="confirm" role="alertdialog" aria-labelledby={textId} data-testid="confirm">
      <p id={textId}>{children}</p>
      <button type="button" autoFocus onClick={onConfirm} disabled={busy}>{confirmLabel}</button>
      <button type="button" className="secondary" onClick={onBack}>Back</button>
    </div>
  );
}

// An action's result in a polite live region: a status, or an alert for a refusal.
export function ActionResult({ msg }: { msg: ActionMsg | null }) {
  return (
    <div aria-live="polite">
      {msg && <p className={msg.ok ? "notice" : "error"} role={msg.ok ? "status" : "alert"} data-testid="action-result">{msg.text}</p>}
    </div>
  );
}

// A filter form's buttons: submit applies the draft, Clear drops every filter.
export function FilterButtons({ onClear }: { onClear: () => void }) {
  return (
    <div className="actions">
      <button type="submit">Apply filters</button>
      <button type="button" className="secondary" onClick={onClear}>Clear</button>
    </div>
  );
}

// Keyset paging of a list whose cursor lives in the URL: First page (when not on it), Next page
// (when the API gave a next cursor).
export function KeysetPager({ after, next, go }: {
  after: string | null;
  next: string | number | null;
  go: (after: string | null) => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      {after && <button type="button" className="secondary" onClick={() => go(null)}>First page</button>}
      {next !== null && <button type="button" onClick={() => go(String(next))}>Next page</button>}
    </nav>
  );
}
