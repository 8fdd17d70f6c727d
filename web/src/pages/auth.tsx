// Sign-up, log-in and the invitation page: the screens a customer sees before they have a session.
import { useEffect, useState, type FormEvent, type ReactNode } from 'react';
import { Link, Navigate, useLocation, useNavigate, useSearchParams } from 'react-router-dom';
import type { TokenBundle } from '../api/types';
import { useApp } from '../app/context';
import { useSubmit } from '../forms/useSubmit';
import { collect, emailError, passwordError, requiredError } from '../forms/validate';
import { Alert, Button, ErrorAlert, TextField } from '../ui/ui';

function AuthCard({ title, children }: { title: string; children: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Atrium`;
  }, [title]);
  return (
    <main className="auth-page" id="main">
      <div className="auth-card card">
        <div className="brand">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          Atrium
        </div>
        <h1>{title}</h1>
        {children}
      </div>
    </main>
  );
}

/** Where to go after signing in: the `next` parameter if it is a path of this console. */
function useNext(): string {
  const [params] = useSearchParams();
  const next = params.get('next') ?? '/';
  return next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function LoginPage() {
  const { api, signIn, status, notice, clearNotice } = useApp();
  const next = useNext();
  const navigate = useNavigate();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const form = useSubmit();

  if (status === 'signed-in') return <Navigate to={next} replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.run(collect({ email: emailError(email), password: password ? undefined : 'Enter your password.' }), async () => {
      const bundle = await api.post<TokenBundle>('/api/auth/login', { email: email.trim(), password }, { auth: false });
      await signIn(bundle);
      navigate(next, { replace: true });
    });
  };

  return (
    <AuthCard title="Sign in">
      {notice && (
        <Alert kind="info">
          {notice}{' '}
          <button type="button" className="btn ghost small" onClick={clearNotice} aria-label="Dismiss">
            ×
          </button>
        </Alert>
      )}
      <ErrorAlert error={form.error} />
      <form onSubmit={submit} noValidate>
        <TextField
          label="Email"
          type="email"
          autoComplete="username"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={form.fieldError('email')}
          autoFocus
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={form.fieldError('password')}
        />
        <Button type="submit" variant="primary" busy={form.busy}>
          Sign in
        </Button>
      </form>
      <p className="switch">
        New to Atrium? <Link to="/signup">Create an account</Link>
      </p>
    </AuthCard>
  );
}

export function SignupPage() {
  const { api, signIn, status } = useApp();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [organization, setOrganization] = useState('');
  const form = useSubmit();

  if (status === 'signed-in') return <Navigate to="/" replace />;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    void form.run(
      collect({
        email: emailError(email),
        password: passwordError(password),
        organization_name: requiredError(organization, 'a name for your organization'),
      }),
      async () => {
        const bundle = await api.post<TokenBundle>(
          '/api/auth/signup',
          { email: email.trim(), password, name: name.trim() || undefined, organization_name: organization.trim() },
          { auth: false },
        );
        await signIn(bundle);
        navigate('/', { replace: true });
      },
    );
  };

  return (
    <AuthCard title="Create your account">
      <p className="muted">You will be the administrator of a new organization. You can invite your team next.</p>
      <ErrorAlert error={form.error} />
      <form onSubmit={submit} noValidate>
        <TextField label="Your name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} />
        <TextField
          label="Email"
          type="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={form.fieldError('email')}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="new-password"
          hint="10 to 128 characters."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={form.fieldError('password')}
        />
        <TextField
          label="Organization name"
          autoComplete="organization"
          value={organization}
          onChange={(e) => setOrganization(e.target.value)}
          error={form.fieldError('organization_name')}
        />
        <Button type="submit" variant="primary" busy={form.busy}>
          Create account
        </Button>
      </form>
      <p className="switch">
        Already have an account? <Link to="/login">Sign in</Link>
      </p>
    </AuthCard>
  );
}

/**
 * /invitations/accept?token=…: a new user chooses a name and password; someone already signed in
 * may accept as themselves. The token is taken out of the address bar at once so that it does
 * not stay in the browser history.
 */
export function AcceptInvitationPage() {
  const { api, signIn, status, me, session } = useApp();
  const location = useLocation();
  const navigate = useNavigate();
  const [token] = useState(() => new URLSearchParams(location.search).get('token') ?? '');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const form = useSubmit();

  useEffect(() => {
    if (new URLSearchParams(window.location.search).has('token')) {
      window.history.replaceState(window.history.state, '', window.location.pathname);
    }
  }, []);

  if (!token) {
    return (
      <AuthCard title="Invitation">
        <Alert kind="error">This invitation link is incomplete. Ask the person who invited you to send it again.</Alert>
        <Link to="/login">Go to sign in</Link>
      </AuthCard>
    );
  }

  const accept = (asCurrentUser: boolean) => {
    const checks = asCurrentUser
      ? {}
      : collect({ name: requiredError(name, 'your name'), password: passwordError(password) });
    void form.run(checks, async () => {
      const bearer = asCurrentUser ? ((await session.accessToken()) ?? undefined) : undefined;
      const body = asCurrentUser ? { token } : { token, name: name.trim(), password };
      const bundle = await api.post<TokenBundle>('/api/invitations/accept', body, { auth: false, token: bearer });
      await signIn(bundle);
      navigate('/', { replace: true });
    });
  };

  return (
    <AuthCard title="Join your team">
      <ErrorAlert error={form.error} />
      {status === 'signed-in' && me && (
        <div className="stack">
          <p>
            You are signed in as <strong>{me.user.email}</strong>.
          </p>
          <Button variant="primary" busy={form.busy} onClick={() => accept(true)}>
            Accept as {me.user.email}
          </Button>
          <p className="muted small">Or create a new account for the invited address below.</p>
        </div>
      )}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          accept(false);
        }}
        noValidate
      >
        <TextField label="Your name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} error={form.fieldError('name')} />
        <TextField
          label="Choose a password"
          type="password"
          autoComplete="new-password"
          hint="10 to 128 characters."
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={form.fieldError('password')}
        />
        <Button type="submit" variant={status === 'signed-in' ? 'default' : 'primary'} busy={form.busy}>
          Accept invitation
        </Button>
      </form>
      <p className="switch">
        Already have an account? <Link to="/login">Sign in</Link> and open the link again.
      </p>
    </AuthCard>
  );
}
