import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from '../src/entry-points/http/auth.js';

const SECRET = 'auth-cache-test-secret-of-32-characters!';
const key = new TextEncoder().encode(SECRET);
const sign = (claims: { sub: string; exp?: number; extra?: string }) => {
  const jwt = new SignJWT(claims.extra ? { extra: claims.extra } : {})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt();
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(key);
};
const bearer = (token: string) => `Bearer ${token}`;
const refused = (promise: Promise<unknown>) =>
  expect(promise).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });

describe('verified-token cache', () => {
  it('when the same token comes again, then it is served from the cache without verifying again', async () => {
    const auth = createAuthenticator({ secret: SECRET });
    const token = await sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 });
    expect(await auth(bearer(token))).toBe('alice');
    expect(await auth(bearer(token))).toBe('alice');
    expect(await auth(bearer(token))).toBe('alice');
    expect(auth.stats()).toEqual({ size: 1, hits: 2, misses: 1 });
  });

  it('when a cached token comes back with another signature or a changed claim, then it is refused', async () => {
    const auth = createAuthenticator({ secret: SECRET });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const token = await sign({ sub: 'alice', exp });
    expect(await auth(bearer(token))).toBe('alice');
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const otherSignature = `${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    await refused(auth(bearer(otherSignature)));
    // The payload says bob now; the signature is alice's.
    const bobPayload = Buffer.from(JSON.stringify({ sub: 'bob', exp })).toString('base64url');
    await refused(auth(bearer(`${header}.${bobPayload}.${signature}`)));
    // Signed with another secret: the claims match a cached token's, the signature does not.
    const foreign = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode('another-secret-of-at-least-32-characters'));
    await refused(auth(bearer(foreign)));
    expect(await auth(bearer(token))).toBe('alice');
  });

  it('when a cached token reaches its exp, then it is no longer served from the cache', async () => {
    let now = Date.now();
    const auth = createAuthenticator({ secret: SECRET }, { now: () => now });
    const exp = Math.floor(now / 1000) + 60;
    const token = await sign({ sub: 'alice', exp });
    expect(await auth(bearer(token))).toBe('alice');
    now = exp * 1000 - 1;
    expect(await auth(bearer(token))).toBe('alice');
    expect(auth.stats().hits).toBe(1);
    // Past exp (and past jose's 5 s clock tolerance): verified afresh, and refused.
    now = exp * 1000 + 6000;
    await refused(auth(bearer(token)));
    expect(auth.stats()).toMatchObject({ size: 0, hits: 1 });
  });

  it('when a token has no exp, then it is verified every time and never cached', async () => {
    const auth = createAuthenticator({ secret: SECRET });
    const token = await sign({ sub: 'alice' });
    expect(await auth(bearer(token))).toBe('alice');
    expect(await auth(bearer(token))).toBe('alice');
    expect(auth.stats()).toEqual({ size: 0, hits: 0, misses: 2 });
  });

  it('when more tokens arrive than the cache holds, then it keeps the newest within its bound', async () => {
    const auth = createAuthenticator({ secret: SECRET }, { maxEntries: 50 });
    const exp = Math.floor(Date.now() / 1000) + 600;
    const tokens = await Promise.all(Array.from({ length: 120 }, (_, i) => sign({ sub: `user-${i}`, exp })));
    for (const [i, token] of tokens.entries()) expect(await auth(bearer(token))).toBe(`user-${i}`);
    expect(auth.stats().size).toBe(50);
    const before = auth.stats().hits;
    expect(await auth(bearer(tokens[119]!))).toBe('user-119');
    expect(await auth(bearer(tokens[0]!))).toBe('user-0');
    expect(auth.stats().hits).toBe(before + 1);
  });

  it('when 100,000 distinct tokens arrive, then the cache stays within its default bound', async () => {
    const auth = createAuthenticator({ secret: SECRET });
    const exp = Math.floor(Date.now() / 1000) + 600;
    // Signed here with node:crypto (jose's async signing would take most of the test's time).
    const header = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');
    const signFast = (sub: string) => {
      const unsigned = `${header}.${Buffer.from(JSON.stringify({ sub, exp })).toString('base64url')}`;
      return `${unsigned}.${createHmac('sha256', SECRET).update(unsigned).digest('base64url')}`;
    };
    let largest = 0;
    // A thousand at a time, so the test holds few tokens in memory at once.
    for (let start = 0; start < 100_000; start += 1000) {
      const tokens = Array.from({ length: 1000 }, (_, i) => signFast(`user-${start + i}`));
      const subjects = await Promise.all(tokens.map((token) => auth(bearer(token))));
      expect(subjects[999]).toBe(`user-${start + 999}`);
      largest = Math.max(largest, auth.stats().size);
    }
    expect(largest).toBe(10_000);
    expect(auth.stats()).toMatchObject({ size: 10_000, misses: 100_000, hits: 0 });
  }, 120_000);
});
