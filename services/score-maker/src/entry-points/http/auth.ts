import { createSecretKey, type KeyObject } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import { AppError } from '@scoreline/platform';

export interface AuthSettings {
  /** HS256 shared secret; or */
  secret?: string;
  /** a JWKS URL (RS256/ES256/EdDSA keys). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

export type Authenticate = (authorization: string | undefined) => Promise<string>;

const USER_ID_MAX = 200;

/**
 * Bearer JWT verification: the signature (only the algorithms of the configured key kind, so neither
 * `alg: none` nor an HS256 token signed with a public key passes), expiry, and issuer/audience when
 * configured. Returns the user id, the token's `sub`.
 */
export function createAuthenticator(settings: AuthSettings): Authenticate {
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

  return async (authorization) => {
    const match = authorization ? /^Bearer\s+([\w.-]+)$/i.exec(authorization.trim()) : null;
    if (!match) throw new AppError('UNAUTHENTICATED', 'send a bearer token: "Authorization: Bearer <jwt>"');
    let sub: unknown;
    try {
      const verified =
        typeof key === 'function'
          ? await jwtVerify(match[1]!, key, options)
          : await jwtVerify(match[1]!, key, options);
      sub = verified.payload.sub;
    } catch (error) {
      const reason =
        (error as { code?: string }).code === 'ERR_JWT_EXPIRED'
          ? 'the token has expired'
          : 'the token is not valid';
      throw new AppError('UNAUTHENTICATED', reason, { cause: error });
    }
    if (typeof sub !== 'string' || sub.length === 0 || [...sub].length > USER_ID_MAX) {
      throw new AppError(
        'UNAUTHENTICATED',
        `the token's sub must be a user id of 1 to ${USER_ID_MAX} characters`,
      );
    }
    return sub;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on routes that need a user. */
    userId?: string;
  }
}

export type AuthHook = (request: FastifyRequest) => Promise<void>;

/** A route-level onRequest hook: runs before body parsing and before the rate limiter, which keys on it. */
export function authHook(authenticate: Authenticate): AuthHook {
  return async (request) => {
    request.userId = await authenticate(request.headers.authorization);
  };
}
