import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";
import { api, storeKey, storedKey, type Session } from "./api";

interface Auth {
  key: string | null;
  session: Session | null;
  signIn: (key: string) => Promise<void>;
  signOut: () => void;
  restore: () => Promise<void>;
}

const AuthContext = createContext<Auth | null>(null);

// The API key lives in sessionStorage (gone when the tab closes) and in memory; the session
// (role, tenant) is asked from the server whenever a key is set.
export function AuthProvider({ children }: { children: ReactNode }) {
  const [key, setKey] = useState<string | null>(storedKey());
  const [session, setSession] = useState<Session | null>(null);

  const signIn = useCallback(async (candidate: string) => {
    const s = await api.session(candidate);   // throws ApiError 401 for a bad key
    storeKey(candidate);
    setKey(candidate);
    setSession(s);
  }, []);

  const signOut = useCallback(() => {
    storeKey(null);
    setKey(null);
    setSession(null);
  }, []);

  const restore = useCallback(async () => {
    const k = storedKey();
    if (!k) return;
    try {
      setSession(await api.session(k));
    } catch {
      storeKey(null);
      setKey(null);
      setSession(null);
    }
  }, []);

  const value = useMemo(() => ({ key, session, signIn, signOut, restore }), [key, session, signIn, signOut, restore]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const a = useContext(AuthContext);
  if (!a) throw new Error("useAuth outside AuthProvider");
  return a;
}
