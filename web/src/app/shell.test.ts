import { describe, expect, it } from 'vitest';
import type { Me, Organization } from '../api/types';
import { switcherOrganizations } from './Shell';

const acme: Organization = { id: 'o1', name: 'Acme', slug: 'acme' };
const beta: Organization = { id: 'o2', name: 'Beta', slug: 'beta' };
const gamma: Organization = { id: 'o3', name: 'Gamma', slug: 'gamma' };

function me(organization: Organization | null, memberships: Organization[], permissions = ['org:read']): Me {
  return {
    user: { id: 'u1', email: 'ada@example.com', name: 'Ada' },
    organization,
    permissions,
    memberships: memberships.map((o) => ({ organization: o, roles: ['USER'] })),
  };
}

describe('the organization switcher', () => {
  it('offers the memberships', () => {
    expect(switcherOrganizations(me(acme, [acme, beta]), []).map((o) => o.id)).toEqual(['o1', 'o2']);
  });

  it('keeps the current organization of a super admin who is not a member of it', () => {
    expect(switcherOrganizations(me(gamma, [], ['*']), []).map((o) => o.id)).toEqual(['o3']);
  });

  it('adds every listed organization once', () => {
    expect(switcherOrganizations(me(acme, [acme], ['*']), [beta, acme, gamma]).map((o) => o.id)).toEqual(['o1', 'o2', 'o3']);
  });
});
