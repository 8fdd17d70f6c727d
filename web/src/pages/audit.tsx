// The organization's audit log, newest first, filtered by action.
import { useSearchParams } from 'react-router-dom';
import { AUDIT_ACTIONS, type AuditEntry, type Page } from '../api/types';
import { useApp } from '../app/context';
import { usePaged } from '../app/useResource';
import { Button, Empty, ErrorAlert, Loading, PageHeader, SelectField, Time } from '../ui/ui';

function describeTarget(e: AuditEntry): string {
  if (!e.target?.type) return '—';
  return e.target.id ? `${e.target.type} ${e.target.id.slice(-12)}` : e.target.type;
}

export function AuditPage() {
  const { api } = useApp();
  const [params, setParams] = useSearchParams();
  const action = params.get('action') ?? '';
  const list = usePaged<AuditEntry>(
    (cursor) => api.get<Page<AuditEntry>>('/api/audit', { query: { action, cursor, limit: 50 } }),
    [api, action],
  );
  return (
    <>
      <PageHeader title="Audit log" description="Who did what in this organization, newest first." />
      <div className="row" role="search" aria-label="Filter the audit log">
        <SelectField
          label="Action"
          value={action}
          onChange={(e) => setParams(e.target.value ? { action: e.target.value } : {}, { replace: true })}
          options={[{ value: '', label: 'All actions' }, ...AUDIT_ACTIONS.map((a) => ({ value: a, label: a }))]}
        />
        <div className="field fit">
          <Button onClick={() => void list.reload()}>Refresh</Button>
        </div>
      </div>
      <ErrorAlert error={list.error} />
      {list.loading ? (
        <Loading label="Loading the audit log…" />
      ) : list.items.length === 0 ? (
        <div className="card">
          <Empty title="No entries">{action && <p>Nothing recorded for {action} yet.</p>}</Empty>
        </div>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Audit log</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Target</th>
                <th scope="col">IP</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((e) => (
                <tr key={e.id}>
                  <td>
                    <Time value={e.created_at} />
                  </td>
                  <td>
                    <span className="badge mono">{e.action}</span>
                  </td>
                  <td>
                    {e.actor?.email ?? e.actor?.id ?? '—'}
                    {e.actor?.type && e.actor.type !== 'user' && <span className="muted small"> ({e.actor.type})</span>}
                  </td>
                  <td className="small">{describeTarget(e)}</td>
                  <td className="mono small">{e.ip ?? '—'}</td>
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
    </>
  );
}
