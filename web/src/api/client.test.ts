import { describe, expect, it, vi } from 'vitest';
import { ApiClient, buildQuery, type TokenSource } from './client';
import { ApiError, describeError } from './errors';

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const type = status >= 400 ? 'application/problem+json' : 'application/json';
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': type, ...headers },
  });
}

function tokens(initial: string, renewed: string | null): TokenSource & { refreshed: number } {
  const t = {
    refreshed: 0,
    accessToken: async () => initial,
    onUnauthorized: async () => {
      t.refreshed += 1;
      return renewed;
    },
  };
  return t;
}

describe('ApiClient', () => {
  it('sends JSON with the bearer token and parses the answer', async () => {
    const fetch = vi.fn(async () => json(201, { id: 'a1' }));
    const api = new ApiClient({ fetch });
    api.setTokenSource(tokens('T1', null));
    const out = await api.post<{ id: string }>('/api/agents', { name: 'x' });
    expect(out).toEqual({ id: 'a1' });
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit];
    expect(url).toBe('/api/agents');
    const headers = init.headers as Record<string, string>;
    expect(headers.Authorization).toBe('Bearer T1');
    expect(headers['Content-Type']).toBe('application/json');
    expect(init.body).toBe('{"name":"x"}');
  });

  it('returns undefined for 204', async () => {
    const api = new ApiClient({ fetch: async () => new Response(null, { status: 204 }) });
    await expect(api.delete('/api/agents/a1')).resolves.toBeUndefined();
  });

  it('does not send a token on auth routes', async () => {
    const fetch = vi.fn(async () => json(200, {}));
    const api = new ApiClient({ fetch });
    api.setTokenSource(tokens('T1', null));
    await api.post('/api/auth/login', { email: 'a@b.c', password: 'p' }, { auth: false });
    const init = (fetch.mock.calls[0] as unknown as [string, RequestInit])[1];
    expect((init.headers as Record<string, string>).Authorization).toBeUndefined();
  });

  it('turns problem+json into an ApiError with field errors', async () => {
    const api = new ApiClient({
      fetch: async () =>
        json(400, {
          status: 400,
          code: 'invalid_request',
          title: 'Invalid request',
          detail: 'password is too short',
          request_id: 'r1',
          errors: [{ field: 'password', message: 'must be 10 to 128 characters' }],
        }),
    });
    const err = (await api.post('/api/auth/signup', {}, { auth: false }).catch((e) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('invalid_request');
    expect(err.requestId).toBe('r1');
    expect(err.fieldError('password')).toBe('must be 10 to 128 characters');
    expect(err.fieldError('email')).toBeUndefined();
  });

  it('gives an error about a part of a field to that field, naming the part', () => {
    const err = new ApiError(400, {
      code: 'invalid_request',
      errors: [
        { field: 'config.base_url', message: 'must be an http(s) URL' },
        { field: 'permissions[2]', message: 'is unknown' },
      ],
    });
    expect(err.fieldError('config')).toBe('base_url must be an http(s) URL');
    expect(err.fieldError('permissions')).toBe('[2] is unknown');
    expect(err.fieldError('conf')).toBeUndefined();
  });

  it('refreshes once after a 401 and retries with the new token', async () => {
    const seen: string[] = [];
    const api = new ApiClient({
      fetch: async (_url, init) => {
        const auth = (init?.headers as Record<string, string>).Authorization;
        seen.push(auth);
        return auth === 'Bearer T2' ? json(200, { ok: true }) : json(401, { code: 'unauthenticated' });
      },
    });
    const t = tokens('T1', 'T2');
    api.setTokenSource(t);
    await expect(api.get('/api/me')).resolves.toEqual({ ok: true });
    expect(seen).toEqual(['Bearer T1', 'Bearer T2']);
    expect(t.refreshed).toBe(1);
  });

  it('gives up with 401 when the session cannot be renewed', async () => {
    const fetch = vi.fn(async () => json(401, { code: 'unauthenticated', detail: 'revoked' }));
    const api = new ApiClient({ fetch });
    api.setTokenSource(tokens('T1', null));
    const err = (await api.get('/api/me').catch((e) => e)) as ApiError;
    expect(err.status).toBe(401);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('reports an unreachable server as a network error', async () => {
    const api = new ApiClient({
      fetch: async () => {
        throw new TypeError('Failed to fetch');
      },
    });
    const err = (await api.get('/api/orgs', { auth: false }).catch((e) => e)) as ApiError;
    expect(err.code).toBe('network_error');
    expect(describeError(err)).toMatch(/could not be reached/);
  });

  it('keeps a status-only error readable when the body is not JSON', async () => {
    const api = new ApiClient({ fetch: async () => new Response('<html>bad gateway</html>', { status: 502 }) });
    const err = (await api.get('/api/orgs', { auth: false }).catch((e) => e)) as ApiError;
    expect(err.status).toBe(502);
    expect(describeError(err)).toMatch(/server had a problem \(502\)/);
  });

  it('reads Retry-After on 429', async () => {
    const api = new ApiClient({
      fetch: async () => json(429, { code: 'rate_limited', title: 'Too many requests' }, { 'Retry-After': '7' }),
    });
    const err = (await api.post('/api/auth/login', {}, { auth: false }).catch((e) => e)) as ApiError;
    expect(describeError(err)).toBe('Too many attempts. Try again in 7 s.');
  });
});

describe('buildQuery', () => {
  it('skips empty values and encodes the rest', () => {
    expect(buildQuery({ status: 'queued', agent_id: '', cursor: undefined, limit: 20 })).toBe('?status=queued&limit=20');
    expect(buildQuery({ action: 'a b&c' })).toBe('?action=a+b%26c');
    expect(buildQuery({})).toBe('');
  });
});
