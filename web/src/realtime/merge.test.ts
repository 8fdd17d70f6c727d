import { describe, expect, it } from 'vitest';
import type { Task } from '../api/types';
import { applyUpdate, newerTask } from './merge';

const t = (id: string, status: Task['status'], agent_id = 'a1', extra: Partial<Task> = {}) =>
  ({ id, status, agent_id, ...extra }) as Task;

describe('newerTask', () => {
  it('moves forward', () => {
    expect(newerTask(t('1', 'queued'), t('1', 'running')).status).toBe('running');
    expect(newerTask(t('1', 'running'), t('1', 'succeeded', 'a1', { output: { echo: 1 } })).output).toEqual({ echo: 1 });
  });
  it('never moves a task backwards', () => {
    expect(newerTask(t('1', 'succeeded'), t('1', 'running')).status).toBe('succeeded');
    expect(newerTask(t('1', 'running'), t('1', 'queued')).status).toBe('running');
  });
});

describe('applyUpdate', () => {
  it('updates a row in place', () => {
    const list = [t('2', 'queued'), t('1', 'running')];
    expect(applyUpdate(list, t('1', 'succeeded'), {}).map((x) => x.status)).toEqual(['queued', 'succeeded']);
  });
  it('puts a new matching task on top and ignores others', () => {
    const list = [t('1', 'queued')];
    expect(applyUpdate(list, t('2', 'queued'), {}).map((x) => x.id)).toEqual(['2', '1']);
    expect(applyUpdate(list, t('3', 'queued', 'other'), { agent_id: 'a1' })).toBe(list);
  });
  it('drops a row that leaves the status filter', () => {
    const list = [t('1', 'running')];
    expect(applyUpdate(list, t('1', 'succeeded'), { status: 'running' })).toEqual([]);
  });
  it('keeps the list bounded', () => {
    const list = Array.from({ length: 3 }, (_, i) => t(String(i), 'queued'));
    expect(applyUpdate(list, t('new', 'queued'), {}, 3).map((x) => x.id)).toEqual(['new', '0', '1']);
  });
});
