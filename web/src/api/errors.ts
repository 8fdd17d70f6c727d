// Errors from the API (problem+json, API.md "Errors") and from the network, turned into words a
// customer can act on. Field errors stay attached so forms can show them at the field.

export interface FieldError {
  field: string;
  message: string;
}

export interface Problem {
  status?: number;
  title?: string;
  code?: string;
  detail?: string;
  request_id?: string;
  errors?: FieldError[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly detail: string;
  readonly requestId: string | null;
  readonly fieldErrors: FieldError[];
  readonly retryAfterSeconds: number | null;

  constructor(status: number, problem: Problem, retryAfterSeconds: number | null = null) {
    const code = problem.code ?? codeForStatus(status);
    super(problem.detail || problem.title || `Request failed (${status})`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = problem.title ?? '';
    this.detail = problem.detail ?? '';
    this.requestId = problem.request_id ?? null;
    this.fieldErrors = Array.isArray(problem.errors)
      ? problem.errors.filter((e) => e && typeof e.field === 'string' && typeof e.message === 'string')
      : [];
    this.retryAfterSeconds = retryAfterSeconds;
  }

  /**
   * The message the server gave for one field (`errors[].field`), if any. An error about a part of
   * the field (`config.base_url` for `config`) is given with that part named.
   */
  fieldError(field: string): string | undefined {
    const exact = this.fieldErrors.find((e) => e.field === field);
    if (exact) return exact.message;
    const part = this.fieldErrors.find((e) => e.field.startsWith(`${field}.`) || e.field.startsWith(`${field}[`));
    if (!part) return undefined;
    const rest = part.field.slice(field.length);
    return `${rest.startsWith('.') ? rest.slice(1) : rest} ${part.message}`;
  }
}

export const NETWORK_ERROR = 'network_error';

export function networkError(): ApiError {
  return new ApiError(0, {
    code: NETWORK_ERROR,
    title: 'Network error',
    detail: 'The server could not be reached. Check your connection and try again.',
  });
}

function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    case 413:
      return 'payload_too_large';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'internal' : 'error';
  }
}

/**
 * One sentence for a banner. The server's `detail` is written for people and is preferred; the
 * fallbacks cover errors without one (proxies, crashes, the network).
 */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) {
    return err instanceof Error && err.message ? err.message : 'Something went wrong.';
  }
  switch (err.code) {
    case NETWORK_ERROR:
      return err.detail;
    case 'invalid_credentials':
      return 'The email or password is not correct.';
    case 'rate_limited': {
      const wait = err.retryAfterSeconds ? ` Try again in ${err.retryAfterSeconds} s.` : ' Try again shortly.';
      return `Too many attempts.${wait}`;
    }
    case 'permission_denied':
      return err.detail ? `You do not have permission: ${err.detail}` : 'You do not have permission to do this.';
    case 'privilege_escalation':
      return err.detail || 'You cannot grant a permission you do not hold yourself.';
    case 'not_found':
      return err.detail || 'It does not exist, or it belongs to another organization.';
    case 'payload_too_large':
      return 'That is too large for the server to accept.';
  }
  if (err.detail) return err.detail;
  if (err.status >= 500) {
    return `The server had a problem (${err.status}). Try again; if it persists, quote request ${err.requestId ?? 'id unknown'}.`;
  }
  return err.title || err.message;
}
