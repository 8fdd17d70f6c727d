// Members of the current organization: add or invite with a role, change roles, remove. An
// invitation's link is shown once, when it is created.
import { useState, type FormEvent } from 'react';
import type { AddMemberResult, Invitation, Member, Page, Role } from '../api/types';
import { useApp } from '../app/context';
import { usePaged, useResource } from '../app/useResource';
import { useSubmit } from '../forms/useSubmit';
import { collect, emailError } from '../forms/validate';
import {
  Alert,
  Button,
  CheckGroup,
  ConfirmDialog,
  Dialog,
  Empty,
  ErrorAlert,
  Loading,
  PageHeader,
  SelectField,
  ShownOnce,
  TextField,
  Time,
} from '../ui/ui';

export function invitationLink(token: string, origin = window.location.origin): string {
  return `${origin}/invitations/accept?token=${encodeURIComponent(token)}`;
}

function AddMember({ roles, onAdded }: { roles: Role[]; onAdded: (r: AddMemberResult) => void }) {
  const { api } = useApp();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState(roles.find((r) => r.name === 'USER')?.name ?? roles[0]?.name ?? '');
  const form = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.run(collect({ email: emailError(email), role: role ? undefined : 'Choose a role.' }), async () => {
      const result = await api.post<AddMemberResult>('/api/users', { email: email.trim(), role });
      setEmail('');
      onAdded(result);
    });
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="add-member-title">
      <h2 id="add-member-title">Add a member</h2>
      <p className="muted small">Someone who already has an Atrium account joins at once; anyone else gets an invitation link.</p>
      <ErrorAlert error={form.error} />
      <div className="row">
        <TextField label="Email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} error={form.fieldError('email')} />
        <SelectField
          label="Role"
          value={role}
          onChange={(e) => setRole(e.target.value)}
          options={roles.map((r) => ({ value: r.name, label: r.name }))}
          error={form.fieldError('role')}
        />
        <div className="field fit">
          <Button type="submit" variant="primary" busy={form.busy}>
            Add or invite
          </Button>
        </div>
      </div>
    </form>
  );
}

function EditRoles({ member, roles, onClose, onSaved }: { member: Member; roles: Role[]; onClose: () => void; onSaved: (m: Member) => void }) {
  const { api } = useApp();
  const [selected, setSelected] = useState(member.roles);
  const form = useSubmit();
  return (
    <Dialog title={`Roles of ${member.name || member.email}`} open onClose={onClose}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void form.run(collect({ roles: selected.length ? undefined : 'Choose at least one role.' }), async () => {
            onSaved(await api.patch<Member>(`/api/users/${encodeURIComponent(member.id)}`, { roles: selected }));
          });
        }}
        noValidate
      >
        <ErrorAlert error={form.error} />
        <CheckGroup
          legend="Roles"
          value={selected}
          onChange={setSelected}
          error={form.fieldError('roles')}
          options={roles.map((r) => ({ value: r.name, label: r.name, description: r.description }))}
        />
        <div className="dialog-actions">
          <Button onClick={onClose}>Cancel</Button>
          <Button type="submit" variant="primary" busy={form.busy}>
            Save roles
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

export function MembersPage() {
  const { api, can, me } = useApp();
  const manage = can('users:manage');
  const list = usePaged<Member>((cursor) => api.get<Page<Member>>('/api/users', { query: { cursor, limit: 50 } }), [api]);
  const roles = useResource(() => api.get<Page<Role>>('/api/roles', { query: { limit: 100 } }), [api]);
  const [invitation, setInvitation] = useState<Invitation | null>(null);
  const [added, setAdded] = useState<Member | null>(null);
  const [editing, setEditing] = useState<Member | null>(null);
  const [removing, setRemoving] = useState<Member | null>(null);
  // SUPER_ADMIN is listed with the system roles but is global: no organization grants it.
  const roleList = (roles.data?.items ?? []).filter((r) => !(r.system && r.name === 'SUPER_ADMIN'));

  return (
    <>
      <PageHeader title="Members" description="People in this organization and their roles." />
      {manage && roles.data && (
        <AddMember
          roles={roleList}
          onAdded={(r) => {
            if ('invitation' in r) {
              setInvitation(r.invitation);
              setAdded(null);
            } else {
              setAdded(r.member);
              setInvitation(null);
              list.setItems((items) => [...items.filter((m) => m.id !== r.member.id), r.member]);
            }
          }}
        />
      )}
      <ErrorAlert error={roles.error} />
      {added && <Alert kind="success">{added.email} is now a member.</Alert>}
      {invitation && (
        <div className="card" style={{ marginTop: '1rem' }}>
          <h2>Invitation created</h2>
          <ShownOnce
            label={`Invitation link for ${invitation.email} (role ${invitation.role})`}
            value={invitationLink(invitation.token)}
            note={
              <>
                Send this link to {invitation.email}. It is shown only now and expires <Time value={invitation.expires_at} />.
              </>
            }
          />
          <Button size="small" onClick={() => setInvitation(null)}>
            Done
          </Button>
        </div>
      )}
      <div style={{ marginTop: '1rem' }}>
        <ErrorAlert error={list.error} />
        {list.loading ? (
          <Loading label="Loading members…" />
        ) : list.items.length === 0 ? (
          <div className="card">
            <Empty title="No members" />
          </div>
        ) : (
          <div className="table-wrap">
            <table>
              <caption className="visually-hidden">Members</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Email</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Joined</th>
                  {manage && (
                    <th scope="col">
                      <span className="visually-hidden">Actions</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {list.items.map((m) => (
                  <tr key={m.id}>
                    <td>
                      {m.name || '—'}
                      {m.id === me?.user.id && <span className="muted small"> (you)</span>}
                    </td>
                    <td>{m.email}</td>
                    <td>
                      {m.roles.map((r) => (
                        <span key={r} className="badge" style={{ marginRight: 4 }}>
                          {r}
                        </span>
                      ))}
                    </td>
                    <td>
                      <Time value={m.joined_at} />
                    </td>
                    {manage && (
                      <td className="actions">
                        <Button size="small" onClick={() => setEditing(m)} aria-label={`Change roles of ${m.email}`}>
                          Roles
                        </Button>{' '}
                        <Button size="small" variant="ghost" onClick={() => setRemoving(m)} aria-label={`Remove ${m.email}`}>
                          Remove
                        </Button>
                      </td>
                    )}
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
      </div>
      {editing && (
        <EditRoles
          member={editing}
          roles={roleList}
          onClose={() => setEditing(null)}
          onSaved={(m) => {
            list.setItems((items) => items.map((x) => (x.id === m.id ? m : x)));
            setEditing(null);
          }}
        />
      )}
      <ConfirmDialog
        title="Remove member"
        open={removing !== null}
        onClose={() => setRemoving(null)}
        confirmLabel="Remove"
        onConfirm={async () => {
          const m = removing!;
          await api.delete(`/api/users/${encodeURIComponent(m.id)}`);
          list.setItems((items) => items.filter((x) => x.id !== m.id));
        }}
      >
        <p>
          Remove <strong>{removing?.email}</strong> from this organization? Their account stays; they lose access here within
          seconds.
        </p>
      </ConfirmDialog>
    </>
  );
}
