// The signed-in session: the access token lives in memory only; the refresh token is kept in
// sessionStorage so a reload of the tab stays signed in (docs/CONSOLE.md explains the choice).
// The access token is refreshed shortly before it expires, on demand when it has (a laptop that
// slept), and once when the server answers 401. A refresh the server refuses ends the session
// and tells the app why, so it can return the user to the login page with a message.
//
// Tabs opened from this one inherit a copy of sessionStorage, hence the same single-use refresh
// token. So that two tabs never spend the same token (which would revoke the whole family), tabs
// refresh under a Web Lock and hand each new bundle to the tabs of the same session over a
// BroadcastChannel.
import type { TokenSource } from '../api/client';
import { ApiError } from '../api/errors';
import type { Organization, TokenBundle, User } from '../api/types';
import { readClaims } from './jwt';

export type EndReason = 'signed_out' | 'expired' | 'other_tab';

/** `changed`: new tokens were adopted — from `begin` (this tab signed in or switched), a refresh,
 * or another tab of the same session. */
export type SessionEvent =
  | { type: 'changed'; source: 'begin' | 'refresh' | 'other_tab' }
  | { type: 'ended'; reason: EndReason };

export interface SessionInfo {
  user: User;
  organization: Organization | null;
  permissions: string[];
}

interface ChannelLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (e: MessageEvent) => void): void;
}

interface LocksLike {
  request<T>(name: string, callback: () => Promise<T>): Promise<T>;
}

export interface SessionDeps {
  refresh: (refreshToken: string) => Promise<TokenBundle>;
  logout: (refreshToken: string) => Promise<void>;
  storage?: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | null;
  now?: () => number;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
  channel?: ChannelLike | null;
  locks?: LocksLike | null;
}

export const STORAGE_KEY = 'atrium.session';
/** A token this close to its expiry is refreshed before use rather than sent. */
export const EXPIRY_SKEW_MS = 15_000;
/** After a refresh failed for a reason other than a refusal (network, 5xx), try again after this. */
export const RETRY_MS = 15_000;

/**
 * When to refresh a token valid for `expiresInSeconds`: a fifth of its life before expiry, at most
 * a minute before, and never sooner than a second from now.
 */
export function refreshDelayMs(expiresInSeconds: number): number {
  const life = Math.max(0, expiresInSeconds) * 1000;
  const lead = Math.min(60_000, life / 5);
  return Math.max(1_000, Math.round(life - lead));
}

export class Session implements TokenSource {
  private access: string | null = null;
  private expiresAt = 0;
  private refreshToken: string | null = null;
  private sid: string | null = null;
  private info_: SessionInfo | null = null;
  private inflight: Promise<string | null> | null = null;
  private timer: unknown = null;
  private readonly listeners = new Set<(e: SessionEvent) => void>();
  private readonly deps: Required<Omit<SessionDeps, 'storage' | 'channel' | 'locks'>> &
    Pick<SessionDeps, 'storage' | 'channel' | 'locks'>;

  constructor(deps: SessionDeps) {
    this.deps = {
      now: () => Date.now(),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
      ...deps,
    };
    this.deps.channel?.addEventListener('message', (e) => this.onBroadcast(e.data));
  }

  get info(): SessionInfo | null {
    return this.info_;
  }

  get signedIn(): boolean {
    return this.access !== null;
  }

  subscribe(listener: (e: SessionEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Adopts a bundle from sign-up, login, switch or an accepted invitation. */
  begin(bundle: TokenBundle): void {
    this.adopt(bundle, 'begin');
  }

  /**
   * Resumes the tab's session after a reload: `restored`, `none` (nothing stored, or the server
   * refused it), or `unreachable` (kept; the refresh could not reach the server — try again).
   */
  async restore(): Promise<'restored' | 'none' | 'unreachable'> {
    if (this.access) return 'restored';
    if (!this.refreshToken) {
      const saved = this.readStorage();
      if (!saved) return 'none';
      this.refreshToken = saved.refresh_token;
      this.sid = saved.sid;
    }
    if ((await this.refresh()) !== null) return 'restored';
    return this.refreshToken ? 'unreachable' : 'none';
  }

  async accessToken(): Promise<string | null> {
    if (this.access && this.deps.now() < this.expiresAt - EXPIRY_SKEW_MS) return this.access;
    if (!this.refreshToken) return null;
    return this.refresh();
  }

  async onUnauthorized(rejected: string): Promise<string | null> {
    // Another request (or tab) may have renewed the token while this one was in flight.
    if (this.access && this.access !== rejected) return this.access;
    return this.refresh();
  }

  /** Renews the access token; concurrent callers share one request. */
  refresh(): Promise<string | null> {
    if (!this.inflight) {
      this.inflight = this.withLock(() => this.doRefresh()).finally(() => {
        this.inflight = null;
      });
    }
    return this.inflight;
  }

  /** Signs out: revokes the refresh family on the server, then forgets everything locally. */
  async logout(): Promise<void> {
    const token = this.refreshToken;
    const sid = this.sid;
    if (token) {
      try {
        await this.deps.logout(token);
      } catch {
        // Signing out locally must work even when the server cannot be reached.
      }
    }
    this.deps.channel?.postMessage({ type: 'ended', sid });
    this.end('signed_out');
  }

  /** Forgets the session and tells listeners why (e.g. the server revoked it). */
  end(reason: EndReason): void {
    const had = this.access !== null || this.refreshToken !== null;
    this.access = null;
    this.expiresAt = 0;
    this.refreshToken = null;
    this.sid = null;
    this.info_ = null;
    this.cancelTimer();
    this.deps.storage?.removeItem(STORAGE_KEY);
    if (had) this.emit({ type: 'ended', reason });
  }

  private async doRefresh(): Promise<string | null> {
    const spent = this.refreshToken;
    if (!spent) return null;
    let bundle: TokenBundle;
    try {
      bundle = await this.deps.refresh(spent);
    } catch (err) {
      if (this.refreshToken !== spent) return this.access; // another tab rotated it meanwhile
      if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
        this.end('expired');
        return null;
      }
      this.schedule(RETRY_MS);
      return this.access;
    }
    this.adopt(bundle, 'refresh');
    return this.access;
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const locks = this.deps.locks;
    if (!locks) return fn();
    const before = this.refreshToken;
    return locks.request(`atrium.refresh.${this.sid ?? 'none'}`, async () => {
      // Waiting for the lock, this tab may have received the bundle another tab just fetched.
      if (this.refreshToken !== before && this.access && this.deps.now() < this.expiresAt - EXPIRY_SKEW_MS) {
        return this.access as T;
      }
      return fn();
    });
  }

  private adopt(bundle: TokenBundle, source: 'begin' | 'refresh' | 'other_tab'): void {
    this.access = bundle.access_token;
    this.expiresAt = this.deps.now() + bundle.expires_in * 1000;
    this.refreshToken = bundle.refresh_token;
    this.sid = readClaims(bundle.access_token).sid ?? this.sid;
    this.info_ = { user: bundle.user, organization: bundle.organization, permissions: bundle.permissions };
    this.deps.storage?.setItem(STORAGE_KEY, JSON.stringify({ refresh_token: this.refreshToken, sid: this.sid }));
    this.schedule(refreshDelayMs(bundle.expires_in));
    if (source !== 'other_tab' && this.sid) this.deps.channel?.postMessage({ type: 'rotated', sid: this.sid, bundle });
    this.emit({ type: 'changed', source });
  }

  private onBroadcast(message: unknown): void {
    if (!message || typeof message !== 'object') return;
    const m = message as { type?: string; sid?: string; bundle?: TokenBundle };
    if (!m.sid || m.sid !== this.sid) return;
    if (m.type === 'rotated' && m.bundle) this.adopt(m.bundle, 'other_tab');
    if (m.type === 'ended') this.end('other_tab');
  }

  private schedule(ms: number): void {
    this.cancelTimer();
    this.timer = this.deps.setTimer(() => {
      this.timer = null;
      void this.refresh();
    }, ms);
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.deps.clearTimer(this.timer);
    this.timer = null;
  }

  private readStorage(): { refresh_token: string; sid: string | null } | null {
    try {
      const raw = this.deps.storage?.getItem(STORAGE_KEY);
      if (!raw) return null;
      const v = JSON.parse(raw);
      return typeof v?.refresh_token === 'string' ? { refresh_token: v.refresh_token, sid: v.sid ?? null } : null;
    } catch {
      return null;
    }
  }

  private emit(e: SessionEvent): void {
    for (const l of [...this.listeners]) l(e);
  }
}
