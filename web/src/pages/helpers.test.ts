import { describe, expect, it } from 'vitest';
import { invitationLink } from './members';
import { permissionOptions } from './roles';

describe('invitationLink', () => {
  it('points at the console’s accept page with the token encoded', () => {
    expect(invitationLink('a+b/c=', 'https://atrium.example')).toBe('https://atrium.example/invitations/accept?token=a%2Bb%2Fc%3D');
  });
});

describe('permissionOptions', () => {
  const catalog = [
    { name: 'org:manage', description: 'Modify organization settings' },
    { name: 'agents:create', description: 'Create agents' },
    { name: 'tasks:cancel', description: 'Cancel tasks' },
  ];
  it('disables what the user does not hold, so no role or key escalates', () => {
    const options = permissionOptions(catalog, ['agents:*', 'tasks:cancel']);
    expect(options.map((o) => [o.value, Boolean(o.disabled)])).toEqual([
      ['org:manage', true],
      ['agents:create', false],
      ['tasks:cancel', false],
    ]);
    expect(options[0].disabledReason).toMatch(/do not hold/);
  });
  it('enables everything for a wildcard holder', () => {
    expect(permissionOptions(catalog, ['*']).every((o) => !o.disabled)).toBe(true);
  });
});
