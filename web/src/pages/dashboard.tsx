// The landing page of an organization: counts and the latest tasks, updated live.
import { Link } from 'react-router-dom';
import type { Agent, Member, Page, Task } from '../api/types';
import { useApp } from '../app/context';
import { useResource } from '../app/useResource';
import { Empty, ErrorAlert, Loading, PageHeader } from '../ui/ui';
import { TaskTable, useLiveTasks } from './tasks';

const none = <T,>(): Promise<Page<T>> => Promise.resolve({ items: [], next_cursor: null });

function count(page: Page<unknown> | null): string {
  if (!page) return '…';
  return page.next_cursor ? `${page.items.length}+` : String(page.items.length);
}

function Stat({ label, value, to }: { label: string; value: string; to?: string }) {
  return (
    <div className="stat">
      <div className="value">{value}</div>
      <div className="label">{to ? <Link to={to}>{label}</Link> : label}</div>
    </div>
  );
}

export function DashboardPage() {
  const { api, can, me } = useApp();
  const agents = useResource(() => (can('agents:read') ? api.get<Page<Agent>>('/api/agents', { query: { limit: 100 } }) : none<Agent>()), [api]);
  const members = useResource(() => (can('users:read') ? api.get<Page<Member>>('/api/users', { query: { limit: 100 } }) : none<Member>()), [api]);
  const canTasks = can('tasks:read');
  const tasks = useLiveTasks({}, canTasks);
  const byStatus = (s: Task['status']) => String(tasks.items.filter((t) => t.status === s).length);

  return (
    <>
      <PageHeader title={me?.organization?.name ?? 'Dashboard'} description="An overview of this organization." />
      <ErrorAlert error={agents.error ?? members.error ?? tasks.error} />
      <div className="stats" aria-label="Counts">
        {can('agents:read') && <Stat label="Agents" value={count(agents.data)} to="/agents" />}
        {can('users:read') && <Stat label="Members" value={count(members.data)} to="/members" />}
        {canTasks && (
          <>
            <Stat label="Running" value={tasks.loading ? '…' : byStatus('running')} to="/tasks?status=running" />
            <Stat label="Queued" value={tasks.loading ? '…' : byStatus('queued')} to="/tasks?status=queued" />
            <Stat label="Succeeded (recent)" value={tasks.loading ? '…' : byStatus('succeeded')} to="/tasks?status=succeeded" />
            <Stat label="Failed (recent)" value={tasks.loading ? '…' : byStatus('failed')} to="/tasks?status=failed" />
          </>
        )}
      </div>
      {canTasks && (
        <section className="stack" style={{ marginTop: '1.5rem' }}>
          <h2>Recent tasks</h2>
          {tasks.loading ? (
            <Loading />
          ) : (
            <TaskTable tasks={tasks.items.slice(0, 10)} agents={agents.data?.items ?? []} emptyText="No task has run yet. Open an agent and run one." />
          )}
        </section>
      )}
      {!canTasks && !can('agents:read') && (
        <div className="card">
          <Empty title="Nothing to show">
            <p>Your roles do not grant access to agents or tasks in this organization.</p>
          </Empty>
        </div>
      )}
    </>
  );
}
