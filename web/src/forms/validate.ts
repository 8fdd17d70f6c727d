// Client-side checks that mirror the server's rules (API.md), so a customer sees a mistake at the
// field before sending. The server checks again and its field errors are shown the same way.

export type Errors = Record<string, string>;

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 128;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
// As the server checks them (src/tenancy/routes.cpp).
export const SLUG_MAX = 48;
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const SECRET_NAME = /^[a-z][a-z0-9_]{0,63}$/;

export function emailError(email: string): string | undefined {
  if (!email.trim()) return 'Enter your email address.';
  if (!EMAIL.test(email.trim())) return 'Enter a valid email address, like name@example.com.';
  return undefined;
}

export function passwordError(password: string): string | undefined {
  if (!password) return 'Enter a password.';
  if (password.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters.`;
  if (password.length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters.`;
  return undefined;
}

export function requiredError(value: string, what: string): string | undefined {
  return value.trim() ? undefined : `Enter ${what}.`;
}

export function slugError(slug: string): string | undefined {
  if (!slug) return 'Enter a slug.';
  if (slug.length > SLUG_MAX) return `Use at most ${SLUG_MAX} characters.`;
  if (!SLUG.test(slug)) return 'Use lowercase letters, digits and single dashes (not at the start or end).';
  return undefined;
}

export function secretNameError(name: string): string | undefined {
  if (!name) return 'Enter a name.';
  if (!SECRET_NAME.test(name)) return 'Start with a lowercase letter; then lowercase letters, digits or underscores (up to 64).';
  return undefined;
}

/** Drops undefined entries, so `Object.keys(errors).length` says whether the form may be sent. */
export function collect(errors: Record<string, string | undefined>): Errors {
  const out: Errors = {};
  for (const [k, v] of Object.entries(errors)) if (v) out[k] = v;
  return out;
}

export type JsonParse = { ok: true; value: unknown } | { ok: false; error: string };

/** Parses a JSON text field; `objectOnly` demands a JSON object (`{…}`), as task input and config do. */
export function parseJson(text: string, objectOnly = true): JsonParse {
  const trimmed = text.trim();
  if (!trimmed) return objectOnly ? { ok: true, value: {} } : { ok: false, error: 'Enter JSON.' };
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^JSON\.parse: /, '') : '';
    return { ok: false, error: `This is not valid JSON${detail ? `: ${detail}` : '.'}` };
  }
  if (objectOnly && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    return { ok: false, error: 'Enter a JSON object, like {"steps": 3}.' };
  }
  return { ok: true, value };
}

/** A slug suggestion from an organization name ("Acme Corp." → "acme-corp"). */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, SLUG_MAX)
    .replace(/-+$/g, '');
}
