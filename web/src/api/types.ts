// The shapes of /work/shared/API.md (the contract the server implements). Fields the contract
// names are required here; anything else the server adds is ignored by the console.

export interface User {
  id: string;
  email: string;
  name: string;
}

export interface Organization {
  id: string;
  name: string;
  slug: string;
  created_at?: string;
}

export interface TokenBundle {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
  user: User;
  organization: Organization | null;
  permissions: string[];
}

export interface Membership {
  organization: Organization;
  roles: string[];
}

export interface Me {
  user: User;
  organization: Organization | null;
  permissions: string[];
  memberships: Membership[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface Member {
  id: string;
  email: string;
  name: string;
  roles: string[];
  joined_at: string;
}

export interface Invitation {
  id: string;
  email: string;
  role: string;
  token: string;
  expires_at: string;
}

export type AddMemberResult = { member: Member } | { invitation: Invitation };

export interface Permission {
  name: string;
  description: string;
}

export interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  system: boolean;
}

export type Executor = 'echo' | 'openai';

export interface Agent {
  id: string;
  name: string;
  description: string;
  executor: Executor;
  model: string;
  instructions: string;
  config: Record<string, unknown>;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export type TaskStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
export const TASK_STATUSES: TaskStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
export const TERMINAL_STATUSES: ReadonlySet<TaskStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface Task {
  id: string;
  agent_id: string;
  status: TaskStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  attempts: number;
  created_by: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface Progress {
  step: number;
  of: number;
}

export interface ApiKey {
  id: string;
  name: string;
  prefix?: string;
  permissions: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at?: string | null;
  revoked_at?: string | null;
}

export interface CreatedApiKey extends ApiKey {
  key: string;
}

export interface AuditEntry {
  id: string;
  action: string;
  actor: { type: string; id: string | null; email: string | null };
  target: { type: string | null; id: string | null };
  ip: string | null;
  request_id: string | null;
  details: unknown;
  created_at: string;
}

export const AUDIT_ACTIONS = [
  'auth.signup',
  'auth.login',
  'auth.login_failed',
  'auth.refresh_reuse',
  'org.create',
  'org.update',
  'org.delete',
  'member.add',
  'member.invite',
  'member.update',
  'member.remove',
  'role.create',
  'role.update',
  'role.delete',
  'agent.create',
  'agent.update',
  'agent.delete',
  'task.create',
  'task.cancel',
  'apikey.create',
  'apikey.revoke',
  'secret.update',
] as const;
