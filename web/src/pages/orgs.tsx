// Creating an organization, and the page for a user who belongs to none.
import { useState, type FormEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import type { Organization } from '../api/types';
import { useApp } from '../app/context';
import { useSubmit } from '../forms/useSubmit';
import { collect, requiredError, slugError, slugify } from '../forms/validate';
import { Button, ErrorAlert, PageHeader, TextField } from '../ui/ui';

export function CreateOrgPage() {
  const { api, switchOrganization } = useApp();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [slugEdited, setSlugEdited] = useState(false);
  const form = useSubmit();
  const effectiveSlug = slugEdited ? slug : slugify(name);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.run(
      collect({ name: requiredError(name, 'a name'), slug: effectiveSlug ? slugError(effectiveSlug) : undefined }),
      async () => {
        const org = await api.post<Organization>('/api/orgs', { name: name.trim(), ...(effectiveSlug ? { slug: effectiveSlug } : {}) });
        await switchOrganization(org.id);
        navigate('/');
      },
    );
  };

  return (
    <>
      <PageHeader title="Create an organization" description="You become its administrator. Switch between organizations from the sidebar." />
      <form className="card" onSubmit={submit} noValidate style={{ maxWidth: 520 }}>
        <ErrorAlert error={form.error} />
        <TextField label="Name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} autoFocus />
        <TextField
          label="Slug"
          hint="A short identifier; suggested from the name."
          value={effectiveSlug}
          onChange={(e) => {
            setSlugEdited(true);
            setSlug(e.target.value);
          }}
          error={form.fieldError('slug')}
        />
        <Button type="submit" variant="primary" busy={form.busy}>
          Create organization
        </Button>
      </form>
    </>
  );
}

export function NoOrganization() {
  const { can } = useApp();
  const navigate = useNavigate();
  return (
    <>
      <PageHeader title="Welcome" />
      <div className="card">
        <h2>You are not in an organization yet</h2>
        {can('*') ? (
          <p>As a platform administrator you may open any organization from the switcher in the sidebar, or create one.</p>
        ) : (
          <p>Create one to start, or ask a colleague to invite you to theirs.</p>
        )}
        <Button variant="primary" onClick={() => navigate('/orgs/new')}>
          Create an organization
        </Button>
      </div>
    </>
  );
}
