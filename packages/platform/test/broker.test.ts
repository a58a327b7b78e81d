import { describe } from 'vitest';
import { createMemoryBroker, createRedisBroker, silentLogger } from '../src/index.js';
import { createTestRedis, redisSkipReason, testServices } from '../src/testing/index.js';
import { brokerContract } from './broker-contract.js';

brokerContract('in-process', {
  async open() {
    const broker = createMemoryBroker();
    return { a: broker, b: broker, dispose: () => broker.close() };
  },
});

describe.skipIf(!testServices().redisUrl)(`Redis (BullMQ)${redisSkipReason()}`, () => {
  brokerContract('Redis', {
    async open() {
      const redis = createTestRedis();
      const options = { url: redis.url, prefix: redis.prefix, logger: silentLogger() };
      const a = createRedisBroker(options);
      const b = createRedisBroker(options);
      return {
        a,
        b,
        async dispose() {
          await Promise.all([a.close(), b.close()]);
          await redis.dispose();
        },
      };
    },
  });
});
