import { describe, expect, it } from 'vitest';
import type { Task } from '../api/types';
import { BACKOFF_MAX_MS, RealtimeClient, backoffMs, socketUrl, type TaskUpdate } from './realtime';

class FakeSocket {
  readyState = 0;
  sent: unknown[] = [];
  closed: { code?: number } | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols: string[],
  ) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number) {
    this.closed = { code };
    this.readyState = 3;
  }
  // Server side of the fake.
  open() {
    this.readyState = 1;
    this.onopen?.(new Event('open'));
  }
  push(msg: object) {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }
}

class Timers {
  private timers = new Map<number, { ms: number; fn: () => void }>();
  private next = 1;
  setTimer = (fn: () => void, ms: number) => {
    const id = this.next++;
    this.timers.set(id, { ms, fn });
    return id;
  };
  clearTimer = (id: unknown) => void this.timers.delete(id as number);
  delays() {
    return [...this.timers.values()].map((t) => t.ms);
  }
  /** Runs the timer with delay `ms` (and only that one). */
  fire(ms: number) {
    const entry = [...this.timers].find(([, t]) => t.ms === ms);
    if (!entry) throw new Error(`no timer of ${ms} ms (have ${this.delays()})`);
    this.timers.delete(entry[0]);
    entry[1].fn();
  }
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const task = (id: string, status: Task['status']) => ({ id, status }) as Task;

function make() {
  const sockets: FakeSocket[] = [];
  const timers = new Timers();
  let token = 'T1';
  const renewals: string[] = [];
  const client = new RealtimeClient({
    url: 'ws://host/ws',
    tokens: {
      accessToken: async () => token,
      onUnauthorized: async (rejected) => {
        renewals.push(rejected);
        token = 'T2';
        return token;
      },
    },
    socket: (url, protocols) => {
      const s = new FakeSocket(url, protocols);
      sockets.push(s);
      return s;
    },
    setTimer: timers.setTimer,
    clearTimer: timers.clearTimer,
    random: () => 0.5,
    pingMs: 25_000,
  });
  return { client, sockets, timers, renewals };
}

describe('backoffMs', () => {
  it('doubles from half a second with jitter between half and all of the ceiling', () => {
    expect(backoffMs(0, () => 0)).toBe(250);
    expect(backoffMs(0, () => 1)).toBe(500);
    expect(backoffMs(3, () => 0)).toBe(2000);
    expect(backoffMs(3, () => 1)).toBe(4000);
  });
  it('is capped at 30 s however many attempts failed', () => {
    expect(backoffMs(50, () => 1)).toBe(BACKOFF_MAX_MS);
    expect(backoffMs(1000, () => 0)).toBe(BACKOFF_MAX_MS / 2);
  });
});

describe('socketUrl', () => {
  it('follows the page scheme', () => {
    expect(socketUrl({ protocol: 'https:', host: 'a.example' })).toBe('wss://a.example/ws');
    expect(socketUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe('ws://127.0.0.1:8080/ws');
  });
});

describe('RealtimeClient', () => {
  it('authenticates with the atrium.v1 and bearer subprotocols, never the URL', async () => {
    const { client, sockets } = make();
    client.subscribeTask('t1', { update: () => {} });
    await flush();
    expect(sockets).toHaveLength(1);
    expect(sockets[0].url).toBe('ws://host/ws');
    expect(sockets[0].protocols).toEqual(['atrium.v1', 'bearer.T1']);
  });

  it('subscribes on open and delivers updates to the task and organization handlers', async () => {
    const { client, sockets } = make();
    const forTask: TaskUpdate[] = [];
    const forOrg: TaskUpdate[] = [];
    client.subscribeTask('t1', { update: (u) => forTask.push(u) });
    client.subscribeOrganization({ update: (u) => forOrg.push(u) });
    await flush();
    sockets[0].open();
    expect(sockets[0].sent).toEqual([{ action: 'task-status' }, { action: 'task-status', task_id: 't1' }]);
    sockets[0].push({ type: 'task-status', task: task('t1', 'running'), progress: { step: 1, of: 3 } });
    sockets[0].push({ type: 'task-status', task: task('t2', 'queued') });
    sockets[0].push({ type: 'pong' });
    expect(forTask).toEqual([{ task: task('t1', 'running'), progress: { step: 1, of: 3 } }]);
    expect(forOrg.map((u) => u.task.id)).toEqual(['t1', 't2']);
    expect(client.state).toBe('open');
  });

  it('reports a per-task error to that task only', async () => {
    const { client, sockets } = make();
    const errors: string[] = [];
    const other: string[] = [];
    client.subscribeTask('t1', { update: () => {}, error: (c) => errors.push(c) });
    client.subscribeTask('t2', { update: () => {}, error: (c) => other.push(c) });
    await flush();
    sockets[0].open();
    sockets[0].push({ type: 'error', code: 'not_found', task_id: 't1' });
    expect(errors).toEqual(['not_found']);
    expect(other).toEqual([]);
  });

  it('reconnects with growing backoff and subscribes again', async () => {
    const { client, sockets, timers } = make();
    client.subscribeTask('t1', { update: () => {} });
    await flush();
    sockets[0].open();
    sockets[0].drop();
    expect(client.state).toBe('reconnecting');
    expect(timers.delays()).toEqual([backoffMs(0, () => 0.5)]);
    timers.fire(backoffMs(0, () => 0.5));
    await flush();
    sockets[1].drop(); // failed before opening
    expect(timers.delays()).toEqual([backoffMs(1, () => 0.5)]);
    timers.fire(backoffMs(1, () => 0.5));
    await flush();
    sockets[2].open();
    expect(sockets[2].sent).toEqual([{ action: 'task-status', task_id: 't1' }]);
    sockets[2].drop();
    // A successful open resets the backoff.
    expect(timers.delays()).toContain(backoffMs(0, () => 0.5));
  });

  it('tells organization-wide subscribers when the connection comes back, not on the first open', async () => {
    const { client, sockets, timers } = make();
    let resumed = 0;
    const off = client.subscribeOrganization({ update: () => {}, resumed: () => (resumed += 1) });
    await flush();
    sockets[0].open();
    expect(resumed).toBe(0);
    sockets[0].drop();
    timers.fire(backoffMs(0, () => 0.5));
    await flush();
    sockets[1].open();
    expect(resumed).toBe(1);
    // After everyone left, a new subscription starts afresh.
    off();
    client.subscribeOrganization({ update: () => {}, resumed: () => (resumed += 1) });
    await flush();
    sockets[2].open();
    expect(resumed).toBe(1);
  });

  it('renews the token and reconnects at once on close code 4001', async () => {
    const { client, sockets, timers, renewals } = make();
    client.subscribeTask('t1', { update: () => {} });
    await flush();
    sockets[0].open();
    sockets[0].drop(4001);
    await flush();
    expect(renewals).toEqual(['T1']);
    timers.fire(0);
    await flush();
    expect(sockets[1].protocols).toEqual(['atrium.v1', 'bearer.T2']);
  });

  it('renews the token after handshakes keep failing (a refused token looks like a network error)', async () => {
    const { client, sockets, timers, renewals } = make();
    client.subscribeTask('t1', { update: () => {} });
    await flush();
    sockets[0].drop();
    timers.fire(backoffMs(0, () => 0.5));
    await flush();
    sockets[1].drop();
    timers.fire(backoffMs(1, () => 0.5));
    await flush();
    expect(renewals).toEqual([]);
    sockets[2].drop();
    await flush();
    expect(renewals).toEqual(['T1']);
    timers.fire(backoffMs(2, () => 0.5));
    await flush();
    expect(sockets[3].protocols).toEqual(['atrium.v1', 'bearer.T2']);
  });

  it('closes when the last subscriber leaves and does not reconnect', async () => {
    const { client, sockets, timers } = make();
    const off = client.subscribeTask('t1', { update: () => {} });
    await flush();
    sockets[0].open();
    off();
    expect(sockets[0].sent.at(-1)).toEqual({ action: 'unsubscribe', task_id: 't1' });
    expect(sockets[0].closed).toEqual({ code: 1000 });
    expect(client.state).toBe('idle');
    expect(timers.delays()).toEqual([]);
  });

  it('pings to keep the connection alive', async () => {
    const { client, sockets, timers } = make();
    client.subscribeOrganization({ update: () => {} });
    await flush();
    sockets[0].open();
    timers.fire(25_000);
    expect(sockets[0].sent.at(-1)).toEqual({ action: 'ping' });
    expect(timers.delays()).toEqual([25_000]);
  });

  it('ignores frames that are not JSON', async () => {
    const { client, sockets } = make();
    const got: TaskUpdate[] = [];
    client.subscribeOrganization({ update: (u) => got.push(u) });
    await flush();
    sockets[0].open();
    sockets[0].onmessage?.({ data: 'not json' } as MessageEvent);
    sockets[0].push({ type: 'task-status' });
    expect(got).toEqual([]);
    expect(client.state).toBe('open');
  });
});
