import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api";
import { useAuth } from "../auth";

// Loads fetch(key) now and every intervalMs (no reload); reload() asks again at once (after an
// action). A 401 signs out; other errors are kept in `error` (the last good data stays shown).
export function usePolling<T>(fetch: (key: string) => Promise<T>, intervalMs: number, deps: unknown[] = []) {
  const { key, signOut } = useAuth();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function poll() {
      window.clearTimeout(timer);
      try {
        const d = await fetch(key!);
        if (stopped) return;
        setData(d);
        setError(null);
      } catch (e) {
        if (stopped) return;
        if (e instanceof ApiError && e.status === 401) {
          signOut();
          return;
        }
        setError(e instanceof ApiError ? e : new ApiError(0, "Error", String(e)));
      }
      if (!stopped) timer = window.setTimeout(poll, intervalMs);
    }
    void poll();
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, signOut, intervalMs, generation, ...deps]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, reload };
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail ? e.detail : e.title;
  return String(e);
}
