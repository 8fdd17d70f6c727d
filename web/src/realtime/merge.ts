// Folding live task updates into what a page shows.
import { TERMINAL_STATUSES, type Task, type TaskStatus } from '../api/types';

const RANK: Record<TaskStatus, number> = { queued: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

/**
 * The newer of two views of one task. A list fetched over HTTP and the WebSocket may cross: an
 * update never moves a task backwards (a finished task does not become running again).
 */
export function newerTask(current: Task | undefined, incoming: Task): Task {
  if (!current) return incoming;
  if (TERMINAL_STATUSES.has(current.status) && !TERMINAL_STATUSES.has(incoming.status)) return current;
  if (RANK[incoming.status] < RANK[current.status]) return current;
  return { ...current, ...incoming };
}

export interface TaskFilter {
  agent_id?: string;
  status?: string;
}

export function matches(task: Task, filter: TaskFilter): boolean {
  return (!filter.agent_id || task.agent_id === filter.agent_id) && (!filter.status || task.status === filter.status);
}

/**
 * A list after one update: an existing row is updated in place (and dropped if it no longer
 * matches the status filter); a new matching task goes on top.
 */
export function applyUpdate(list: Task[], incoming: Task, filter: TaskFilter, limit = 100): Task[] {
  const i = list.findIndex((t) => t.id === incoming.id);
  if (i >= 0) {
    const merged = newerTask(list[i], incoming);
    if (!matches(merged, filter)) return list.filter((_, j) => j !== i);
    if (merged === list[i]) return list;
    const next = list.slice();
    next[i] = merged;
    return next;
  }
  if (!matches(incoming, filter)) return list;
  return [incoming, ...list].slice(0, limit);
}
