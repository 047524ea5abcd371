// When a client goes away its awareness state disappears from the others within a few seconds
// (well before y-protocols' own 30 s outdated timeout).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Env, EXTERNAL, uniqueName, waitSynced, waitAwareness, waitAwarenessGone, sleep } from './harness.mjs'

const env = new Env()
before(async () => { await env.start() })
after(async () => { await env.cleanup() })

const REMOVAL_MS = 5000

/** Cut the TCP connection under a provider without any goodbye (no awareness null, no CLOSE). */
function killConnection (c) {
  if (c.kind === 'yws') {
    c.provider.shouldConnect = false // keep y-websocket from reconnecting
    c.provider.ws.terminate()
  } else {
    const socket = c.provider.configuration.websocketProvider
    socket.shouldConnect = false
    socket.webSocket.terminate()
  }
}

async function scenario (clients, kindA, kindB, how) {
  const name = uniqueName(`aw-${kindA}-${kindB}-${how}`)
  const a = clients[kindA](name)
  const b = clients[kindB](name)
  await waitSynced([a, b])
  a.awareness.setLocalStateField('user', { name: 'leaving' })
  b.awareness.setLocalStateField('user', { name: 'staying' })
  await waitAwareness(b, a, 'user', { name: 'leaving' })
  await waitAwareness(a, b, 'user', { name: 'staying' })
  const goneId = a.doc.clientID
  if (how === 'destroy') a.destroy()
  else killConnection(a)
  const t0 = Date.now()
  await waitAwarenessGone(b, goneId, { timeout: REMOVAL_MS })
  // the stayer is still present for new clients, the leaver is not
  const c = clients[kindB](name)
  await waitSynced([c])
  await waitAwareness(c, b, 'user', { name: 'staying' })
  await sleep(200)
  assert.equal(c.awareness.getStates().has(goneId), false, 'late joiner must not get the departed client\'s state')
  return Date.now() - t0
}

for (const how of ['destroy', 'connection dropped']) {
  const h = how === 'destroy' ? 'destroy' : 'drop'
  test(`awareness removal (${how}): y-websocket -> y-websocket`, env.run(async ({ clients }) => {
    await scenario(clients, 'yws', 'yws', h)
  }))
  test(`awareness removal (${how}): hocuspocus -> hocuspocus`, env.run(async ({ clients }) => {
    await scenario(clients, 'hocus', 'hocus', h)
  }))
  test(`awareness removal (${how}): y-websocket -> hocuspocus`, { skip: EXTERNAL && 'cross-dialect' }, env.run(async ({ clients }) => {
    await scenario(clients, 'yws', 'hocus', h)
  }))
  test(`awareness removal (${how}): hocuspocus -> y-websocket`, { skip: EXTERNAL && 'cross-dialect' }, env.run(async ({ clients }) => {
    await scenario(clients, 'hocus', 'yws', h)
  }))
}

test('awareness removal: detaching one provider from a shared Hocuspocus socket', env.run(async ({ clients }) => {
  const name = uniqueName('aw-detach')
  const s = clients.hocusSocket()
  const a = clients.hocus(name, { socket: s })
  const keep = clients.hocus(uniqueName('aw-detach-keep'), { socket: s }) // keeps the socket open
  const b = clients.hocus(name)
  await waitSynced([a, keep, b])
  a.awareness.setLocalStateField('user', { name: 'leaving' })
  await waitAwareness(b, a, 'user', { name: 'leaving' })
  a.destroy()
  await waitAwarenessGone(b, a.doc.clientID, { timeout: REMOVAL_MS })
  assert.equal(s.socket.status, 'connected')
  assert.equal(keep.provider.isSynced, true)
}))

test('server exits 0 on SIGTERM', async () => {
  const res = await env.server.stop()
  assert.deepEqual(res, { code: 0, signal: null })
})
