import { createHash } from 'node:crypto';
import { gzip } from 'node:zlib';

export interface CachedPage {
  /** The response body, serialised once. */
  body: Buffer;
  /** A strong validator: a hash of exactly these bytes. */
  etag: string;
  /** The body gzip-compressed, once made (see gzipped). */
  gzip?: Buffer;
}

/** Bodies smaller than this are sent as they are: compressing would save next to nothing. */
const GZIP_FROM_BYTES = 1024;
const compressing = new WeakSet<CachedPage>();

interface Held extends CachedPage {
  version: number;
  expiresAt: number;
}

/** Strong ETag of a body: quoted base64url SHA-256, shortened (collisions between pages are moot). */
export function etagOf(body: Buffer | string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

/** The strong ETag of a page's gzip-coded representation: another validator than the identity one's. */
export function gzipEtag(etag: string): string {
  return `${etag.slice(0, -1)}.gz"`;
}

/**
 * Whether an Accept-Encoding header (RFC 9110 §12.5.3) takes gzip: `gzip`, `x-gzip` or `*` with a q
 * above 0, unless gzip itself is listed with q=0.
 */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let wildcard = false;
  for (const part of acceptEncoding.split(',')) {
    const [name = '', ...params] = part.split(';');
    const coding = name.trim().toLowerCase();
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    const allowed = q === undefined || Number(q.slice(2)) > 0;
    if (coding !== '*') return allowed;
    wildcard = allowed;
  }
  return wildcard;
}

/**
 * The page's gzip-coded body, if it has been made. The first call starts compressing it off the event
 * loop and answers undefined: callers send the identity body until it is ready, never wait for it.
 */
export function gzipped(page: CachedPage): Buffer | undefined {
  if (page.gzip || page.body.length < GZIP_FROM_BYTES || compressing.has(page)) return page.gzip;
  compressing.add(page);
  gzip(page.body, (error, compressed) => {
    if (!error) page.gzip = compressed;
  });
  return undefined;
}

/**
 * RFC 9110 §13.1.2: If-None-Match matches when any listed tag equals one of ours (the representations of
 * one body) by weak comparison, or is `*`.
 */
export function notModified(ifNoneMatch: string | undefined, ...etags: string[]): boolean {
  if (!ifNoneMatch) return false;
  for (const raw of ifNoneMatch.split(',')) {
    const tag = raw.trim();
    if (tag === '*') return true;
    for (const etag of etags) if (tag === etag || tag === `W/${etag}`) return true;
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
