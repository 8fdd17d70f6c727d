// Agents: the list, create/edit/delete, and an agent's page where a task is run with JSON input
// and followed live.
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import type { Agent, Executor, Page, Task } from '../api/types';
import { useApp } from '../app/context';
import { usePaged, useResource } from '../app/useResource';
import { useSubmit } from '../forms/useSubmit';
import { collect, parseJson, requiredError } from '../forms/validate';
import {
  Alert,
  Button,
  ConfirmDialog,
  Dialog,
  Empty,
  ErrorAlert,
  Loading,
  PageHeader,
  SelectField,
  TextArea,
  TextField,
  Time,
} from '../ui/ui';
import { TaskLive, TaskTable, useLiveTasks } from './tasks';

const EXECUTORS: { value: Executor; label: string }[] = [
  { value: 'echo', label: 'echo — built in, returns its input (for trying things out)' },
  { value: 'openai', label: 'openai — any OpenAI-compatible chat-completions endpoint' },
];

function AgentForm({ agent, onSaved, onCancel }: { agent?: Agent; onSaved: (a: Agent) => void; onCancel: () => void }) {
  const { api } = useApp();
  const [name, setName] = useState(agent?.name ?? '');
  const [description, setDescription] = useState(agent?.description ?? '');
  const [executor, setExecutor] = useState<Executor>(agent?.executor ?? 'echo');
  const [model, setModel] = useState(agent?.model ?? '');
  const [instructions, setInstructions] = useState(agent?.instructions ?? '');
  const [config, setConfig] = useState(agent?.config && Object.keys(agent.config).length ? JSON.stringify(agent.config, null, 2) : '');
  const form = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseJson(config);
    void form.run(collect({ name: requiredError(name, 'a name'), config: parsed.ok ? undefined : parsed.error }), async () => {
      const body = {
        name: name.trim(),
        description,
        executor,
        model,
        instructions,
        config: parsed.ok ? parsed.value : {},
      };
      const saved = agent
        ? await api.patch<Agent>(`/api/agents/${encodeURIComponent(agent.id)}`, body)
        : await api.post<Agent>('/api/agents', body);
      onSaved(saved);
    });
  };

  return (
    <form onSubmit={submit} noValidate>
      <ErrorAlert error={form.error} />
      <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} autoFocus />
      <TextField
        label="Description"
        value={description}
        onChange={(e) => setDescription(e.target.value)}
        error={form.fieldError('description')}
      />
      <SelectField
        label="Executor"
        value={executor}
        onChange={(e) => setExecutor(e.target.value as Executor)}
        options={EXECUTORS}
        error={form.fieldError('executor')}
      />
      {executor === 'openai' && (
        <>
          <TextField
            label="Model"
            placeholder="gpt-4o-mini"
            value={model}
            onChange={(e) => setModel(e.target.value)}
            error={form.fieldError('model')}
          />
          <TextArea
            label="Instructions"
            hint="The system prompt sent with every task."
            value={instructions}
            onChange={(e) => setInstructions(e.target.value)}
            error={form.fieldError('instructions')}
          />
        </>
      )}
      <TextArea
        label="Config (JSON, optional)"
        hint={executor === 'openai' ? 'For example {"base_url": "https://…/v1"}. The API key comes from the organization’s secrets.' : 'A JSON object.'}
        value={config}
        onChange={(e) => setConfig(e.target.value)}
        error={form.fieldError('config')}
        rows={4}
      />
      <div className="dialog-actions">
        <Button onClick={onCancel}>Cancel</Button>
        <Button type="submit" variant="primary" busy={form.busy}>
          {agent ? 'Save changes' : 'Create agent'}
        </Button>
      </div>
    </form>
  );
}

export function AgentsPage() {
  const { api, can } = useApp();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const list = usePaged<Agent>((cursor) => api.get<Page<Agent>>('/api/agents', { query: { cursor, limit: 50 } }), [api]);
  const canCreate = can('agents:create');

  return (
    <>
      <PageHeader
        title="Agents"
        description="An agent runs tasks with an executor. Create one, then run a task from its page."
        actions={
          canCreate ? (
            <Button variant="primary" onClick={() => setCreating(true)}>
              New agent
            </Button>
          ) : (
            <span className="muted small">Your role cannot create agents.</span>
          )
        }
      />
      <ErrorAlert error={list.error} />
      {list.loading ? (
        <Loading label="Loading agents…" />
      ) : list.items.length === 0 && !list.error ? (
        <div className="card">
          <Empty title="No agents yet">
            {canCreate ? (
              <>
                <p>Start with the built-in echo executor to see tasks run end to end.</p>
                <Button variant="primary" onClick={() => setCreating(true)}>
                  Create your first agent
                </Button>
              </>
            ) : (
              <p>Ask an administrator to create one.</p>
            )}
          </Empty>
        </div>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Agents</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Executor</th>
                <th scope="col">Description</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((a) => (
                <tr key={a.id}>
                  <td>
                    <Link to={`/agents/${encodeURIComponent(a.id)}`}>{a.name}</Link>
                  </td>
                  <td>
                    <span className="badge">{a.executor}</span>
                    {a.model && <span className="muted small"> {a.model}</span>}
                  </td>
                  <td className="muted">{a.description || '—'}</td>
                  <td>
                    <Time value={a.updated_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.hasMore && (
        <p>
          <Button busy={list.loadingMore} onClick={() => void list.loadMore()}>
            Load more
          </Button>
        </p>
      )}
      <Dialog title="New agent" open={creating} onClose={() => setCreating(false)} wide>
        <AgentForm
          onCancel={() => setCreating(false)}
          onSaved={(a) => {
            setCreating(false);
            navigate(`/agents/${encodeURIComponent(a.id)}`);
          }}
        />
      </Dialog>
    </>
  );
}

function RunTask({ agent, onStarted }: { agent: Agent; onStarted: (t: Task) => void }) {
  const { api } = useApp();
  const [input, setInput] = useState(agent.executor === 'echo' ? '{\n  "message": "hello",\n  "steps": 3\n}' : '{\n  "prompt": ""\n}');
  const form = useSubmit();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const parsed = parseJson(input);
    void form.run(collect({ input: parsed.ok ? undefined : parsed.error }), async () => {
      // One key per click: a retried request (flaky network) cannot start the task twice.
      const idempotency_key = crypto.randomUUID();
      const task = await api.post<Task>(`/api/agents/${encodeURIComponent(agent.id)}/tasks`, {
        input: parsed.ok ? parsed.value : {},
        idempotency_key,
      });
      onStarted(task);
    });
  };

  return (
    <form onSubmit={submit} noValidate className="card">
      <h2>Run a task</h2>
      {agent.executor === 'echo' && (
        <p className="muted small">
          The echo executor returns its input. <code>"steps": n</code> (up to 20) reports n progress updates;{' '}
          <code>"fail": true</code> makes it fail.
        </p>
      )}
      <ErrorAlert error={form.error} />
      <TextArea label="Input (JSON object)" value={input} onChange={(e) => setInput(e.target.value)} error={form.fieldError('input')} rows={6} />
      <Button type="submit" variant="primary" busy={form.busy}>
        Run task
      </Button>
    </form>
  );
}

export function AgentPage() {
  const { id = '' } = useParams();
  const { api, can } = useApp();
  const navigate = useNavigate();
  const agent = useResource(() => api.get<Agent>(`/api/agents/${encodeURIComponent(id)}`), [api, id]);
  const [editing, setEditing] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [current, setCurrent] = useState<Task | null>(null);
  const canRun = can('tasks:create');
  const canRead = can('tasks:read');
  const recent = useLiveTasks({ agent_id: id }, canRead);

  if (agent.loading && !agent.data) return <Loading label="Loading agent…" />;
  if (agent.error || !agent.data) {
    return (
      <>
        <PageHeader title="Agent" />
        <ErrorAlert error={agent.error} />
        <Link to="/agents">Back to agents</Link>
      </>
    );
  }
  const a = agent.data;

  return (
    <>
      <PageHeader
        title={a.name}
        description={a.description || undefined}
        actions={
          can('agents:manage') && (
            <>
              <Button onClick={() => setEditing(true)}>Edit</Button>
              <Button variant="danger" onClick={() => setDeleting(true)}>
                Delete
              </Button>
            </>
          )
        }
      />
      <div className="grid-2">
        <div className="stack">
          {canRun ? <RunTask agent={a} onStarted={setCurrent} /> : <Alert>Your role cannot run tasks.</Alert>}
          {current && <TaskLive initial={current} />}
        </div>
        <div className="card">
          <h2>Details</h2>
          <dl className="props">
            <dt>Executor</dt>
            <dd>{a.executor}</dd>
            {a.model && (
              <>
                <dt>Model</dt>
                <dd>{a.model}</dd>
              </>
            )}
            {a.instructions && (
              <>
                <dt>Instructions</dt>
                <dd>{a.instructions}</dd>
              </>
            )}
            <dt>Config</dt>
            <dd>
              <code>{JSON.stringify(a.config ?? {})}</code>
            </dd>
            <dt>Created</dt>
            <dd>
              <Time value={a.created_at} />
            </dd>
            <dt>Updated</dt>
            <dd>
              <Time value={a.updated_at} />
            </dd>
            <dt>ID</dt>
            <dd className="mono">{a.id}</dd>
          </dl>
        </div>
      </div>
      {canRead && (
        <section className="stack" style={{ marginTop: '1.5rem' }}>
          <h2>Recent tasks of this agent</h2>
          <ErrorAlert error={recent.error} />
          {recent.loading ? <Loading /> : <TaskTable tasks={recent.items} agents={[a]} emptyText="This agent has not run a task yet." />}
        </section>
      )}
      <Dialog title={`Edit ${a.name}`} open={editing} onClose={() => setEditing(false)} wide>
        <AgentForm
          agent={a}
          onCancel={() => setEditing(false)}
          onSaved={(saved) => {
            agent.setData(saved);
            setEditing(false);
          }}
        />
      </Dialog>
      <ConfirmDialog
        title="Delete agent"
        open={deleting}
        onClose={() => setDeleting(false)}
        confirmLabel="Delete agent"
        onConfirm={async () => {
          await api.delete(`/api/agents/${encodeURIComponent(a.id)}`);
          navigate('/agents');
        }}
      >
        <p>
          Delete <strong>{a.name}</strong>? This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}
