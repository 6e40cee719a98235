import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Emits the TypeScript fixture app and the example (examples/nestjs) before any test runs.
    globalSetup: ['test/global-setup.ts'],
    // a test that starts its own Nest app: start-up alone can take 15-20 s on a busy 2-core machine
    testTimeout: 60000,
    hookTimeout: 60000,
    // Each test file starts real server processes; run files one after another on 2-core machines.
    fileParallelism: false,
  },
});
