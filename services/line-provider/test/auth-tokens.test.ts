import * as grpc from '@grpc/grpc-js';
import { AppError } from '@scoreline/platform';
import { describe, expect, it } from 'vitest';
import { requireRole, sameToken } from '../src/entry-points/grpc/auth.js';

const tokens = { admin: 'admin-token-0123456789', internal: 'internal-token-0123456789' };

function outcome(token: string): string {
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  try {
    requireRole(metadata, 'admin', tokens);
    return 'ok';
  } catch (error) {
    return error instanceof AppError ? error.code : String(error);
  }
}

describe('static token comparison', () => {
  it('when tokens differ by length, by a prefix or by one character, then they are not the same', () => {
    expect(sameToken(tokens.admin, tokens.admin)).toBe(true);
    expect(sameToken(tokens.admin, tokens.admin.slice(0, -1))).toBe(false);
    expect(sameToken(tokens.admin, `${tokens.admin}0`)).toBe(false);
    expect(sameToken(tokens.admin, tokens.admin.replace('9', '8'))).toBe(false);
    expect(sameToken('', '')).toBe(true);
    expect(sameToken('é', 'e\u0301')).toBe(false);
  });

  it('when an admin call carries a token of another length than the admin token, then UNAUTHENTICATED; the internal token, PERMISSION_DENIED', () => {
    expect(outcome(tokens.admin)).toBe('ok');
    expect(outcome(tokens.admin.slice(0, 5))).toBe('UNAUTHENTICATED');
    expect(outcome(`${tokens.admin}${tokens.admin}`)).toBe('UNAUTHENTICATED');
    expect(outcome(tokens.internal)).toBe('PERMISSION_DENIED');
  });
});
