import { timingSafeEqual } from 'node:crypto';
import type * as grpc from '@grpc/grpc-js';
import { AppError } from '@scoreline/platform';

export type Role = 'admin' | 'internal';

export interface Tokens {
  admin: string;
  internal: string;
}

function same(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
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
  if (same(token, tokens[role])) return;
  const other: Role = role === 'admin' ? 'internal' : 'admin';
  if (same(token, tokens[other]))
    throw new AppError('PERMISSION_DENIED', `this call needs the ${role} token`);
  throw new AppError('UNAUTHENTICATED', 'unknown token');
}
