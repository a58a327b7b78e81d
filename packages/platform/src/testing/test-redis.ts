import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { testServices } from './services.js';

export interface TestRedis {
  url: string;
  /** A key prefix no other test file uses; pass it to brokers and caches. */
  prefix: string;
  /** Deletes every key under the prefix. */
  dispose(): Promise<void>;
}

/** Per-file Redis isolation by key prefix. Throws when Redis is missing: guard with `redisSkipReason()`. */
export function createTestRedis(): TestRedis {
  const { redisUrl } = testServices();
  if (!redisUrl) throw new Error('Redis is not available to this test run');
  const prefix = `scoreline-test-${randomBytes(5).toString('hex')}`;
  return {
    url: redisUrl,
    prefix,
    async dispose() {
      const redis = new Redis(redisUrl);
      try {
        let cursor = '0';
        do {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
          cursor = next;
          if (keys.length > 0) await redis.del(...keys);
        } while (cursor !== '0');
      } finally {
        await redis.quit();
      }
    },
  };
}
