// The signed-in frame: navigation (only what the user may see), the organization switcher, the
// live-connection indicator and the account menu.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import { NavLink, useLocation, useNavigate } from 'react-router-dom';
import { describeError } from '../api/errors';
import type { Me, Organization, Page } from '../api/types';
import type { ConnectionState } from '../realtime/realtime';
import { Button } from '../ui/ui';
import { useApp } from './context';

interface NavItem {
  to: string;
  label: string;
  permission?: string;
}

const NAV: NavItem[] = [
  { to: '/', label: 'Dashboard' },
  { to: '/agents', label: 'Agents', permission: 'agents:read' },
  { to: '/tasks', label: 'Tasks', permission: 'tasks:read' },
  { to: '/members', label: 'Members', permission: 'users:read' },
  { to: '/roles', label: 'Roles', permission: 'users:read' },
  { to: '/api-keys', label: 'API keys', permission: 'apikeys:manage' },
  { to: '/audit', label: 'Audit log', permission: 'audit:read' },
  { to: '/settings', label: 'Settings', permission: 'org:read' },
];

export function useConnectionState(): ConnectionState {
  const { realtime } = useApp();
  const [state, setState] = useState(realtime.state);
  useEffect(() => realtime.onState(setState), [realtime]);
  return state;
}

export function LiveIndicator() {
  const state = useConnectionState();
  if (state === 'idle') return null;
  const text = { idle: '', connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…' }[state];
  return (
    <span className={`live ${state}`} role="status" aria-live="polite">
      {text}
    </span>
  );
}

/**
 * The organizations the switcher offers: the user's memberships, the current one (a super admin
 * may be in one without being a member), and for a `*` holder every organization (GET /api/orgs
 * lists them all for `*`).
 */
export function switcherOrganizations(me: Me, listed: Organization[]): Organization[] {
  const seen = new Set<string>();
  const out: Organization[] = [];
  for (const org of [...me.memberships.map((m) => m.organization), ...(me.organization ? [me.organization] : []), ...listed]) {
    if (seen.has(org.id)) continue;
    seen.add(org.id);
    out.push(org);
  }
  return out;
}

function OrgSwitcher() {
  const { api, me, can, switchOrganization } = useApp();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);
  const [listed, setListed] = useState<Organization[]>([]);
  const everyOrg = can('*');
  useEffect(() => {
    if (!everyOrg) return;
    let cancelled = false;
    api
      .get<Page<Organization>>('/api/orgs', { query: { limit: 100 } })
      .then((page) => {
        if (!cancelled) setListed(page.items);
      })
      .catch(() => {
        // The switcher still offers the memberships.
      });
    return () => {
      cancelled = true;
    };
  }, [api, everyOrg]);
  if (!me) return null;
  const current = me.organization?.id ?? '';
  return (
    <div>
      <label className="org-label" htmlFor="org-switcher">
        Organization
      </label>
      <select
        id="org-switcher"
        value={current}
        onChange={async (e) => {
          const value = e.target.value;
          setError(null);
          if (value === '__new') {
            navigate('/orgs/new');
            return;
          }
          try {
            await switchOrganization(value);
            navigate('/');
          } catch (err) {
            setError(describeError(err));
          }
        }}
      >
        {!current && <option value="">No organization</option>}
        {switcherOrganizations(me, listed).map((org) => (
          <option key={org.id} value={org.id}>
            {org.name}
          </option>
        ))}
        <option value="__new">+ Create organization…</option>
      </select>
      {error && (
        <p className="small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

export function Shell({ children }: { children: ReactNode }) {
  const { me, can, signOut } = useApp();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstPath = useRef(location.pathname);
  useEffect(() => {
    setMenuOpen(false);
    // After client-side navigation, start keyboard and screen-reader users at the new content.
    if (location.pathname !== firstPath.current) {
      firstPath.current = '';
      mainRef.current?.focus({ preventScroll: true });
    }
  }, [location.pathname]);
  const hasOrg = Boolean(me?.organization);
  const roles = me?.memberships.find((m) => m.organization.id === me.organization?.id)?.roles ?? [];

  return (
    <div className={`shell${menuOpen ? ' menu-open' : ''}`}>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <aside className="sidebar" aria-label="Main">
        <NavLink to="/" className="brand">
          <img src="/favicon.svg" alt="" width={26} height={26} />
          Atrium
        </NavLink>
        <OrgSwitcher />
        {hasOrg && (
          <nav className="nav" aria-label="Sections">
            {NAV.filter((n) => !n.permission || can(n.permission)).map((n) => (
              <NavLink key={n.to} to={n.to} end={n.to === '/'}>
                {n.label}
              </NavLink>
            ))}
          </nav>
        )}
      </aside>
      <div className="main">
        <header className="topbar">
          <Button className="menu-toggle" aria-expanded={menuOpen} onClick={() => setMenuOpen((o) => !o)}>
            Menu
          </Button>
          <LiveIndicator />
          <span className="who">
            {me?.user.name || me?.user.email}
            {roles.length > 0 && <span className="muted"> · {roles.join(', ')}</span>}
          </span>
          <Button size="small" onClick={() => void signOut()}>
            Sign out
          </Button>
        </header>
        <main className="content" id="main" tabIndex={-1} ref={mainRef}>
          {children}
        </main>
      </div>
    </div>
  );
}
