import { createHash, timingSafeEqual } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { AppError } from '@scoreline/platform';

export type Role = 'admin' | 'internal';

export interface Tokens {
  admin: string;
  internal: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares in time independent of where the two differ and of their lengths: timingSafeEqual needs
 * equal lengths, and returning early on a length mismatch would tell a caller the token's length.
 * Both sides are hashed to 32 bytes first (a hash collision is not a practical way in).
 */
export function sameToken(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

function bearer(metadata: grpc.Metadata): string | undefined {
  const value = metadata.get('authorization')[0];
  if (typeof value !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1];
}

/**
 * Admin calls need the admin token, internal calls (score-maker's saga) the internal one. No token or
 * an unknown one: UNAUTHENTICATED. A valid token of the other role: PERMISSION_DENIED.
 */
export function requireRole(metadata: grpc.Metadata, role: Role, tokens: Tokens): void {
  const token = bearer(metadata);
  if (token === undefined) {
    throw new AppError(
      'UNAUTHENTICATED',
      `this call needs the ${role} token as "authorization: Bearer <token>"`,
    );
  }
  if (sameToken(token, tokens[role])) return;
  const other: Role = role === 'admin' ? 'internal' : 'admin';
  if (sameToken(token, tokens[other]))
    throw new AppError('PERMISSION_DENIED', `this call needs the ${role} token`);
  throw new AppError('UNAUTHENTICATED', 'unknown token');
}
