import Fastify from 'fastify';
import { createLogger } from '@scoreline/platform';
import { describe, expect, it } from 'vitest';
import { lazyRequestLogger } from '../src/entry-points/http/request-logger.js';

describe('request loggers made on first use', () => {
  it('when a request logs, then its line carries the request id; when none does, then no child logger is made', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      { name: 'test', level: 'info' },
      { write: (line: string) => lines.push(line) },
    );
    let children = 0;
    // Counts every child made from this logger or its children (they inherit this property).
    const child = Object.getPrototypeOf(logger).child as typeof logger.child;
    logger.child = function (this: typeof logger, ...args: Parameters<typeof child>) {
      children += 1;
      return child.apply(this, args);
    } as typeof logger.child;
    const app = Fastify({
      loggerInstance: logger,
      disableRequestLogging: true,
      childLoggerFactory: lazyRequestLogger,
    });
    app.get('/quiet', async () => ({ ok: true }));
    app.get('/talks', async (request) => {
      expect(request.log.level).toBe('info');
      request.log.info({ step: 1 }, 'from the route');
      request.log.debug('below the level: not written');
      request.log.child({ part: 'inner' }).warn('from a child');
      return { ok: true };
    });
    try {
      await app.ready();
      children = 0; // Fastify makes children of its own while starting.
      for (let i = 0; i < 20; i++) expect((await app.inject('/quiet')).statusCode).toBe(200);
      expect(children).toBe(0);
      expect((await app.inject({ url: '/talks', headers: { 'request-id': 'x' } })).statusCode).toBe(200);
      const written = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(written).toHaveLength(2);
      expect(written[0]).toMatchObject({ msg: 'from the route', step: 1, reqId: expect.any(String) });
      expect(written[1]).toMatchObject({ msg: 'from a child', part: 'inner', reqId: written[0]!.reqId });
      expect(children).toBe(2); // the request's logger, and the child the route asked for
    } finally {
      await app.close();
    }
  });
});
