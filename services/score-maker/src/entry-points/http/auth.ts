import { createHash, createSecretKey, type KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { USER_ID_MAX } from '@scoreline/contracts/scores';
import { AppError } from '@scoreline/platform';

export interface AuthSettings {
  /** HS256 shared secret; or */
  secret?: string;
  /** a JWKS URL (RS256/ES256/EdDSA keys). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /**
   * The claim that carries roles (a dotted path such as `realm_access.roles` reaches into objects); its
   * value may be a string, a space-separated list or an array. Default `roles`.
   */
  adminClaim?: string;
  /** The role that makes a token an administrator's (the operations console). Default `admin`. */
  adminRole?: string;
}

export type Authenticate = (authorization: string | undefined) => Promise<string>;

/** Who a verified token speaks for. */
export interface Principal {
  sub: string;
  admin: boolean;
}

/** Whether the payload's role claim (at a dotted path) holds the role. */
export function hasRole(payload: Record<string, unknown>, claim: string, role: string): boolean {
  let value: unknown = payload;
  for (const part of claim.split('.')) {
    value =
      value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (typeof value === 'string') return value.split(' ').includes(role);
  return Array.isArray(value) && value.includes(role);
}

export interface AuthCacheOptions {
  /** Verified tokens kept at most (the oldest go first); 0 turns the cache off. */
  maxEntries?: number;
  /** Longest a verified token is served from the cache, even if its `exp` is later (key rotation). */
  maxAgeMs?: number;
  /** The clock, in ms (tests). */
  now?: () => number;
}

export interface AuthCacheStats {
  size: number;
  hits: number;
  misses: number;
}

/*
 * Verified tokens, keyed by a hash of the whole token: another signature or any changed claim is
 * another key, so it is verified afresh. An entry is served only before the token's own `exp` (without
 * jose's clock tolerance) and before `maxAgeMs`; tokens without `exp` are not cached at all. Verifying
 * an HS256 token costs ~40 µs of CPU, a SHA-256 of it ~2 µs.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, { principal: Principal; until: number }>();
  hits = 0;
  misses = 0;
  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
    readonly now: () => number,
  ) {}

  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  get(key: string): Principal | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.until > this.now()) {
      this.hits++;
      return entry.principal;
    }
    if (entry) this.entries.delete(key);
    this.misses++;
    return undefined;
  }

  set(key: string, principal: Principal, exp: number | undefined): void {
    if (this.maxEntries === 0 || exp === undefined) return;
    const until = Math.min(exp * 1000, this.now() + this.maxAgeMs);
    if (until <= this.now()) return;
    this.entries.set(key, { principal, until });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * Bearer JWT verification: the signature (only the algorithms of the configured key kind, so neither
 * `alg: none` nor an HS256 token signed with a public key passes), expiry, and issuer/audience when
 * configured. Returns the user id, the token's `sub`.
 */
export function createAuthenticator(
  settings: AuthSettings,
  cacheOptions: AuthCacheOptions = {},
): Authenticate & {
  stats(): AuthCacheStats;
  principal(authorization: string | undefined): Promise<Principal>;
} {
  const cache = new VerifiedTokens(
    cacheOptions.maxEntries ?? 10_000,
    cacheOptions.maxAgeMs ?? 10 * 60_000,
    cacheOptions.now ?? Date.now,
  );
  let key: KeyObject | JWTVerifyGetKey;
  const options: JWTVerifyOptions = {
    issuer: settings.issuer,
    audience: settings.audience,
    clockTolerance: 5,
  };
  if (settings.jwksUrl) {
    key = createRemoteJWKSet(new URL(settings.jwksUrl));
    options.algorithms = ['RS256', 'PS256', 'ES256', 'EdDSA'];
  } else if (settings.secret) {
    // Imported once: passing raw bytes makes jose import the key again on every verification.
    key = createSecretKey(Buffer.from(settings.secret));
    options.algorithms = ['HS256'];
  } else {
    throw new Error('authentication needs a JWT secret or a JWKS URL');
  }

  const adminClaim = settings.adminClaim ?? 'roles';
  const adminRole = settings.adminRole ?? 'admin';
  const principal = async (authorization: string | undefined): Promise<Principal> => {
    const match = authorization ? /^Bearer\s+([\w.-]+)$/i.exec(authorization.trim()) : null;
    if (!match) throw new AppError('UNAUTHENTICATED', 'send a bearer token: "Authorization: Bearer <jwt>"');
    const token = match[1]!;
    const cacheKey = VerifiedTokens.keyOf(token);
    const cached = cache.get(cacheKey);
    if (cached !== undefined) return cached;
    let sub: unknown;
    let exp: number | undefined;
    let admin = false;
    try {
      const verified =
        typeof key === 'function'
          ? await jwtVerify(token, key, { ...options, currentDate: new Date(cache.now()) })
          : await jwtVerify(token, key, { ...options, currentDate: new Date(cache.now()) });
      sub = verified.payload.sub;
      exp = verified.payload.exp;
      admin = hasRole(verified.payload, adminClaim, adminRole);
    } catch (error) {
      const reason =
        (error as { code?: string }).code === 'ERR_JWT_EXPIRED'
          ? 'the token has expired'
          : 'the token is not valid';
      throw new AppError('UNAUTHENTICATED', reason, { cause: error });
    }
    // PostgreSQL text cannot hold NUL: such a sub could not be stored as a score's user.
    if (typeof sub !== 'string' || sub.length === 0 || [...sub].length > USER_ID_MAX || sub.includes('\0')) {
      throw new AppError(
        'UNAUTHENTICATED',
        `the token's sub must be a user id of 1 to ${USER_ID_MAX} characters, none of them NUL`,
      );
    }
    const found = { sub, admin };
    cache.set(cacheKey, found, exp);
    return found;
  };
  const authenticate = async (authorization: string | undefined) => (await principal(authorization)).sub;
  return Object.assign(authenticate, {
    principal,
    stats: (): AuthCacheStats => ({ size: cache.size, hits: cache.hits, misses: cache.misses }),
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on routes that need a user. */
    userId?: string;
    /** Set by the admin hook: the token carries the admin role. */
    isAdmin?: boolean;
  }
}

export type AuthHook = (request: FastifyRequest) => Promise<void>;

/** A route-level onRequest hook: runs before body parsing and before the rate limiter, which keys on it. */
export function authHook(authenticate: Authenticate): AuthHook {
  return async (request) => {
    request.userId = await authenticate(request.headers.authorization);
  };
}

/**
 * A route-level onRequest hook for the operations console's routes: a valid token (401 otherwise) whose
 * role claim holds the admin role (403 FORBIDDEN otherwise).
 */
export function adminHook(principal: (authorization: string | undefined) => Promise<Principal>): AuthHook {
  return async (request) => {
    const found = await principal(request.headers.authorization);
    request.userId = found.sub;
    request.isAdmin = found.admin;
    if (!found.admin) throw new AppError('FORBIDDEN', 'this needs a token with the admin role');
  };
}
