import { tokenClaims } from './api';

const KEY = 'scoreline.token';

export interface Session {
  token: string;
  user: string;
}

/** The signed-in user, kept in this browser's local storage until sign-out. */
export function loadSession(): Session | undefined {
  let token: string | null = null;
  try {
    token = localStorage.getItem(KEY);
  } catch {
    return undefined;
  }
  return token ? sessionOf(token) : undefined;
}

export function sessionOf(token: string): Session | undefined {
  const claims = tokenClaims(token);
  if (!claims?.sub) return undefined;
  if (claims.exp !== undefined && claims.exp * 1000 < Date.now()) return undefined;
  return { token, user: claims.sub };
}

export function saveSession(session: Session | undefined): void {
  try {
    if (session) localStorage.setItem(KEY, session.token);
    else localStorage.removeItem(KEY);
  } catch {
    // Private browsing without storage: the session lasts as long as the page.
  }
}
