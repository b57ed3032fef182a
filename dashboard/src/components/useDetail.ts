import { useCallback, useEffect, useState } from "react";
import { ApiError } from "../api";
import { useAuth } from "../auth";
import { errorText } from "./jobBits";

// One object of a detail view (#/jobs/:id, #/workflows/:id): fetch(key, id) now and again after
// nextPoll(doc) ms while that answers a number (null: the object is final, polling stops);
// reload() asks again at once (after an action). A 401 signs out; a 404 or 400 (no such object
// for this key, or a malformed id) is `notFound`; other errors are kept in `error` (the last
// document stays shown). A new id starts afresh.
export function useDetail<T>(fetch: (key: string, id: string) => Promise<T>, id: string,
  nextPoll: (doc: T) => number | null) {
  const { key, signOut } = useAuth();
  const [doc, setDoc] = useState<T | null>(null);
  const [notFound, setNotFound] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);

  const load = useCallback(async () => {
    try {
      const d = await fetch(key!, id);
      setDoc(d);
      setNotFound(false);
      setError(null);
      return d;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signOut();
      else if (e instanceof ApiError && (e.status === 404 || e.status === 400)) { setNotFound(true); setDoc(null); }
      else setError(errorText(e));
      return null;
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, id, signOut]);

  useEffect(() => {
    setDoc(null);
    setNotFound(false);
  }, [id]);

  useEffect(() => {
    let stopped = false;
    let timer: number | undefined;
    async function poll() {
      const d = await load();
      if (stopped || !d) return;
      const ms = nextPoll(d);
      if (ms !== null) timer = window.setTimeout(poll, ms);
    }
    void poll();
    return () => { stopped = true; window.clearTimeout(timer); };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [load, tick]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { doc, notFound, error, reload };
}

// The result of an action on the object shown (Retry, Cancel): ok (a status) or refused (an alert).
export interface ActionMsg { ok: boolean; text: string }

// An action button's life: run(verb, act) marks the view busy, clears the last message, then shows
// what act() answers, or "<verb> refused: <the problem detail>"; afterwards `done` runs (a reload).
export function useAction(done: () => void) {
  const [busy, setBusy] = useState(false);
  const [msg, setMsg] = useState<ActionMsg | null>(null);
  async function run(verb: string, act: () => Promise<string>) {
    setBusy(true);
    setMsg(null);
    try {
      setMsg({ ok: true, text: await act() });
    } catch (e) {
      setMsg({ ok: false, text: `${verb} refused: ${errorText(e)}` });
    } finally {
      setBusy(false);
      done();
    }
  }
  return { busy, msg, setMsg, run };
}
