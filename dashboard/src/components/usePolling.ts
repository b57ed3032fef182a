import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api";
import { useAuth } from "../auth";

export interface PollingOptions {
  // An error on the first fetch after a change of deps drops the data shown (it answered the
  // previous deps: the previous filter or page); later errors keep the last good data.
  dropOnFirstError?: boolean;
}

// Loads fetch(key) now and every intervalMs (no reload); reload() asks again at once (after an
// action). A 401 signs out; other errors are kept in `error` (the last good data stays shown).
// `loading`: the first fetch after a change of deps (or a reload) has not answered yet.
export function usePolling<T>(fetch: (key: string) => Promise<T>, intervalMs: number, deps: unknown[] = [],
  options: PollingOptions = {}) {
  const { key, signOut } = useAuth();
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(false);
  const [generation, setGeneration] = useState(0);
  const { dropOnFirstError = false } = options;

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function poll(first: boolean) {
      window.clearTimeout(timer);
      if (first) setLoading(true);
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
        if (first && dropOnFirstError) setData(null);
        setError(e instanceof ApiError ? e : new ApiError(0, "Error", String(e)));
      } finally {
        if (!stopped && first) setLoading(false);
      }
      if (!stopped) timer = window.setTimeout(() => void poll(false), intervalMs);
    }
    void poll(true);
    return () => {
      stopped = true;
      window.clearTimeout(timer);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, signOut, intervalMs, generation, dropOnFirstError, ...deps]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, reload };
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail ? e.detail : e.title;
  return String(e);
}
