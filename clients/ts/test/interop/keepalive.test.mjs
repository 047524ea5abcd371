// Idle connections stay up: both clients drop a connection after 30 s without any message from
// the server, and y-protocols drops remote awareness states not renewed for 30 s. The server has
// to relay the clients' 15 s awareness renewals (to the sender too) or otherwise keep traffic
// flowing. Takes ~40 s; set INTEROP_SKIP_SLOW=1 to skip.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Env, EXTERNAL, uniqueName, waitSynced, waitAwareness, waitText, sleep, describeClient } from './harness.mjs'

const IDLE_MS = Number(process.env.INTEROP_IDLE_MS || 40000)
const skipSlow = process.env.INTEROP_SKIP_SLOW === '1' && 'INTEROP_SKIP_SLOW=1'
const env = new Env()
before(async () => { await env.start() })
after(async () => { await env.cleanup() })

test(`keepalive: idle clients stay connected and present for ${IDLE_MS / 1000} s`, { skip: skipSlow, timeout: IDLE_MS + 30000 }, env.run(async ({ clients }) => {
  // a lone client of each dialect (nobody else to generate traffic), plus a pair sharing a doc
  const lonelyY = clients.yws(uniqueName('ka-lonely-y'))
  const lonelyH = clients.hocus(uniqueName('ka-lonely-h'))
  const pairName = uniqueName('ka-pair')
  const y = clients.yws(pairName)
  const h = EXTERNAL ? clients.yws(pairName) : clients.hocus(pairName)
  const all = [lonelyY, lonelyH, y, h]
  await waitSynced(all)
  y.awareness.setLocalStateField('user', { name: 'y' })
  h.awareness.setLocalStateField('user', { name: 'h' })
  await waitAwareness(h, y, 'user', { name: 'y' })
  await waitAwareness(y, h, 'user', { name: 'h' })
  const closesBefore = all.map((c) => c.events.closes.length)
  const hocusDisconnects = []
  for (const c of all.filter((c) => c.kind === 'hocus')) {
    c.provider.on('disconnect', ({ event }) => hocusDisconnects.push({ doc: c.name, code: event?.code, reason: event?.reason }))
  }

  await sleep(IDLE_MS)

  for (const [i, c] of all.entries()) {
    if (c.kind === 'yws') {
      assert.equal(c.events.closes.length, closesBefore[i], `y-websocket connection was closed while idle: ${describeClient(c)}`)
      assert.equal(c.provider.wsconnected, true, describeClient(c))
    } else {
      assert.equal(c.events.closes.length, closesBefore[i], `Hocuspocus provider got a close while idle: ${describeClient(c)}`)
      assert.equal(c.provider.configuration.websocketProvider.status, 'connected', describeClient(c))
    }
    assert.equal(c.isSynced(), true, `still synced: ${describeClient(c)}`)
  }
  assert.deepEqual(hocusDisconnects, [], 'Hocuspocus socket disconnected while idle')
  assert.equal(h.awareness.getStates().get(y.doc.clientID)?.user?.name, 'y', 'awareness of y still present after idle period')
  assert.equal(y.awareness.getStates().get(h.doc.clientID)?.user?.name, 'h', 'awareness of h still present after idle period')
  // and the connection still carries edits
  y.doc.getText('text').insert(0, 'after idle')
  await waitText(h, 'after idle')
}))

test('server exits 0 on SIGTERM', async () => {
  const res = await env.server.stop()
  assert.deepEqual(res, { code: 0, signal: null })
})
