// The console's WebSocket to /ws (API.md "WebSocket"). One connection per tab, opened while
// something is subscribed. Browsers authenticate with the subprotocols `atrium.v1, bearer.<token>`.
// A dropped connection is reopened with exponential backoff and jitter, and every subscription
// is sent again; close code 4001 (token expired or session logged out) renews the token first.
import type { Progress, Task } from '../api/types';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting';

export interface TaskUpdate {
  task: Task;
  progress?: Progress;
}

export interface TaskStreamHandler {
  update(u: TaskUpdate): void;
  error?(code: string): void;
  /**
   * The connection came back after a drop: changes made meanwhile were not delivered. A task's
   * subscriber gets its current state again at once; an organization-wide one should reload.
   */
  resumed?(): void;
}

export interface RealtimeTokens {
  accessToken(): Promise<string | null>;
  onUnauthorized(rejected: string): Promise<string | null>;
}

interface SocketLike {
  readonly readyState: number;
  onopen: ((ev: Event) => void) | null;
  onmessage: ((ev: MessageEvent) => void) | null;
  onclose: ((ev: CloseEvent) => void) | null;
  onerror: ((ev: Event) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type SocketFactory = (url: string, protocols: string[]) => SocketLike;

export interface RealtimeOptions {
  url: string;
  tokens: RealtimeTokens;
  socket?: SocketFactory;
  setTimer?: (fn: () => void, ms: number) => unknown;
  clearTimer?: (id: unknown) => void;
  random?: () => number;
  pingMs?: number;
}

const OPEN = 1;
export const CLOSE_TOKEN_EXPIRED = 4001;
export const BACKOFF_BASE_MS = 500;
export const BACKOFF_MAX_MS = 30_000;
/**
 * A browser does not reveal why a WebSocket handshake failed (a 401 looks like a network error),
 * so after this many attempts in a row that never opened, the token is renewed before the next.
 */
export const RENEW_AFTER_FAILED_OPENS = 3;

/**
 * Delay before reconnect attempt `attempt` (0-based): doubling from 0.5 s up to 30 s, with "equal
 * jitter" (half fixed, half random) so that a restarted server is not hit by every tab at once.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export function socketUrl(location: Pick<Location, 'protocol' | 'host'>): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

export class RealtimeClient {
  private socket: SocketLike | null = null;
  private token: string | null = null;
  private attempt = 0;
  private failedOpens = 0;
  /** A connection has opened since the subscriptions began (so the next open is a resumption). */
  private hadOpen = false;
  private retryTimer: unknown = null;
  private pingTimer: unknown = null;
  private opening = false;
  private state_: ConnectionState = 'idle';
  private readonly perTask = new Map<string, Set<TaskStreamHandler>>();
  private readonly orgWide = new Set<TaskStreamHandler>();
  private readonly stateListeners = new Set<(s: ConnectionState) => void>();
  private readonly opts: Required<RealtimeOptions>;

  constructor(options: RealtimeOptions) {
    this.opts = {
      socket: (url, protocols) => new WebSocket(url, protocols),
      setTimer: (fn, ms) => setTimeout(fn, ms),
      clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
      random: Math.random,
      pingMs: 25_000,
      ...options,
    };
  }

  get state(): ConnectionState {
    return this.state_;
  }

  onState(listener: (s: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** Follows one task: its current state at once, then every change. */
  subscribeTask(taskId: string, handler: TaskStreamHandler): () => void {
    let set = this.perTask.get(taskId);
    const first = !set;
    if (!set) this.perTask.set(taskId, (set = new Set()));
    set.add(handler);
    if (first) this.sendIfOpen({ action: 'task-status', task_id: taskId });
    this.ensureConnected();
    return () => {
      const s = this.perTask.get(taskId);
      if (!s) return;
      s.delete(handler);
      if (s.size === 0) {
        this.perTask.delete(taskId);
        this.sendIfOpen({ action: 'unsubscribe', task_id: taskId });
      }
      this.closeIfUnused();
    };
  }

  /** Follows every task change in the caller's organization. */
  subscribeOrganization(handler: TaskStreamHandler): () => void {
    const first = this.orgWide.size === 0;
    this.orgWide.add(handler);
    if (first) this.sendIfOpen({ action: 'task-status' });
    this.ensureConnected();
    return () => {
      if (!this.orgWide.delete(handler) || this.orgWide.size > 0) return;
      if (this.perTask.size > 0) {
        // The protocol has no organization-only unsubscribe: drop all, then follow the tasks again.
        this.sendIfOpen({ action: 'unsubscribe' });
        for (const id of this.perTask.keys()) this.sendIfOpen({ action: 'task-status', task_id: id });
      }
      this.closeIfUnused();
    };
  }

  /** Drops the connection and every subscription (sign-out, organization switch). */
  reset(): void {
    this.perTask.clear();
    this.orgWide.clear();
    this.disconnect();
  }

  private get wanted(): boolean {
    return this.perTask.size > 0 || this.orgWide.size > 0;
  }

  private ensureConnected(): void {
    if (this.socket || this.retryTimer !== null || this.opening) return;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.setState(this.attempt === 0 ? 'connecting' : 'reconnecting');
    this.opening = true;
    const token = await this.opts.tokens.accessToken().finally(() => {
      this.opening = false;
    });
    if (!this.wanted) {
      this.setState('idle');
      return;
    }
    if (!token) {
      this.setState('idle'); // signed out: the session tells the app
      return;
    }
    this.token = token;
    let socket: SocketLike;
    try {
      socket = this.opts.socket(this.opts.url, ['atrium.v1', `bearer.${token}`]);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    let opened = false;
    socket.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.failedOpens = 0;
      this.setState('open');
      if (this.orgWide.size > 0) this.send({ action: 'task-status' });
      for (const id of this.perTask.keys()) this.send({ action: 'task-status', task_id: id });
      this.startPing();
      const resumed = this.hadOpen;
      this.hadOpen = true;
      if (resumed) for (const h of [...this.orgWide]) h.resumed?.();
    };
    socket.onmessage = (ev) => this.onMessage(ev.data);
    socket.onerror = () => {
      // Always followed by close, which decides what happens next.
    };
    socket.onclose = (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.stopPing();
      if (!this.wanted) {
        this.setState('idle');
        return;
      }
      if (ev.code === CLOSE_TOKEN_EXPIRED && this.token) {
        void this.renewThenReconnect(this.token, 0);
        return;
      }
      if (!opened && ++this.failedOpens % RENEW_AFTER_FAILED_OPENS === 0 && this.token) {
        void this.renewThenReconnect(this.token);
        return;
      }
      this.scheduleReconnect();
    };
  }

  private async renewThenReconnect(rejected: string, delay?: number): Promise<void> {
    const fresh = await this.opts.tokens.onUnauthorized(rejected);
    if (fresh) this.scheduleReconnect(delay);
    else this.setState('idle'); // the session ended; the app returns to the login page
  }

  private scheduleReconnect(delay?: number): void {
    this.setState('reconnecting');
    const ms = delay ?? backoffMs(this.attempt, this.opts.random);
    this.attempt += 1;
    this.retryTimer = this.opts.setTimer(() => {
      this.retryTimer = null;
      if (this.wanted && !this.socket && !this.opening) void this.connect();
    }, ms);
  }

  private onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let msg: { type?: string; task?: Task; progress?: Progress; code?: string; task_id?: string };
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === 'task-status' && msg.task && typeof msg.task.id === 'string') {
      const update: TaskUpdate = { task: msg.task, progress: msg.progress };
      for (const h of this.perTask.get(msg.task.id) ?? []) h.update(update);
      for (const h of this.orgWide) h.update(update);
    } else if (msg.type === 'error' && msg.code) {
      const targets = msg.task_id ? this.perTask.get(msg.task_id) : null;
      for (const h of targets ?? [...this.orgWide, ...[...this.perTask.values()].flatMap((s) => [...s])]) {
        h.error?.(msg.code);
      }
    }
  }

  private closeIfUnused(): void {
    if (!this.wanted) this.disconnect();
  }

  private disconnect(): void {
    if (this.retryTimer !== null) this.opts.clearTimer(this.retryTimer);
    this.retryTimer = null;
    this.stopPing();
    const s = this.socket;
    this.socket = null;
    this.attempt = 0;
    this.failedOpens = 0;
    this.hadOpen = false;
    if (s) s.close(1000, 'done');
    this.setState('idle');
  }

  private startPing(): void {
    this.stopPing();
    this.pingTimer = this.opts.setTimer(() => {
      this.pingTimer = null;
      this.sendIfOpen({ action: 'ping' });
      if (this.socket) this.startPing();
    }, this.opts.pingMs);
  }

  private stopPing(): void {
    if (this.pingTimer !== null) this.opts.clearTimer(this.pingTimer);
    this.pingTimer = null;
  }

  private sendIfOpen(msg: object): void {
    if (this.socket && this.socket.readyState === OPEN) this.send(msg);
  }

  private send(msg: object): void {
    this.socket?.send(JSON.stringify(msg));
  }

  private setState(s: ConnectionState): void {
    if (s === this.state_) return;
    this.state_ = s;
    for (const l of [...this.stateListeners]) l(s);
  }
}
