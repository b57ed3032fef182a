import { useState, type FormEvent } from "react";
import { ApiError } from "../api";
import { useAuth } from "../auth";

// Sign-in: the user pastes an API key (taskflow.create_api_key); it is checked with
// GET /dashboard/api/session and kept in sessionStorage for this tab only.
export function SignIn() {
  const { signIn } = useAuth();
  const [key, setKey] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(key.trim());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) setError("This API key is not valid (or was revoked).");
      else if (err instanceof ApiError) setError(`${err.title}: ${err.detail}`);
      else setError(String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="centered">
      <form className="signin" onSubmit={submit} aria-describedby="signin-help">
        <h1>TaskFlow</h1>
        <p id="signin-help">
          Sign in with an API key. An admin key sees every tenant; a tenant's key sees only its tenant.
          Create one with <code>SELECT taskflow.create_api_key('acme')</code>.
        </p>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          placeholder="tfk_…"
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-errormessage={error ? "signin-error" : undefined}
        />
        <button type="submit" disabled={busy || key.trim() === ""}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && (
          <p id="signin-error" className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
