import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/sdk/**/*.test.ts', 'test/sdk/**/*.test.tsx'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file starts its own server; two cores run two files at once.
    fileParallelism: true,
    maxWorkers: 2,
  },
})
