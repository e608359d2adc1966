import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The Docker suite needs a Docker engine; it runs through `npm run test:docker`, which says
    // plainly when no engine is reachable instead of pretending.
    exclude: ['test/docker/**', 'node_modules/**'],
    // Integration and interop tests bind real sockets and spawn real clients; give them room
    // on a shared 2-core machine without ever asserting wall-clock figures.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
