// Roles: system roles are shown read-only; custom roles are edited against the permission catalog.
import { useState, type FormEvent } from 'react';
import type { Page, Permission, Role } from '../api/types';
import { useApp } from '../app/context';
import { useResource } from '../app/useResource';
import { useSubmit } from '../forms/useSubmit';
import { collect, requiredError } from '../forms/validate';
import { grants } from '../session/permissions';
import { Button, CheckGroup, ConfirmDialog, Dialog, ErrorAlert, Loading, PageHeader, TextField, type CheckOption } from '../ui/ui';

/** Catalog entries as checkboxes; those the user does not hold are disabled (no escalation). */
export function permissionOptions(catalog: Permission[], held: string[]): CheckOption[] {
  return catalog.map((p) => ({
    value: p.name,
    label: p.name,
    description: p.description,
    disabled: !grants(held, p.name),
    disabledReason: 'You cannot grant a permission you do not hold.',
  }));
}

function RoleEditor({ role, catalog, onClose, onSaved }: { role: Role | null; catalog: Permission[]; onClose: () => void; onSaved: () => void }) {
  const { api, me } = useApp();
  const [name, setName] = useState(role?.name ?? '');
  const [description, setDescription] = useState(role?.description ?? '');
  const [permissions, setPermissions] = useState<string[]>(role?.permissions ?? []);
  const form = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.run(
      collect({ name: requiredError(name, 'a name'), permissions: permissions.length ? undefined : 'Choose at least one permission.' }),
      async () => {
        const body = { name: name.trim(), description, permissions };
        if (role) await api.patch<Role>(`/api/roles/${encodeURIComponent(role.id)}`, body);
        else await api.post<Role>('/api/roles', body);
        onSaved();
      },
    );
  };
  return (
    <Dialog title={role ? `Edit role ${role.name}` : 'New role'} open onClose={onClose} wide>
      <form onSubmit={submit} noValidate>
        <ErrorAlert error={form.error} />
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} autoFocus />
        <TextField label="Description" value={description} onChange={(e) => setDescription(e.target.value)} error={form.fieldError('description')} />
        <CheckGroup
          legend="Permissions"
          value={permissions}
          onChange={setPermissions}
          error={form.fieldError('permissions')}
          options={permissionOptions(catalog, me?.permissions ?? [])}
        />
        <div className="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy}>
            {role ? 'Save role' : 'Create role'}
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function RolesPage() {
  const { api, can } = useApp();
  const manage = can('roles:manage');
  const roles = useResource(() => api.get<Page<Role>>('/api/roles', { query: { limit: 100 } }), [api]);
  const catalog = useResource(() => api.get<{ items: Permission[] }>('/api/permissions'), [api]);
  const [editing, setEditing] = useState<Role | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Role | null>(null);

  return (
    <>
      <PageHeader
        title="Roles"
        description="A role is a named set of permissions. System roles are built in; custom roles belong to this organization."
        actions={
          manage && (
            <Button variant="primary" onClick={() => setEditing('new')} disabled={!catalog.data}>
              New role
            </Button>
          )
        }
      />
      <ErrorAlert error={roles.error ?? catalog.error} />
      {roles.loading ? (
        <Loading label="Loading roles…" />
      ) : (
        <div className="table-wrap">
          <table>
            <caption className="visually-hidden">Roles</caption>
            <thead>
              <tr>
                <th scope="col">Role</th>
                <th scope="col">Permissions</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {(roles.data?.items ?? []).map((r) => (
                <tr key={r.id}>
                  <td>
                    <strong>{r.name}</strong> {r.system && <span className="badge system">system</span>}
                    {r.description && <div className="muted small">{r.description}</div>}
                  </td>
                  <td className="mono small">{r.permissions.join(', ') || '—'}</td>
                  <td className="actions">
                    {r.system ? (
                      <span className="muted small">Read-only</span>
                    ) : (
                      manage && (
                        <>
                          <Button size="small" onClick={() => setEditing(r)} disabled={!catalog.data} aria-label={`Edit role ${r.name}`}>
                            Edit
                          </Button>{' '}
                          <Button size="small" variant="ghost" onClick={() => setDeleting(r)} aria-label={`Delete role ${r.name}`}>
                            Delete
                          </Button>
                        </>
                      )
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {editing && catalog.data && (
        <RoleEditor
          role={editing === 'new' ? null : editing}
          catalog={catalog.data.items}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void roles.reload();
          }}
        />
      )}
      <ConfirmDialog
        title="Delete role"
        open={deleting !== null}
        onClose={() => setDeleting(null)}
        confirmLabel="Delete role"
        onConfirm={async () => {
          await api.delete(`/api/roles/${encodeURIComponent(deleting!.id)}`);
          void roles.reload();
        }}
      >
        <p>
          Delete the role <strong>{deleting?.name}</strong>? A role that is still assigned to someone cannot be deleted.
        </p>
      </ConfirmDialog>
    </>
  );
}
