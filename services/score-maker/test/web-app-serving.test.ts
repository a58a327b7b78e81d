import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_SECRET, startApi, type ApiHarness } from './api-harness.js';

/** A stand-in for web/dist: what the API serves does not depend on what the app does. */
function fakeBuild(): string {
  const root = mkdtempSync(join(tmpdir(), 'scoreline-web-'));
  mkdirSync(join(root, 'assets'));
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>Scoreline</title><div id="app"></div>');
  writeFileSync(join(root, 'assets', 'index-abc123.js'), 'console.log("app")');
  return root;
}

describe('the web app at / (served by the API)', () => {
  let h: ApiHarness;
  const root = fakeBuild();
  beforeAll(async () => {
    h = await startApi({}, { webRoot: root });
  });
  afterAll(async () => {
    await h?.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('when / and /console are opened, then index.html is answered, revalidated on every load, with a content security policy', async () => {
    for (const url of ['/', '/console']) {
      const res = await h.api.http.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('<div id="app">');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toContain("default-src 'self'");
      const again = await h.api.http.inject({
        method: 'GET',
        url,
        headers: { 'if-none-match': String(res.headers.etag) },
      });
      expect(again.statusCode).toBe(304);
    }
  });

  it('when an asset is asked for, then it is cached for a year; a missing one is a problem+json 404', async () => {
    const asset = await h.api.http.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-type']).toContain('javascript');
    const missing = await h.api.http.inject({ method: 'GET', url: '/assets/nope.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.headers['content-type']).toContain('application/problem+json');
  });

  it('when API paths and unknown paths are asked for, then the app never answers them', async () => {
    const events = await h.api.http.inject({ method: 'GET', url: '/events' });
    expect(events.headers['content-type']).toContain('application/json');
    const docs = await h.api.http.inject({ method: 'GET', url: '/openapi.json' });
    expect(docs.statusCode).toBe(200);
    expect(docs.json().paths['/']).toBeUndefined();
    for (const url of ['/no-such-page', '/console/x', '/index.html']) {
      const res = await h.api.http.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('when the API is not started by the quick start, then "sign in as" does not exist', async () => {
    expect((await h.api.http.inject({ method: 'GET', url: '/quickstart/sign-in' })).statusCode).toBe(404);
    const post = await h.api.http.inject({
      method: 'POST',
      url: '/quickstart/sign-in',
      payload: { name: 'eve' },
    });
    expect(post.statusCode).toBe(404);
    expect(post.json()).toMatchObject({ code: 'NOT_FOUND' });
  });
});

describe('"sign in as <name>" (the quick start on its generated secret)', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApi({}, { quickstartSignIn: true });
  });
  afterAll(async () => {
    await h?.dispose();
  });

  it('when a name is given, then a token for it is signed with the API secret and the API takes it', async () => {
    expect((await h.api.http.inject({ method: 'GET', url: '/quickstart/sign-in' })).json()).toEqual({
      enabled: true,
    });
    const res = await h.api.http.inject({
      method: 'POST',
      url: '/quickstart/sign-in',
      payload: { name: 'alice' },
    });
    expect(res.statusCode).toBe(200);
    const { token, user } = res.json();
    expect(user).toBe('alice');
    const { payload } = await jwtVerify(token, new TextEncoder().encode(JWT_SECRET));
    expect(payload.sub).toBe('alice');
    const mine = await h.api.http.inject({
      method: 'GET',
      url: '/me/scores',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(mine.statusCode).toBe(200);
  });

  it('when the name is empty or has other characters, then 422 and no token', async () => {
    for (const name of ['', 'a b', 'x'.repeat(41), '<script>']) {
      const res = await h.api.http.inject({ method: 'POST', url: '/quickstart/sign-in', payload: { name } });
      expect(res.statusCode, name).toBe(422);
      expect(res.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });
});
