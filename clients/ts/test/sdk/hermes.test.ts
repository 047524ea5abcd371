// The built package runs without TextDecoder, EventTarget, MessageEvent and
// window (as on Hermes): a connect-sync-call cycle, ESM and CJS builds, in a
// separate Node process whose globals were removed before the SDK loaded.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startServer, type GoonlineServer } from '../support/server.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
let server: GoonlineServer

beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first (`npm test` does)')
  }
  server = await startServer({ args: ['--allow-anonymous-docs'] })
})
afterAll(async () => {
  await server?.dispose()
})

describe('on a Hermes-like runtime', () => {
  for (const format of ['esm', 'cjs']) {
    it(`the ${format} build connects, syncs and calls without DOM globals`, () => {
      const run = spawnSync(process.execPath, [path.join(root, 'test/hermes/cycle.mjs'), server.url, format], {
        cwd: root,
        encoding: 'utf8',
        timeout: 30_000,
      })
      expect(run.stderr).toBe('')
      expect(run.stdout.trim()).toBe('ok')
      expect(run.status).toBe(0)
    })
  }
})
