// Unmodified @hocuspocus/provider clients against goonline's /hocuspocus endpoint.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, uniqueName, waitSynced, waitText, waitMapEntry, waitAwareness, waitUnsyncedZero, waitFor,
  textOf, mapOf, describeClient, sleep
} from './harness.mjs'

const env = new Env()
before(async () => { await env.start() })
after(async () => { await env.cleanup() })

async function exchange (a, b, tag) {
  // text both ways
  a.doc.getText('text').insert(0, `${tag}: from a`)
  assert.ok(a.provider.unsyncedChanges > 0, 'a local edit counts as an unsynced change')
  await waitText(b, `${tag}: from a`)
  b.doc.getText('text').insert(textOf(b).length, ', from b')
  await waitText(a, `${tag}: from a, from b`)
  // map both ways
  a.doc.getMap('map').set('a', { n: 1 })
  b.doc.getMap('map').set('b', [1, 'two'])
  await waitMapEntry(b, 'a', { n: 1 })
  await waitMapEntry(a, 'b', [1, 'two'])
  // every update was acknowledged (SyncStatus) by the server
  await waitUnsyncedZero(a)
  await waitUnsyncedZero(b)
  // awareness both ways
  a.provider.setAwarenessField('user', { name: `${tag}-alice` })
  b.provider.setAwarenessField('user', { name: `${tag}-bob` })
  await waitAwareness(b, a, 'user', { name: `${tag}-alice` })
  await waitAwareness(a, b, 'user', { name: `${tag}-bob` })
}

function assertHandshake (c) {
  assert.ok(c.events.synced >= 1, `'synced' event fired: ${describeClient(c)}`)
  assert.deepEqual(c.events.authenticated, ['read-write'], `token answered read-write: ${describeClient(c)}`)
  assert.equal(c.provider.authorizedScope, 'read-write')
  assert.equal(c.provider.isAuthenticated, true)
  assert.deepEqual(c.events.authFailed, [])
}

test('hocuspocus: two providers on separate sockets sync, edit, ack and share awareness', env.run(async ({ clients }) => {
  const name = uniqueName('hp')
  const a = clients.hocus(name)
  const b = clients.hocus(name)
  await waitSynced([a, b])
  await waitFor(() => a.events.authenticated.length && b.events.authenticated.length, { what: 'authenticated events' })
  // the initial handshake itself is acknowledged: startSync() counts 1, SyncStatus for the client's SyncStep2 clears it
  await waitUnsyncedZero(a)
  await waitUnsyncedZero(b)
  assertHandshake(a)
  assertHandshake(b)

  await exchange(a, b, 'separate')

  // concurrent edits converge and are all acknowledged
  for (let i = 0; i < 20; i++) {
    a.doc.getText('text').insert(0, 'a')
    b.doc.getText('text').insert(textOf(b).length, 'b')
  }
  await waitFor(() => textOf(a) === textOf(b) && textOf(a).length === 'separate: from a, from b'.length + 40, {
    what: 'concurrent edits to converge', detail: () => `a=${textOf(a)} b=${textOf(b)}`
  })
  await waitUnsyncedZero(a)
  await waitUnsyncedZero(b)

  // late joiner gets state and awareness from the server
  const c = clients.hocus(name)
  await waitSynced([c])
  assert.equal(textOf(c), textOf(a))
  assert.deepEqual(mapOf(c), mapOf(a))
  await waitAwareness(c, a, 'user', { name: 'separate-alice' })
}))

test('hocuspocus: providers of different docs multiplexed over shared sockets', env.run(async ({ clients }) => {
  const docA = uniqueName('hp-shared-a')
  const docB = uniqueName('hp-shared-b')
  const s1 = clients.hocusSocket()
  const s2 = clients.hocusSocket()
  // socket 1 carries docA and docB, socket 2 carries docA and docB
  const a1 = clients.hocus(docA, { socket: s1 })
  const b1 = clients.hocus(docB, { socket: s1 })
  const a2 = clients.hocus(docA, { socket: s2 })
  const b2 = clients.hocus(docB, { socket: s2 })
  await waitSynced([a1, b1, a2, b2])
  for (const c of [a1, b1, a2, b2]) {
    await waitUnsyncedZero(c)
    assertHandshake(c)
  }

  await exchange(a1, a2, 'docA')
  await exchange(b2, b1, 'docB')

  // no cross-talk between the two docs sharing a socket
  assert.equal(textOf(a1), 'docA: from a, from b')
  assert.equal(textOf(b1), 'docB: from a, from b')
  assert.equal(a1.awareness.getStates().has(b1.doc.clientID), false)
  assert.equal(a1.awareness.getStates().has(b2.doc.clientID), false)

  // a provider attached later to an already open shared socket syncs too
  const docC = uniqueName('hp-shared-c')
  const c1 = clients.hocus(docC, { socket: s1 })
  const c2 = clients.hocus(docC, { socket: s2 })
  await waitSynced([c1, c2])
  c1.doc.getMap('map').set('k', 'v')
  await waitMapEntry(c2, 'k', 'v')
  await waitUnsyncedZero(c1)

  // detaching one provider (CLOSE message for its doc) leaves the other docs on that socket working
  b1.destroy()
  await sleep(200)
  a2.doc.getMap('map').set('after-detach', true)
  await waitMapEntry(a1, 'after-detach', true)
  c2.doc.getText('text').insert(0, 'still here')
  await waitText(c1, 'still here')
  assert.equal(s1.events.disconnects.length, 0, `shared socket 1 never disconnected: ${JSON.stringify(s1.events)}`)
  assert.equal(s2.events.disconnects.length, 0, `shared socket 2 never disconnected: ${JSON.stringify(s2.events)}`)
}))

test('hocuspocus: sessionAwareness — two providers of the SAME doc on one socket (v4 docName\\0sessionId address)', env.run(async ({ clients }) => {
  const name = uniqueName('hp-session')
  const s = clients.hocusSocket()
  const a = clients.hocus(name, { socket: s, sessionAwareness: true })
  const b = clients.hocus(name, { socket: s, sessionAwareness: true })
  const other = clients.hocus(name) // plain provider, own socket
  await waitSynced([a, b, other])
  await waitUnsyncedZero(a)
  await waitUnsyncedZero(b)
  assertHandshake(a)
  assertHandshake(b)
  await exchange(a, b, 'session')
  await waitText(other, 'session: from a, from b')
  other.doc.getMap('map').set('other', 1)
  await waitMapEntry(a, 'other', 1)
  await waitMapEntry(b, 'other', 1)
  await waitAwareness(other, a, 'user', { name: 'session-alice' })
  other.provider.setAwarenessField('user', { name: 'other' })
  await waitAwareness(a, other, 'user', { name: 'other' })
  await waitAwareness(b, other, 'user', { name: 'other' })
}))

test('server exits 0 on SIGTERM', async () => {
  const res = await env.server.stop()
  assert.deepEqual(res, { code: 0, signal: null })
})
