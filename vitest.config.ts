import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      '{packages,services}/*/src/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    globalSetup: ['packages/platform/src/testing/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Separate processes: a test file that leaks a handle cannot keep another one's worker alive.
    pool: 'forks',
  },
});
