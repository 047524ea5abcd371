// Content acknowledged to a client survives a SIGTERM + restart on the same data dir.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, EXTERNAL, makeDataDir, removeDataDir, uniqueName, waitSynced, waitText, waitMapEntry,
  waitUnsyncedZero, textOf, mapOf
} from './harness.mjs'

const skip = EXTERNAL && 'needs to restart the server (INTEROP_TARGET_URL_* is set)'
const env = new Env()
let dataDir = null
after(async () => {
  await env.cleanup()
  removeDataDir(dataDir)
})

test('persistence: acknowledged edits survive SIGTERM and restart', { skip }, env.run(async ({ clients }) => {
  dataDir = makeDataDir()
  const first = await env.start({ dataDir })
  clients.server = first
  const name = uniqueName('persist')
  const other = uniqueName('persist-other')

  const y = clients.yws(name)
  const h = clients.hocus(name)
  const h2 = clients.hocus(other)
  await waitSynced([y, h, h2])

  // y-websocket has no ack of its own: wait until the Hocuspocus client has received the edit
  // (the server relays only stored updates), then make a Hocuspocus edit that builds on it and
  // wait for that one's SyncStatus.
  y.doc.getText('text').insert(0, 'from y-websocket. ')
  y.doc.getMap('map').set('y', 1)
  await waitText(h, 'from y-websocket. ')
  await waitMapEntry(h, 'y', 1)
  h.doc.getText('text').insert(textOf(h).length, 'from hocuspocus.')
  h.doc.getMap('map').set('h', { nested: [1, 2, 3] })
  h2.doc.getText('text').insert(0, 'second doc')
  await waitUnsyncedZero(h)
  await waitUnsyncedZero(h2)
  assert.equal(h.provider.unsyncedChanges, 0)

  // stop while the clients are still connected
  const res = await first.stop()
  assert.deepEqual(res, { code: 0, signal: null }, 'first server exits 0 on SIGTERM')
  clients.destroyAll()

  const second = await env.start({ dataDir })
  clients.server = second
  assert.notEqual(second, first)

  const y2 = clients.yws(name)
  const hNew = clients.hocus(name)
  const h2New = clients.hocus(other)
  await waitSynced([y2, hNew, h2New])
  const expectedText = 'from y-websocket. from hocuspocus.'
  await waitText(y2, expectedText, { timeout: 2000 })
  await waitText(hNew, expectedText, { timeout: 2000 })
  await waitText(h2New, 'second doc', { timeout: 2000 })
  assert.deepEqual(mapOf(y2), { y: 1, h: { nested: [1, 2, 3] } })
  assert.deepEqual(mapOf(hNew), { y: 1, h: { nested: [1, 2, 3] } })

  // and the restarted server keeps working for edits
  hNew.doc.getText('text').insert(0, '>> ')
  await waitText(y2, '>> ' + expectedText)
  await waitUnsyncedZero(hNew)

  const res2 = await second.stop()
  assert.deepEqual(res2, { code: 0, signal: null }, 'second server exits 0 on SIGTERM')
}))
