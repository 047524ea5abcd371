// Topics against the real server: resume across forced disconnects and a server
// restart with no loss and no duplicate, gaps, presence between clients, one
// server subscription shared by local subscribers (a later one with a `since`
// the server never had starts over), and refusals (of a presence state too).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { GoOnlineError, type TopicEvent } from '../../src/index.js'
import { FaultProxy } from '../support/proxy.js'
import { spawnSync } from 'node:child_process'
import { GOONLINE_BIN, GoonlineServer, registerUser, startServer, waitFor } from '../support/server.js'
import { setUp, tearDown, connect, connected, makeWorld, newChannel, post, range, type World } from './_topics_support.js'

let server: GoonlineServer
let proxy: FaultProxy
let world: World

beforeAll(async () => {
  ;({ server, proxy, world } = await setUp())
})
afterAll(() => tearDown({ server, proxy, world }))

const bodyOf = (e: TopicEvent) => (e.data.message as { body: string } | undefined)?.body

describe('topics', () => {
  it('resumes after forced disconnects and a server restart with no loss and no duplicate', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const { client, errors, sent } = connect(proxy.url, world.owner)
    const seen: TopicEvent[] = []
    try {
      const sub = client.subscribe(chat.topic, {}, (e) => seen.push(e))
      await waitFor(() => sub.status.get() === 'live', 'live')
      for (const i of range(1, 3)) await post(server, world.member, chat.id, `m${i}`)
      await waitFor(() => seen.length === 3, '3 events')

      // Cut the link and keep it down while more events are appended.
      proxy.refuseNew(true)
      proxy.cutAll()
      await waitFor(() => client.status.get() !== 'connected' && sub.status.get() === 'subscribing', 'disconnected')
      for (const i of range(4, 4)) await post(server, world.member, chat.id, `m${i}`)
      proxy.refuseNew(false)
      await waitFor(() => seen.length === 7 && sub.status.get() === 'live', 'missed events replayed')

      // A server restart (same data): the subscription resumes from seq 7.
      await server.restart()
      await connected(client)
      await waitFor(() => sub.status.get() === 'live', 'live again')
      for (const i of range(8, 2)) await post(server, world.member, chat.id, `m${i}`)
      await waitFor(() => seen.length === 9, 'live events after restart')

      // The client's own reconnect (socket closed, opened again at once).
      client.reconnect()
      await post(server, world.member, chat.id, 'm10')
      await waitFor(() => seen.length === 10 && sub.status.get() === 'live', 'after reconnect')

      expect(seen.map((e) => e.seq)).toEqual(range(1, 10))
      expect(seen.map(bodyOf)).toEqual(range(1, 10).map((i) => `m${i}`))
      expect(sub.lastSeq).toBe(10)
      // Each new socket subscribed from the last event processed.
      const sinces = sent.filter((f) => f.type === 'sub').map((f) => f.since)
      expect(sinces).toEqual([undefined, 3, 7, 9])
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('shares one server subscription between local subscribers; a late one with an older since catches up', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    for (const i of range(1, 4)) await post(server, world.member, chat.id, `m${i}`)
    const { client, sent, errors } = connect(server.url, world.owner, { topicLingerMs: 300 })
    const subFrames = () => sent.filter((f) => f.type === 'sub' && f.topic === chat.topic)
    const unsubFrames = () => sent.filter((f) => f.type === 'unsub' && f.topic === chat.topic)
    try {
      const a: number[] = []
      const b: number[] = []
      const c: number[] = []
      const subA = client.subscribe(chat.topic, { since: 2 }, (e) => a.push(e.seq))
      await waitFor(() => subA.status.get() === 'live' && a.length === 2, 'A live')
      // B wants everything kept (older than A's stream): read through topic.events, then live.
      const subB = client.subscribe(chat.topic, {}, (e) => b.push(e.seq))
      // C is ahead of the stream: nothing old for it.
      const subC = client.subscribe(chat.topic, { since: 4 }, (e) => c.push(e.seq))
      await waitFor(() => subB.status.get() === 'live' && b.length === 4, 'B caught up')
      for (const i of range(5, 2)) await post(server, world.member, chat.id, `m${i}`)
      await waitFor(() => a.length === 4 && b.length === 6 && c.length === 2, 'live to all')
      expect(a).toEqual(range(3, 4))
      expect(b).toEqual(range(1, 6))
      expect(c).toEqual([5, 6])
      expect(subFrames()).toHaveLength(1)

      // The last to leave ends it, after the linger; a quick leave-and-return does not.
      subA.unsubscribe()
      subB.unsubscribe()
      expect(subA.status.get()).toBe('ended')
      await post(server, world.member, chat.id, 'm7')
      await waitFor(() => c.length === 3, 'C still follows')
      expect(a).toHaveLength(4)
      subC.unsubscribe()
      const d: number[] = []
      const subD = client.subscribe(chat.topic, { since: 6 }, (e) => d.push(e.seq))
      await new Promise((r) => setTimeout(r, 500))
      expect(unsubFrames()).toHaveLength(0)
      expect(subFrames()).toHaveLength(1)
      await waitFor(() => d.length === 1, 'D got 7 (read through topic.events: the stream is past it)')
      subD.unsubscribe()
      await waitFor(() => unsubFrames().length === 1, 'unsub after the linger')
      // Subscribing again right away: a fresh server subscription, fed only its own events.
      const e: number[] = []
      const subE = client.subscribe(chat.topic, { since: 5 }, (ev) => e.push(ev.seq))
      await waitFor(() => subE.status.get() === 'live' && e.length === 2, 'E live')
      expect(e).toEqual([6, 7])
      expect(subFrames()).toHaveLength(2)
      subE.unsubscribe()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('shows presence to other clients, renews it after a reconnect, and drops it when a client leaves', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const alice = connect(proxy.url, world.owner)
    const bob = connect(server.url, world.member)
    try {
      const subA = alice.client.subscribe(chat.topic, {}, () => {})
      const subB = bob.client.subscribe(chat.topic, {}, () => {})
      // Set before live: sent once the subscription is live.
      subA.setPresence({ typing: true })
      const aliceSeen = () => subB.presence.get().find((p) => p.user === world.owner.id)
      await waitFor(() => (aliceSeen()?.state as { typing?: boolean } | undefined)?.typing === true, 'bob sees alice typing')
      subB.setPresence({ here: true })
      await waitFor(() => subA.presence.get().some((p) => p.user === world.member.id), 'alice sees bob')
      // Our own entry is not echoed.
      expect(subA.presence.get().map((p) => p.user)).toEqual([world.member.id])
      expect(subB.presence.get().map((p) => p.user)).toEqual([world.owner.id])

      // Alice's link drops: her entry goes; it is back once she reconnects.
      proxy.refuseNew(true)
      proxy.cutAll()
      await waitFor(() => !aliceSeen(), 'alice gone for bob')
      expect(subA.presence.get()).toEqual([])
      proxy.refuseNew(false)
      await waitFor(() => (aliceSeen()?.state as { typing?: boolean } | undefined)?.typing === true, 'alice back')
      await waitFor(() => subA.presence.get().some((p) => p.user === world.member.id), 'alice sees bob again')

      subA.setPresence({ typing: false })
      await waitFor(() => (aliceSeen()?.state as { typing?: boolean } | undefined)?.typing === false, 'updated')
      // One presence per connection: a second local subscription's state shows
      // while it holds one, then the first one's again.
      const subA2 = alice.client.subscribe(chat.topic, {}, () => {})
      subA2.setPresence({ editing: 'title' })
      await waitFor(() => (aliceSeen()?.state as { editing?: string } | undefined)?.editing === 'title', 'second state')
      expect(subB.presence.get().filter((p) => p.user === world.owner.id)).toHaveLength(1)
      subA2.unsubscribe()
      await waitFor(() => (aliceSeen()?.state as { typing?: boolean } | undefined)?.typing === false, 'first state again')
      subA.setPresence(null)
      await waitFor(() => !aliceSeen(), 'cleared')
      expect(alice.errors).toEqual([])
      expect(bob.errors).toEqual([])
    } finally {
      alice.client.close()
      bob.client.close()
    }
  })

  it('starts a later local subscriber over when its since is past what the server has', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    for (const i of range(1, 2)) await post(server, world.member, chat.id, `m${i}`)
    const { client, errors } = connect(server.url, world.owner)
    try {
      const a: number[] = []
      const subA = client.subscribe(chat.topic, {}, (e) => a.push(e.seq))
      // B joins before the shared subscription is live, C after: neither skips events until 50.
      let resetsB = 0
      const b: number[] = []
      const subB = client.subscribe(chat.topic, { since: 50, onReset: () => resetsB++ }, (e) => b.push(e.seq))
      await waitFor(() => subA.status.get() === 'live' && a.length === 2, 'A live')
      let resetsC = 0
      const c: number[] = []
      const subC = client.subscribe(chat.topic, { since: 50, onReset: () => resetsC++ }, (e) => c.push(e.seq))
      await waitFor(() => subB.status.get() === 'live' && b.length === 2, 'B started over')
      await waitFor(() => subC.status.get() === 'live' && c.length === 2, 'C started over')
      expect([resetsB, resetsC]).toEqual([1, 1])
      await post(server, world.member, chat.id, 'm3')
      await waitFor(() => a.length === 3 && b.length === 3 && c.length === 3, 'live to all')
      expect(b).toEqual([1, 2, 3])
      expect(c).toEqual([1, 2, 3])
      expect(subC.lastSeq).toBe(3)
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('does not send a presence state the server refused again until one is set anew', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const { client, errors, sent } = connect(server.url, world.owner)
    const presenceFrames = () => sent.filter((f) => f.type === 'presence' && f.topic === chat.topic)
    try {
      const sub = client.subscribe(chat.topic, {}, () => {})
      sub.setPresence({ note: 'x'.repeat(2000) })
      await waitFor(() => errors.length === 1, 'refused')
      expect((errors[0] as GoOnlineError).code).toBe('invalid_argument')
      expect(sub.status.get()).toBe('live')
      // A new socket: the refused state is not sent again.
      client.reconnect()
      await connected(client)
      await waitFor(() => sub.status.get() === 'live', 'live again')
      expect(presenceFrames()).toHaveLength(1)
      sub.setPresence({ note: 'short' })
      expect(presenceFrames()).toHaveLength(2)
      expect(errors).toHaveLength(1)
    } finally {
      client.close()
    }
  })

  it('ends subscriptions the server refuses, and keeps going when a handler throws', async () => {
    const { client, errors } = connect(server.url, world.member)
    try {
      // A business the member does not belong to.
      const other = await server.rest('POST', '/api/businesses', { name: 'other' }, world.owner.accessToken)
      const otherChat = await newChannel(server, world.owner, other.body.id)
      const ends: Array<[string, GoOnlineError]> = []
      const forbidden = client.subscribe(otherChat.topic, { onEnd: (r, e) => ends.push([r, e]) }, () => {})
      const unknown = client.subscribe(`biz/${world.businessId}/chat/no-such-channel`, { onEnd: (r, e) => ends.push([r, e]) }, () => {})
      await waitFor(() => ends.length === 2, 'both ended')
      expect(ends.map(([r]) => r).sort()).toEqual(['forbidden', 'unknown_topic'])
      expect(ends[0]![1]).toBeInstanceOf(GoOnlineError)
      expect(forbidden.status.get()).toBe('ended')
      expect(unknown.status.get()).toBe('ended')

      const chat = await newChannel(server, world.owner, world.businessId)
      const seen: number[] = []
      const sub = client.subscribe(chat.topic, {}, (e) => {
        seen.push(e.seq)
        if (e.seq === 1) throw new Error('handler bug')
      })
      await waitFor(() => sub.status.get() === 'live', 'live')
      for (const i of range(1, 2)) await post(server, world.owner, chat.id, `m${i}`)
      await waitFor(() => seen.length === 2, 'both delivered')
      expect(seen).toEqual([1, 2])
      expect(errors.map((e) => (e as Error).message)).toEqual(['handler bug'])
      expect(sub.lastSeq).toBe(2)
    } finally {
      client.close()
    }
  })
})

describe('topics with short retention', () => {
  let small: GoonlineServer
  let w: World

  beforeAll(async () => {
    small = await startServer({ args: ['--topic-retention', 'chat=2', '--topic-trim-secs', '1'] })
    w = await makeWorld(small)
  })

  afterAll(async () => {
    await small?.dispose()
  })

  it('surfaces events no longer kept as a gap, to a first subscriber and to one that catches up', async () => {
    for (const i of range(1, 6)) await post(small, w.member, w.chat.id, `m${i}`)
    // Wait for the trim pass to drop all but the newest two.
    const enc = encodeURIComponent(w.chat.topic)
    await waitFor(async () => {
      const r = await small.rest('GET', `/api/topics/${enc}/events?after=0`, undefined, w.owner.accessToken)
      return r.body?.gap?.to === 4
    }, 'trimmed')

    const { client, errors } = connect(small.url, w.owner)
    try {
      const gapsA: Array<{ from: number; to: number }> = []
      const a: number[] = []
      const subA = client.subscribe(w.chat.topic, { since: 1, onGap: (g) => gapsA.push(g) }, (e) => a.push(e.seq))
      await waitFor(() => subA.status.get() === 'live' && a.length === 2, 'A live')
      expect(gapsA).toEqual([{ from: 2, to: 4 }])
      expect(a).toEqual([5, 6])

      // A second local subscriber from an older point reads through topic.events: same gap.
      const gapsB: Array<{ from: number; to: number }> = []
      const b: number[] = []
      const subB = client.subscribe(w.chat.topic, { since: 0, onGap: (g) => gapsB.push(g) }, (e) => b.push(e.seq))
      await waitFor(() => subB.status.get() === 'live' && b.length === 2, 'B caught up')
      expect(gapsB).toEqual([{ from: 1, to: 4 }])
      expect(b).toEqual([5, 6])

      // Without `since`, what is kept is asked for: no gap.
      const gapsC: Array<{ from: number; to: number }> = []
      const c: number[] = []
      const subC = client.subscribe(w.chat.topic, { onGap: (g) => gapsC.push(g) }, (e) => c.push(e.seq))
      await waitFor(() => subC.status.get() === 'live' && c.length === 2, 'C caught up')
      expect(gapsC).toEqual([])

      await post(small, w.member, w.chat.id, 'm7')
      await waitFor(() => a.length === 3 && b.length === 3 && c.length === 3, 'live to all')
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('starts over when since is past the newest event the server has', async () => {
    const chat = await newChannel(small, w.owner, w.businessId)
    await post(small, w.member, chat.id, 'only')
    const { client, errors } = connect(small.url, w.owner)
    try {
      let resets = 0
      const seen: number[] = []
      const sub = client.subscribe(chat.topic, { since: 50, onReset: () => resets++ }, (e) => seen.push(e.seq))
      await waitFor(() => sub.status.get() === 'live' && seen.length === 1, 'restarted')
      expect(resets).toBe(1)
      expect(seen).toEqual([1])
      expect(sub.lastSeq).toBe(1)
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })
})

describe('latest-value topics', () => {
  let fed: GoonlineServer
  let quiet: GoonlineServer | undefined

  beforeAll(async () => {
    fed = await startServer({ args: ['--metrics-feed-secs', '1'] })
  })

  afterAll(async () => {
    await quiet?.stop()
    await fed?.dispose()
  })

  it('gives a later subscriber without since the current value the stream did not hand over', async () => {
    const admin = await registerUser(fed, 'admin')
    const promoted = spawnSync(GOONLINE_BIN, ['user', 'create', '--email', admin.email, '--platform-admin', '--data-dir', fed.dataDir])
    expect(promoted.status).toBe(0)
    const enc = encodeURIComponent('platform/metrics')
    const head = async (s: GoonlineServer) => {
      const r = await s.rest('GET', `/api/topics/${enc}/events?after=0&limit=1`, undefined, admin.accessToken)
      return r.status === 200 ? (r.body.last_seq as number) : 0
    }
    await waitFor(async () => (await head(fed)) > 0, 'a sample')
    // The same data without the feed: the newest value stays put.
    await fed.stop()
    quiet = await new GoonlineServer({ dataDir: fed.dataDir, args: ['--metrics-feed-secs', '0'] }).start()
    const newest = await head(quiet)
    const { client, errors } = connect(quiet.url, admin)
    try {
      // A is up to date: the server replays nothing to it.
      const a: number[] = []
      const subA = client.subscribe('platform/metrics', { since: newest }, (e) => a.push(e.seq))
      await waitFor(() => subA.status.get() === 'live', 'A live')
      const b: number[] = []
      client.subscribe('platform/metrics', {}, (e) => b.push(e.seq))
      await waitFor(() => b.length === 1, 'B got the current value')
      expect(b).toEqual([newest])
      expect(a).toEqual([])
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })
})
