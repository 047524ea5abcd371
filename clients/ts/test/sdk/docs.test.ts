// Yjs documents over the SDK's shared socket, against the real server: two SDK
// clients converging, interop with an unmodified y-websocket client, the
// `unacked` counter tied to durable acks, presence, a server restart with
// edits made while it was down, refused and read-only opens, and
// StrictMode-style acquire/release/acquire.
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createClient, GoOnlineError, type Client, type ClientOptions, type DocHandle } from '../../src/index.js'
import { FaultProxy } from '../support/proxy.js'
import { registerUser, startServer, unique, waitFor, type GoonlineServer, type TestUser } from '../support/server.js'

let server: GoonlineServer
const clients: Client[] = []
const providers: WebsocketProvider[] = []

beforeAll(async () => {
  server = await startServer({ args: ['--allow-anonymous-docs'] })
})

// A test that failed while the server was down must not take the next ones with it.
afterEach(async () => {
  if (server && !server.proc) await server.start(server.port)
})

afterAll(async () => {
  for (const p of providers) p.destroy()
  for (const c of clients) c.close()
  await server?.dispose()
})

/** A client whose errors are collected (any error in a test is a finding). */
function sdk(opts: Partial<ClientOptions> = {}): { client: Client; errors: unknown[] } {
  const client = createClient({
    url: server.url,
    WebSocket,
    reconnect: { baseMs: 50, maxMs: 500 },
    docLingerMs: 50,
    ...opts,
  })
  const errors: unknown[] = []
  client.on('error', (e) => errors.push(e))
  clients.push(client)
  return { client, errors }
}

const text = (h: DocHandle, key = 't') => h.ydoc.getText(key).toString()
const durable = (h: DocHandle) => waitFor(() => h.sync.get().unacked === 0, `${h.name}: every edit acked`)
const synced = (h: DocHandle) => waitFor(() => h.sync.get().synced, `${h.name}: synced`)

/** Opens the document in a fresh client and returns its text once synced. */
async function readBack(name: string, key = 't'): Promise<string> {
  const { client } = sdk()
  const h = client.doc(name)
  await h.ready
  const out = text(h, key)
  h.release()
  client.close()
  return out
}

describe('documents', () => {
  it('two SDK clients converge on text and map edits, made before and after the first sync', async () => {
    const name = unique('converge')
    const a = sdk()
    const b = sdk()
    // Content the Y.Doc had before it was bound counts as not yet durable…
    const ydoc = new Y.Doc()
    ydoc.getText('t').insert(0, 'early')
    const da = a.client.doc(name, { ydoc })
    expect(da.ydoc).toBe(ydoc)
    expect(da.sync.get()).toEqual({ synced: false, unacked: 1, access: 'read_write', error: null })
    // …and so does an edit made before the document is open. Both travel in the first SyncStep2.
    da.ydoc.getText('t').insert(5, ' ')
    expect(da.sync.get().unacked).toBe(2)
    const db = b.client.doc(name)
    await Promise.all([da.ready, db.ready])
    da.ydoc.getText('t').insert(da.ydoc.getText('t').length, 'from a')
    db.ydoc.getMap('m').set('b', { n: 1 })
    // Concurrent edits on both sides.
    da.ydoc.getMap('m').set('a', 'x')
    db.ydoc.getText('t').insert(0, '[b] ')
    await waitFor(
      () => text(da) === text(db) && text(da).includes('from a') && text(da).includes('[b]') && db.ydoc.getMap('m').get('a') === 'x' && da.ydoc.getMap('m').get('b') !== undefined,
      'both clients converge',
    )
    expect(da.ydoc.getMap('m').toJSON()).toEqual({ a: 'x', b: { n: 1 } })
    expect(db.ydoc.getMap('m').toJSON()).toEqual({ a: 'x', b: { n: 1 } })
    expect(text(da)).toContain('early ')
    await Promise.all([durable(da), durable(db)])
    expect(da.sync.get()).toEqual({ synced: true, unacked: 0, access: 'read_write', error: null })
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
    da.release()
    db.release()
  })

  it('converges with an unmodified y-websocket client, text, map and awareness', async () => {
    const name = unique('yws')
    const { client, errors } = sdk()
    const h = client.doc(name)
    await h.ready
    h.ydoc.getText('t').insert(0, 'sdk')
    const ydoc = new Y.Doc()
    const provider = new WebsocketProvider(`${server.url}/y`, name, ydoc, {
      WebSocketPolyfill: WebSocket as never,
      disableBc: true,
    })
    providers.push(provider)
    await waitFor(() => provider.synced, 'y-websocket synced')
    await waitFor(() => ydoc.getText('t').toString() === 'sdk', 'y-websocket sees the SDK edit')
    ydoc.getText('t').insert(3, '+yws')
    ydoc.getMap('m').set('k', 42)
    await waitFor(() => text(h) === 'sdk+yws' && h.ydoc.getMap('m').get('k') === 42, 'the SDK sees the y-websocket edits')
    // Presence both ways.
    h.awareness.setLocalStateField('user', 'sdk-user')
    provider.awareness.setLocalStateField('user', 'yws-user')
    await waitFor(() => provider.awareness.getStates().get(h.awareness.clientID)?.user === 'sdk-user', 'y-websocket sees SDK presence')
    await waitFor(() => h.awareness.getStates().get(provider.awareness.clientID)?.user === 'yws-user', 'SDK sees y-websocket presence')
    expect(Y.encodeStateVector(h.ydoc)).toEqual(Y.encodeStateVector(ydoc))
    // The y-websocket client leaving takes its presence with it.
    const ywsId = provider.awareness.clientID
    provider.destroy()
    await waitFor(() => !h.awareness.getStates().has(ywsId), 'y-websocket presence gone')
    expect(errors).toEqual([])
    h.release()
  })

  it('counts local edits as unacked until the server acknowledges them as durable', async () => {
    const name = unique('acks')
    const { client, errors } = sdk()
    const h = client.doc(name)
    await h.ready
    const seen: number[] = []
    h.sync.subscribe((s) => seen.push(s.unacked))
    h.ydoc.getText('t').insert(0, 'one')
    h.ydoc.getText('t').insert(3, ' two')
    // Counted as soon as they are made, before any frame could have been answered.
    expect(h.sync.get().unacked).toBe(2)
    await durable(h)
    expect(seen[0]).toBe(1)
    expect(Math.max(...seen)).toBe(2)
    // The acks meant durable: a crash right now loses nothing.
    await server.kill()
    await waitFor(() => !h.sync.get().synced, 'the document notices the crash')
    // An edit while the server is down cannot be acked: it stays counted.
    h.ydoc.getText('t').insert(0, '>')
    expect(h.sync.get()).toMatchObject({ synced: false, unacked: 1 })
    await server.start(server.port)
    await durable(h)
    expect(await readBack(name)).toBe('>one two')
    expect(errors).toEqual([])
    h.release()
  })

  it('keeps an edit counted when its ack is lost with the connection, until the re-sync is acked', async () => {
    const proxy = await new FaultProxy(() => server.port).start()
    const { client, errors } = sdk({ url: proxy.url })
    try {
      const name = unique('lost-ack')
      const h = client.doc(name)
      await h.ready
      // The edit reaches the server, then the link is cut before its ack comes
      // back, and no new connection gets through for now.
      proxy.refuseNew(true)
      proxy.cutAfterNextClientWrite()
      h.ydoc.getText('t').insert(0, 'in flight')
      await waitFor(() => !h.sync.get().synced, 'the link is cut')
      expect(h.sync.get().unacked).toBe(1)
      // Back online: the SyncStep2 of the new open carries it and is acked.
      proxy.refuseNew(false)
      await Promise.all([durable(h), synced(h)])
      expect(await readBack(name)).toBe('in flight')
      expect(errors).toEqual([])
      h.release()
    } finally {
      // Closed before the proxy goes, so it is not left reconnecting to nothing.
      client.close()
      await proxy.stop()
    }
  })

  it('shows presence to the other client, brings it back after a reconnect, and removes it on release', async () => {
    const name = unique('presence')
    const a = sdk()
    const b = sdk()
    const da = a.client.doc(name)
    const db = b.client.doc(name)
    await Promise.all([da.ready, db.ready])
    const aId = da.awareness.clientID
    da.awareness.setLocalStateField('user', { name: 'ann' })
    await waitFor(() => db.awareness.getStates().get(aId)?.user?.name === 'ann', 'b sees ann')
    // A dropped socket: the server removes ann (at clock + 1) and b sees her go;
    // after the reconnect she is published again above that removal.
    const bWentAway = new Promise<void>((resolve) => {
      db.awareness.on('change', ({ removed }: { removed: number[] }) => {
        if (removed.includes(aId)) resolve()
      })
    })
    a.client.reconnect()
    await bWentAway
    await waitFor(() => db.awareness.getStates().get(aId)?.user?.name === 'ann', 'ann is back for b')
    // While offline the others are not shown as present.
    await server.stop()
    await waitFor(() => da.awareness.getStates().size === 1, 'a forgets the others while offline')
    expect([...da.awareness.getStates().keys()]).toEqual([aId])
    await server.start(server.port)
    await waitFor(() => db.awareness.getStates().get(aId)?.user?.name === 'ann', 'ann is back after the restart')
    await waitFor(() => da.awareness.getStates().has(db.awareness.clientID), 'a sees b again')
    // Release: gone for b once the linger ran out.
    da.release()
    await waitFor(() => !db.awareness.getStates().has(aId), 'ann is gone after release')
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
    db.release()
  })

  it('delivers edits made while the server was down after it restarts, durably', async () => {
    const name = unique('restart')
    const a = sdk()
    const b = sdk()
    const da = a.client.doc(name)
    const db = b.client.doc(name)
    await Promise.all([da.ready, db.ready])
    da.ydoc.getText('t').insert(0, 'before')
    await durable(da)
    await waitFor(() => text(db) === 'before', 'b has the first edit')
    await server.stop()
    await waitFor(() => !da.sync.get().synced && !db.sync.get().synced, 'both offline')
    // Offline edits on both sides: no replay queue, the next SyncStep2 carries them.
    da.ydoc.getText('t').insert(6, ' | a offline')
    db.ydoc.getMap('m').set('b', 'offline')
    expect(da.sync.get().unacked).toBe(1)
    expect(db.sync.get().unacked).toBe(1)
    await server.start(server.port)
    await waitFor(() => text(db) === 'before | a offline' && da.ydoc.getMap('m').get('b') === 'offline', 'offline edits reach the other client')
    await Promise.all([durable(da), durable(db), synced(da), synced(db)])
    // Durable: they survive another restart.
    await server.restart()
    expect(await readBack(name)).toBe('before | a offline')
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
    da.release()
    db.release()
  })

  it('acquire/release/acquire in one tick keeps a single open; a later re-acquire opens again', async () => {
    const name = unique('strict')
    // No linger at all: the release must still not close what is acquired again in the same tick.
    const a = sdk({ docLingerMs: 0 })
    const b = sdk()
    const db = b.client.doc(name)
    await db.ready
    const first = a.client.doc(name)
    await first.ready
    const aId = first.awareness.clientID
    first.awareness.setLocalStateField('user', 'ann')
    await waitFor(() => db.awareness.getStates().get(aId)?.user === 'ann', 'b sees ann')
    const removals: number[][] = []
    db.awareness.on('change', ({ removed }: { removed: number[] }) => {
      if (removed.includes(aId)) removals.push(removed)
    })
    // StrictMode: effect, cleanup, effect.
    first.release()
    const second = a.client.doc(name)
    expect(second).toBe(first)
    second.ydoc.getText('t').insert(0, 'still open')
    await waitFor(() => text(db) === 'still open', 'b sees the edit')
    await durable(second)
    // Had the server seen a close, b would have seen ann leave before the edit.
    expect(removals).toEqual([])
    expect(second.sync.get().synced).toBe(true)
    // Two holders: one release keeps it open.
    const third = a.client.doc(name)
    expect(third).toBe(first)
    third.release()
    // The last release closes it; a new handle opens it again (the server
    // would refuse a second open with `doc_already_open` had no close been sent).
    second.release()
    await waitFor(() => removals.length > 0, 'ann leaves once the document is closed')
    const again = a.client.doc(name)
    expect(again).not.toBe(first)
    await synced(again)
    expect(text(again)).toBe('still open')
    // Binding a name to a second Y.Doc is a programming error.
    expect(() => a.client.doc(name, { ydoc: new Y.Doc() })).toThrow(TypeError)
    again.release()
    expect(a.errors).toEqual([])
    expect(b.errors).toEqual([])
    db.release()
  })
})

describe('remounts', () => {
  it('a lingering document wanted again with a new Y.Doc is rebound, not refused', async () => {
    const { client, errors } = sdk({ docLingerMs: 5_000 })
    const name = unique('remount')
    const first = client.doc(name, { ydoc: new Y.Doc() })
    await first.ready
    first.ydoc.getText('t').insert(0, 'kept')
    await durable(first)
    first.release()
    // A remount within the linger that made a fresh Y.Doc (useMemo in a new component).
    const fresh = new Y.Doc()
    const second = client.doc(name, { ydoc: fresh })
    expect(second.ydoc).toBe(fresh)
    await second.ready
    expect(text(second)).toBe('kept')
    expect(errors).toEqual([])
    second.release()
  })
})

describe('bursts', () => {
  it('a burst of edits in one tick, mixed with remote ones, reaches the other client whole and is acked', async () => {
    const a = sdk().client
    const b = sdk().client
    const name = unique('burst')
    const ha = a.doc(name)
    const hb = b.doc(name)
    await Promise.all([ha.ready, hb.ready])
    hb.ydoc.getText('t').insert(0, 'B')
    await waitFor(() => text(ha) === 'B', 'the remote edit arrives')
    const t = ha.ydoc.getText('t')
    // Far more than the batch merges one by one: sent as this client's changes since the tick began.
    for (let i = 0; i < 500; i++) t.insert(t.length, String(i % 10))
    ha.ydoc.getMap('m').set('k', 'v')
    t.delete(0, 1)
    await durable(ha)
    await waitFor(() => text(hb) === text(ha) && hb.ydoc.getMap('m').get('k') === 'v', 'the burst converges')
    expect(text(ha)).toHaveLength(500)
    expect(await readBack(name)).toBe(text(ha))
    ha.release()
    hb.release()
  })
})

describe('refused updates', () => {
  it('an update the server will not store sets sync.error and stays counted', async () => {
    const small = await startServer({ args: ['--allow-anonymous-docs', '--max-doc-bytes', '4096'] })
    const client = createClient({ url: small.url, WebSocket, docLingerMs: 50 })
    const errors: unknown[] = []
    client.on('error', (e) => errors.push(e))
    try {
      const h = client.doc(unique('too-large'))
      await h.ready
      h.ydoc.getText('t').insert(0, 'fits')
      await durable(h)
      h.ydoc.getText('big').insert(0, 'x'.repeat(10_000))
      await waitFor(() => h.sync.get().error !== null, 'the refusal')
      expect(h.sync.get().error?.code).toBe('doc_too_large')
      expect(h.sync.get()).toMatchObject({ synced: true, unacked: 1 })
      // A later edit is stored and acked; the refused one still is not, and stays counted.
      h.ydoc.getText('t').insert(4, '!')
      expect(h.sync.get().unacked).toBe(2)
      await waitFor(() => h.sync.get().unacked === 1, 'the later edit is acked')
      expect(h.sync.get().error?.code).toBe('doc_too_large')
      expect(errors).toEqual([])
      h.release()
    } finally {
      client.close()
      await small.dispose()
    }
  })
})

describe('documents with access control', () => {
  let owner: TestUser
  let viewer: TestUser
  let businessId: string

  beforeAll(async () => {
    owner = await registerUser(server, 'owner')
    viewer = await registerUser(server, 'viewer')
    const biz = await server.rest('POST', '/api/businesses', { name: unique('shop') }, owner.accessToken)
    expect(biz.status).toBeLessThan(300)
    businessId = biz.body.id
    const add = await server.rest('POST', `/api/businesses/${businessId}/members`, { email: viewer.email, role: 'viewer' }, owner.accessToken)
    expect(add.status).toBeLessThan(300)
  })

  const signedIn = (user: TestUser) =>
    sdk({
      auth: async () => {
        const res = await server.rest('POST', '/api/auth/login', { email: user.email, password: user.password })
        return res.body.access_token as string
      },
    })

  it("refuses another business's document for good: ready rejects with forbidden", async () => {
    const stranger = await registerUser(server, 'stranger')
    const { client, errors } = signedIn(stranger)
    const h = client.doc(`biz/${businessId}/${unique('private')}`)
    const err = await h.ready.then(
      () => null,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(GoOnlineError)
    expect((err as GoOnlineError).code).toBe('forbidden')
    expect(h.sync.get()).toMatchObject({ synced: false, access: 'none' })
    expect(h.sync.get().error?.code).toBe('forbidden')
    // An anonymous client is told to sign in instead.
    const anon = sdk()
    const h2 = anon.client.doc(`biz/${businessId}/${unique('private')}`)
    await expect(h2.ready).rejects.toMatchObject({ code: 'unauthorized' })
    expect(errors).toEqual([])
    h.release()
    h2.release()
  })

  it('a document refused to an anonymous connection opens once the user signs in and reconnects', async () => {
    let token: string | null = null
    const { client } = sdk({ auth: () => token })
    const h = client.doc(`biz/${businessId}/${unique('later')}`)
    await expect(h.ready).rejects.toMatchObject({ code: 'unauthorized' })
    expect(h.sync.get().access).toBe('none')
    const res = await server.rest('POST', '/api/auth/login', { email: owner.email, password: owner.password })
    token = res.body.access_token as string
    client.reconnect()
    await synced(h)
    expect(h.sync.get()).toMatchObject({ access: 'read_write', error: null })
    h.ydoc.getText('t').insert(0, 'signed in')
    await durable(h)
    h.release()
  })

  it('a viewer reads the document, is told it is read-only, and loses it when removed', async () => {
    const name = `biz/${businessId}/${unique('notes')}`
    const o = signedIn(owner)
    const v = signedIn(viewer)
    const dOwner = o.client.doc(name)
    await dOwner.ready
    dOwner.ydoc.getText('t').insert(0, 'for viewers')
    await durable(dOwner)
    const dViewer = v.client.doc(name)
    await dViewer.ready
    expect(dViewer.sync.get()).toMatchObject({ synced: true, access: 'read_only', error: null })
    expect(text(dViewer)).toBe('for viewers')
    dOwner.ydoc.getText('t').insert(0, 'live ')
    await waitFor(() => text(dViewer) === 'live for viewers', 'the viewer gets live edits')
    // A local edit of a viewer is never durable: it stays counted.
    dViewer.ydoc.getText('local').insert(0, 'mine')
    expect(dViewer.sync.get().unacked).toBe(1)
    // Presence is allowed for viewers.
    dViewer.awareness.setLocalStateField('user', 'viewer')
    await waitFor(() => dOwner.awareness.getStates().get(dViewer.awareness.clientID)?.user === 'viewer', 'owner sees the viewer')
    // Removed from the business: the server closes the document (live revocation).
    const rm = await server.rest('DELETE', `/api/businesses/${businessId}/members/${viewer.id}`, undefined, owner.accessToken)
    expect(rm.status).toBeLessThan(300)
    await waitFor(() => dViewer.sync.get().access === 'none', 'the viewer loses the document')
    expect(dViewer.sync.get()).toMatchObject({ synced: false, unacked: 1 })
    expect(dViewer.sync.get().error?.code).toBe('forbidden')
    expect(o.errors).toEqual([])
    expect(v.errors).toEqual([])
    dViewer.release()
    dOwner.release()
  })
})
