// Two unmodified y-websocket (v3) WebsocketProviders against goonline's /y/<doc> endpoint.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  Env, uniqueName, waitSynced, waitText, waitMapEntry, waitAwareness, waitFor, textOf, mapOf
} from './harness.mjs'

const env = new Env()
before(async () => { await env.start() })
after(async () => { await env.cleanup() })

test('y-websocket: two clients sync text and map edits both ways', env.run(async ({ clients }) => {
  const name = uniqueName('yws')
  const a = clients.yws(name)
  const b = clients.yws(name)
  await waitSynced([a, b])

  a.doc.getText('text').insert(0, 'hello from a')
  await waitText(b, 'hello from a')
  b.doc.getText('text').insert(textOf(b).length, ' + b')
  await waitText(a, 'hello from a + b')

  a.doc.getMap('map').set('fromA', 1)
  b.doc.getMap('map').set('fromB', { nested: ['x', 2] })
  await waitMapEntry(b, 'fromA', 1)
  await waitMapEntry(a, 'fromB', { nested: ['x', 2] })

  // concurrent edits (neither has seen the other's) converge
  a.doc.getText('text').insert(0, '[A]')
  b.doc.getText('text').insert(0, '[B]')
  await waitFor(() => textOf(a) === textOf(b) && textOf(a).includes('[A]') && textOf(a).includes('[B]'), {
    what: 'concurrent inserts to converge', detail: () => `a=${JSON.stringify(textOf(a))} b=${JSON.stringify(textOf(b))}`
  })
  assert.deepEqual(mapOf(a), mapOf(b))

  // a client joining later gets everything in its initial sync (from the server's copy)
  const c = clients.yws(name)
  await waitSynced([c])
  await waitText(c, textOf(a))
  assert.deepEqual(mapOf(c), mapOf(a))
  // and its edits reach the others
  c.doc.getMap('map').set('fromC', 'late')
  await waitMapEntry(a, 'fromC', 'late')
  await waitMapEntry(b, 'fromC', 'late')
}))

test('y-websocket: awareness states are exchanged', env.run(async ({ clients }) => {
  const name = uniqueName('yws-aw')
  const a = clients.yws(name)
  const b = clients.yws(name)
  await waitSynced([a, b])

  a.awareness.setLocalStateField('user', { name: 'alice', color: '#f00' })
  await waitAwareness(b, a, 'user', { name: 'alice', color: '#f00' })
  b.awareness.setLocalStateField('user', { name: 'bob' })
  await waitAwareness(a, b, 'user', { name: 'bob' })

  // updates to an existing state are forwarded too
  a.awareness.setLocalStateField('cursor', { anchor: 3, head: 5 })
  await waitAwareness(b, a, 'cursor', { anchor: 3, head: 5 })

  // a client joining later receives the current awareness of everyone already there
  const c = clients.yws(name)
  await waitSynced([c])
  await waitAwareness(c, a, 'user', { name: 'alice', color: '#f00' })
  await waitAwareness(c, b, 'user', { name: 'bob' })
}))

test('y-websocket: different document names are isolated', env.run(async ({ clients }) => {
  const a = clients.yws(uniqueName('yws-iso-a'))
  const b = clients.yws(uniqueName('yws-iso-b'))
  const a2 = clients.yws(a.name)
  await waitSynced([a, b, a2])
  a.doc.getText('text').insert(0, 'only in a')
  b.awareness.setLocalStateField('user', { name: 'in b' })
  await waitText(a2, 'only in a')
  // by now a's update has been processed; b must not have it, and a must not see b's presence
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.equal(textOf(b), '')
  assert.equal(a.awareness.getStates().has(b.doc.clientID), false)
}))

test('server exits 0 on SIGTERM', async () => {
  const res = await env.server.stop()
  assert.deepEqual(res, { code: 0, signal: null })
})
