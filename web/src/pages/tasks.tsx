// Tasks: the live list with filters, a task's page, and the live view of one task.
import { useEffect, useState } from 'react';
import { Link, useParams, useSearchParams } from 'react-router-dom';
import { TASK_STATUSES, TERMINAL_STATUSES, type Agent, type Page, type Progress, type Task } from '../api/types';
import { useApp } from '../app/context';
import { LiveIndicator } from '../app/Shell';
import { usePaged, useResource } from '../app/useResource';
import { applyUpdate, newerTask, type TaskFilter } from '../realtime/merge';
import { Alert, Button, Empty, ErrorAlert, JsonView, Loading, PageHeader, SelectField, StatusBadge, Time } from '../ui/ui';

/** The tasks matching `filter`, first page over HTTP, then kept current over the WebSocket. */
export function useLiveTasks(filter: TaskFilter, enabled = true) {
  const { api, realtime } = useApp();
  const key = `${filter.agent_id ?? ''}|${filter.status ?? ''}`;
  const list = usePaged<Task>(
    (cursor) =>
      enabled
        ? api.get<Page<Task>>('/api/tasks', { query: { ...filter, cursor, limit: 25 } })
        : Promise.resolve({ items: [], next_cursor: null }),
    [api, key, enabled],
  );
  const { setItems, reload } = list;
  useEffect(() => {
    if (!enabled) return;
    return realtime.subscribeOrganization({
      update: ({ task }) => setItems((items) => applyUpdate(items, task, filter)),
      // Changes made while the connection was down were not delivered: load the list again.
      resumed: () => void reload(true),
    });
  }, [realtime, key, enabled, setItems, reload]);
  return list;
}

export function TaskTable({ tasks, agents, emptyText }: { tasks: Task[]; agents: Agent[]; emptyText: string }) {
  const names = new Map(agents.map((a) => [a.id, a.name]));
  if (tasks.length === 0) {
    return (
      <div className="card">
        <Empty title="No tasks">
          <p>{emptyText}</p>
        </Empty>
      </div>
    );
  }
  return (
    <div className="table-wrap">
      <table>
        <caption className="visually-hidden">Tasks</caption>
        <thead>
          <tr>
            <th scope="col">Task</th>
            <th scope="col">Agent</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Finished</th>
          </tr>
        </thead>
        <tbody>
          {tasks.map((t) => (
            <tr key={t.id} data-task-id={t.id}>
              <td>
                <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="mono">
                  {t.id.slice(-12)}
                </Link>
              </td>
              <td>
                <Link to={`/agents/${encodeURIComponent(t.agent_id)}`}>{names.get(t.agent_id) ?? t.agent_id.slice(-12)}</Link>
              </td>
              <td>
                <StatusBadge status={t.status} />
              </td>
              <td>
                <Time value={t.created_at} />
              </td>
              <td>
                <Time value={t.finished_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** One task, followed live: status, progress, output or error, and cancel while it runs. */
export function TaskLive({ initial }: { initial: Task }) {
  const { api, realtime, can } = useApp();
  const [task, setTask] = useState(initial);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [streamError, setStreamError] = useState<string | null>(null);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const [cancelling, setCancelling] = useState(false);

  useEffect(() => {
    setTask(initial);
    setProgress(null);
    setStreamError(null);
    return realtime.subscribeTask(initial.id, {
      update: ({ task: t, progress: p }) => {
        setTask((cur) => newerTask(cur, t));
        if (p) setProgress(p);
      },
      error: (code) =>
        setStreamError(code === 'permission_denied' ? 'Your role cannot follow tasks live.' : `Live updates failed (${code}).`),
    });
  }, [initial, realtime]);

  const done = TERMINAL_STATUSES.has(task.status);
  const pct = progress ? Math.round((100 * Math.min(progress.step, progress.of)) / Math.max(1, progress.of)) : task.status === 'succeeded' ? 100 : 0;

  return (
    <section className="card" aria-labelledby={`task-${task.id}`} data-testid="task-live">
      <div className="page-header">
        <div>
          <h2 id={`task-${task.id}`}>
            Task <span className="mono">{task.id.slice(-12)}</span>
          </h2>
          <LiveIndicator />
        </div>
        <div className="btn-row">
          <span aria-live="polite" data-testid="task-status">
            <StatusBadge status={task.status} />
          </span>
          {!done && can('tasks:cancel') && (
            <Button
              size="small"
              busy={cancelling}
              onClick={async () => {
                setCancelling(true);
                setCancelError(null);
                try {
                  setTask(await api.post<Task>(`/api/tasks/${encodeURIComponent(task.id)}/cancel`));
                } catch (err) {
                  setCancelError(err);
                } finally {
                  setCancelling(false);
                }
              }}
            >
              Cancel
            </Button>
          )}
        </div>
      </div>
      {streamError && <Alert kind="warning">{streamError}</Alert>}
      <ErrorAlert error={cancelError} />
      {(progress || !done) && (
        <div className="field">
          <span className="small muted" id={`progress-${task.id}`}>
            {progress ? `Step ${progress.step} of ${progress.of}` : task.status === 'queued' ? 'Waiting for a worker…' : 'Running…'}
          </span>
          <div
            className="progress"
            role="progressbar"
            aria-labelledby={`progress-${task.id}`}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={pct}
          >
            <div style={{ width: `${pct}%` }} />
          </div>
        </div>
      )}
      {task.status === 'failed' && task.error && <Alert kind="error">{task.error}</Alert>}
      {task.status === 'succeeded' && (
        <div className="field">
          <span className="small muted">Output</span>
          <JsonView value={task.output} label="Task output" />
        </div>
      )}
      <dl className="props small">
        <dt>Created</dt>
        <dd>
          <Time value={task.created_at} />
        </dd>
        <dt>Started</dt>
        <dd>
          <Time value={task.started_at} />
        </dd>
        <dt>Finished</dt>
        <dd>
          <Time value={task.finished_at} />
        </dd>
        <dt>Attempts</dt>
        <dd>{task.attempts ?? 0}</dd>
      </dl>
    </section>
  );
}

export function TasksPage() {
  const { api, can } = useApp();
  const [params, setParams] = useSearchParams();
  const agentId = params.get('agent_id') ?? '';
  const status = params.get('status') ?? '';
  const agents = useResource(
    () => (can('agents:read') ? api.get<Page<Agent>>('/api/agents', { query: { limit: 100 } }) : Promise.resolve({ items: [], next_cursor: null })),
    [api],
  );
  const list = useLiveTasks({ agent_id: agentId || undefined, status: status || undefined });
  const setFilter = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };

  return (
    <>
      <PageHeader title="Tasks" description="Every task in this organization, updated live." actions={<LiveIndicator />} />
      <div className="row" role="search" aria-label="Filter tasks">
        <SelectField
          label="Agent"
          value={agentId}
          onChange={(e) => setFilter('agent_id', e.target.value)}
          options={[{ value: '', label: 'All agents' }, ...(agents.data?.items ?? []).map((a) => ({ value: a.id, label: a.name }))]}
        />
        <SelectField
          label="Status"
          value={status}
          onChange={(e) => setFilter('status', e.target.value)}
          options={[{ value: '', label: 'Any status' }, ...TASK_STATUSES.map((s) => ({ value: s, label: s }))]}
        />
      </div>
      <ErrorAlert error={list.error} />
      {list.loading ? (
        <Loading label="Loading tasks…" />
      ) : (
        <TaskTable
          tasks={list.items}
          agents={agents.data?.items ?? []}
          emptyText={agentId || status ? 'No task matches these filters.' : 'Run a task from an agent’s page; it appears here as it runs.'}
        />
      )}
      {list.hasMore && (
        <p>
          <Button busy={list.loadingMore} onClick={() => void list.loadMore()}>
            Load more
          </Button>
        </p>
      )}
    </>
  );
}

export function TaskPage() {
  const { id = '' } = useParams();
  const { api } = useApp();
  const task = useResource(() => api.get<Task>(`/api/tasks/${encodeURIComponent(id)}`), [api, id]);
  if (task.loading && !task.data) return <Loading label="Loading task…" />;
  return (
    <>
      <PageHeader title="Task" actions={<Link to="/tasks">All tasks</Link>} />
      <ErrorAlert error={task.error} />
      {task.data && (
        <div className="grid-2">
          <TaskLive initial={task.data} />
          <div className="card">
            <h2>Input</h2>
            <JsonView value={task.data.input} label="Task input" />
            <p className="small muted" style={{ marginTop: '0.75rem' }}>
              Agent: <Link to={`/agents/${encodeURIComponent(task.data.agent_id)}`}>{task.data.agent_id}</Link>
            </p>
          </div>
        </div>
      )}
    </>
  );
}
