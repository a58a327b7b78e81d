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
    // Generous: process and failure tests wait on real child processes, slow on a loaded 2-core machine.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Separate processes: a test file that leaks a handle cannot keep another one's worker alive.
    pool: 'forks',
  },
});
