// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { bundleFor, meFor, renderApp } from '../test/harness';

afterEach(cleanup);

const ADMIN = ['org:read', 'users:read', 'users:manage', 'roles:manage', 'agents:*', 'tasks:*', 'audit:read', 'apikeys:manage'];
const USER = ['org:read', 'users:read', 'agents:read', 'tasks:read', 'tasks:create'];

describe('sign up', () => {
  it('checks the form before sending anything', async () => {
    const { calls } = renderApp('/signup', {});
    fireEvent.click(await screen.findByRole('button', { name: 'Create account' }));
    expect(await screen.findByText('Enter your email address.')).toBeTruthy();
    expect(screen.getByText('Enter a password.')).toBeTruthy();
    expect(screen.getByLabelText('Email').getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.path === '/api/auth/signup')).toHaveLength(0);
  });

  it('shows the server’s field errors at their fields', async () => {
    renderApp('/signup', {
      'POST /api/auth/signup': () => ({
        status: 409,
        body: { status: 409, code: 'conflict', title: 'Conflict', detail: 'That email is already registered.', errors: [{ field: 'email', message: 'already registered' }] },
      }),
    });
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse battery' } });
    fireEvent.change(screen.getByLabelText('Organization name'), { target: { value: 'Acme' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByText('already registered')).toBeTruthy();
    expect(screen.getByRole('alert').textContent).toContain('That email is already registered.');
  });

  it('shows a validation error once, at its field, when the form has that field', async () => {
    const invalid = (field: string) => () => ({
      status: 400,
      body: {
        status: 400,
        code: 'invalid_request',
        title: 'Invalid request',
        detail: `${field}: is not allowed here`,
        errors: [{ field, message: 'is not allowed here' }],
      },
    });
    let field = 'organization_name';
    renderApp('/signup', { 'POST /api/auth/signup': () => invalid(field)() });
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse battery' } });
    fireEvent.change(screen.getByLabelText('Organization name'), { target: { value: 'Acme' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByText('is not allowed here')).toBeTruthy();
    expect(screen.queryByRole('alert')).toBeNull();

    // A field the form does not show: the banner is the only place it can be read.
    field = 'referrer';
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect((await screen.findByRole('alert')).textContent).toContain('referrer: is not allowed here');
  });

  it('signs in with the bundle and lands on the dashboard', async () => {
    const { calls } = renderApp('/signup', {
      'POST /api/auth/signup': () => ({ status: 201, body: bundleFor(ADMIN) }),
      'GET /api/me': () => ({ status: 200, body: meFor(ADMIN, ['TENANT_ADMIN']) }),
      'GET /api/agents': () => ({ status: 200, body: { items: [], next_cursor: null } }),
      'GET /api/users': () => ({ status: 200, body: { items: [], next_cursor: null } }),
      'GET /api/tasks': () => ({ status: 200, body: { items: [], next_cursor: null } }),
    });
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'correct horse battery' } });
    fireEvent.change(screen.getByLabelText('Organization name'), { target: { value: 'Acme' } });
    fireEvent.click(screen.getByRole('button', { name: 'Create account' }));
    expect(await screen.findByRole('heading', { name: 'Acme' })).toBeTruthy();
    expect(calls.find((c) => c.path === '/api/auth/signup')?.body).toEqual({
      email: 'ada@example.com',
      password: 'correct horse battery',
      organization_name: 'Acme',
    });
  });
});

describe('log in', () => {
  it('says in words that the credentials are wrong', async () => {
    renderApp('/login', {
      'POST /api/auth/login': () => ({ status: 401, body: { status: 401, code: 'invalid_credentials', title: 'Unauthorized' } }),
    });
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'ada@example.com' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'wrong password' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('The email or password is not correct.');
  });

  it('returns to login with a message when the session is revoked', async () => {
    let revoked = false;
    renderApp(
      '/agents',
      {
        'GET /api/agents': () => ({ status: 200, body: { items: [], next_cursor: null } }),
        'GET /api/tasks': () => ({ status: 401, body: { code: 'unauthenticated' } }),
        'POST /api/auth/refresh': () => (revoked ? { status: 401, body: { code: 'unauthenticated' } } : { status: 200, body: bundleFor(USER) }),
      },
      USER,
    );
    expect(await screen.findByRole('heading', { name: 'Agents' })).toBeTruthy();
    revoked = true;
    fireEvent.click(screen.getByRole('link', { name: 'Tasks' }));
    expect(await screen.findByText(/session has ended or was revoked/)).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Sign in' })).toBeTruthy();
  });
});

describe('permission-aware controls', () => {
  const agentsRoutes = { 'GET /api/agents': () => ({ status: 200, body: { items: [], next_cursor: null } }) };

  it('offers agent creation to an administrator', async () => {
    renderApp('/agents', agentsRoutes, ADMIN);
    expect(await screen.findByRole('button', { name: 'New agent' })).toBeTruthy();
    expect(screen.getByRole('link', { name: 'API keys' })).toBeTruthy();
  });

  it('hides agent creation and admin sections from a USER', async () => {
    renderApp('/agents', agentsRoutes, USER);
    expect(await screen.findByText('Your role cannot create agents.')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'New agent' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'API keys' })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Audit log' })).toBeNull();
  });

  it('explains a page the roles do not grant', async () => {
    renderApp('/audit', {}, USER);
    expect(await screen.findByText('No access')).toBeTruthy();
    expect(screen.getByText('audit:read')).toBeTruthy();
  });
});

describe('running a task', () => {
  it('refuses input that is not a JSON object', async () => {
    const agent = { id: 'a1', name: 'Echo', description: '', executor: 'echo', model: '', instructions: '', config: {}, created_by: 'u1', created_at: '', updated_at: '' };
    const { calls } = renderApp(
      '/agents/a1',
      {
        'GET /api/agents/a1': () => ({ status: 200, body: agent }),
        'GET /api/tasks': () => ({ status: 200, body: { items: [], next_cursor: null } }),
      },
      USER,
    );
    const input = await screen.findByLabelText('Input (JSON object)');
    fireEvent.change(input, { target: { value: '{steps: 3' } });
    fireEvent.click(screen.getByRole('button', { name: 'Run task' }));
    expect(await screen.findByText(/not valid JSON/)).toBeTruthy();
    await waitFor(() => expect(calls.some((c) => c.method === 'POST' && c.path === '/api/agents/a1/tasks')).toBe(false));
  });
});

describe('members', () => {
  const roles = {
    items: [
      { id: 'r1', name: 'TENANT_ADMIN', description: '', permissions: [], system: true },
      { id: 'r2', name: 'USER', description: '', permissions: [], system: true },
    ],
    next_cursor: null,
  };
  it('invites with a role and shows the invitation link once', async () => {
    const { calls } = renderApp(
      '/members',
      {
        'GET /api/users': () => ({ status: 200, body: { items: [], next_cursor: null } }),
        'GET /api/roles': () => ({ status: 200, body: roles }),
        'POST /api/users': () => ({
          status: 201,
          body: { invitation: { id: 'i1', email: 'bob@example.com', role: 'USER', token: 'tok/1', expires_at: '2030-01-01T00:00:00Z' } },
        }),
      },
      ADMIN,
    );
    fireEvent.change(await screen.findByLabelText('Email'), { target: { value: 'bob@example.com' } });
    fireEvent.click(screen.getByRole('button', { name: 'Add or invite' }));
    const link = (await screen.findByLabelText('Invitation link for bob@example.com (role USER)')) as HTMLInputElement;
    expect(link.value).toBe(`${window.location.origin}/invitations/accept?token=tok%2F1`);
    expect(calls.find((c) => c.method === 'POST' && c.path === '/api/users')?.body).toEqual({ email: 'bob@example.com', role: 'USER' });
    fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    expect(screen.queryByLabelText(/Invitation link/)).toBeNull();
  });

  it('offers no member management without users:manage', async () => {
    renderApp(
      '/members',
      {
        'GET /api/users': () => ({
          status: 200,
          body: { items: [{ id: 'u1', email: 'ada@example.com', name: 'Ada', roles: ['USER'], joined_at: '2026-01-01T00:00:00Z' }], next_cursor: null },
        }),
        'GET /api/roles': () => ({ status: 200, body: roles }),
      },
      USER,
    );
    expect(await screen.findByText('ada@example.com')).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Add or invite' })).toBeNull();
    expect(screen.queryByRole('button', { name: /Remove/ })).toBeNull();
  });
});
