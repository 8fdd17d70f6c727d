// A small fetch wrapper for API.md: JSON in and out, bearer credentials, problem+json errors,
// and one transparent retry after refreshing an access token the server answered 401 for.
import { ApiError, networkError } from './errors';

/** Where the client gets its bearer token; implemented by the session. */
export interface TokenSource {
  /** A token valid now (refreshing first if it is about to expire), or null when signed out. */
  accessToken(): Promise<string | null>;
  /**
   * The server refused `rejected` (401). Returns a new token to retry with, or null when the
   * session cannot be renewed (the session then ends and tells the app why).
   */
  onUnauthorized(rejected: string): Promise<string | null>;
}

export type Query = Record<string, string | number | undefined | null>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Send the session's bearer token (default true). Auth routes that take none pass false. */
  auth?: boolean;
  /** An explicit bearer token, e.g. accepting an invitation as the signed-in user. */
  token?: string;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export function buildQuery(query?: Query): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}

export class ApiClient {
  private tokens: TokenSource | null = null;
  private readonly fetchImpl: typeof fetch;
  private readonly baseUrl: string;

  constructor(options: { fetch?: typeof fetch; baseUrl?: string } = {}) {
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.baseUrl = options.baseUrl ?? '';
  }

  setTokenSource(tokens: TokenSource | null): void {
    this.tokens = tokens;
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }
  post<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }
  put<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }
  patch<T>(path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body });
  }
  delete<T = void>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const useSession = options.auth !== false && !options.token && this.tokens !== null;
    let token = options.token ?? (useSession ? await this.tokens!.accessToken() : null);
    let res = await this.send(method, path, options, token);
    if (res.status === 401 && useSession && token) {
      token = await this.tokens!.onUnauthorized(token);
      if (token) res = await this.send(method, path, options, token);
    }
    return parse<T>(res);
  }

  private async send(method: string, path: string, options: RequestOptions, token: string | null): Promise<Response> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await this.fetchImpl(this.baseUrl + path + buildQuery(options.query), {
        method,
        headers,
        body,
        signal: options.signal,
        credentials: 'same-origin',
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw networkError();
    }
  }
}

async function parse<T>(res: Response): Promise<T> {
  if (res.ok) {
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }
  let problem = {};
  try {
    const text = await res.text();
    if (text) problem = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's HTML page, say): the status alone must do.
  }
  const retry = Number(res.headers.get('Retry-After'));
  throw new ApiError(res.status, problem, Number.isFinite(retry) && retry > 0 ? retry : null);
}
