import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'packages/testing/examples/*.vitest.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    // two files at a time: vitest's default on 2 CPUs is one (CPUs − 1), and the suite's files
    // mostly wait on their own loopback servers; 765 s with one worker, 459 s with two (all passing)
    maxWorkers: 2,
    // type tests: `*.test-d.ts` are checked by tsc and count as tests
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'], tsconfig: 'test/tsconfig.json' },
  },
})
