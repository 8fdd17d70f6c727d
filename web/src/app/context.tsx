// The app's shared state: the API client, the session, the realtime connection, and who is
// signed in (GET /api/me). Pages read it through useApp().
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { ApiClient } from '../api/client';
import type { Me, TokenBundle } from '../api/types';
import { RealtimeClient, socketUrl } from '../realtime/realtime';
import { grants } from '../session/permissions';
import { Session, type EndReason } from '../session/session';

export type AuthStatus = 'loading' | 'signed-out' | 'signed-in' | 'unavailable';

export interface AppState {
  api: ApiClient;
  session: Session;
  realtime: RealtimeClient;
  status: AuthStatus;
  me: Me | null;
  /** Why the user was returned to the login page (shown there once). */
  notice: string | null;
  clearNotice(): void;
  /** After `unavailable` (the server could not be reached while resuming): try again. */
  retry(): void;
  can(permission: string): boolean;
  signIn(bundle: TokenBundle): Promise<void>;
  signOut(): Promise<void>;
  switchOrganization(organizationId: string): Promise<void>;
  reloadMe(): Promise<void>;
}

const AppContext = createContext<AppState | null>(null);

export function useApp(): AppState {
  const ctx = useContext(AppContext);
  if (!ctx) throw new Error('useApp outside AppProvider');
  return ctx;
}

const END_NOTICES: Record<EndReason, string> = {
  signed_out: 'You have signed out.',
  expired: 'Your session has ended or was revoked. Please sign in again.',
  other_tab: 'You signed out in another tab.',
};

function makeClients() {
  const api = new ApiClient();
  const session = new Session({
    refresh: (refresh_token) => api.post<TokenBundle>('/api/auth/refresh', { refresh_token }, { auth: false }),
    logout: (refresh_token) => api.post<void>('/api/auth/logout', { refresh_token }, { auth: false }),
    storage: typeof sessionStorage !== 'undefined' ? sessionStorage : null,
    channel: typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel('atrium.session') : null,
    locks: typeof navigator !== 'undefined' && navigator.locks ? navigator.locks : null,
  });
  api.setTokenSource(session);
  const realtime = new RealtimeClient({ url: socketUrl(window.location), tokens: session });
  return { api, session, realtime };
}

export function AppProvider({ children, clients }: { children: ReactNode; clients?: ReturnType<typeof makeClients> }) {
  const [{ api, session, realtime }] = useState(() => clients ?? makeClients());
  const [status, setStatus] = useState<AuthStatus>('loading');
  const [me, setMe] = useState<Me | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const orgRef = useRef<string | null>(null);
  const [attempt, setAttempt] = useState(0);

  const reloadMe = useCallback(async () => {
    const next = await api.get<Me>('/api/me');
    if (!session.signedIn) return;
    const org = next.organization?.id ?? null;
    if (orgRef.current !== org) realtime.reset();
    orgRef.current = org;
    setMe(next);
    setStatus('signed-in');
  }, [api, session, realtime]);

  useEffect(() => {
    const off = session.subscribe((e) => {
      if (e.type === 'ended') {
        realtime.reset();
        orgRef.current = null;
        setMe(null);
        setStatus('signed-out');
        setNotice(END_NOTICES[e.reason]);
      } else if (e.source !== 'begin') {
        // A refresh or another tab's switch may carry new permissions or another organization.
        // (After `begin`, signIn and switchOrganization load /api/me themselves.)
        void reloadMe().catch(() => {});
      }
    });
    let cancelled = false;
    session
      .restore()
      .then(async (outcome) => {
        if (cancelled) return;
        if (outcome === 'restored') await reloadMe();
        else setStatus(outcome === 'none' ? 'signed-out' : 'unavailable');
      })
      .catch(() => {
        // /api/me failed for a reason other than the session (which would have ended it).
        if (!cancelled) setStatus(session.signedIn ? 'unavailable' : 'signed-out');
      });
    return () => {
      cancelled = true;
      off();
    };
  }, [session, realtime, reloadMe, attempt]);

  const value = useMemo<AppState>(
    () => ({
      api,
      session,
      realtime,
      status,
      me,
      notice,
      clearNotice: () => setNotice(null),
      retry: () => {
        setStatus('loading');
        setAttempt((a) => a + 1);
      },
      can: (permission) => grants(me?.permissions ?? [], permission),
      signIn: async (bundle) => {
        setNotice(null);
        session.begin(bundle);
        await reloadMe();
      },
      signOut: async () => {
        await session.logout();
      },
      switchOrganization: async (organization_id) => {
        const bundle = await api.post<TokenBundle>('/api/auth/switch', { organization_id });
        session.begin(bundle);
        await reloadMe();
      },
      reloadMe,
    }),
    [api, session, realtime, status, me, notice, reloadMe],
  );

  return <AppContext.Provider value={value}>{children}</AppContext.Provider>;
}
