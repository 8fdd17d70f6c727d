// API keys: created with a subset of the creator's permissions, the key shown once, revoked at once.
import { useState, type FormEvent } from 'react';
import type { ApiKey, CreatedApiKey, Page, Permission } from '../api/types';
import { useApp } from '../app/context';
import { usePaged, useResource } from '../app/useResource';
import { useSubmit } from '../forms/useSubmit';
import { collect, requiredError } from '../forms/validate';
import { Button, CheckGroup, ConfirmDialog, Dialog, Empty, ErrorAlert, Loading, PageHeader, ShownOnce, TextField, Time } from '../ui/ui';
import { permissionOptions } from './roles';

function CreateKey({ catalog, onClose, onCreated }: { catalog: Permission[]; onClose: () => void; onCreated: (k: CreatedApiKey) => void }) {
  const { api, me } = useApp();
  const [name, setName] = useState('');
  const [permissions, setPermissions] = useState<string[]>([]);
  const [days, setDays] = useState('90');
  const form = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const n = days.trim() ? Number(days) : null;
    void form.run(
      collect({
        name: requiredError(name, 'a name'),
        permissions: permissions.length ? undefined : 'Choose at least one permission.',
        expires_in_days: n === null || (Number.isInteger(n) && n >= 1 && n <= 3650) ? undefined : 'Enter whole days between 1 and 3650, or leave empty.',
      }),
      async () => {
        onCreated(
          await api.post<CreatedApiKey>('/api/api-keys', {
            name: name.trim(),
            permissions,
            ...(n !== null ? { expires_in_days: n } : {}),
          }),
        );
      },
    );
  };
  return (
    <Dialog title="New API key" open onClose={onClose} wide>
      <form onSubmit={submit} noValidate>
        <ErrorAlert error={form.error} />
        <TextField label="Name" hint="What uses this key, e.g. “CI pipeline”." value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} autoFocus />
        <TextField
          label="Expires after (days)"
          inputMode="numeric"
          hint="Leave empty for a key that does not expire."
          value={days}
          onChange={(e) => setDays(e.target.value)}
          error={form.fieldError('expires_in_days')}
        />
        <CheckGroup
          legend="Permissions"
          hint="A key can only do what you can do yourself."
          value={permissions}
          onChange={setPermissions}
          error={form.fieldError('permissions')}
          options={permissionOptions(catalog, me?.permissions ?? [])}
        />
        <div className="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy}>
            Create key
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function ApiKeysPage() {
  const { api } = useApp();
  const list = usePaged<ApiKey>((cursor) => api.get<Page<ApiKey>>('/api/api-keys', { query: { cursor, limit: 50 } }), [api]);
  const catalog = useResource(() => api.get<{ items: Permission[] }>('/api/permissions'), [api]);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const active = list.items.filter((k) => !k.revoked_at);

  return (
    <>
      <PageHeader
        title="API keys"
        description="Keys let programs call the API as this organization, with the permissions you choose."
        actions={
          <Button variant="primary" onClick={() => setCreating(true)} disabled={!catalog.data}>
            New API key
          </Button>
        }
      />
      <ErrorAlert error={list.error ?? catalog.error} />
      {created && (
        <div className="card" style={{ marginBottom: '1rem' }}>
          <h2>Key “{created.name}” created</h2>
          <ShownOnce
            label="Your new API key"
            value={created.key}
            note="Copy it now: it is shown only once. Use it as “Authorization: Bearer <key>”."
          />
          <Button size="small" onClick={() => setCreated(null)}>
            Done
          </Button>
        </div>
      )}
      {list.loading ? (
        <Loading label="Loading keys…" />
      ) : active.length === 0 ? (
        <div className="card">
          <Empty title="No API keys">
            <p>Create a key for scripts and integrations.</p>
          </Empty>
        </div>
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Permissions</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {active.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    {k.prefix && <div className="mono muted small">{k.prefix}…</div>}
                  </td>
                  <td className="mono small">{k.permissions.join(', ')}</td>
                  <td>
                    <Time value={k.created_at} />
                  </td>
                  <td>{k.expires_at ? <Time value={k.expires_at} /> : <span className="muted">never</span>}</td>
                  <td className="actions">
                    <Button size="small" variant="ghost" onClick={() => setRevoking(k)} aria-label={`Revoke ${k.name}`}>
                      Revoke
                    </Button>
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
      {creating && catalog.data && (
        <CreateKey
          catalog={catalog.data.items}
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
            const { key: _secret, ...listed } = k;
            list.setItems((items) => [listed, ...items]);
          }}
        />
      )}
      <ConfirmDialog
        title="Revoke API key"
        open={revoking !== null}
        onClose={() => setRevoking(null)}
        confirmLabel="Revoke key"
        onConfirm={async () => {
          const k = revoking!;
          await api.delete(`/api/api-keys/${encodeURIComponent(k.id)}`);
          list.setItems((items) => items.filter((x) => x.id !== k.id));
          if (created?.id === k.id) setCreated(null);
        }}
      >
        <p>
          Revoke <strong>{revoking?.name}</strong>? Programs using it stop working immediately.
        </p>
      </ConfirmDialog>
    </>
  );
}
