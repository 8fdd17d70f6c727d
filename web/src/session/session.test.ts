import { describe, expect, it, vi } from 'vitest';
import { ApiError, networkError } from '../api/errors';
import type { TokenBundle } from '../api/types';
import { RETRY_MS, STORAGE_KEY, Session, refreshDelayMs, type SessionDeps, type SessionEvent } from './session';

function jwt(claims: object): string {
  const b64 = (o: object) => btoa(JSON.stringify(o)).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  return `${b64({ alg: 'HS256' })}.${b64(claims)}.sig`;
}

let serial = 0;
function bundle(sid = 's1', expiresIn = 3600): TokenBundle {
  serial += 1;
  return {
    access_token: jwt({ sid, n: serial }),
    token_type: 'Bearer',
    expires_in: expiresIn,
    refresh_token: `r${serial}`,
    user: { id: 'u1', email: 'a@example.com', name: 'Ada' },
    organization: { id: 'o1', name: 'Acme', slug: 'acme' },
    permissions: ['org:read'],
  };
}

/** Manual clock and timers, so scheduling is checked without waiting. */
class Clock {
  now = 1_000_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private next = 1;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { at: this.now + ms, fn });
    return id;
  };
  clearTimer = (id: unknown) => {
    this.timers.delete(id as number);
  };
  pending(): number[] {
    return [...this.timers.values()].map((t) => t.at - this.now);
  }
  advance(ms: number) {
    this.now += ms;
    for (const [id, t] of [...this.timers]) {
      if (t.at <= this.now) {
        this.timers.delete(id);
        t.fn();
      }
    }
  }
}

function memoryStorage() {
  const m = new Map<string, string>();
  return {
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
    map: m,
  };
}

function make(overrides: Partial<SessionDeps> = {}) {
  const clock = new Clock();
  const storage = memoryStorage();
  const refresh = overrides.refresh ?? vi.fn(async (_t: string) => bundle());
  const logout = overrides.logout ?? vi.fn(async (_t: string) => {});
  const session = new Session({
    storage,
    now: () => clock.now,
    setTimer: clock.setTimer,
    clearTimer: clock.clearTimer,
    ...overrides,
    refresh,
    logout,
  });
  const events: SessionEvent[] = [];
  session.subscribe((e) => events.push(e));
  return { clock, storage, refresh, logout, session, events };
}

const flush = () => new Promise((r) => setTimeout(r, 0));

describe('refreshDelayMs', () => {
  it('refreshes a minute before a one-hour token expires', () => {
    expect(refreshDelayMs(3600)).toBe(3_540_000);
  });
  it('keeps a fifth of a short life as margin', () => {
    expect(refreshDelayMs(60)).toBe(48_000);
  });
  it('never schedules sooner than a second', () => {
    expect(refreshDelayMs(0)).toBe(1_000);
    expect(refreshDelayMs(-5)).toBe(1_000);
  });
});

describe('Session', () => {
  it('keeps the access token in memory and only the refresh token in storage', async () => {
    const { session, storage } = make();
    const b = bundle();
    session.begin(b);
    expect(await session.accessToken()).toBe(b.access_token);
    const saved = JSON.parse(storage.map.get(STORAGE_KEY)!);
    expect(saved).toEqual({ refresh_token: b.refresh_token, sid: 's1' });
    expect(JSON.stringify([...storage.map.values()])).not.toContain(b.access_token);
  });

  it('schedules a refresh before expiry and adopts the new bundle', async () => {
    const { session, clock, refresh } = make();
    const first = bundle();
    session.begin(first);
    expect(clock.pending()).toEqual([3_540_000]);
    clock.advance(3_539_999);
    expect(refresh).not.toHaveBeenCalled();
    clock.advance(1);
    await flush();
    expect(refresh).toHaveBeenCalledWith(first.refresh_token);
    expect(await session.accessToken()).not.toBe(first.access_token);
    expect(clock.pending()).toEqual([3_540_000]);
  });

  it('refreshes on demand when the timer was late (a sleeping laptop)', async () => {
    const { session, clock, refresh } = make();
    session.begin(bundle());
    clock.now += 3_600_000; // timers did not run
    const token = await session.accessToken();
    expect(refresh).toHaveBeenCalledTimes(1);
    expect(token).toBeTruthy();
  });

  it('shares one refresh between concurrent callers', async () => {
    let release!: (b: TokenBundle) => void;
    const { session, refresh } = make({
      refresh: vi.fn(() => new Promise<TokenBundle>((r) => (release = r))),
    });
    const b = bundle();
    session.begin(b);
    const a = session.onUnauthorized(b.access_token);
    const c = session.onUnauthorized(b.access_token);
    const next = bundle();
    release(next);
    expect(await a).toBe(next.access_token);
    expect(await c).toBe(next.access_token);
    expect(refresh).toHaveBeenCalledTimes(1);
  });

  it('does not refresh again for a token that was already replaced', async () => {
    const { session, refresh } = make();
    const old = bundle();
    session.begin(old);
    const current = bundle();
    session.begin(current);
    expect(await session.onUnauthorized(old.access_token)).toBe(current.access_token);
    expect(refresh).not.toHaveBeenCalled();
  });

  it('ends the session when the server refuses the refresh token', async () => {
    const { session, storage, events } = make({
      refresh: vi.fn(async () => {
        throw new ApiError(401, { code: 'unauthenticated' });
      }),
    });
    const b = bundle();
    session.begin(b);
    expect(await session.onUnauthorized(b.access_token)).toBeNull();
    expect(session.signedIn).toBe(false);
    expect(storage.map.has(STORAGE_KEY)).toBe(false);
    expect(events.at(-1)).toEqual({ type: 'ended', reason: 'expired' });
  });

  it('keeps the session and retries later when the server is unreachable', async () => {
    let fail = true;
    const { session, clock, refresh } = make({
      refresh: vi.fn(async () => {
        if (fail) throw networkError();
        return bundle();
      }),
    });
    const b = bundle();
    session.begin(b);
    await session.onUnauthorized(b.access_token);
    expect(session.signedIn).toBe(true);
    expect(clock.pending()).toEqual([RETRY_MS]);
    fail = false;
    clock.advance(RETRY_MS);
    await flush();
    expect(refresh).toHaveBeenCalledTimes(2);
    expect(await session.accessToken()).not.toBe(b.access_token);
  });

  it('restores a tab from its stored refresh token', async () => {
    const { session, storage, refresh } = make();
    storage.setItem(STORAGE_KEY, JSON.stringify({ refresh_token: 'saved', sid: 's1' }));
    expect(await session.restore()).toBe('restored');
    expect(refresh).toHaveBeenCalledWith('saved');
    expect(session.info?.user.email).toBe('a@example.com');
  });

  it('restores nothing when storage is empty or unreadable', async () => {
    const { session, storage, refresh } = make();
    expect(await session.restore()).toBe('none');
    storage.setItem(STORAGE_KEY, '{not json');
    expect(await session.restore()).toBe('none');
    expect(refresh).not.toHaveBeenCalled();
  });

  it('keeps a stored session it could not renew for lack of a network, and ends a refused one', async () => {
    let answer: 'network' | 'refused' = 'network';
    const { session, storage } = make({
      refresh: vi.fn(async () => {
        throw answer === 'network' ? networkError() : new ApiError(401, { code: 'unauthenticated' });
      }),
    });
    storage.setItem(STORAGE_KEY, JSON.stringify({ refresh_token: 'saved', sid: 's1' }));
    expect(await session.restore()).toBe('unreachable');
    expect(storage.map.has(STORAGE_KEY)).toBe(true);
    answer = 'refused';
    expect(await session.restore()).toBe('none');
    expect(storage.map.has(STORAGE_KEY)).toBe(false);
  });

  it('logs out on the server and forgets the session even when that fails', async () => {
    const logout = vi.fn(async () => {
      throw networkError();
    });
    const { session, storage, events, clock } = make({ logout });
    const b = bundle();
    session.begin(b);
    await session.logout();
    expect(logout).toHaveBeenCalledWith(b.refresh_token);
    expect(session.signedIn).toBe(false);
    expect(storage.map.size).toBe(0);
    expect(clock.pending()).toEqual([]);
    expect(events.at(-1)).toEqual({ type: 'ended', reason: 'signed_out' });
  });

  it('hands rotated tokens to the other tabs of the same session', async () => {
    const listeners: ((e: MessageEvent) => void)[] = [];
    const channel = () => ({
      postMessage: (m: unknown) => listeners.forEach((l) => l({ data: structuredClone(m) } as MessageEvent)),
      addEventListener: (_: 'message', l: (e: MessageEvent) => void) => void listeners.push(l),
    });
    const tabA = make({ channel: channel() });
    const tabB = make({ channel: channel() });
    const other = make({ channel: channel() });
    const b = bundle('s1');
    tabA.session.begin(b);
    tabB.session.begin(b);
    other.session.begin(bundle('s2'));
    const rotated = await tabA.session.refresh();
    expect(await tabB.session.accessToken()).toBe(rotated);
    expect(await other.session.accessToken()).not.toBe(rotated);
    await tabA.session.logout();
    expect(tabB.session.signedIn).toBe(false);
    expect(tabB.events.at(-1)).toEqual({ type: 'ended', reason: 'other_tab' });
    expect(other.session.signedIn).toBe(true);
  });
});
