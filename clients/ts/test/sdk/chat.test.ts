// Chat helpers against the real server: a room kept live on two clients (send,
// edit, delete, react), history pages, unread counts and read marks, typing and
// "who is here", messages sent while offline delivered exactly once (also when
// the server asks to slow down, and across a room closed and opened again),
// and reaction counts that stay exact when the page is read again after a gap.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ChatMessage, ChatRoom } from '../../src/index.js'
import { FaultProxy } from '../support/proxy.js'
import { startServer, waitFor, type GoonlineServer } from '../support/server.js'
import { setUp, tearDown, connect, connected, holdingWebSocket, makeWorld, newChannel, post, range, type ReplayHold, type Sent, type World } from './_topics_support.js'

let server: GoonlineServer
let proxy: FaultProxy
let world: World

beforeAll(async () => {
  ;({ server, proxy, world } = await setUp())
})
afterAll(() => tearDown({ server, proxy, world }))

const bodies = (room: ChatRoom) => room.messages.get().map((m) => m.body)
const find = (room: ChatRoom, id: string): ChatMessage | undefined => room.messages.get().find((m) => m.id === id)

/** Every message of a chat, read over REST (newest first pages, returned oldest first). */
async function stored(chatId: string): Promise<Array<{ body: string; client_id: string }>> {
  const res = await server.rest('GET', `/api/chats/${chatId}/messages?limit=100`, undefined, world.owner.accessToken)
  expect(res.status).toBe(200)
  return [...res.body.messages].reverse()
}

describe('chat', () => {
  it('lists chats and keeps a room live on two clients: send, edit, react, delete', async () => {
    const alice = connect(server.url, world.owner)
    const bob = connect(server.url, world.member)
    try {
      const created = await alice.client.chat.createChannel(world.businessId, 'live-room')
      expect(created.topic).toBe(`biz/${world.businessId}/chat/live-room`)
      const list = await bob.client.chat.list(world.businessId)
      const summary = list.find((c) => c.id === created.id)!
      expect(summary.unread).toBe(0)

      const roomA = alice.client.chat.room(created)
      const roomB = bob.client.chat.room(summary)
      await Promise.all([roomA.ready, roomB.ready])

      const sending = roomA.send('hello **world**')
      // Shown at once, as pending.
      const pending = roomA.messages.get().at(-1)!
      expect(pending).toMatchObject({ body: 'hello **world**', pending: true, seq: 0 })
      const sent = await sending
      expect(sent.pending).toBe(false)
      expect(sent.seq).toBe(1)
      expect(roomA.messages.get()).toHaveLength(1)
      await waitFor(() => find(roomB, sent.id), 'bob sees the message')
      expect(find(roomB, sent.id)).toMatchObject({ body: 'hello **world**', sender_id: world.owner.id, pending: false })

      await roomA.edit(sent.id, 'hello, edited')
      await waitFor(() => find(roomB, sent.id)?.body === 'hello, edited', 'bob sees the edit')
      expect(find(roomA, sent.id)?.edited_at).toBeTypeOf('number')

      expect(await roomB.react(sent.id, '👍')).toBe(true)
      await waitFor(() => find(roomA, sent.id)?.reactions.length === 1, 'alice sees the reaction')
      expect(find(roomA, sent.id)?.reactions).toEqual([{ emoji: '👍', count: 1, mine: false }])
      await waitFor(() => find(roomB, sent.id)?.reactions[0]?.mine === true, 'bob sees his reaction')
      expect(find(roomB, sent.id)?.reactions).toEqual([{ emoji: '👍', count: 1, mine: true }])
      await roomA.react(sent.id, '👍', true)
      await waitFor(() => find(roomB, sent.id)?.reactions[0]?.count === 2, 'two reactions')
      await roomB.react(sent.id, '👍', false)
      await waitFor(() => find(roomA, sent.id)?.reactions[0]?.count === 1, 'one left')
      expect(find(roomA, sent.id)?.reactions).toEqual([{ emoji: '👍', count: 1, mine: true }])

      // Refused for good: the message stays, with its error, until discarded.
      const tooLong = roomA.send('x'.repeat(4001))
      await expect(tooLong).rejects.toMatchObject({ code: 'invalid_argument' })
      const failed = roomA.messages.get().at(-1)!
      expect(failed).toMatchObject({ pending: false, seq: 0 })
      expect(failed.error?.code).toBe('invalid_argument')
      roomA.discard(failed.id)
      expect(roomA.messages.get().map((m) => m.id)).toEqual([sent.id])

      await roomA.delete(sent.id)
      await waitFor(() => find(roomB, sent.id)?.deleted_at, 'bob sees the deletion')
      expect(find(roomB, sent.id)).toMatchObject({ body: '', deleted_by: world.owner.id, reactions: [] })

      // A room opened now (on another client: rooms are shared per client) gets the same state from history.
      const carol = connect(server.url, world.member)
      const roomC = carol.client.chat.room(created)
      await roomC.ready
      expect(find(roomC, sent.id)).toMatchObject({ body: '', reactions: [] })
      expect(find(roomC, sent.id)?.deleted_at).toBeTypeOf('number')
      roomA.close()
      roomB.close()
      roomC.close()
      carol.client.close()
      expect(alice.errors).toEqual([])
      expect(bob.errors).toEqual([])
    } finally {
      alice.client.close()
      bob.client.close()
    }
  })

  it('keeps pending and failed messages when the room is closed and opened again', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const { client, errors } = connect(proxy.url, world.owner)
    try {
      const room1 = client.chat.room(chat)
      await room1.ready
      // Rooms are shared: each `room()` is matched by one `close()`.
      const same = client.chat.room(chat)
      expect(same).toBe(room1)
      same.close()

      await expect(room1.send('x'.repeat(4001))).rejects.toMatchObject({ code: 'invalid_argument' })
      const failedId = room1.messages.get().at(-1)!.id
      proxy.refuseNew(true)
      proxy.cutAll()
      await waitFor(() => client.status.get() !== 'connected', 'offline')
      const queued = room1.send('written while offline')

      // The last holder leaves: the room shuts after its linger.
      room1.close()
      await waitFor(() => room1.state.get().error?.code === 'closed', 'room shut')
      const room2 = client.chat.room(chat)
      expect(room2).not.toBe(room1)
      const shown = () => room2.messages.get().map((m) => [m.body.slice(0, 7), m.pending, m.error?.code])
      expect(shown()).toEqual([
        ['xxxxxxx', false, 'invalid_argument'],
        ['written', true, undefined],
      ])
      room2.discard(failedId)
      expect(shown()).toEqual([['written', true, undefined]])

      proxy.refuseNew(false)
      const m = await queued
      await room2.ready
      await waitFor(() => room2.messages.get().every((x) => !x.pending), 'confirmed')
      expect(room2.messages.get().map((x) => x.id)).toEqual([m.id])
      expect((await stored(chat.id)).map((r) => r.body)).toEqual(['written while offline'])
      room2.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('reads history in pages, oldest first, and follows new messages', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    for (const i of range(1, 7)) await post(server, world.member, chat.id, `m${i}`)
    const { client, errors } = connect(server.url, world.owner)
    try {
      const room = client.chat.room(chat, { pageSize: 3 })
      await room.ready
      expect(bodies(room)).toEqual(['m5', 'm6', 'm7'])
      expect(room.state.get()).toMatchObject({ loading: false, hasOlder: true })
      await post(server, world.member, chat.id, 'm8')
      await waitFor(() => bodies(room).length === 4, 'live message')
      expect(await room.loadOlder()).toBe(true)
      expect(bodies(room)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
      await room.loadOlder()
      expect(bodies(room)).toEqual(range(1, 8).map((i) => `m${i}`))
      expect(room.state.get().hasOlder).toBe(false)
      expect(await room.loadOlder()).toBe(false)
      room.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('counts a reaction made while an older page was read once it has arrived', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const m1 = await post(server, world.member, chat.id, 'older')
    await post(server, world.member, chat.id, 'newer')
    const hold: ReplayHold = { topic: chat.topic, armed: false, over: false, subscribed: 0, event: 0 }
    const sent: Sent = []
    const { client, errors } = connect(server.url, world.owner, { WebSocket: holdingWebSocket(sent, hold) })
    try {
      const room = client.chat.room(chat, { pageSize: 1 })
      await room.ready
      await waitFor(() => hold.subscribed === 2, 'live')
      // The older page is read, then the reaction made; its event comes first.
      hold.holdPage = true
      const older = room.loadOlder()
      await waitFor(() => hold.releasePage, 'page read')
      const r = await server.rest('POST', `/api/chat/messages/${m1.id}/reactions`, { message_id: m1.id, emoji: '👍', on: true }, world.member.accessToken)
      expect(r.status).toBe(200)
      await waitFor(() => hold.event === 3, 'reaction event')
      hold.releasePage!()
      expect(await older).toBe(true)
      expect(bodies(room)).toEqual(['older', 'newer'])
      expect(find(room, m1.id)?.reactions).toEqual([{ emoji: '👍', count: 1, mine: false }])
      room.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('counts unread messages from others and moves the read mark', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    await post(server, world.owner, chat.id, 'mine, before')
    for (const i of range(1, 3)) await post(server, world.member, chat.id, `from bob ${i}`)
    const { client, errors } = connect(server.url, world.owner)
    try {
      const room = client.chat.room(chat)
      await room.ready
      expect(room.unread.get()).toBe(3)
      await post(server, world.member, chat.id, 'from bob 4')
      await waitFor(() => room.unread.get() === 4, 'live unread')
      await room.send('mine, now')
      expect(room.unread.get()).toBe(4)
      await room.markRead()
      expect(room.unread.get()).toBe(0)
      const summary = (await client.chat.list(world.businessId)).find((c) => c.id === chat.id)!
      expect(summary.unread).toBe(0)
      expect(summary.last_read_seq).toBe(6)
      await post(server, world.member, chat.id, 'from bob 5')
      await waitFor(() => room.unread.get() === 1, 'a new one')
      // A room opened later starts from the stored read mark.
      const again = client.chat.room(chat)
      await again.ready
      expect(again.unread.get()).toBe(1)
      room.close()
      again.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('shows who is here and who is typing to others', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const alice = connect(server.url, world.owner)
    const bob = connect(server.url, world.member)
    try {
      const roomA = alice.client.chat.room(chat)
      const roomB = bob.client.chat.room(chat)
      await Promise.all([roomA.ready, roomB.ready])
      await waitFor(() => roomB.here.get().includes(world.owner.id), 'bob sees alice here')
      await waitFor(() => roomA.here.get().includes(world.member.id), 'alice sees bob here')
      expect(roomA.here.get()).toEqual([world.member.id])
      roomA.typing(true)
      await waitFor(() => roomB.typingUsers.get().includes(world.owner.id), 'bob sees alice typing')
      expect(roomA.typingUsers.get()).toEqual([])
      // Sending ends typing.
      await roomA.send('done typing')
      await waitFor(() => roomB.typingUsers.get().length === 0, 'typing over')
      expect(roomB.here.get()).toEqual([world.owner.id])
      roomA.close()
      await waitFor(() => roomB.here.get().length === 0, 'alice left')
      roomB.close()
      expect(alice.errors).toEqual([])
      expect(bob.errors).toEqual([])
    } finally {
      alice.client.close()
      bob.client.close()
    }
  })

  it('delivers messages sent while offline exactly once after reconnecting', async () => {
    const chat = await newChannel(server, world.owner, world.businessId)
    const alice = connect(proxy.url, world.owner)
    const bob = connect(server.url, world.member)
    try {
      const roomA = alice.client.chat.room(chat)
      const roomB = bob.client.chat.room(chat)
      await Promise.all([roomA.ready, roomB.ready])

      // 1. The link is down: the message waits, shown as pending.
      proxy.refuseNew(true)
      proxy.cutAll()
      await waitFor(() => alice.client.status.get() !== 'connected', 'alice offline')
      const first = roomA.send('sent while offline')
      expect(roomA.messages.get().at(-1)).toMatchObject({ body: 'sent while offline', pending: true })
      proxy.refuseNew(false)
      const m1 = await first
      expect(m1.pending).toBe(false)

      // 2. The request reaches the server but the link drops before the reply.
      proxy.cutAfterNextClientWrite()
      const m2 = await roomA.send('reply lost')

      // 3. The server is down, then back (same data).
      await server.stop()
      await waitFor(() => alice.client.status.get() !== 'connected', 'server down')
      const third = roomA.send('sent while the server was down')
      await server.start(server.port)
      const m3 = await third

      await connected(alice.client)
      await waitFor(() => roomB.messages.get().length === 3, 'bob has all three')
      expect(bodies(roomB)).toEqual(['sent while offline', 'reply lost', 'sent while the server was down'])
      expect(bodies(roomA)).toEqual(bodies(roomB))
      expect(roomA.messages.get().map((m) => m.id)).toEqual([m1.id, m2.id, m3.id])
      const rows = await stored(chat.id)
      expect(rows.map((r) => r.body)).toEqual(bodies(roomB))
      expect(new Set(rows.map((r) => r.client_id)).size).toBe(3)
      roomA.close()
      roomB.close()
      expect(bob.errors).toEqual([])
    } finally {
      alice.client.close()
      bob.client.close()
    }
  })
})

describe('chat when events were trimmed while offline', () => {
  let small: GoonlineServer
  let smallProxy: FaultProxy

  beforeAll(async () => {
    small = await startServer({ args: ['--topic-retention', 'chat=2', '--topic-trim-secs', '1'] })
    smallProxy = await new FaultProxy(() => small.port).start()
  })

  afterAll(async () => {
    await smallProxy?.stop()
    await small?.dispose()
  })

  it('reads the newest page again after a gap', async () => {
    const w = await makeWorld(small)
    const { client, errors } = connect(smallProxy.url, w.owner)
    try {
      const room = client.chat.room(w.chat)
      await room.ready
      const first = await post(small, w.member, w.chat.id, 'm1')
      await waitFor(() => bodies(room).length === 1, 'm1 live')

      smallProxy.refuseNew(true)
      smallProxy.cutAll()
      await waitFor(() => client.status.get() !== 'connected', 'offline')
      const edit = await small.rest('PATCH', `/api/chat/messages/${first.id}`, { body: 'm1 edited' }, w.member.accessToken)
      expect(edit.status).toBe(200)
      for (const i of range(2, 5)) await post(small, w.member, w.chat.id, `m${i}`)
      // Only the newest two events (m5, m6) are kept once the trim pass ran.
      const enc = encodeURIComponent(w.chat.topic)
      await waitFor(async () => {
        const r = await small.rest('GET', `/api/topics/${enc}/events?after=0`, undefined, w.owner.accessToken)
        return r.body?.gap?.to === 5
      }, 'trimmed')

      smallProxy.refuseNew(false)
      await waitFor(() => bodies(room).length === 6, 'all messages after the gap')
      expect(bodies(room)).toEqual(['m1 edited', 'm2', 'm3', 'm4', 'm5', 'm6'])
      expect(room.state.get()).toMatchObject({ loading: false, error: null })
      room.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })

  it('counts each reaction once when events the reloaded page shows arrive after it', async () => {
    const w = await makeWorld(small)
    const hold: ReplayHold = { topic: w.chat.topic, armed: false, over: false, subscribed: 0, event: 0 }
    const sent: Sent = []
    const { client, errors } = connect(smallProxy.url, w.owner, { WebSocket: holdingWebSocket(sent, hold) })
    try {
      const room = client.chat.room(w.chat)
      await room.ready
      const m = await post(small, w.member, w.chat.id, 'react to me')
      await waitFor(() => find(room, m.id), 'live')

      smallProxy.refuseNew(true)
      smallProxy.cutAll()
      await waitFor(() => client.status.get() !== 'connected', 'offline')
      const emojis = ['👍', '🎉', '❤️', '😂', '🚀', '👀']
      for (const emoji of emojis) {
        const r = await small.rest('POST', `/api/chat/messages/${m.id}/reactions`, { message_id: m.id, emoji, on: true }, w.member.accessToken)
        expect(r.status).toBe(200)
      }
      // Events 2–5 are trimmed: the replay is a gap, then the last two reactions.
      const enc = encodeURIComponent(w.chat.topic)
      await waitFor(async () => {
        const r = await small.rest('GET', `/api/topics/${enc}/events?after=0`, undefined, w.owner.accessToken)
        return r.body?.gap?.to === 5
      }, 'trimmed')

      // Those two arrive after the page read again for the gap, which counts them already.
      hold.armed = true
      smallProxy.refuseNew(false)
      await waitFor(() => hold.over && hold.subscribed === 7, 'page, then the replay')
      expect(room.state.get()).toMatchObject({ loading: false, error: null })
      expect(find(room, m.id)?.reactions).toEqual(emojis.map((emoji) => ({ emoji, count: 1, mine: false })))
      room.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })
})

describe('chat when the server asks to slow down', () => {
  let limited: GoonlineServer
  let limitedProxy: FaultProxy

  beforeAll(async () => {
    limited = await startServer({ args: ['--chat-sends-per-10s', '5'] })
    limitedProxy = await new FaultProxy(() => limited.port).start()
  })

  afterAll(async () => {
    await limitedProxy?.stop()
    await limited?.dispose()
  })

  it('keeps messages refused for a moment pending, and sends them again in order, each once', async () => {
    const w = await makeWorld(limited)
    const { client, errors } = connect(limitedProxy.url, w.owner)
    try {
      const room = client.chat.room(w.chat)
      await room.ready
      limitedProxy.refuseNew(true)
      limitedProxy.cutAll()
      await waitFor(() => client.status.get() !== 'connected', 'offline')
      // Seven queued, five allowed at once: two get `rate_limited` on reconnect.
      const sends = range(1, 7).map((i) => room.send(`m${i}`))
      limitedProxy.refuseNew(false)
      await waitFor(() => room.messages.get().some((m) => !m.pending), 'some sent')
      expect(room.messages.get().filter((m) => m.error)).toEqual([])
      const sent = await Promise.all(sends)
      expect(sent.map((m) => m.body)).toEqual(range(1, 7).map((i) => `m${i}`))
      expect(bodies(room)).toEqual(range(1, 7).map((i) => `m${i}`))
      const res = await limited.rest('GET', `/api/chats/${w.chat.id}/messages?limit=100`, undefined, w.owner.accessToken)
      expect([...res.body.messages].reverse().map((r: { body: string }) => r.body)).toEqual(range(1, 7).map((i) => `m${i}`))
      room.close()
      expect(errors).toEqual([])
    } finally {
      client.close()
    }
  })
})
