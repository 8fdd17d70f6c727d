import { describe, expect, it } from 'vitest';
import { grantable, grants, grantsAll } from './permissions';

describe('grants', () => {
  it('grants an exact permission', () => {
    expect(grants(['agents:read'], 'agents:read')).toBe(true);
    expect(grants(['agents:read'], 'agents:create')).toBe(false);
  });
  it('grants everything to *', () => {
    expect(grants(['*'], 'apikeys:manage')).toBe(true);
  });
  it('grants every action of a resource to resource:*', () => {
    expect(grants(['tasks:*'], 'tasks:cancel')).toBe(true);
    expect(grants(['tasks:*'], 'agents:read')).toBe(false);
  });
  it('does not treat a prefix as a wildcard', () => {
    expect(grants(['task:*'], 'tasks:read')).toBe(false);
    expect(grants(['agents:rea'], 'agents:read')).toBe(false);
  });
  it('grants nothing to nobody', () => {
    expect(grants([], 'org:read')).toBe(false);
  });
});

describe('grantsAll and grantable', () => {
  it('needs every permission', () => {
    expect(grantsAll(['users:read', 'users:manage'], ['users:read', 'users:manage'])).toBe(true);
    expect(grantsAll(['users:read'], ['users:read', 'users:manage'])).toBe(false);
  });
  it('offers only what the holder has', () => {
    const catalog = ['org:read', 'org:manage', 'agents:read', 'agents:create', 'tasks:read'];
    expect(grantable(['org:read', 'agents:*'], catalog)).toEqual(['org:read', 'agents:read', 'agents:create']);
    expect(grantable(['*'], catalog)).toEqual(catalog);
  });
});
