import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'packages/*/test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // one framework per file at a time keeps the two cores busy without timing races
    fileParallelism: true,
    pool: 'forks',
  },
})
