import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { makeToken, signToken } from '../src/entry-points/cli/token.js';

const JWT_SECRET = 'a-local-secret-of-at-least-32-characters';
// A data folder of the test's own, so that a quick start's .data/ in the checkout plays no part.
const dataDir = mkdtempSync(join(tmpdir(), 'scoreline-token-'));
const SCORELINE_DATA_DIR = join(dataDir, 'none');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

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
    await expect(makeToken(['--user', 'a'], { SCORELINE_DATA_DIR })).rejects.toThrow(
      /JWT_SECRET: not set, and npm start has made no secret of its own yet/,
    );
    await expect(makeToken(['--user', 'a', '--expires', 'soon'], { JWT_SECRET })).rejects.toThrow(
      '--expires',
    );
  });

  it("when JWT_SECRET is not set, then it signs with the quick start's generated secret and says so", async () => {
    const quickstart = join(dataDir, 'quickstart');
    const secret = 'generated-by-npm-start-0123456789abcdef';
    mkdirSync(quickstart);
    writeFileSync(join(quickstart, 'secrets.json'), JSON.stringify({ jwtSecret: secret }));
    const signed = await signToken(['--user', 'bob'], { SCORELINE_DATA_DIR: quickstart }, false);
    expect((await jwtVerify(signed.token, new TextEncoder().encode(secret))).payload.sub).toBe('bob');
    expect(signed.secretFrom).toContain(join(quickstart, 'secrets.json'));

    // JWT_SECRET, when set, wins over the quick start's, and the answer says where it came from.
    const env = await signToken(['--user', 'bob'], { SCORELINE_DATA_DIR: quickstart, JWT_SECRET }, false);
    expect((await jwtVerify(env.token, new TextEncoder().encode(JWT_SECRET))).payload.sub).toBe('bob');
    expect(env.secretFrom).toBe('JWT_SECRET from the environment');
    const envFile = join(dataDir, '.env');
    writeFileSync(envFile, `JWT_SECRET=${JWT_SECRET}\n`);
    const file = await signToken(['--user', 'bob'], { SCORELINE_DATA_DIR: quickstart }, envFile);
    expect((await jwtVerify(file.token, new TextEncoder().encode(JWT_SECRET))).payload.sub).toBe('bob');
    expect(file.secretFrom).toBe(`JWT_SECRET from ${envFile}`);
  });

  it("when the quick start's secrets file is damaged, then it names the file", async () => {
    const damaged = join(dataDir, 'damaged');
    mkdirSync(damaged);
    writeFileSync(join(damaged, 'secrets.json'), '{"jwtSecret": "short"}');
    await expect(makeToken(['--user', 'a'], { SCORELINE_DATA_DIR: damaged })).rejects.toThrow(
      join(damaged, 'secrets.json'),
    );
  });
});
