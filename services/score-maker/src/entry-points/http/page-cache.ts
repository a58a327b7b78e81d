import { createHash } from 'node:crypto';

export interface CachedPage {
  /** The response body, serialised once. */
  body: Buffer;
  /** A strong validator: a hash of exactly these bytes. */
  etag: string;
}

interface Held extends CachedPage {
  version: number;
  expiresAt: number;
}

/** Strong ETag of a body: quoted base64url SHA-256, shortened (collisions between pages are moot). */
export function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/**
 * RFC 9110 §13.1.2: If-None-Match matches when any listed tag equals ours by weak comparison, or is `*`.
 */
export function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim();
    if (tag === '*' || tag === etag || tag === `W/${etag}`) return true;
  }
  return false;
}

/**
 * Serialised responses kept in process memory per (key, version): `version` is the events' version
 * (see LocalEventsCache.version), so a page built before an invalidation is never served after it,
 * and `ttlMs` bounds a page's life when an invalidation is lost. One fill per key at a time.
 */
export function createPageCache(options: { ttlMs: number; maxEntries: number; version: () => number }) {
  const pages = new Map<string, Held>();
  const inflight = new Map<string, Promise<CachedPage>>();

  return {
    get(key: string): CachedPage | undefined {
      const page = pages.get(key);
      if (page === undefined) return undefined;
      if (page.version === options.version() && page.expiresAt > Date.now()) return page;
      pages.delete(key);
      return undefined;
    },

    fill(key: string, produce: () => Promise<unknown>): Promise<CachedPage> {
      const running = inflight.get(key);
      if (running) return running;
      const version = options.version();
      const filling = produce()
        .then((value) => {
          const body = Buffer.from(JSON.stringify(value));
          const page = { body, etag: etagOf(body) };
          // Built from reads that an invalidation may have overtaken: serve it this once, keep it not.
          if (options.version() === version) {
            pages.delete(key);
            pages.set(key, { ...page, version, expiresAt: Date.now() + options.ttlMs });
            for (const oldest of pages.keys()) {
              if (pages.size <= options.maxEntries) break;
              pages.delete(oldest);
            }
          }
          return page;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, filling);
      return filling;
    },
  };
}

export type PageCache = ReturnType<typeof createPageCache>;
