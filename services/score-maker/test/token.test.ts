import { jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { makeToken } from '../src/entry-points/cli/token.js';

const JWT_SECRET = 'a-local-secret-of-at-least-32-characters';

describe('npm run token', () => {
  it('when a user is given, then the token is an HS256 JWT for that user, signed with JWT_SECRET', async () => {
    const token = await makeToken(['--user', 'alice', '--expires', '1h'], { JWT_SECRET });
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(JWT_SECRET));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload.sub).toBe('alice');
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it('when the user or the secret is missing, then it says what to give', async () => {
    await expect(makeToken([], { JWT_SECRET })).rejects.toThrow('--user alice');
    await expect(makeToken(['--user', 'a'], {})).rejects.toThrow('JWT_SECRET');
    await expect(makeToken(['--user', 'a', '--expires', 'soon'], { JWT_SECRET })).rejects.toThrow(
      '--expires',
    );
  });
});
