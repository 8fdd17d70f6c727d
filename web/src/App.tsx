import type { ReactNode } from 'react';
import { BrowserRouter, Link, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { AppProvider, useApp } from './app/context';
import { Shell } from './app/Shell';
import { AgentPage, AgentsPage } from './pages/agents';
import { ApiKeysPage } from './pages/apikeys';
import { AuditPage } from './pages/audit';
import { AcceptInvitationPage, LoginPage, SignupPage } from './pages/auth';
import { DashboardPage } from './pages/dashboard';
import { MembersPage } from './pages/members';
import { CreateOrgPage, NoOrganization } from './pages/orgs';
import { RolesPage } from './pages/roles';
import { SettingsPage } from './pages/settings';
import { TaskPage, TasksPage } from './pages/tasks';
import { Button, Empty, Loading } from './ui/ui';

function FullPageLoading() {
  return (
    <main className="auth-page">
      <Loading label="Loading Atrium…" />
    </main>
  );
}

function Unavailable() {
  const { retry } = useApp();
  return (
    <main className="auth-page">
      <div className="auth-card card">
        <h1>Atrium cannot be reached</h1>
        <p>Your session is kept. Check your connection, then try again.</p>
        <Button variant="primary" onClick={retry}>
          Try again
        </Button>
      </div>
    </main>
  );
}

/** Signed-in pages: the frame, remounted per organization so nothing of another one lingers. */
function SignedIn({ children }: { children: ReactNode }) {
  const { status, me } = useApp();
  const location = useLocation();
  if (status === 'loading') return <FullPageLoading />;
  if (status === 'unavailable') return <Unavailable />;
  if (status === 'signed-out') {
    const next = location.pathname + location.search;
    return <Navigate to={next === '/' ? '/login' : `/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return (
    <Shell>
      <div key={me?.organization?.id ?? 'none'}>{children}</div>
    </Shell>
  );
}

/** A page of the current organization that needs `permission` (the server checks again). */
function Gate({ permission, children }: { permission?: string; children: ReactNode }) {
  const { me, can } = useApp();
  if (!me?.organization) return <NoOrganization />;
  if (permission && !can(permission)) {
    return (
      <div className="card">
        <Empty title="No access">
          <p>
            Your roles in this organization do not include <code>{permission}</code>. Ask an administrator if you need it.
          </p>
          <Link to="/">Back to the dashboard</Link>
        </Empty>
      </div>
    );
  }
  return <>{children}</>;
}

function NotFound() {
  return (
    <div className="card">
      <Empty title="Page not found">
        <Link to="/">Back to the dashboard</Link>
      </Empty>
    </div>
  );
}

const page = (element: ReactNode, permission?: string) => (
  <SignedIn>
    <Gate permission={permission}>{element}</Gate>
  </SignedIn>
);

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="/signup" element={<SignupPage />} />
      <Route path="/invitations/accept" element={<AcceptInvitationPage />} />
      <Route path="/" element={page(<DashboardPage />)} />
      <Route path="/agents" element={page(<AgentsPage />, 'agents:read')} />
      <Route path="/agents/:id" element={page(<AgentPage />, 'agents:read')} />
      <Route path="/tasks" element={page(<TasksPage />, 'tasks:read')} />
      <Route path="/tasks/:id" element={page(<TaskPage />, 'tasks:read')} />
      <Route path="/members" element={page(<MembersPage />, 'users:read')} />
      <Route path="/roles" element={page(<RolesPage />, 'users:read')} />
      <Route path="/api-keys" element={page(<ApiKeysPage />, 'apikeys:manage')} />
      <Route path="/audit" element={page(<AuditPage />, 'audit:read')} />
      <Route path="/settings" element={page(<SettingsPage />, 'org:read')} />
      <Route
        path="/orgs/new"
        element={
          <SignedIn>
            <CreateOrgPage />
          </SignedIn>
        }
      />
      <Route path="*" element={page(<NotFound />)} />
    </Routes>
  );
}

export function App() {
  return (
    <AppProvider>
      <BrowserRouter>
        <AppRoutes />
      </BrowserRouter>
    </AppProvider>
  );
}
