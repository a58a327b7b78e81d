import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import { etagOf, notModified } from '../page-cache.js';

/** Where `npm run build:web` writes the web app (web/dist at the repository's root). */
export const defaultWebRoot = fileURLToPath(new URL('../../../../../../web/dist', import.meta.url));

/** The pages of the app: each answers index.html, and the app shows the page its path names. */
export const APP_PAGES = ['/', '/console'] as const;

const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'";

/** Whether the web app has been built into `root`. */
export const webAppBuilt = (root: string) => existsSync(join(root, 'index.html'));

/**
 * The web app's static files: index.html for the app's own pages only (never for an API path, so an
 * unknown path still answers a problem+json 404), and its assets under /assets/. Asset names carry a
 * hash of their content, so they are cached for a year; index.html is revalidated on every load.
 */
export const webAppRoutes =
  (root: string): FastifyPluginAsync =>
  async (app) => {
    const index = readFileSync(join(root, 'index.html'));
    const etag = etagOf(index);
    for (const page of APP_PAGES) {
      app.get(page, { schema: { hide: true } }, async (request, reply) => {
        void reply
          .header('cache-control', 'no-cache')
          .header('etag', etag)
          .header('content-security-policy', CONTENT_SECURITY_POLICY)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer');
        if (notModified(request.headers['if-none-match'], etag)) return reply.code(304).send();
        return reply.type('text/html; charset=utf-8').send(index);
      });
    }
    await app.register(fastifyStatic, {
      root: join(root, 'assets'),
      prefix: '/assets/',
      decorateReply: false,
      index: false,
      list: false,
      cacheControl: false,
      setHeaders: (res) => {
        void res.header('cache-control', 'public, max-age=31536000, immutable');
        void res.header('x-content-type-options', 'nosniff');
      },
    });
  };
