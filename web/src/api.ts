import type { components } from '../../services/score-maker/src/gen/openapi';

export type EventBody = components['schemas']['Event'];
export type ScoreBody = components['schemas']['Score'];
export type Problem = components['schemas']['Problem'];

/** Readable words for the codes a person meets; anything else shows the API's own detail. */
const messages: Record<string, string | undefined> = {
  UNAUTHENTICATED: 'Your sign-in is not valid (missing, malformed or expired token). Sign in again.',
  FORBIDDEN: 'This needs an administrator: your token has no admin role.',
  EVENT_CLOSED: 'This event no longer takes scores.',
  EVENT_NOT_FOUND: 'There is no such event.',
  SCORE_FINAL: 'Your score for this event is final: the event has closed.',
  RATE_LIMITED: 'Too many requests: wait a moment and try again.',
  UNAVAILABLE: 'The service is briefly unavailable: try again in a moment.',
  INTERNAL: 'Something went wrong on the server.',
};

/** An answer of the API that is not a success, as a problem (RFC 9457) and a sentence for people. */
export class ApiError extends Error {
  constructor(readonly problem: Pick<Problem, 'status' | 'title' | 'code'> & Partial<Problem>) {
    super(ApiError.describe(problem));
  }

  static describe(problem: Pick<Problem, 'title' | 'code'> & Partial<Problem>): string {
    const known = messages[problem.code];
    const detail = problem.errors?.map((e) => e.message).join('; ') ?? problem.detail;
    if (known && problem.code !== 'INTERNAL') return known;
    if (known) return `${known} ${problem.detail ?? ''}`.trim();
    return detail ? `${problem.title}: ${detail}` : problem.title;
  }
}

export async function api<T>(
  path: string,
  options: { method?: string; body?: unknown; token?: string; signal?: AbortSignal } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    throw new ApiError({ status: 0, code: 'UNAVAILABLE', title: 'No connection' });
  }
  if (res.status === 204) return undefined as T;
  const type = res.headers.get('content-type') ?? '';
  const body: unknown = type.includes('json') ? await res.json() : await res.text();
  if (res.ok) return body as T;
  if (type.includes('application/problem+json')) throw new ApiError(body as Problem);
  throw new ApiError({ status: res.status, code: 'INTERNAL', title: `HTTP ${res.status}` });
}

/** The user id (`sub`) a token names, read without verifying it: the API verifies. */
export function tokenClaims(token: string): { sub?: string; exp?: number } | undefined {
  try {
    const part = token.split('.')[1] ?? '';
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    return JSON.parse(json) as { sub?: string; exp?: number };
  } catch {
    return undefined;
  }
}
