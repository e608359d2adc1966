// The Docker suite only (test/docker). Run it through test/docker/run.ts, which checks for a
// Docker engine first and reports "NOT RUN" without one; never part of the default `npm test`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/docker/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
