import { useEffect, useRef } from "react";
import { Navigate, NavLink, Route, Routes, useLocation } from "react-router-dom";
import { useAuth } from "./auth";
import { SignIn } from "./views/SignIn";
import { Overview } from "./views/Overview";
import { Jobs } from "./views/Jobs";
import { JobDetail } from "./views/JobDetail";
import { DeadLetters } from "./views/DeadLetters";
import { Queues } from "./views/Queues";
import { Rules } from "./views/Rules";
import { Tenants } from "./views/Tenants";
import { Workflows } from "./views/Workflows";
import { WorkflowDetail } from "./views/WorkflowDetail";

// The views of the navigation, in order. A new view (Jobs, Workflows, Dead letters, Queues,
// Rules, Tenants) is one file under views/ and one line here; adminOnly: not in a client key's nav.
const VIEWS = [
  { path: "/overview", label: "Overview", element: <Overview /> },
  { path: "/jobs", label: "Jobs", element: <Jobs /> },
  { path: "/workflows", label: "Workflows", element: <Workflows /> },
  { path: "/dead-letters", label: "Dead letters", element: <DeadLetters /> },
  { path: "/queues", label: "Queues", element: <Queues />, adminOnly: true },
  { path: "/rules", label: "Rules", element: <Rules /> },
  { path: "/tenants", label: "Tenants", element: <Tenants /> },
];

export function App() {
  const { key, session, restore } = useAuth();
  useEffect(() => {
    if (key && !session) void restore();
  }, [key, session, restore]);

  if (!key) return <SignIn />;
  if (!session) {
    return (
      <main className="centered" aria-busy="true">
        <p>Checking your API key…</p>
      </main>
    );
  }
  return (
    <Layout>
      <Routes>
        <Route path="/" element={<Navigate to="/overview" replace />} />
        {VIEWS.map((v) => (
          <Route key={v.path} path={v.path} element={v.element} />
        ))}
        <Route path="/jobs/:id" element={<JobDetail />} />
        <Route path="/workflows/:id" element={<WorkflowDetail />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </Layout>
  );
}

function Layout({ children }: { children: React.ReactNode }) {
  const { session, signOut } = useAuth();
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstRender = useRef(true);
  // After a navigation (not on the first load, where Tab should reach the skip link first),
  // move focus to the page so screen readers and keyboards start there.
  useEffect(() => {
    if (firstRender.current) {
      firstRender.current = false;
      return;
    }
    mainRef.current?.focus();
  }, [location.pathname]);
  return (
    <div className="layout">
      <a className="skip-link" href="#main" onClick={(e) => { e.preventDefault(); mainRef.current?.focus(); }}>
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">TaskFlow</span>
        <nav aria-label="Main">
          <ul>
            {VIEWS.filter((v) => !v.adminOnly || session?.role === "admin").map((v) => (
              <li key={v.path}>
                <NavLink to={v.path}>{v.label}</NavLink>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <span data-testid="who">
            {session?.role === "admin" ? "Admin (all tenants)" : `Tenant ${session?.tenant_id}`}
          </span>
          <button type="button" onClick={signOut}>Sign out</button>
        </div>
      </header>
      <main id="main" ref={mainRef} tabIndex={-1}>
        {children}
      </main>
      <footer className="footer">TaskFlow {session?.version}</footer>
    </div>
  );
}

function NotFound() {
  return (
    <section>
      <h1>Not found</h1>
      <p>This page does not exist. <NavLink to="/overview">Go to the overview</NavLink>.</p>
    </section>
  );
}
