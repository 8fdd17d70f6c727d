// Renders the console against a fake fetch (a route table), for component tests of logic the
// pages own: validation, field errors, permission-aware controls. Not a stand-in for the server:
// the browser e2e suite (e2e/) runs against a real `atrium serve`.
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { ApiClient } from '../api/client';
import type { Me, TokenBundle } from '../api/types';
import { AppProvider } from '../app/context';
import { AppRoutes } from '../App';
import { RealtimeClient } from '../realtime/realtime';
import { STORAGE_KEY, Session } from '../session/session';

export type Handler = (body: unknown, url: URL) => { status: number; body?: unknown };

export function fakeFetch(routes: Record<string, Handler>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://console.test');
    const method = init?.method ?? 'GET';
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path: url.pathname, body });
    const handler = routes[`${method} ${url.pathname}`];
    const out = handler ? handler(body, url) : { status: 404, body: { code: 'not_found', detail: 'no such route' } };
    return new Response(out.body === undefined ? null : JSON.stringify(out.body), {
      status: out.status,
      headers: { 'Content-Type': out.status >= 400 ? 'application/problem+json' : 'application/json' },
    });
  };
  return { fetch, calls };
}

export function bundleFor(permissions: string[]): TokenBundle {
  return {
    access_token: 'h.eyJzaWQiOiJzMSJ9.s',
    token_type: 'Bearer',
    expires_in: 3600,
    refresh_token: 'r-next',
    user: { id: 'u1', email: 'ada@example.com', name: 'Ada' },
    organization: { id: 'o1', name: 'Acme', slug: 'acme' },
    permissions,
  };
}

export function meFor(permissions: string[], roles = ['USER']): Me {
  const b = bundleFor(permissions);
  return {
    user: b.user,
    organization: b.organization,
    permissions,
    memberships: [{ organization: b.organization!, roles }],
  };
}

/** Renders the app at `path`; with `signedInAs` the tab resumes a session holding those permissions. */
export function renderApp(path: string, routes: Record<string, Handler>, signedInAs?: string[]) {
  const fake = fakeFetch({
    ...(signedInAs
      ? {
          'POST /api/auth/refresh': () => ({ status: 200, body: bundleFor(signedInAs) }),
          'GET /api/me': () => ({ status: 200, body: meFor(signedInAs) }),
        }
      : {}),
    ...routes,
  });
  const storage = new Map<string, string>();
  if (signedInAs) storage.set(STORAGE_KEY, JSON.stringify({ refresh_token: 'r-saved', sid: 's1' }));
  const api = new ApiClient({ fetch: fake.fetch });
  const session = new Session({
    refresh: (refresh_token) => api.post<TokenBundle>('/api/auth/refresh', { refresh_token }, { auth: false }),
    logout: (refresh_token) => api.post<void>('/api/auth/logout', { refresh_token }, { auth: false }),
    storage: {
      getItem: (k) => storage.get(k) ?? null,
      setItem: (k, v) => void storage.set(k, v),
      removeItem: (k) => void storage.delete(k),
    },
  });
  api.setTokenSource(session);
  const realtime = new RealtimeClient({
    url: 'ws://console.test/ws',
    tokens: session,
    socket: () => ({ readyState: 0, onopen: null, onmessage: null, onclose: null, onerror: null, send() {}, close() {} }),
  });
  const view = render(
    <AppProvider clients={{ api, session, realtime }}>
      <MemoryRouter initialEntries={[path]}>
        <AppRoutes />
      </MemoryRouter>
    </AppProvider>,
  );
  return { ...view, calls: fake.calls, session, storage };
}
