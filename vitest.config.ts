import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Integration files each clone their own database; two cores, so two forks.
    maxWorkers: 2,
    // The built web app (build/, loaded by the server under test) runs as Node loads it.
    server: { deps: { external: [/\/build\//] } },
  },
});
