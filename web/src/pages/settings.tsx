// Organization settings (name, slug, deletion) and its secrets, which can be set but never read.
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import type { Organization } from '../api/types';
import { useApp } from '../app/context';
import { useResource } from '../app/useResource';
import { useSubmit } from '../forms/useSubmit';
import { collect, requiredError, secretNameError, slugError } from '../forms/validate';
import { Alert, Button, ConfirmDialog, ErrorAlert, Loading, PageHeader, TextField, Time } from '../ui/ui';

function OrgForm({ org, onSaved }: { org: Organization; onSaved: (o: Organization) => void }) {
  const { api, reloadMe } = useApp();
  const [name, setName] = useState(org.name);
  const [slug, setSlug] = useState(org.slug);
  const [saved, setSaved] = useState(false);
  const form = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setSaved(false);
    void form.run(collect({ name: requiredError(name, 'a name'), slug: slugError(slug) }), async () => {
      onSaved(await api.put<Organization>(`/api/orgs/${encodeURIComponent(org.id)}`, { name: name.trim(), slug }));
      setSaved(true);
      await reloadMe();
    });
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="org-form-title">
      <h2 id="org-form-title">Organization</h2>
      <ErrorAlert error={form.error} />
      {saved && <Alert kind="success">Saved.</Alert>}
      <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} />
      <TextField label="Slug" hint="Used in addresses; lowercase letters, digits and dashes." value={slug} onChange={(e) => setSlug(e.target.value)} error={form.fieldError('slug')} />
      <Button type="submit" variant="primary" busy={form.busy}>
        Save
      </Button>
    </form>
  );
}

function SecretForm({ org }: { org: Organization }) {
  const { api } = useApp();
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [stored, setStored] = useState<string | null>(null);
  const form = useSubmit();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setStored(null);
    void form.run(collect({ name: secretNameError(name), value: value ? undefined : 'Enter the value.' }), async () => {
      await api.put(`/api/orgs/${encodeURIComponent(org.id)}/secrets/${encodeURIComponent(name)}`, { value });
      setStored(name);
      setValue('');
    });
  };
  return (
    <form className="card" onSubmit={submit} noValidate aria-labelledby="secrets-form-title">
      <h2 id="secrets-form-title">Secrets</h2>
      <p className="muted small">
        Secrets (for example the organization’s LLM key, <code>openai</code>) are stored encrypted and are never shown again.
        Setting an existing name replaces its value.
      </p>
      <ErrorAlert error={form.error} />
      {stored && <Alert kind="success">Secret “{stored}” saved.</Alert>}
      <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} autoComplete="off" />
      <TextField
        label="Value"
        type="password"
        autoComplete="new-password"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        error={form.fieldError('value')}
      />
      <Button type="submit" variant="primary" busy={form.busy}>
        Save secret
      </Button>
    </form>
  );
}

export function SettingsPage() {
  const { api, can, me, reloadMe } = useApp();
  const navigate = useNavigate();
  const org = useResource(() => api.get<Organization>('/api/orgs/current'), [api]);
  const [deleting, setDeleting] = useState(false);
  const manage = can('org:manage');

  if (org.loading && !org.data) return <Loading label="Loading settings…" />;
  return (
    <>
      <PageHeader title="Settings" description={me?.organization?.name} />
      <ErrorAlert error={org.error} />
      {org.data && (
        <div className="grid-2">
          {manage ? (
            <OrgForm org={org.data} onSaved={(o) => org.setData(o)} />
          ) : (
            <div className="card">
              <h2>Organization</h2>
              <dl className="props">
                <dt>Name</dt>
                <dd>{org.data.name}</dd>
                <dt>Slug</dt>
                <dd className="mono">{org.data.slug}</dd>
                <dt>Created</dt>
                <dd>
                  <Time value={org.data.created_at} />
                </dd>
                <dt>ID</dt>
                <dd className="mono">{org.data.id}</dd>
              </dl>
              <p className="muted small" style={{ marginTop: '0.75rem' }}>
                Changing these settings and secrets needs the <code>org:manage</code> permission, which your roles do not grant.
              </p>
            </div>
          )}
          {manage && <SecretForm org={org.data} />}
          {manage && (
            <div className="card">
              <h2>Delete organization</h2>
              <p className="muted small">Deletes the organization with its agents, tasks, keys and secrets.</p>
              <Button variant="danger" onClick={() => setDeleting(true)}>
                Delete organization
              </Button>
            </div>
          )}
        </div>
      )}
      <ConfirmDialog
        title="Delete organization"
        open={deleting}
        onClose={() => setDeleting(false)}
        confirmLabel="Delete for good"
        onConfirm={async () => {
          await api.delete(`/api/orgs/${encodeURIComponent(org.data!.id)}`);
          await reloadMe().catch(() => {});
          navigate('/');
        }}
      >
        <p>
          Delete <strong>{org.data?.name}</strong> and everything in it? This cannot be undone.
        </p>
      </ConfirmDialog>
    </>
  );
}
