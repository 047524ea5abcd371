// A y-websocket client and a Hocuspocus client on the same document name see the same document.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, EXTERNAL, uniqueName, waitSynced, waitText, waitMapEntry, waitAwareness, waitUnsyncedZero, waitFor,
  textOf, mapOf
} from './harness.mjs'

const skip = EXTERNAL && 'needs one server speaking both dialects (INTEROP_TARGET_URL_* is set)'
const env = new Env()
before(async () => { await env.start() })
after(async () => { await env.cleanup() })

async function crossDialect (clients, name) {
  const y = clients.yws(name)
  const h = clients.hocus(name)
  await waitSynced([y, h])

  y.doc.getText('text').insert(0, 'typed in y-websocket')
  await waitText(h, 'typed in y-websocket')
  h.doc.getText('text').insert(textOf(h).length, ' / typed in hocuspocus')
  await waitText(y, 'typed in y-websocket / typed in hocuspocus')
  await waitUnsyncedZero(h)

  y.doc.getMap('map').set('y', { from: 'yws' })
  h.doc.getMap('map').set('h', { from: 'hocus' })
  await waitMapEntry(h, 'y', { from: 'yws' })
  await waitMapEntry(y, 'h', { from: 'hocus' })
  await waitUnsyncedZero(h)

  // concurrent edits from both dialects converge
  for (let i = 0; i < 10; i++) {
    y.doc.getText('text').insert(0, 'y')
    h.doc.getText('text').insert(0, 'h')
  }
  await waitFor(() => textOf(y) === textOf(h) && /^[yh]{20}typed/.test(textOf(y)), {
    what: 'concurrent cross-dialect edits to converge', detail: () => `y=${textOf(y)} h=${textOf(h)}`
  })
  await waitUnsyncedZero(h)

  y.awareness.setLocalStateField('user', { name: 'y-user' })
  h.provider.setAwarenessField('user', { name: 'h-user' })
  await waitAwareness(h, y, 'user', { name: 'y-user' })
  await waitAwareness(y, h, 'user', { name: 'h-user' })

  // late joiners of each dialect get the whole doc and everyone's presence
  const y2 = clients.yws(name)
  const h2 = clients.hocus(name)
  await waitSynced([y2, h2])
  await waitText(y2, textOf(y))
  await waitText(h2, textOf(y))
  assert.deepEqual(mapOf(y2), mapOf(y))
  assert.deepEqual(mapOf(h2), mapOf(y))
  await waitAwareness(y2, h, 'user', { name: 'h-user' })
  await waitAwareness(h2, y, 'user', { name: 'y-user' })
}

test('cross-dialect: y-websocket and Hocuspocus clients converge on text, map and awareness', { skip }, env.run(async ({ clients }) => {
  await crossDialect(clients, uniqueName('xd'))
}))

test('cross-dialect: doc name with slashes (/y/<rest of path> == Hocuspocus name)', { skip }, env.run(async ({ clients }) => {
  await crossDialect(clients, `folder/${uniqueName('sub')}/doc`)
}))

test('server exits 0 on SIGTERM', async () => {
  const res = await env.server.stop()
  assert.deepEqual(res, { code: 0, signal: null })
})
