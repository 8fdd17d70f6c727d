import { describe, expect, it } from 'vitest';
import { collect, emailError, parseJson, passwordError, secretNameError, slugError, slugify } from './validate';

describe('form validation', () => {
  it('checks emails', () => {
    expect(emailError('')).toMatch(/Enter your email/);
    expect(emailError('ada')).toMatch(/valid email/);
    expect(emailError('ada@example')).toMatch(/valid email/);
    expect(emailError(' Ada@Example.com ')).toBeUndefined();
  });

  it('applies the contract password length of 10 to 128', () => {
    expect(passwordError('')).toMatch(/Enter a password/);
    expect(passwordError('a'.repeat(9))).toMatch(/at least 10/);
    expect(passwordError('a'.repeat(10))).toBeUndefined();
    expect(passwordError('a'.repeat(128))).toBeUndefined();
    expect(passwordError('a'.repeat(129))).toMatch(/at most 128/);
  });

  it('checks slugs and secret names', () => {
    expect(slugError('acme-corp')).toBeUndefined();
    expect(slugError('-acme')).toBeDefined();
    expect(slugError('Acme')).toBeDefined();
    expect(slugError('acme--corp')).toBeDefined();
    expect(slugError('a'.repeat(48))).toBeUndefined();
    expect(slugError('a'.repeat(49))).toBeDefined();
    expect(secretNameError('openai_api_key')).toBeUndefined();
    expect(secretNameError('OPENAI_API_KEY')).toBeDefined();
    expect(secretNameError('1password')).toBeDefined();
    expect(secretNameError('has space')).toBeDefined();
    expect(secretNameError('with-dash')).toBeDefined();
  });

  it('collects only real errors', () => {
    expect(collect({ a: undefined, b: 'bad' })).toEqual({ b: 'bad' });
  });

  it('suggests slugs from names', () => {
    expect(slugify('Acme Corp.')).toBe('acme-corp');
    expect(slugify('  Ünïcode   Ltd ')).toBe('unicode-ltd');
  });
});

describe('parseJson', () => {
  it('parses a task input object', () => {
    expect(parseJson('{"steps": 3}')).toEqual({ ok: true, value: { steps: 3 } });
  });
  it('treats an empty input as {}', () => {
    expect(parseJson('  ')).toEqual({ ok: true, value: {} });
  });
  it('explains invalid JSON', () => {
    const r = parseJson('{steps: 3}');
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toMatch(/not valid JSON/);
  });
  it('refuses arrays and scalars where an object is needed', () => {
    expect(parseJson('[1,2]').ok).toBe(false);
    expect(parseJson('3').ok).toBe(false);
    expect(parseJson('null').ok).toBe(false);
    expect(parseJson('3', false)).toEqual({ ok: true, value: 3 });
  });
});
